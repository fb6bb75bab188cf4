/**
 * A runner killed with SIGKILL while its step runs as a Slurm job: the next submit of the same pipeline
 * re-attaches to the job (running, or finished with exit code 0) and takes its result, or submits the step
 * again when the job failed. Real runner processes, a real cluster (tools/slurm).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ComputeTarget, Workspace, type RemoteJobRecord } from '@sluice/runtime';
import { describe, expect, it } from 'vitest';
import { slurmCompute, slurmComputeProvider } from '../index.js';
import { SKIP_REASON, SLURM_CONF, scriptFolder } from './cluster.js';

const RUNNER = fileURLToPath(new URL('./fixtures/runner.mjs', import.meta.url));
const SCRIPTS: Record<string, string> = {
  'slow.py': [
    'import argparse, os, sys, time',
    'from sluice import Run',
    'parser = argparse.ArgumentParser()',
    'parser.add_argument("--seconds", type=float)',
    'parser.add_argument("--marker")',
    'args = parser.parse_args()',
    'run = Run.get_context()',
    'job = os.environ.get("SLURM_JOB_ID")',
    'print("job", job, "started", flush=True)',
    'time.sleep(args.seconds)',
    'if args.marker == "fail":',
    '    print("failing on purpose", file=sys.stderr)',
    '    sys.exit(4)',
    'with open(os.path.join(run.outputs["result"], "result.txt"), "w") as f:',
    '    f.write(f"{args.marker} from job {job}")',
    'print("slow done", flush=True)',
  ].join('\n'),
  'after.py': [
    'import os',
    'from sluice import Run',
    'run = Run.get_context()',
    'print("result:", open(os.path.join(run.input_datasets["result"], "result.txt")).read())',
  ].join('\n'),
};

const folder = scriptFolder('sluice-slurm-reattach-', SCRIPTS);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Runner {
  child: ChildProcess;
  output: () => string;
  runId: Promise<string>;
  exited: Promise<number | null>;
}

function startRunner(dir: string, seconds: number, marker: string): Runner {
  const child = spawn(process.execPath, [RUNNER, dir, folder.sources, String(seconds), marker], {
    env: { ...process.env, SLURM_CONF: SLURM_CONF! },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const runId = until('the run id', () => /^run (\S+)$/m.exec(output)?.[1]);
  return { child, output: () => output, runId, exited };
}

let workspaces = 0;
async function workspace(): Promise<{ dir: string; ws: Workspace }> {
  const dir = join(folder.root, `ws${++workspaces}`);
  const ws = Workspace.create(dir);
  ws.registry.use(slurmComputeProvider());
  await ComputeTarget.create(
    ws,
    'cluster',
    slurmCompute({ slurmConf: SLURM_CONF!, pollIntervalMs: 200, maxPollIntervalMs: 1000 }),
  );
  return { dir, ws };
}

/** Start a runner and kill it with SIGKILL once its `slow` step's job is submitted. */
async function killedRunner(
  ws: Workspace,
  dir: string,
  seconds: number,
  marker: string,
): Promise<{ runId: string; stepRunId: string; job: RemoteJobRecord }> {
  const runner = startRunner(dir, seconds, marker);
  const runId = await runner.runId;
  const slow = await until('the job to be submitted', () =>
    ws.store.getStepRuns(runId).find((stepRun) => stepRun.stepName === 'slow' && stepRun.remoteJob),
  );
  runner.child.kill('SIGKILL');
  await runner.exited;
  return { runId, stepRunId: slow.id, job: slow.remoteJob! };
}

/** Jobs Slurm has for a run's step, by job name. */
function jobsOf(runId: string, step: string): string[] {
  const out = execFileSync('squeue', ['-h', '--states=all', '-n', `sluice:${runId}:${step}`, '-o', '%i'], {
    env: { ...process.env, SLURM_CONF: SLURM_CONF! },
    encoding: 'utf8',
  });
  return out.split('\n').filter(Boolean);
}

async function finish(dir: string, seconds: number, marker: string): Promise<string> {
  const runner = startRunner(dir, seconds, marker);
  const runId = await runner.runId;
  expect(await runner.exited, runner.output()).toBe(0);
  return runId;
}

