/**
 * Pipelines whose steps run on a real Slurm cluster (tools/slurm: a controller and two nodes in network
 * namespaces on this machine): PythonScriptSteps submitted with sbatch, nothing mocked.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Pipeline, PipelineData, RunConfiguration } from '@sluice/core';
import { ComputeTarget, Experiment, Workspace, type PipelineRun } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import { describe, expect, it } from 'vitest';
import type { SlurmComputeTarget } from '../index.js';
import { slurmCompute, slurmComputeProvider, type SlurmComputeOptions } from '../index.js';
import { SKIP_REASON, SLURM_CONF, scriptFolder } from './cluster.js';

const SCRIPTS: Record<string, string> = {
  'prepare.py': [
    'import os, sys',
    'from sluice import Run',
    'run = Run.get_context()',
    'with open(os.path.join(run.outputs["numbers"], "numbers.txt"), "w") as f:',
    '    f.write("1 2 3 4\\n")',
    'print("prepared on", os.uname().nodename)',
  ].join('\n'),
  'total.py': [
    'import os',
    'from sluice import Run',
    'run = Run.get_context()',
    'numbers = open(os.path.join(run.input_datasets["numbers"], "numbers.txt")).read().split()',
    'with open(os.path.join(run.outputs["total"], "total.txt"), "w") as f:',
    '    f.write(str(sum(int(n) for n in numbers)))',
    'print("node", os.environ.get("SLURMD_NODENAME"), "job", os.environ.get("SLURM_JOB_ID"))',
  ].join('\n'),
  'report.py': [
    'import os',
    'from sluice import Run',
    'run = Run.get_context()',
    'print("total is", open(os.path.join(run.input_datasets["total"], "total.txt")).read())',
  ].join('\n'),
  'fail.py': ['import sys', 'print("bad input: column x is missing", file=sys.stderr)', 'sys.exit(3)'].join(
    '\n',
  ),
  'sleep.py': ['import time', 'print("sleeping", flush=True)', 'time.sleep(600)'].join('\n'),
  'hungry.py': [
    'import time',
    'block = bytearray(400 * 1024 * 1024)',
    'block[::4096] = b"x" * len(block[::4096])',
    'time.sleep(10)',
    'print("survived")',
  ].join('\n'),
};

const folder = scriptFolder('sluice-slurm-pipeline-', SCRIPTS);

let workspaces = 0;
/** A fresh workspace with a Slurm compute target named `cluster`. */
async function workspace(
  options: SlurmComputeOptions = {},
): Promise<{ ws: Workspace; target: SlurmComputeTarget; submit(p: Pipeline): Promise<PipelineRun> }> {
  const ws = Workspace.create(join(folder.root, `ws${++workspaces}`));
  ws.registry.use(slurmComputeProvider());
  const target = await ComputeTarget.create(
    ws,
    'cluster',
    slurmCompute({ slurmConf: SLURM_CONF!, pollIntervalMs: 200, maxPollIntervalMs: 1000, ...options }),
  );
  const experiment = new Experiment(ws, 'slurm');
  return {
    ws,
    target: target as SlurmComputeTarget,
    submit: (pipeline) => experiment.submit(pipeline),
  };
}

function step(
  name: string,
  options: Partial<ConstructorParameters<typeof PythonScriptStep>[0]> = {},
): PythonScriptStep {
  return new PythonScriptStep({
    name,
    scriptName: `${name}.py`,
    sourceDirectory: folder.sources,
    ...options,
  });
}

/** The Slurm state of the jobs of a step, by job name. */
function jobStates(name: string): string[] {
  const out = execFileSync('squeue', ['-h', '--states=all', '-n', name, '-o', '%T'], {
    env: { ...process.env, SLURM_CONF: SLURM_CONF! },
    encoding: 'utf8',
  });
  return out.split('\n').filter(Boolean);
}

