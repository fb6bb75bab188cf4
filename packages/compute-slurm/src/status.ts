import { SlurmCommandFailed, type SlurmCommands } from './commands.js';
import { baseState, parseExitPair, parseWaitStatus, type JobInfo } from './states.js';

/** How job states are read: `sacct` (accounting), `squeue` with `scontrol show job`, or whichever works. */
export type StatusMode = 'auto' | 'sacct' | 'squeue';

export interface StatusPollerOptions {
  mode: StatusMode;
  /** The shortest time between two queries (default 500 ms). */
  minIntervalMs: number;
  /** The longest, reached by backing off while nothing changes (default 5 s). */
  maxIntervalMs: number;
}

/** Told each job's state after each query; `undefined` when Slurm does not know the job (any more). */
type Listener = (info: JobInfo | undefined) => void;
type FailureListener = (error: Error) => void;

interface Watch {
  readonly onInfo: Listener;
  readonly onError: FailureListener;
  readonly since: number;
  last: string;
}

// JobArrayID and JobID name a task of a job array as `<array>_<task>`, a job of its own by its number
const SQUEUE_FORMAT = 'JobArrayID:|,State:|,Reason:|,exit_code:|,NodeList:|,TimeLimit:|,MinMemory:|';
const SACCT_FIELDS = 'JobID,State,ExitCode,Reason,NodeList,Timelimit,ReqMem';
/** Queries that fail in a row before every watched job fails with the error. */
const FAILURES_TOLERATED = 5;
/** A job sacct has not recorded after this long is looked up with squeue instead. */
const SACCT_GRACE_MS = 10_000;

/**
 * Reads the states of all the jobs a target follows with one query per poll, no more often than
 * `minIntervalMs`, backing off to `maxIntervalMs` while nothing changes.
 */
export class StatusPoller {
  readonly #commands: SlurmCommands;
  readonly #options: StatusPollerOptions;
  readonly #watches = new Map<string, Watch>();
  #mode: 'sacct' | 'squeue' | undefined;
  #interval: number;
  #timer: NodeJS.Timeout | undefined;
  #due = 0;
  #polling = false;
  #failures = 0;
  #lastPoll = 0;
  #closed = false;

  constructor(commands: SlurmCommands, options: StatusPollerOptions) {
    this.#commands = commands;
    this.#options = options;
    this.#mode = options.mode === 'auto' ? undefined : options.mode;
    this.#interval = options.minIntervalMs;
  }

  /** The mode in use: known after the first query in `auto` mode. */
  get mode(): 'sacct' | 'squeue' | undefined {
    return this.#mode;
  }

