/** The iris example on the cluster, with one option more on the command line: `-c cluster`. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ComputeTarget, Workspace } from '@sluice/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_NAME } from '../version.js';
import { slurmCompute, slurmComputeProvider } from '../index.js';
import { SLURM_CONF } from './cluster.js';

const CLI = fileURLToPath(new URL('../../../cli/dist/bin.js', import.meta.url));
const IRIS = fileURLToPath(new URL('../../../../examples/iris/pipeline.ts', import.meta.url));

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!SLURM_CONF)('The iris example', { timeout: 180_000 }, () => {
  it('runs on the cluster with `sluice run examples/iris/pipeline.ts -c cluster`', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-slurm-iris-'));
    const ws = Workspace.create(join(dir, 'ws'));
    ws.registry.use(slurmComputeProvider());
    ws.addPluginPackage(PACKAGE_NAME);
    await ComputeTarget.create(ws, 'cluster', slurmCompute({ slurmConf: SLURM_CONF!, pollIntervalMs: 200 }));
    await ws.close();

    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI, 'run', IRIS, '-w', join(dir, 'ws'), '-c', 'cluster', '--json'],
      { env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 * 1024 * 1024 },
    );
    const run = JSON.parse(stdout) as { status: string; steps: Array<Record<string, unknown>> };
    expect(run.status).toBe('Finished');
    expect(run.steps.map((step) => [step.stepName, step.status, step.computeTarget])).toEqual([
      ['prepare', 'Finished', 'cluster'],
      ['train', 'Finished', 'cluster'],
      ['compare', 'Finished', 'cluster'],
    ]);
    // `sluice show` names each step's Slurm job
    const shown = await promisify(execFile)(
      process.execPath,
      [CLI, 'show', 'latest', '-w', join(dir, 'ws')],
      {
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    expect(shown.stdout.match(/^ {2}job {5}\d+ on cluster$/gm)).toHaveLength(3);
  });
});
