import { describe, expect, it } from 'vitest';
import { SLURM_STATES, explain, phaseOf, type JobInfo } from '../index.js';

const job = (state: string, extra: Partial<JobInfo> = {}): JobInfo => ({
  id: '42',
  state,
  exitCode: null,
  signal: null,
  ...extra,
});

describe('Slurm job states', () => {
  it('knows every state a job can be in or end in, and whether it is done', () => {
    const phases = Object.fromEntries(
      [
        'PENDING',
        'RUNNING',
        'COMPLETING',
        'COMPLETED',
        'FAILED',
        'CANCELLED',
        'TIMEOUT',
        'OUT_OF_MEMORY',
        'NODE_FAIL',
        'PREEMPTED',
        'BOOT_FAIL',
        'DEADLINE',
      ].map((state) => [state, phaseOf(state)]),
    );
    expect(phases).toEqual({
      PENDING: 'queued',
      RUNNING: 'running',
      COMPLETING: 'running',
      COMPLETED: 'done',
      FAILED: 'done',
      CANCELLED: 'done',
      TIMEOUT: 'done',
      OUT_OF_MEMORY: 'done',
      NODE_FAIL: 'done',
      PREEMPTED: 'done',
      BOOT_FAIL: 'done',
      DEADLINE: 'done',
    });
    // as sacct and squeue write them
    expect(phaseOf('CANCELLED by 1000')).toBe('done');
    for (const [state, entry] of Object.entries(SLURM_STATES)) {
      expect(entry.explain(job(state)).length, state).toBeGreaterThan(5);
    }
  });

  it('says what happened and what to change', () => {
    expect(explain(job('OUT_OF_MEMORY', { memory: '4G' }))).toBe(
      'killed by Slurm: out of memory at 4G; raise memory',
    );
    expect(explain(job('TIMEOUT', { timeLimit: '01:00:00' }))).toBe(
      'killed by Slurm: it ran past its time limit of 01:00:00; raise time',
    );
    expect(explain(job('FAILED', { exitCode: 3 }))).toBe('failed: the process exited with code 3');
    expect(explain(job('FAILED', { signal: 9 }))).toBe('failed: the process was killed by signal 9');
    expect(explain(job('NODE_FAIL', { nodes: 'n3' }))).toBe(
      'killed by Slurm: its node (n3) failed; run it again',
    );
    expect(explain(job('PENDING', { reason: 'Resources' }))).toBe('waiting in the queue (Resources)');
    expect(explain(job('SOMETHING_NEW'))).toBe('in the Slurm state SOMETHING_NEW');
  });
});
