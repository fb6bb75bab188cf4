import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import {
  isPipelineParameter,
  type ComputeTarget,
  type ProcessResult,
  type StepExecutionContext,
} from '@sluice/core';
import type { PythonScriptConfig } from '../plugin.js';
import type { PythonScriptStep } from '../python-script-step.js';

/** The shipped `sluice` Python module's folder. */
export const PYTHON_MODULE_DIR = fileURLToPath(new URL('../../python', import.meta.url));

const made: string[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh temporary folder, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-step-python-'));
  made.push(dir);
  return dir;
}

/**
 * A minimal compute target that spawns processes with node:child_process; the runtime supplies the real
 * one. `spawnErrors` chooses how a process that cannot start is reported: as a rejection, or as a result
 * with no exit code (both are allowed of a compute target).
 */
export function harnessCompute(spawnErrors: 'reject' | 'resolve' = 'reject'): ComputeTarget {
  return {
    name: 'harness',
    kind: 'test',
    describe: () => ({}),
    runProcess: (job, hooks = {}) =>
      new Promise<ProcessResult>((resolve, reject) => {
        let timedOut = false;
        let canceled = false;
        let settled = false;
        const child = spawn(job.command, job.args, { cwd: job.cwd, env: job.env });
        const timer =
          job.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                timedOut = true;
                child.kill();
              }, job.timeoutMs);
        const cancel = (): void => {
          canceled = true;
          child.kill();
        };
        hooks.signal?.addEventListener('abort', cancel, { once: true });
        const finish = (result: ProcessResult | Error): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          hooks.signal?.removeEventListener('abort', cancel);
          if (result instanceof Error) reject(result);
          else resolve(result);
        };
        child.on('spawn', () => hooks.onStart?.());
        child.stdout.on('data', (chunk: Buffer) => hooks.onStdout?.(chunk));
        child.stderr.on('data', (chunk: Buffer) => hooks.onStderr?.(chunk));
        child.on('error', (error) =>
          finish(
            spawnErrors === 'reject'
              ? error
              : { exitCode: null, signal: null, timedOut: false, canceled: false },
          ),
        );
        child.on('close', (exitCode, signal) => finish({ exitCode, signal, timedOut, canceled }));
      }),
  };
}

export interface CollectedLogs {
  stdout: string[];
  stderr: string[];
  info: string[];
}

/** An execution context for `step` running on `compute`, collecting its logs. */
export function executionContext(
  step: PythonScriptStep,
  overrides: Partial<StepExecutionContext<PythonScriptConfig>> = {},
): { context: StepExecutionContext<PythonScriptConfig>; logs: CollectedLogs } {
  const logs: CollectedLogs = { stdout: [], stderr: [], info: [] };
  const parameters = overrides.parameters ?? {};
  const context: StepExecutionContext<PythonScriptConfig> = {
    step,
    runId: 'run-1',
    stepRunId: 'step-run-1',
    experimentName: 'experiment',
    workspaceName: 'workspace',
    parameters,
    inputs: {},
    outputs: {},
    sourceDirectory: step.sourceDirectory,
    workDir: step.sourceDirectory,
    contextFile: path.join(step.sourceDirectory, 'context.json'),
    environment: undefined,
    // as the runtime gives it: PATH, then the environment's variables
    env: { PATH: process.env.PATH ?? '', ...overrides.environment?.environmentVariables },
    compute: harnessCompute(),
    signal: new AbortController().signal,
    logs: {
      stdout: (chunk) => logs.stdout.push(chunk.toString()),
      stderr: (chunk) => logs.stderr.push(chunk.toString()),
      info: (message) => logs.info.push(message),
    },
    locations: { inputs: {}, outputs: {} },
    datastore: (name) => {
      throw new Error(`no datastore ${name} in this harness`);
    },
    resolveArgument: (argument) =>
      isPipelineParameter(argument) ? String(parameters[argument.name]) : String(argument),
    logMetric: () => {},
    ...overrides,
  };
  return { context, logs };
}