  /**
   * Follow a job until the returned function is called; `since` is when it was submitted (default now: a
   * job an earlier runner submitted is looked for in accounting from then on).
   */
  watch(id: string, onInfo: Listener, onError: FailureListener, since = Date.now()): () => void {
    this.#watches.set(id, { onInfo, onError, since, last: '' });
    // a new job is looked at soon, whatever the back-off had reached
    this.#interval = this.#options.minIntervalMs;
    this.#schedule();
    return () => {
      this.#watches.delete(id);
    };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#closed || this.#polling || this.#watches.size === 0) return;
    const due = Math.max(this.#lastPoll + this.#interval, Date.now());
    if (this.#timer && this.#due <= due) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#due = due;
    this.#timer = setTimeout(() => void this.#poll(), due - Date.now());
  }

  async #poll(): Promise<void> {
    this.#timer = undefined;
    this.#polling = true;
    this.#lastPoll = Date.now();
    const ids = [...this.#watches.keys()];
    let changed = false;
    try {
      const infos = await this.query(ids);
      this.#failures = 0;
      for (const id of ids) {
        const watch = this.#watches.get(id);
        if (!watch) continue;
        const info = infos.get(id);
        const key = info ? `${info.state}|${info.exitCode}|${info.signal}` : 'unknown';
        if (key !== watch.last) changed = true;
        watch.last = key;
        watch.onInfo(info);
      }
    } catch (error) {
      this.#failures += 1;
      if (this.#failures >= FAILURES_TOLERATED) {
        for (const id of ids) this.#watches.get(id)?.onError(error as Error);
        this.#failures = 0;
      }
    } finally {
      this.#polling = false;
    }
    const { minIntervalMs, maxIntervalMs } = this.#options;
    this.#interval = changed ? minIntervalMs : Math.min(Math.round(this.#interval * 1.5), maxIntervalMs);
    this.#schedule();
  }

  /**
   * The states of these jobs, with one query (a second only for jobs the first does not know). `since`:
   * when jobs that are not being watched were submitted (a job accounting has not recorded a while after
   * it was submitted is looked up in the queue).
   */
  async query(ids: readonly string[], since = Date.now()): Promise<Map<string, JobInfo>> {
    if (ids.length === 0) return new Map();
    if (this.#mode === undefined) this.#mode = (await this.#accountingWorks()) ? 'sacct' : 'squeue';
    if (this.#mode === 'squeue') return this.#fromQueue(ids);
    const submitted = (id: string): number => this.#watches.get(id)?.since ?? since;
    const infos = await this.#fromAccounting(ids, Math.min(...ids.map(submitted)));
    const now = Date.now();
    // slurmdbd records a job a moment after it is submitted; one it still lacks after a while is asked for
    const late = ids.filter((id) => !infos.has(id) && now - submitted(id) > SACCT_GRACE_MS);
    if (late.length > 0) for (const [id, info] of await this.#fromQueue(late)) infos.set(id, info);
    for (const id of ids) {
      // not recorded yet: still waiting, as far as anyone can tell
      if (!infos.has(id) && !late.includes(id))
        infos.set(id, { id, state: 'PENDING', exitCode: null, signal: null });
    }
    return infos;
  }

  async #accountingWorks(): Promise<boolean> {
    try {
      await this.#commands.run('sacct', ['-n', '-X', '-P', '-j', '0', '-o', 'JobIDRaw']);
      return true;
    } catch (error) {
      if (error instanceof SlurmCommandFailed) return false;
      throw error;
    }
  }

  async #fromQueue(ids: readonly string[]): Promise<Map<string, JobInfo>> {
    const infos = new Map<string, JobInfo>();
    let text = '';
    try {
      text = await this.#commands.run('squeue', [
        '-h',
        '--states=all',
        '-j',
        ids.join(','),
        '-O',
        SQUEUE_FORMAT,
      ]);
    } catch (error) {
      // every id unknown to the controller: each is looked up below
      if (!(error instanceof SlurmCommandFailed && /invalid job id/i.test(error.stderr))) throw error;
    }
    for (const line of text.split('\n')) {
      const [id, state, reason, status, nodes, timeLimit, memory] = line
        .split('|')
        .map((part) => part.trim());
      if (!id || !state) continue;
      setEach(infos, id, {
        state: baseState(state),
        ...parseWaitStatus(status),
        reason,
        nodes,
        timeLimit,
        memory: memory === '0' ? undefined : memory,
      });
    }
    for (const id of ids.filter((candidate) => !infos.has(candidate))) {
      const info = await this.#fromControl(id);
      if (info) infos.set(id, info);
    }
    return infos;
  }

  /** `scontrol show job`: for a job squeue no longer lists. */
  async #fromControl(id: string): Promise<JobInfo | undefined> {
    let text: string;
    try {
      text = await this.#commands.run('scontrol', ['-o', 'show', 'job', id]);
    } catch (error) {
      if (error instanceof SlurmCommandFailed && /invalid job id/i.test(error.stderr)) return undefined;
      throw error;
    }
    const field = (name: string): string | undefined => new RegExp(`(?:^| )${name}=(\\S*)`).exec(text)?.[1];
    const state = field('JobState');
    if (!state) return undefined;
    const memory = field('MinMemoryNode');
    return {
      id,
      state: baseState(state),
      ...parseExitPair(field('ExitCode')),
      reason: field('Reason'),
      nodes: field('NodeList'),
      timeLimit: field('TimeLimit'),
      memory: memory === '0' ? undefined : memory,
    };
  }

  async #fromAccounting(ids: readonly string[], earliest: number): Promise<Map<string, JobInfo>> {
    const text = await this.#commands.run('sacct', [
      '-n',
      '-X',
      '-P',
      '-j',
      ids.join(','),
      // explicit: without it sacct shows only jobs since midnight, and loses those that ended before
      `--starttime=${slurmTime(earliest - 24 * 3600_000)}`,
      '-o',
      SACCT_FIELDS,
    ]);
    const infos = new Map<string, JobInfo>();
    for (const line of text.split('\n')) {
      const [id, state, exit, reason, nodes, timeLimit, memory] = line.split('|');
      if (!id || !state) continue;
      setEach(infos, id, {
        state: baseState(state),
        ...parseExitPair(exit),
        reason,
        nodes,
        timeLimit,
        memory: memory && /^[1-9]\d*[KMGT]?$/.test(memory) ? memory : undefined,
      });
    }
    return infos;
  }
}

/**
 * Record a state under the job id Slurm printed; tasks of an array not split off yet are printed together,
 * `12_[3-5,9%4]` (`%4`: at most four at once), and each gets the state.
 */
function setEach(infos: Map<string, JobInfo>, printed: string, info: Omit<JobInfo, 'id'>): void {
  for (const id of expandArrayId(printed)) infos.set(id, { id, ...info });
}

/** `12_[3-5,9%4]` → `12_3`, `12_4`, `12_5`, `12_9`; any other id as it is. */
export function expandArrayId(printed: string): string[] {
  const match = /^(\d+)_\[([\d,-]+)(?:%\d+)?\]$/.exec(printed);
  if (!match) return [printed];
  const ids: string[] = [];
  for (const part of match[2]!.split(',')) {
    const [from, to = from] = part.split('-').map(Number);
    // a range is bounded by the array's size, which the cluster caps (MaxArraySize)
    for (let task = from!; task <= to! && ids.length < 1_000_000; task++) ids.push(`${match[1]}_${task}`);
  }
  return ids;
}

/** A time as Slurm's commands take it, in the local time zone: `2024-05-01T13:45:00`. */
export function slurmTime(ms: number): string {
  const date = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
