/** Both ways of reading job states, on the real cluster: sacct (accounting) and squeue/scontrol. */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessJob } from '@sluice/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlurmComputeTarget } from '../index.js';
import { slurmComputeProvider, type StatusMode } from '../index.js';
import { SLURM_CONF } from './cluster.js';

/** Whether the cluster keeps accounting (tools/slurm/cluster.sh up --accounting). */
function accounting(): boolean {
  try {
    execFileSync('sacct', ['-n', '-X', '-j', '0'], { env: { ...process.env, SLURM_CONF }, stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-slurm-status-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function target(statusMode: StatusMode): Promise<SlurmComputeTarget> {
  const created = await slurmComputeProvider().createTarget(
    `status-${statusMode}`,
    { slurmConf: SLURM_CONF!, statusMode, pollIntervalMs: 200, maxPollIntervalMs: 1000 },
    { workspaceDir: root, secret: () => undefined },
  );
  return created as SlurmComputeTarget;
}

function job(code: string): ProcessJob {
  return { command: process.execPath, args: ['-e', code], cwd: root, env: { PATH: process.env.PATH ?? '' } };
}

describe.skipIf(!SLURM_CONF)('Job states', () => {
  for (const mode of ['squeue', 'sacct'] as const) {
    it(`are read with ${mode} alone`, async ({ skip }) => {
      if (mode === 'sacct' && !accounting())
        skip('the cluster keeps no accounting (cluster.sh up --accounting)');
      const slurm = await target(mode);
      try {
        const jobs = [
          job("console.log('ok')"),
          job('process.exitCode = 5'),
          job("process.kill(process.pid, 'SIGKILL')"),
          job("setTimeout(() => console.log('late'), 1500)"),
        ];
        const results = await Promise.all(jobs.map((each) => slurm.runProcess(each)));
        expect(results.map((result) => [result.exitCode, result.signal])).toEqual([
          [0, null],
          [5, null],
          [null, 'SIGKILL'],
          [0, null],
        ]);
        expect(slurm.describe().statusMode).toBe(mode);
        const { squeue, sacct, scontrol, sbatch } = slurm.calls;
        expect(sbatch).toBe(jobs.length);
        if (mode === 'squeue') expect(sacct).toBe(0);
        else expect(squeue + scontrol).toBe(0);
      } finally {
        await slurm.close();
      }
    });
  }

  it('fails with COMPUTE_FILESYSTEM_NOT_SHARED when the node cannot see the step folder', async () => {
    // the job may not start for 3 s; the folder is gone by then, as on a node that does not mount it
    const slurm = await slurmComputeProvider().createTarget(
      'not-shared',
      { slurmConf: SLURM_CONF!, sbatchArgs: ['--begin=now+3'], pollIntervalMs: 200, maxPollIntervalMs: 1000 },
      { workspaceDir: root, secret: () => undefined },
    );
    const cwd = join(root, 'vanishing');
    await mkdir(cwd);
    try {
      const running = (slurm as SlurmComputeTarget).runProcess({ ...job("console.log('ran')"), cwd });
      while ((slurm as SlurmComputeTarget).calls.sbatch === 0) await new Promise((r) => setTimeout(r, 50));
      await rm(cwd, { recursive: true });
      await expect(running).rejects.toMatchObject({
        code: 'COMPUTE_FILESYSTEM_NOT_SHARED',
        message: expect.stringMatching(
          /cannot see the step's folder .*vanishing.*filesystem every node mounts/,
        ),
      });
    } finally {
      await slurm.close?.();
    }
  });

  it("chooses sacct when the cluster keeps accounting, else squeue ('auto')", async () => {
    const slurm = await target('auto');
    try {
      expect((await slurm.runProcess(job('process.exitCode = 0'))).exitCode).toBe(0);
      expect(slurm.describe().statusMode).toBe(accounting() ? 'sacct' : 'squeue');
    } finally {
      await slurm.close();
    }
  });
});
