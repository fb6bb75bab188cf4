import { existsSync, realpathSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PluginRegistry,
  type ComputeProviderPlugin,
  type ComputeTarget,
  type PluginContext,
  type ProcessJob,
  type ProcessResult,
  type ProcessRunHooks,
} from '@sluice/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** What a conformance setup hands the suite. */
export interface ComputeProviderFixture<Options = Record<string, unknown>> {
  provider: ComputeProviderPlugin<Options>;
  /** The options `createTarget` gets. */
  options: Options;
  /**
   * Secrets by name: served to the provider through `context.secret(name)`, and their values must never
   * appear in `describe()`. List secrets the options hold directly here too.
   */
  secrets?: Record<string, string>;
  /** The number of processes the options let run at once; when given, the limit is checked. */
  maxConcurrency?: number;
  /** The command that runs a JavaScript program on the target (default: this Node.js, `process.execPath`). */
  node?: string;
  /** Runs once after the suite (after the target's `close()`). */
  cleanup?(): Promise<void>;
}

export interface TestComputeProviderOptions {
  /** Per-test timeout in milliseconds (default 60 s). */
  timeout?: number;
}

/** Set in this process while the suite runs; a process on the target must not see it. */
const LEAK_VARIABLE = 'SLUICE_CONFORMANCE_LEAK';
const MISSING_COMMAND = 'sluice-conformance-no-such-command';

/**
 * Register a vitest `describe` block that holds a compute provider to the contract of `@sluice/core`: the
 * plugin's shape, the target's name, kind and `describe()` (no secrets), and, when the target has
 * `runProcess`, real processes: exit codes, stdout and stderr, environment and working folder, timeouts,
 * cancellation (running and queued), the concurrency limit, and a command that does not exist.
 *
 * `setup` runs once before the tests; the target is created once and closed after them.
 */