describe.skipIf(!SLURM_CONF)('Steps on a real Slurm cluster', { timeout: 240_000 }, () => {
  if (!SLURM_CONF) it.skip(SKIP_REASON);

  it.concurrent(
    'runs a pipeline half local, half on Slurm, and reuses the Slurm step on the next submit',
    async () => {
      const { ws, target, submit } = await workspace();
      const numbers = new PipelineData('numbers');
      const total = new PipelineData('total');
      const pipeline = (): Pipeline =>
        new Pipeline({
          name: 'half',
          steps: [
            step('prepare', { outputs: [numbers] }),
            step('total', {
              inputs: [numbers],
              outputs: [total],
              computeTarget: 'cluster',
              runConfig: new RunConfiguration({ resources: { cpus: 1, memory: '100M', time: 5 } }),
            }),
            step('report', { inputs: [total] }),
          ],
        });
      const run = await submit(pipeline());
      await run.waitForCompletion({ raiseOnError: false });
      expect(run.status, await run.findStepRun('total').getStderr()).toBe('Finished');
      const onCluster = await run.findStepRun('total').getStdout();
      expect(onCluster).toMatch(/^node n\d job \d+$/m);
      const job = /job (\d+)$/m.exec(onCluster)![1];
      // the job id is recorded with the step run, in its log
      expect(await run.findStepRun('total').getSluiceLog()).toContain(
        `submitted to cluster (slurm) as job ${job}`,
      );
      expect(await run.findStepRun('report').getStdout()).toContain('total is 10');
      expect(target.calls.sbatch).toBe(1);
      const { squeue, sacct, scontrol } = target.calls;
      expect(squeue + sacct + scontrol).toBeGreaterThan(0);

      const again = await submit(pipeline());
      await again.waitForCompletion();
      expect(again.getSteps().every((stepRun) => stepRun.reusedFrom !== null)).toBe(true);
      expect(target.calls.sbatch, 'a reused step submits no job').toBe(1);
      await ws.close();
    },
  );

  it.concurrent("reports a failing job's exit code and its stderr", async () => {
    const { ws, submit } = await workspace();
    const run = await submit(new Pipeline({ steps: [step('fail', { computeTarget: 'cluster' })] }));
    await run.waitForCompletion({ raiseOnError: false });
    expect(run.status).toBe('Failed');
    const stepRun = run.findStepRun('fail');
    expect(stepRun.record.error).toContain('exited with code 3');
    expect(stepRun.record.exitCode).toBe(3);
    const stderr = await stepRun.getStderr();
    expect(stderr).toContain('bad input: column x is missing');
    expect(stderr).toContain('failed: the process exited with code 3');
    await ws.close();
  });

  it.concurrent('cancels the Slurm job when the run is canceled', async () => {
    const { ws, target, submit } = await workspace();
    const run = await submit(new Pipeline({ steps: [step('sleep', { computeTarget: 'cluster' })] }));
    const stepRun = (): ReturnType<PipelineRun['findStepRun']> => run.findStepRun('sleep');
    // wait until the job runs and has printed
    for (let i = 0; i < 600 && !(await stepRun().getStdout()).includes('sleeping'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await stepRun().getStdout()).toContain('sleeping');
    await run.cancel();
    await run.waitForCompletion({ raiseOnError: false });
    expect(run.status).toBe('Canceled');
    expect(target.calls.scancel).toBe(1);
    expect(jobStates(`sluice:${run.id}:sleep`)).toEqual(['CANCELLED']);
    await ws.close();
  });

  it.concurrent('reports a job Slurm killed for using more memory than it asked for', async () => {
    const { ws, submit } = await workspace();
    const hungry = step('hungry', {
      computeTarget: 'cluster',
      runConfig: new RunConfiguration({ resources: { memory: '50M' } }),
    });
    const run = await submit(new Pipeline({ steps: [hungry] }));
    await run.waitForCompletion({ raiseOnError: false });
    const stepRun = run.findStepRun('hungry');
    expect(run.status).toBe('Failed');
    expect(stepRun.record.error).toContain('SIGKILL');
    const stderr = await stepRun.getStderr();
    expect(stderr).toContain('exceeded memory limit');
    expect(stderr, stderr).toContain('killed by Slurm: out of memory at 50M; raise memory');
    expect(await stepRun.getStdout()).not.toContain('survived');
    await ws.close();
  });

  it.concurrent('reports a job Slurm killed at its time limit in words', async () => {
    const { ws, submit } = await workspace({ defaults: { time: 1 } });
    const run = await submit(new Pipeline({ steps: [step('sleep', { computeTarget: 'cluster' })] }));
    await run.waitForCompletion({ raiseOnError: false });
    const stepRun = run.findStepRun('sleep');
    expect(run.status).toBe('Failed');
    expect(stepRun.record.error).toContain('timed out');
    expect(await stepRun.getStderr()).toMatch(
      /killed by Slurm: it ran past its time limit of [\d:]+; raise time/,
    );
    expect(jobStates(`sluice:${run.id}:sleep`)).toEqual(['TIMEOUT']);
    await ws.close();
  });
});

describe.skipIf(!SLURM_CONF)('A Slurm compute target', () => {
  it('reports the cluster: waitForCompletion() and status() list the nodes and their states', async () => {
    const { ws, target } = await workspace();
    const status = await target.waitForCompletion();
    expect(status.nodes.length).toBeGreaterThanOrEqual(2);
    for (const node of status.nodes) {
      expect(node.name).toMatch(/^n\d+$/);
      expect(node.cpus).toBeGreaterThan(0);
      expect(node.partitions).toContain('debug');
    }
    expect(Object.values(status.states).reduce((a, b) => a + b, 0)).toBe(status.nodes.length);
    expect(target.describe()).toMatchObject({ kind: 'slurm', name: 'cluster' });
    await ws.close();
  });

  it('refuses options it does not know with a coded error naming them', () => {
    expect(() => slurmCompute({ partion: 'x' } as never)).toThrow(/unknown option "partion"/);
    expect(() => slurmCompute({ defaults: { memory: 'lots' } })).toThrow(/memory must be an amount like/);
    expect(() => new RunConfiguration({ resources: { cpus: 0 } })).toThrow(/cpus must be a whole number/);
  });

  it('fails with COMPUTE_UNAVAILABLE, naming SLURM_CONF, when the controller cannot be reached', async () => {
    const missing = await workspace({ slurmConf: join(folder.root, 'no-such', 'slurm.conf') });
    await expect(missing.target.status()).rejects.toMatchObject({
      code: 'COMPUTE_UNAVAILABLE',
      message: expect.stringContaining('set SLURM_CONF'),
    });
    const refused = join(folder.root, 'refused.conf');
    const conf = await readFile(SLURM_CONF!, 'utf8');
    await writeFile(
      refused,
      conf
        .replace(/^SlurmctldHost=.*$/m, 'SlurmctldHost=$&\nSlurmctldPort=1')
        .replace(/\(10\.77\.0\.2\)/, '(127.0.0.1)'),
    );
    const unreachable = await workspace({ slurmConf: refused });
    await expect(unreachable.target.status()).rejects.toMatchObject({
      code: 'COMPUTE_UNAVAILABLE',
      message: expect.stringMatching(/Unable to contact slurm controller.*SLURM_CONF=/),
    });
    await missing.ws.close();
    await unreachable.ws.close();
  });

  it('fails with COMPUTE_NOT_INSTALLED, saying what to install, when sbatch is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = join(folder.root, 'empty-bin');
    try {
      const { ws, target } = await workspace();
      await expect(target.status()).rejects.toMatchObject({
        code: 'COMPUTE_NOT_INSTALLED',
        message: expect.stringContaining('apt-get install slurm-client'),
      });
      await ws.close();
    } finally {
      process.env.PATH = path;
    }
  });
});
