import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { availableParallelism } from 'node:os';
import {
  SECRET_PREFIX,
  SluiceError,
  type ComputeConfiguration,
  type ComputeProviderPlugin,
  type ComputeTarget,
  type ProcessJob,
  type ProcessResult,
  type ProcessRunHooks,
} from '@sluice/core';
import { commandLineProblem } from './arguments.js';
import { LOCAL_COMPUTE_OPTIONS_SCHEMA, checkOptions } from './config-schema.js';
import { CORE_RANGE, RUNTIME_VERSION } from './version.js';

export interface LocalComputeOptions {
  /** How many steps run at once; defaults to the number of cores. */
  maxConcurrency?: number;
  /** Milliseconds between SIGTERM and SIGKILL when a step is canceled or times out. */
  killGraceMs?: number;
}

/** Configuration for a local compute target: steps run as subprocesses on this machine. */
export function localCompute(options: LocalComputeOptions = {}): ComputeConfiguration<LocalComputeOptions> {
  checkOptions(LOCAL_COMPUTE_OPTIONS_SCHEMA, options, 'options', 'localCompute()');
  return { provider: 'local', options: { ...options } };
}

/** A counting semaphore: at most `limit` holders at once, served in arrival order. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  constructor(limit: number) {
    this.#free = limit;
  }
  async acquire(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return false;
    if (this.#free > 0) {
      this.#free -= 1;
      return true;
    }
    return new Promise<boolean>((resolve) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', abort);
        resolve(true);
      };
      const abort = (): void => {
        const index = this.#waiting.indexOf(grant);
        if (index >= 0) this.#waiting.splice(index, 1);
        resolve(false);
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.#waiting.push(grant);
    });
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free += 1;
  }
}

/** Runs processes on this machine, at most `maxConcurrency` at once, each in its own process group. */
export class LocalComputeTarget implements ComputeTarget {
  readonly kind = 'local';
  readonly name: string;
  readonly maxConcurrency: number;
  readonly #grace: number;
  readonly #slots: Slots;

  constructor(name: string, options: LocalComputeOptions = {}) {
    // a limit below 1 would queue every step forever
    checkOptions(LOCAL_COMPUTE_OPTIONS_SCHEMA, options, 'options', `Local compute target "${name}"`);
    this.name = name;
    this.maxConcurrency = options.maxConcurrency ?? availableParallelism();
    this.#grace = options.killGraceMs ?? 2000;
    this.#slots = new Slots(this.maxConcurrency);
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, maxConcurrency: this.maxConcurrency };
  }

  async runProcess(job: ProcessJob, hooks: ProcessRunHooks = {}): Promise<ProcessResult> {
    const { signal } = hooks;
    if (!(await this.#slots.acquire(signal))) {
      return { exitCode: null, signal: null, timedOut: false, canceled: true };
    }
    try {
      hooks.onStart?.();
      return await this.#spawn(job, hooks);
    } finally {
      this.#slots.release();
    }
  }

  #spawn(job: ProcessJob, hooks: ProcessRunHooks): Promise<ProcessResult> {
    return new Promise<ProcessResult>((resolve, reject) => {
      let timedOut = false;
      let canceled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const child = startProcess(job);
      const killGroup = (signalName: NodeJS.Signals): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, signalName);
        } catch {
          // the group is already gone
        }
      };
      const stop = (): void => {
        killGroup('SIGTERM');
        killTimer ??= setTimeout(() => killGroup('SIGKILL'), this.#grace);
      };
      const onAbort = (): void => {
        canceled = true;
        stop();
      };
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      if (hooks.signal?.aborted) onAbort();
      const timeout =
        job.timeoutMs && job.timeoutMs > 0
          ? setTimeout(() => {
              timedOut = true;
              stop();
            }, job.timeoutMs)
          : undefined;
      child.stdout.on('data', (chunk: Buffer) => hooks.onStdout?.(chunk));
      child.stderr.on('data', (chunk: Buffer) => hooks.onStderr?.(chunk));
      const cleanup = (): void => {
        if (timeout) clearTimeout(timeout);
        if (killTimer) clearTimeout(killTimer);
        hooks.signal?.removeEventListener('abort', onAbort);
      };
      child.once('error', (error: NodeJS.ErrnoException) => {
        cleanup();
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
      child.once('close', (exitCode, signalName) => {
        cleanup();
        // Anything the step left running in its group goes with it.
        killGroup('SIGKILL');
        resolve({ exitCode, signal: signalName, timedOut, canceled });
      });
      // detached: the process leads a group of its own, which the processes it starts join
      if (child.pid !== undefined) {
        try {
          hooks.onSpawn?.({ pid: child.pid, processGroup: child.pid });
        } catch (error) {
          stop();
          reject(error as Error);
        }
      }
    });
  }
}

/**
 * Spawn a job's process, or fail with a coded error for what no process can be started with (a NUL byte,
 * an argument or a command line too long for the system) instead of a bare spawn error.
 */
function startProcess(job: ProcessJob): ChildProcessByStdio<null, Readable, Readable> {
  const values = [job.command, ...job.args];
  let problem = commandLineProblem(values, (index) => (index === 0 ? 'the command' : `argument ${index}`));
  for (const [name, value] of Object.entries(job.env)) {
    if (problem) break;
    if (value.includes('\0'))
      problem = `environment variable ${name} holds a NUL byte, which no process can be given`;
  }
  if (problem) {
    throw new SluiceError('ARGUMENT_INVALID', `Cannot start "${job.command}": ${problem}.`, {
      details: { command: job.command },
    });
  }
  // the runner's secrets reach a step only through its environment's secretEnvironmentVariables
  const env = Object.fromEntries(Object.entries(job.env).filter(([name]) => !name.startsWith(SECRET_PREFIX)));
  try {
    return spawn(job.command, [...job.args], {
      cwd: job.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const tooLong = code === 'E2BIG';
    throw new SluiceError(
      tooLong || code?.startsWith('ERR_INVALID_ARG') ? 'ARGUMENT_INVALID' : 'STEP_FAILED',
      tooLong
        ? `Cannot start "${job.command}": its arguments and environment together are too long for the system (E2BIG); pass large values in files, as inputs.`
        : `Cannot start "${job.command}": ${(error as Error).message}`,
      { cause: error, details: { command: job.command } },
    );
  }
}

/** The built-in provider of local compute targets. */
export function localComputeProvider(): ComputeProviderPlugin<LocalComputeOptions> {
  return {
    type: 'compute',
    kind: 'local',
    name: '@sluice/runtime',
    version: RUNTIME_VERSION,
    coreRange: CORE_RANGE,
    optionsSchema: LOCAL_COMPUTE_OPTIONS_SCHEMA,
    createTarget: (name, options) => new LocalComputeTarget(name, options),
  };
}
