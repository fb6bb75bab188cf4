import { spawn } from 'node:child_process';
import {
  SluiceError,
  type ComputeConfiguration,
  type ComputeProviderPlugin,
  type ComputeTarget,
  type ProcessJob,
  type ProcessResult,
  type ProcessRunHooks,
} from '@sluice/core';
import pkg from '../package.json' with { type: 'json' };

export interface {{Pascal}}ComputeOptions {
  /** How many processes run at once (default 1). */
  maxConcurrency?: number;
}

/** The provider's id: the `provider` of every compute configuration it serves. */
export const {{CONSTANT}}_KIND = '{{kind}}';

/** A compute configuration for `ComputeTarget.create(ws, name, {{camel}}Compute({ … }))`. */
export function {{camel}}Compute(
  options: {{Pascal}}ComputeOptions = {},
): ComputeConfiguration<{{Pascal}}ComputeOptions> {
  return { provider: {{CONSTANT}}_KIND, options: { ...options } };
}

/**
 * Runs each process on this machine, at most `maxConcurrency` at once. A provider for another engine
 * replaces `#spawn` with its own submit-and-wait, and keeps the rest: the queue, `onStart`, output
 * delivery, the timeout and cancellation.
 */
export class {{Pascal}}ComputeTarget implements ComputeTarget {
  readonly kind = {{CONSTANT}}_KIND;
  readonly name: string;
  readonly maxConcurrency: number;
  #running = 0;
  readonly #queue: Array<() => void> = [];

  constructor(name: string, options: {{Pascal}}ComputeOptions = {}) {
    const limit = options.maxConcurrency ?? 1;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `Compute target "${name}": maxConcurrency must be a whole number ≥ 1; got ${JSON.stringify(limit)}.`,
        { details: { computeTarget: name } },
      );
    }
    this.name = name;
    this.maxConcurrency = limit;
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, maxConcurrency: this.maxConcurrency };
  }

  async runProcess(job: ProcessJob, hooks: ProcessRunHooks = {}): Promise<ProcessResult> {
    if (!(await this.#acquire(hooks.signal))) {
      return { exitCode: null, signal: null, timedOut: false, canceled: true };
    }
    try {
      hooks.onStart?.();
      return await this.#spawn(job, hooks);
    } finally {
      this.#release();
    }
  }

  /** Wait for a free slot; false when the signal aborts first. */
  #acquire(signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.#running < this.maxConcurrency) {
      this.#running += 1;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', abort);
        resolve(true);
      };
      const abort = (): void => {
        const index = this.#queue.indexOf(grant);
        if (index >= 0) this.#queue.splice(index, 1);
        resolve(false);
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.#queue.push(grant);
    });
  }

  #release(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#running -= 1;
  }

  #spawn(job: ProcessJob, hooks: ProcessRunHooks): Promise<ProcessResult> {
    return new Promise((resolve, reject) => {
      let timedOut = false;
      let canceled = false;
      // its own process group, so that stopping it stops whatever it started too
      const child = spawn(job.command, [...job.args], {
        cwd: job.cwd,
        env: { ...job.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      // say which process runs the job (it leads its own group): if the runner is killed, the next
      // open of the workspace stops what it left running
      if (child.pid !== undefined) hooks.onSpawn?.({ pid: child.pid, processGroup: child.pid });
      const stop = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const onAbort = (): void => {
        canceled = true;
        stop();
      };
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = job.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            stop();
          }, job.timeoutMs)
        : undefined;
      const done = (): void => {
        clearTimeout(timer);
        hooks.signal?.removeEventListener('abort', onAbort);
      };
      child.stdout.on('data', (chunk: Buffer) => hooks.onStdout?.(chunk));
      child.stderr.on('data', (chunk: Buffer) => hooks.onStderr?.(chunk));
      child.once('error', (error: NodeJS.ErrnoException) => {
        done();
        reject(
          new SluiceError(
            'STEP_FAILED',
            error.code === 'ENOENT'
              ? `Cannot start "${job.command}": it was not found on PATH.`
              : `Cannot start "${job.command}": ${error.message}`,
            { cause: error, details: { command: job.command } },
          ),
        );
      });
      child.once('close', (exitCode, signal) => {
        done();
        stop();
        resolve({ exitCode, signal, timedOut, canceled });
      });
    });
  }
}

/** The provider of `{{kind}}` compute targets. */
export function {{camel}}ComputeProvider(): ComputeProviderPlugin<{{Pascal}}ComputeOptions> {
  return {
    type: 'compute',
    kind: {{CONSTANT}}_KIND,
    name: pkg.name,
    version: pkg.version,
    coreRange: pkg.peerDependencies['@sluice/core'],
    createTarget: (name, options) => new {{Pascal}}ComputeTarget(name, options),
  };
}