export function testComputeProvider<Options>(
  label: string,
  setup: () => ComputeProviderFixture<Options> | Promise<ComputeProviderFixture<Options>>,
  options: TestComputeProviderOptions = {},
): void {
  describe(`Compute provider conformance: ${label}`, { timeout: options.timeout ?? 60_000 }, () => {
    let fixture: ComputeProviderFixture<Options> | undefined;
    let target: ComputeTarget | undefined;
    let root: string;
    let counter = 0;

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'sluice-compute-conformance-'));
      fixture = await setup();
      target = await fixture.provider.createTarget('conformance', fixture.options, context());
    });
    afterAll(async () => {
      try {
        await target?.close?.();
        await fixture?.cleanup?.();
      } finally {
        if (root) await rm(root, { recursive: true, force: true });
      }
    });

    const current = (): ComputeProviderFixture<Options> => {
      if (!fixture) throw new Error('the compute provider setup did not complete');
      return fixture;
    };
    const context = (): PluginContext => ({
      workspaceDir: root,
      secret: (name) => current().secrets?.[name],
    });
    const created = (): ComputeTarget => {
      if (!target) throw new Error('createTarget did not complete');
      return target;
    };
    /** The target's runProcess, or skip the test when it has none. */
    const runner = (skip: () => void): NonNullable<ComputeTarget['runProcess']> => {
      const run = created().runProcess;
      if (!run) {
        skip();
        throw new Error('unreachable: the test is skipped');
      }
      return run.bind(created());
    };
    const folder = async (): Promise<string> => {
      const dir = join(root, `job-${++counter}`);
      await mkdir(dir, { recursive: true });
      return dir;
    };
    /** A job running a JavaScript program with `node -e`. */
    const script = async (
      code: string,
      extra: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
    ): Promise<ProcessJob> => ({
      command: current().node ?? process.execPath,
      args: ['-e', code],
      cwd: extra.cwd ?? (await folder()),
      env: { PATH: process.env.PATH ?? '', ...extra.env },
      ...(extra.timeoutMs === undefined ? {} : { timeoutMs: extra.timeoutMs }),
    });
    /** Run a job, collecting what it prints and when it started. */
    const collect = async (
      run: NonNullable<ComputeTarget['runProcess']>,
      job: ProcessJob,
      hooks: Pick<ProcessRunHooks, 'signal'> & { onFirstOutput?: () => void } = {},
    ): Promise<{ result: ProcessResult; stdout: string; stderr: string; starts: number; ms: number }> => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let starts = 0;
      let first = true;
      const seen = (): void => {
        expect(starts, 'onStart() is called before any output').toBe(1);
        if (first) hooks.onFirstOutput?.();
        first = false;
      };
      const began = Date.now();
      const result = await run(job, {
        ...(hooks.signal ? { signal: hooks.signal } : {}),
        onStart: () => (starts += 1),
        onStdout: (chunk) => {
          expect(Buffer.isBuffer(chunk), 'stdout chunks are Buffers').toBe(true);
          seen();
          stdout.push(chunk);
        },
        onStderr: (chunk) => {
          expect(Buffer.isBuffer(chunk), 'stderr chunks are Buffers').toBe(true);
          seen();
          stderr.push(chunk);
        },
      });
      return {
        result,
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
        starts,
        ms: Date.now() - began,
      };
    };

    it('is a compute provider plugin the registry accepts', () => {
      const { provider } = current();
      const registry = new PluginRegistry();
      // use() checks the shape, the semver version and that coreRange includes the installed core
      registry.use(provider);
      expect(registry.compute(provider.kind)).toBe(provider);
      expect(provider.type).toBe('compute');
    });

    it('creates a target with the given name, the provider kind and a describe() without secrets', async () => {
      const { provider, options: providerOptions, secrets } = current();
      expect(created().name).toBe('conformance');
      expect(created().kind).toBe(provider.kind);
      const other = await provider.createTarget('conformance-other', providerOptions, context());
      try {
        expect(other.name).toBe('conformance-other');
      } finally {
        await other.close?.();
      }

      const description = created().describe();
      expect(description && typeof description === 'object' && !Array.isArray(description)).toBe(true);
      const text = JSON.stringify(description);
      expect(JSON.parse(text), 'describe() is plain JSON').toEqual(description);
      for (const [name, value] of Object.entries(secrets ?? {})) {
        expect(text.includes(value), `describe() shows the secret "${name}"`).toBe(false);
      }
    });

    it('runs a process to its exit code', async ({ skip }) => {
      const run = runner(skip);
      const ok = await collect(run, await script('process.exit(0)'));
      expect(ok.result).toEqual({ exitCode: 0, signal: null, timedOut: false, canceled: false });
      expect(ok.starts).toBe(1);

      const failed = await collect(run, await script('process.exitCode = 3'));
      expect(failed.result).toMatchObject({ exitCode: 3, timedOut: false, canceled: false });

      const killed = await collect(run, await script(`process.kill(process.pid, 'SIGKILL')`));
      expect(killed.result.exitCode).not.toBe(0);
      if (killed.result.exitCode === null) expect(killed.result.signal).toEqual(expect.any(String));
      expect(killed.result).toMatchObject({ timedOut: false, canceled: false });
    });

    it('delivers stdout and stderr, all of it, as Buffers after onStart()', async ({ skip }) => {
      const run = runner(skip);
      const big = 200_000;
      const { result, stdout, stderr } = await collect(
        run,
        await script(
          `process.stdout.write('out-start ünï\\n'); process.stderr.write('err-line\\n'); process.stdout.write('x'.repeat(${big}) + '\\nout-end\\n')`,
        ),
      );
      expect(result.exitCode).toBe(0);
      expect(stdout).toBe(`out-start ünï\n${'x'.repeat(big)}\nout-end\n`);
      expect(stderr).toBe('err-line\n');
    });

    it('reports the process through onSpawn, once, before its output (targets on this machine)', async ({
      skip,
    }) => {
      const run = runner(skip);
      const spawned: Array<{ pid: number; processGroup: number }> = [];
      let printedFirst = false;
      let printed = '';
      const result = await run(await script('process.stdout.write(String(process.pid))'), {
        onSpawn: (info) => spawned.push(info),
        onStdout: (chunk) => {
          printedFirst ||= spawned.length === 0;
          printed += chunk.toString();
        },
      });
      expect(result.exitCode).toBe(0);
      if (spawned.length === 0) return skip('the target does not report the processes it starts');
      expect(spawned, 'onSpawn() is called once per process').toHaveLength(1);
      expect(printedFirst, 'onSpawn() is called before any output').toBe(false);
      expect(spawned[0]!.pid, 'the pid is the process that ran').toBe(Number(printed));
      expect(Number.isInteger(spawned[0]!.processGroup) && spawned[0]!.processGroup > 0).toBe(true);
    });

    it('gives the process exactly the job env, and runs it in the job cwd', async ({ skip }) => {
      const run = runner(skip);
      const cwd = await folder();
      const value = 'a value with spaces, ünïcode, "quotes" and $SYMBOLS';
      process.env[LEAK_VARIABLE] = 'this process only';
      try {
        const { result, stdout } = await collect(
          run,
          await script(
            `process.stdout.write(JSON.stringify({ value: process.env.SLUICE_CONFORMANCE_VALUE, leak: process.env.${LEAK_VARIABLE} ?? null, cwd: process.cwd() }))`,
            { cwd, env: { SLUICE_CONFORMANCE_VALUE: value } },
          ),
        );
        expect(result.exitCode).toBe(0);
        const seen = JSON.parse(stdout) as { value: string; leak: string | null; cwd: string };
        expect(seen.value).toBe(value);
        expect(seen.leak, 'variables not in job.env do not reach the process').toBeNull();
        expect(realpathSync(seen.cwd)).toBe(realpathSync(cwd));
      } finally {
        delete process.env[LEAK_VARIABLE];
      }
    });

    it('stops a process that runs past timeoutMs: timedOut, not canceled', async ({ skip }) => {
      const run = runner(skip);
      const { result, ms } = await collect(
        run,
        await script('setTimeout(() => {}, 60000)', { timeoutMs: 500 }),
      );
      expect(result).toMatchObject({ timedOut: true, canceled: false });
      expect(result.exitCode).not.toBe(0);
      expect(ms, 'the process is stopped soon after its timeout').toBeLessThan(20_000);
    });

    it('stops a running process when the signal aborts: canceled, not timedOut', async ({ skip }) => {
      const run = runner(skip);
      const controller = new AbortController();
      const { result, stdout, ms } = await collect(
        run,
        await script(`process.stdout.write('started\\n'); setTimeout(() => {}, 60000)`),
        { signal: controller.signal, onFirstOutput: () => controller.abort() },
      );
      expect(stdout).toContain('started');
      expect(result).toMatchObject({ canceled: true, timedOut: false });
      expect(result.exitCode).not.toBe(0);
      expect(ms, 'the process is stopped soon after the abort').toBeLessThan(20_000);
    });

    it('does not run a process whose signal has already aborted', async ({ skip }) => {
      const run = runner(skip);
      const dir = await folder();
      const marker = join(dir, 'ran.txt');
      const controller = new AbortController();
      controller.abort();
      const { result } = await collect(
        run,
        await script(`require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`, { cwd: dir }),
        { signal: controller.signal },
      );
      expect(result.canceled).toBe(true);
      expect(result.timedOut).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(existsSync(marker), 'the process did not run').toBe(false);
    });

    it('runs at most maxConcurrency processes at once, and cancels a queued one without starting it', async ({
      skip,
    }) => {
      const run = runner(skip);
      const limit = current().maxConcurrency;
      if (limit === undefined) {
        skip();
        return;
      }
      const dir = await folder();
      // each process marks itself running, counts the running ones, and unmarks itself before it exits
      const code = `
        const fs = require('fs'), path = require('path');
        const dir = process.env.SLUICE_CONFORMANCE_DIR, me = path.join(dir, String(process.pid));
        fs.writeFileSync(me, '');
        const seen = fs.readdirSync(dir).length;
        setTimeout(() => { fs.rmSync(me); process.stdout.write(String(seen)); }, 1000);`;
      const jobs = await Promise.all(
        Array.from({ length: limit + 2 }, () => script(code, { env: { SLUICE_CONFORMANCE_DIR: dir } })),
      );
      let starts = 0;
      let allBusy!: () => void;
      const busy = new Promise<void>((resolve) => (allBusy = resolve));
      const running = jobs.map((job) => {
        let stdout = '';
        return run(job, {
          onStart: () => {
            starts += 1;
            if (starts === limit) allBusy();
          },
          onStdout: (chunk) => (stdout += chunk.toString()),
        }).then((result) => ({ result, seen: Number(stdout) }));
      });
      // every slot is taken: a job queued now and aborted before a slot frees never starts
      await busy;
      const queued = new AbortController();
      let queuedStarts = 0;
      const queuedRun = run(await script('setTimeout(() => {}, 60000)'), {
        signal: queued.signal,
        onStart: () => (queuedStarts += 1),
      });
      queued.abort();
      const queuedResult = await queuedRun;
      expect(queuedResult.canceled).toBe(true);
      expect(queuedStarts, 'a job canceled in the queue never starts').toBe(0);

      const results = await Promise.all(running);
      for (const { result } of results) expect(result.exitCode).toBe(0);
      const most = Math.max(...results.map(({ seen }) => seen));
      expect(most, `no more than ${limit} processes ran at once`).toBeLessThanOrEqual(limit);
      expect(most, `${limit} processes ran at once`).toBe(limit);
    });

    it('reports a command that does not exist: a coded error, or no exit code', async ({ skip }) => {
      const run = runner(skip);
      const job: ProcessJob = {
        command: MISSING_COMMAND,
        args: [],
        cwd: await folder(),
        env: { PATH: process.env.PATH ?? '' },
      };
      let outcome: { result: ProcessResult } | { error: unknown };
      try {
        outcome = { result: await run(job) };
      } catch (error) {
        outcome = { error };
      }
      if ('error' in outcome) {
        const error = outcome.error as { code?: unknown; message?: unknown };
        expect(error, 'the rejection is an Error').toBeInstanceOf(Error);
        expect(typeof error.code, 'the error carries a string code (a SluiceError code)').toBe('string');
        expect(String(error.message)).toContain(MISSING_COMMAND);
      } else {
        // a scheduler that runs the command through a shell reports the shell's "command not found" (127)
        expect([null, 127]).toContain(outcome.result.exitCode);
        expect(outcome.result).toMatchObject({ timedOut: false, canceled: false });
      }
    });
  });
}
