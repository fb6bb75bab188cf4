/**
 * Job arrays on a real Slurm cluster (tools/slurm): steps that become ready together and ask for the same
 * resources go in one `sbatch --array` call; each task still runs its own step, in its own folder.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Pipeline, PipelineData, RunConfiguration } from '@sluice/core';
import { ComputeTarget, Experiment, Workspace } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import { describe, expect, it } from 'vitest';
import type { SlurmComputeTarget } from '../index.js';
import { slurmCompute, slurmComputeProvider } from '../index.js';
import { SKIP_REASON, SLURM_CONF, scriptFolder } from './cluster.js';

const SCRIPTS: Record<string, string> = {
  'part.py': [
    'import os, sys',
    'from sluice import Run',
    'run = Run.get_context()',
    'index = int(sys.argv[sys.argv.index("--index") + 1])',
    'if index == 3:',
    '    print("part 3 refuses", file=sys.stderr)',
    '    sys.exit(7)',
    'with open(os.path.join(list(run.outputs.values())[0], "part.txt"), "w") as f:',
    '    f.write(f"{index * index}")',
    'print("task", os.environ.get("SLURM_ARRAY_TASK_ID"), "of job", os.environ.get("SLURM_JOB_ID"))',
  ].join('\n'),
  'sum.py': [
    'import os',
    'from sluice import Run',
    'run = Run.get_context()',
    'print("sum", sum(int(open(os.path.join(p, "part.txt")).read()) for p in run.input_datasets.values()))',
  ].join('\n'),
};

const folder = scriptFolder('sluice-slurm-arrays-', SCRIPTS);

function fan(count: number, skip: number[] = []): Pipeline {
  const parts: PipelineData[] = [];
  const steps: PythonScriptStep[] = [];
  for (let index = 0; index < count; index++) {
    if (skip.includes(index)) continue;
    const part = new PipelineData(`part${index}`);
    parts.push(part);
    steps.push(
      new PythonScriptStep({
        name: `part${index}`,
        scriptName: 'part.py',
        sourceDirectory: folder.sources,
        arguments: ['--index', String(index), '--out', part],
        outputs: [part],
        computeTarget: 'cluster',
        // the same resources for all: one array
        runConfig: new RunConfiguration({ resources: { cpus: 1, memory: '100M' } }),
      }),
    );
  }
  steps.push(
    new PythonScriptStep({
      name: 'sum',
      scriptName: 'sum.py',
      sourceDirectory: folder.sources,
      inputs: parts,
    }),
  );
  return new Pipeline({ name: 'fan', steps });
}

describe.skipIf(!SLURM_CONF)('Job arrays', { timeout: 180_000 }, () => {
  if (!SLURM_CONF) it.skip(SKIP_REASON);

  it('submit the steps of a fan-out in one sbatch call, each task its own step', async () => {
    const ws = Workspace.create(join(folder.root, 'ws-fan'));
    ws.registry.use(slurmComputeProvider());
    const target = (await ComputeTarget.create(
      ws,
      'cluster',
      slurmCompute({
        slurmConf: SLURM_CONF!,
        pollIntervalMs: 200,
        maxPollIntervalMs: 1000,
        jobArrays: { windowMs: 2000 },
      }),
    )) as SlurmComputeTarget;
    const run = await new Experiment(ws, 'arrays').submit(fan(12, [3]));
    await run.waitForCompletion();
    expect(target.calls.sbatch, 'eleven steps, one array').toBe(1);
    const sum = [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11].reduce((total, index) => total + index * index, 0);
    expect(await run.findStepRun('sum').getStdout()).toContain(`sum ${sum}`);
    const ids = new Set<string>();
    for (const index of [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]) {
      const stepRun = run.findStepRun(`part${index}`);
      const match = /^task (\d+) of job (\d+)$/m.exec(await stepRun.getStdout());
      expect(match, `part${index} ran as an array task`).not.toBeNull();
      ids.add(stepRun.record.remoteJob!.id);
      // the id the runtime records is `<array>_<task>`, the task's own
      expect(stepRun.record.remoteJob!.id).toMatch(new RegExp(`^\\d+_${match![1]}$`));
    }
    expect(ids.size).toBe(11);
    await ws.close();
  });

  it("report a failing task's exit code while the others finish", async () => {
    const ws = Workspace.create(join(folder.root, 'ws-fail'));
    ws.registry.use(slurmComputeProvider());
    const target = (await ComputeTarget.create(
      ws,
      'cluster',
      slurmCompute({ slurmConf: SLURM_CONF!, pollIntervalMs: 200, jobArrays: { windowMs: 2000 } }),
    )) as SlurmComputeTarget;
    const run = await new Experiment(ws, 'arrays').submit(fan(5), { continueOnStepFailure: true });
    await run.waitForCompletion({ raiseOnError: false });
    expect(run.status).toBe('Failed');
    expect(target.calls.sbatch).toBe(1);
    const failed = run.findStepRun('part3');
    expect(failed.record.status).toBe('Failed');
    expect(failed.record.exitCode).toBe(3 + 4);
    expect(await failed.getStderr()).toContain('part 3 refuses');
    for (const index of [0, 1, 2, 4]) expect(run.findStepRun(`part${index}`).record.status).toBe('Finished');
    // the array's tasks are all in the controller, the failed step's task FAILED
    const task = failed.record.remoteJob!.id;
    const array = task.split('_')[0]!;
    const states = execFileSync('sacct', ['-n', '-X', '-P', '-j', array, '-o', 'JobID,State'], {
      env: { ...process.env, SLURM_CONF: SLURM_CONF! },
      encoding: 'utf8',
    });
    expect(states).toContain(`${task}|FAILED`);
    expect(states.match(/\|COMPLETED/g)).toHaveLength(4);
    await ws.close();
  });
});
