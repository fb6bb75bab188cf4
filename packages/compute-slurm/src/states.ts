/** What the provider knows about one job from one status query. */
export interface JobInfo {
  readonly id: string;
  /** The Slurm state, e.g. `RUNNING`, `OUT_OF_MEMORY` (`CANCELLED by 0` is `CANCELLED`). */
  readonly state: string;
  /** The process's exit code, when it exited. */
  readonly exitCode: number | null;
  /** The signal that ended it (a number), when one did. */
  readonly signal: number | null;
  readonly reason?: string | undefined;
  readonly nodes?: string | undefined;
  /** The job's time limit as Slurm shows it. */
  readonly timeLimit?: string | undefined;
  /** The memory it was given, as Slurm shows it (e.g. `4G`). */
  readonly memory?: string | undefined;
}

/** How a job in a state stands: still waiting, running, or done (and how). */
export type Phase = 'queued' | 'running' | 'done';

/** Every Slurm job state, its phase, and the message a user reads when a job ends in it. */
export const SLURM_STATES: Readonly<Record<string, { phase: Phase; explain: (job: JobInfo) => string }>> = {
  PENDING: { phase: 'queued', explain: (job) => `waiting in the queue (${job.reason ?? 'no reason given'})` },
  REQUEUED: { phase: 'queued', explain: () => 'requeued by Slurm; it will start again' },
  REQUEUE_HOLD: { phase: 'queued', explain: () => 'requeued and held; release it with scontrol release' },
  REQUEUE_FED: { phase: 'queued', explain: () => 'requeued by the federation' },
  RESV_DEL_HOLD: { phase: 'queued', explain: () => 'held because its reservation was deleted' },
  CONFIGURING: { phase: 'running', explain: () => 'its nodes are being set up' },
  RUNNING: { phase: 'running', explain: (job) => `running on ${job.nodes ?? 'its node'}` },
  COMPLETING: { phase: 'running', explain: () => 'finishing: Slurm is cleaning up after it' },
  SUSPENDED: { phase: 'running', explain: () => 'suspended by Slurm' },
  STOPPED: { phase: 'running', explain: () => 'stopped by a signal (SIGSTOP)' },
  SIGNALING: { phase: 'running', explain: () => 'being signalled' },
  STAGE_OUT: { phase: 'running', explain: () => 'staging out its files' },
  RESIZING: { phase: 'running', explain: () => 'changing size' },
  COMPLETED: { phase: 'done', explain: () => 'completed: exit code 0' },
  FAILED: {
    phase: 'done',
    explain: (job) =>
      job.exitCode !== null && job.exitCode !== 0
        ? `failed: the process exited with code ${job.exitCode}`
        : job.signal
          ? `failed: the process was killed by signal ${job.signal}`
          : `failed (${job.reason ?? 'Slurm gave no reason'})`,
  },
  CANCELLED: { phase: 'done', explain: () => 'cancelled (scancel, by Sluice, a user or an administrator)' },
  TIMEOUT: {
    phase: 'done',
    explain: (job) =>
      `killed by Slurm: it ran past its time limit${job.timeLimit ? ` of ${job.timeLimit}` : ''}; raise time`,
  },
  OUT_OF_MEMORY: {
    phase: 'done',
    explain: (job) => `killed by Slurm: out of memory${job.memory ? ` at ${job.memory}` : ''}; raise memory`,
  },
  NODE_FAIL: {
    phase: 'done',
    explain: (job) => `killed by Slurm: its node ${job.nodes ? `(${job.nodes}) ` : ''}failed; run it again`,
  },
  PREEMPTED: {
    phase: 'done',
    explain: () =>
      'preempted by Slurm for a job of higher priority; run it again, or use a QOS that is not preempted',
  },
  BOOT_FAIL: {
    phase: 'done',
    explain: () => 'Slurm could not boot a node for it; ask the cluster administrator, then run it again',
  },
  DEADLINE: {
    phase: 'done',
    explain: () =>
      'removed by Slurm: it could not finish before its deadline (--deadline); give it a later one',
  },
  REVOKED: { phase: 'done', explain: () => 'revoked: a sibling job of the federation started instead' },
  SPECIAL_EXIT: {
    phase: 'done',
    explain: (job) => `ended with the special exit code ${job.exitCode ?? '?'}`,
  },
};

/** The state's base name: `CANCELLED by 1000` → `CANCELLED`, `RUNNING+` → `RUNNING`. */
export function baseState(state: string): string {
  return state.trim().split(/[\s+]/)[0]?.toUpperCase() ?? '';
}

export function phaseOf(state: string): Phase {
  // a state this table does not know yet is taken as not finished: the next poll asks again
  return SLURM_STATES[baseState(state)]?.phase ?? 'running';
}

/** The user's message for a job that ended, or is, in its state. */
export function explain(job: JobInfo): string {
  const entry = SLURM_STATES[baseState(job.state)];
  return entry ? entry.explain(job) : `in the Slurm state ${job.state}`;
}

/** `3:0` (sacct, scontrol: exit code and signal) → its parts. */
export function parseExitPair(text: string | undefined): { exitCode: number | null; signal: number | null } {
  const match = /^(\d+):(\d+)$/.exec(text?.trim() ?? '');
  if (!match) return { exitCode: null, signal: null };
  const signal = Number(match[2]);
  return signal > 0 ? { exitCode: null, signal } : { exitCode: Number(match[1]), signal: null };
}

/** squeue's `exit_code` is the raw wait status: the exit code in the high byte, the signal in the low bits. */
export function parseWaitStatus(text: string | undefined): {
  exitCode: number | null;
  signal: number | null;
} {
  const status = Number(text?.trim());
  if (!Number.isInteger(status) || status < 0) return { exitCode: null, signal: null };
  const signal = status & 0x7f;
  return signal > 0 ? { exitCode: null, signal } : { exitCode: (status >> 8) & 0xff, signal: null };
}

const SIGNAL_NAMES: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  15: 'SIGTERM',
};

export function signalName(signal: number): string {
  return SIGNAL_NAMES[signal] ?? `signal ${signal}`;
}