async function sluiceLog(ws: Workspace, runId: string, step: string, file = 'sluice.txt'): Promise<string> {
  const stepRun = ws.store.getStepRuns(runId).find((candidate) => candidate.stepName === step)!;
  return readFile(join(stepRun.logDir!, file), 'utf8').catch(() => '');
}

describe.skipIf(!SLURM_CONF)('A runner killed while its step runs on Slurm', { timeout: 240_000 }, () => {
  if (!SLURM_CONF) it.skip(SKIP_REASON);

  it.concurrent('is followed by one that re-attaches to the running job and takes its result', async () => {
    const { dir, ws } = await workspace();
    const killed = await killedRunner(ws, dir, 8, 'running');
    expect(existsSync(join(killed.job.handle!.spool!, 'exit')), 'the job still runs').toBe(false);

    const runId = await finish(dir, 8, 'running');
    const run = ws.store.getRun(runId)!;
    expect(run.status).toBe('Finished');
    const slow = ws.store.getStepRuns(runId).find((stepRun) => stepRun.stepName === 'slow')!;
    expect(slow.status).toBe('Finished');
    expect(slow.remoteJob?.id, 'the step run holds the job it followed').toBe(killed.job.id);
    expect(ws.store.getStepRun(killed.stepRunId)?.adoptedBy).toBe(slow.id);
    expect(jobsOf(runId, 'slow'), 'no job submitted again').toEqual([]);
    expect(await sluiceLog(ws, runId, 'slow')).toContain(`re-attaching to job ${killed.job.id} on cluster`);
    // the job's whole output reaches the new step run's log, and its output is the new run's
    const stdout = await sluiceLog(ws, runId, 'slow', 'stdout.txt');
    expect(stdout).toContain(`job ${killed.job.id} started`);
    expect(stdout).toContain('slow done');
    expect(await sluiceLog(ws, runId, 'after', 'stdout.txt')).toContain(
      `result: running from job ${killed.job.id}`,
    );
    // the earlier run was recovered as ended by its runner's death
    expect(ws.store.getRun(killed.runId)?.status).toBe('Failed');
    expect(existsSync(killed.job.handle!.spool!), 'the job folder is removed after').toBe(false);
    await ws.close();
  });

  it.concurrent('is followed by one that takes the result of a job that finished meanwhile', async () => {
    const { dir, ws } = await workspace();
    const killed = await killedRunner(ws, dir, 1, 'finished');
    await until('the job to finish', () =>
      existsSync(join(killed.job.handle!.spool!, 'exit')) ? true : undefined,
    );

    const runId = await finish(dir, 1, 'finished');
    expect(ws.store.getRun(runId)?.status).toBe('Finished');
    expect(jobsOf(runId, 'slow')).toEqual([]);
    expect(await sluiceLog(ws, runId, 'slow')).toMatch(
      new RegExp(`re-attaching to job ${killed.job.id} on cluster.*finished with exit code 0`),
    );
    expect(await sluiceLog(ws, runId, 'after', 'stdout.txt')).toContain(
      `result: finished from job ${killed.job.id}`,
    );
    await ws.close();
  });

  it.concurrent('is followed by one that runs the step again when the job failed', async () => {
    const { dir, ws } = await workspace();
    const killed = await killedRunner(ws, dir, 1, 'fail');
    await until('the job to fail', () =>
      existsSync(join(killed.job.handle!.spool!, 'exit')) ? true : undefined,
    );

    const runner = startRunner(dir, 1, 'fail');
    const runId = await runner.runId;
    await runner.exited;
    expect(ws.store.getRun(runId)?.status).toBe('Failed');
    expect(await sluiceLog(ws, runId, 'slow')).toContain(
      `job ${killed.job.id} on cluster, submitted by step run ${killed.stepRunId} (its runner ended) cannot be re-attached: job ${killed.job.id} exited with code 4; running the step again`,
    );
    expect(jobsOf(runId, 'slow'), 'the step was submitted again').toHaveLength(1);
    expect(ws.store.getStepRun(killed.stepRunId)?.adoptedBy).toBeNull();
    await ws.close();
  });
});
