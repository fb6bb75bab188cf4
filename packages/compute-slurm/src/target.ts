import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, rmdir, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  SECRET_PREFIX,
  SluiceError,
  type ComputeResources,
  type ComputeTarget,
  type ProcessJob,
  type ProcessResult,
  type ProcessRunHooks,
  type SubmittedJob,
  type SubmittedJobState,
} from '@sluice/core';
import { SlurmCommandFailed, SlurmCommands, type SlurmCommand } from './commands.js';
import { explain, phaseOf, signalName, type JobInfo } from './states.js';
import { StatusPoller, type StatusMode } from './status.js';

/** The compute provider kind (and the kind of every Slurm compute target). */
export const SLURM_KIND = 'slurm';

export interface SlurmTargetSettings {
  partition?: string | undefined;
  account?: string | undefined;
  qos?: string | undefined;
  defaults?: ComputeResources | undefined;
  sbatchArgs?: readonly string[] | undefined;
  slurmConf?: string | undefined;
  statusMode?: StatusMode | undefined;
  pollIntervalMs?: number | undefined;
  maxPollIntervalMs?: number | undefined;
  /** Where job scripts and output files go: on the filesystem the nodes share. */
  spoolDir: string;
  /** Submit jobs that ask for the same resources together as job arrays. */
  jobArrays?: JobArraySettings | undefined;
}

/** How jobs are gathered into job arrays. */
export interface JobArraySettings {
  /** How long a job waits for others to join its array before it is submitted (ms). */
  windowMs: number;
  /** The most tasks one array holds (keep it below the cluster's MaxArraySize). */
  maxSize: number;
}

/** A job waiting to be submitted as one task of a job array. */
interface ArrayTask {
  readonly resolve: (id: string) => void;
  readonly reject: (error: unknown) => void;
}

/** Jobs with the same sbatch options, gathered for one `sbatch --array` call. */
interface ArrayGroup {
  readonly dir: string;
  readonly args: string[];
  readonly tasks: ArrayTask[];
  /** Tasks whose files are still being written. */
  writing: number;
  timer?: NodeJS.Timeout;
  flushed?: boolean;
}

/** A node of the cluster as `sinfo` shows it. */
export interface SlurmNode {
  name: string;
  state: string;
  cpus: number;
  memoryMb: number;
  partitions: string[];
}

export interface SlurmStatus {
  /** The nodes, one entry per node (a node in several partitions lists them all). */
  nodes: SlurmNode[];
  /** How many nodes are in each state, e.g. `{ idle: 2, mixed: 1 }`. */
  states: Record<string, number>;
}

/** The Slurm variables a step's process keeps, when Slurm sets them; all others are the step's own. */
const SLURM_VARIABLES = [
  'SLURM_JOB_ID',
  'SLURM_JOB_NAME',
  'SLURM_JOB_NODELIST',
  'SLURMD_NODENAME',
  'SLURM_CPUS_ON_NODE',
  'SLURM_CPUS_PER_TASK',
  'SLURM_MEM_PER_NODE',
  'SLURM_ARRAY_TASK_ID',
  'CUDA_VISIBLE_DEVICES',
];

/** The exit code the job script ends with when the node cannot see the step's folder. */
const NOT_SHARED_EXIT = 97;

/** How often the output files of running jobs are read into the step's logs. */
const TAIL_INTERVAL_MS = 250;

/**
 * An existing Slurm cluster that steps run on: each process a step starts is one batch job, submitted with
 * `sbatch`, followed with one status query per poll for all of the target's jobs, canceled with `scancel`.
 */
export class SlurmComputeTarget implements ComputeTarget {
  readonly kind = SLURM_KIND;
  readonly name: string;
  readonly commands: SlurmCommands;
  readonly #settings: SlurmTargetSettings;
  readonly #poller: StatusPoller;
  readonly #cancels = new Set<string>();
  #cancelScheduled = false;
  /** Open job arrays, by their sbatch options. */
  readonly #arrays = new Map<string, ArrayGroup>();

  constructor(name: string, settings: SlurmTargetSettings) {
    this.name = name;
    this.#settings = settings;
    this.commands = new SlurmCommands({ slurmConf: settings.slurmConf });
    this.#poller = new StatusPoller(this.commands, {
      mode: settings.statusMode ?? 'auto',
      minIntervalMs: settings.pollIntervalMs ?? 500,
      maxIntervalMs: Math.max(settings.maxPollIntervalMs ?? 5000, settings.pollIntervalMs ?? 500),
    });
  }

  describe(): Record<string, unknown> {
    const { partition, account, qos, defaults, sbatchArgs } = this.#settings;
    return {
      kind: this.kind,
      name: this.name,
      ...(partition ? { partition } : {}),
      ...(account ? { account } : {}),
      ...(qos ? { qos } : {}),
      ...(defaults ? { defaults: { ...defaults } } : {}),
      ...(sbatchArgs?.length ? { sbatchArgs: [...sbatchArgs] } : {}),
      ...(this.#settings.jobArrays ? { jobArrays: { ...this.#settings.jobArrays } } : {}),
      statusMode: this.#poller.mode ?? this.#settings.statusMode ?? 'auto',
    };
  }

  /** Controller calls made so far, by command (sbatch, squeue, sacct, …). */
  get calls(): Readonly<Record<SlurmCommand, number>> {
    return { ...this.commands.calls };
  }

  /**
   * Wait until the cluster answers (`sinfo`), like `AmlCompute.wait_for_completion`; a coded error when the
   * commands are missing or the controller cannot be reached. Resolves to the status.
   */
  async waitForCompletion(): Promise<SlurmStatus> {
    return this.status();
  }

  /** The cluster's nodes and their states (`sinfo`). */
  async status(): Promise<SlurmStatus> {
    const args = ['-h', '-N', '-o', '%N|%t|%c|%m|%P'];
    if (this.#settings.partition) args.push('-p', this.#settings.partition);
    const text = await this.commands.run('sinfo', args);
    const byName = new Map<string, SlurmNode>();
    for (const line of text.split('\n')) {
      const [name, state, cpus, memory, partition] = line.split('|').map((part) => part.trim());
      if (!name || !state) continue;
      const node = byName.get(name) ?? {
        name,
        state,
        cpus: Number(cpus),
        memoryMb: Number(memory),
        partitions: [],
      };
      if (partition) node.partitions.push(partition.replace(/\*$/, ''));
      byName.set(name, node);
    }
    const nodes = [...byName.values()];
    const states: Record<string, number> = {};
    for (const node of nodes) states[node.state] = (states[node.state] ?? 0) + 1;
    return { nodes, states };
  }

  async runProcess(job: ProcessJob, hooks: ProcessRunHooks = {}): Promise<ProcessResult> {
    if (hooks.signal?.aborted) return { exitCode: null, signal: null, timedOut: false, canceled: true };
    const script = processScript(job);
    const submitted = Date.now();
    const { spool, id: submitting } = this.#settings.jobArrays
      ? this.#enqueue(job, script)
      : this.#submitAlone(job, script);
    try {
      const id = await submitting;
      hooks.onSubmit?.({ id, handle: { spool, submitted: String(submitted) } });
      return await this.#follow(id, job, spool, hooks, submitted);
    } finally {
      await rm(spool, { recursive: true, force: true });
      // the last task of a job array removes the array's folder
      if (this.#settings.jobArrays) await rmdir(dirname(spool)).catch(() => undefined);
    }
  }

  /**
   * What became of a job an earlier runner submitted: queued or running, finished with exit code 0 (by
   * its exit file, which outlives the controller's memory of the job), or anything else.
   */
  async findJob(job: SubmittedJob): Promise<SubmittedJobState> {
    const spool = job.handle?.spool;
    if (!spool || !existsSync(join(spool, 'run.sh'))) {
      return { state: 'unavailable', detail: 'its job folder is gone' };
    }
    const exit = await exitStatus(spool);
    if (exit !== undefined) {
      return exit === 0
        ? { state: 'succeeded', detail: `job ${job.id} finished with exit code 0` }
        : { state: 'unavailable', detail: `job ${job.id} exited with code ${exit}` };
    }
    const since = Number(job.handle?.submitted) || Date.now();
    const info = (await this.#poller.query([job.id], since)).get(job.id);
    if (!info) return { state: 'unavailable', detail: `Slurm no longer knows job ${job.id}` };
    const phase = phaseOf(info.state);
    if (phase !== 'done') return { state: 'active', detail: `job ${job.id} is ${info.state}` };
    return info.state === 'COMPLETED' && info.exitCode === 0
      ? { state: 'succeeded', detail: `job ${job.id} is COMPLETED` }
      : { state: 'unavailable', detail: `job ${job.id} ${explain(info)}` };
  }

  /** Follow a job `findJob` found, from its first line of output to its result; its folder goes after. */
  async attachProcess(
    job: SubmittedJob,
    process: ProcessJob,
    hooks: ProcessRunHooks = {},
  ): Promise<ProcessResult> {
    const spool = job.handle?.spool;
    if (!spool) {
      throw new SluiceError('COMPUTE_REQUEST_FAILED', `Slurm job ${job.id} has no job folder to follow.`);
    }
    try {
      return await this.#follow(job.id, process, spool, hooks, Number(job.handle?.submitted) || Date.now());
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    this.#poller.close();
  }

  /** The `sbatch` arguments for a job: the target's settings, the step's resources, the target's extras. */
  sbatchArguments(job: ProcessJob, spool: string): string[] {
    const settings = this.#settings;
    const resources: ComputeResources = { ...settings.defaults, ...job.resources };
    const name = job.step ? `sluice:${job.step.runId}:${job.step.stepName}` : `sluice:${this.name}`;
    const args = [
      '--parsable',
      `--job-name=${name.replace(/\s+/g, '_')}`,
      '--export=NONE',
      `--chdir=${job.cwd}`,
      `--output=${join(spool, 'stdout')}`,
      `--error=${join(spool, 'stderr')}`,
    ];
    if (settings.partition) args.push(`--partition=${settings.partition}`);
    if (settings.account) args.push(`--account=${settings.account}`);
    if (settings.qos) args.push(`--qos=${settings.qos}`);
    if (resources.cpus !== undefined) args.push(`--cpus-per-task=${resources.cpus}`);
    if (resources.memory !== undefined) args.push(`--mem=${resources.memory}`);
    if (resources.gpus) args.push(`--gpus=${resources.gpus}`);
    if (resources.constraint !== undefined) args.push(`--constraint=${resources.constraint}`);
    if (resources.time !== undefined) args.push(`--time=${resources.time}`);
    // Slurm counts whole minutes: its limit is a backstop, the runner stops the job at timeoutMs itself
    else if (job.timeoutMs && job.timeoutMs > 0) args.push(`--time=${Math.ceil(job.timeoutMs / 60_000) + 1}`);
    args.push(...(settings.sbatchArgs ?? []));
    return args;
  }

  /** A job of its own: its folder, and its id once it is written and submitted. */
  #submitAlone(job: ProcessJob, script: string): { spool: string; id: Promise<string> } {
    const spool = join(this.#settings.spoolDir, uniqueName());
    const id = (async () => {
      await mkdir(spool, { recursive: true });
      await writeFile(join(spool, 'run.sh'), script, { mode: 0o600 });
      const batch = jobScript(shellQuote(job.cwd), shellQuote(spool), job.cwd);
      return this.#sbatch(this.sbatchArguments(job, spool), batch, job.command);
    })();
    return { spool, id };
  }

  async #sbatch(args: string[], script: string, what: string): Promise<string> {
    let out: string;
    try {
      out = await this.commands.run('sbatch', args, script);
    } catch (error) {
      if (!(error instanceof SlurmCommandFailed)) throw error;
      throw new SluiceError(
        'COMPUTE_REQUEST_FAILED',
        `Slurm refused the job for "${what}": ${error.stderr.trim()}. Check the target's partition, account, qos, sbatchArgs and the step's resources against what the cluster offers (sinfo, sacctmgr show assoc).`,
        { cause: error, details: { command: what, stderr: error.stderr.trim() } },
      );
    }
    const id = out.trim().split(';')[0] ?? '';
    if (!/^\d+(_\d+)?$/.test(id)) {
      throw new SluiceError('COMPUTE_REQUEST_FAILED', `sbatch answered "${out.trim()}", not a job id.`);
    }
    return id;
  }

  /**
   * A task of a job array: the job joins the open array of jobs asking for the same sbatch options (a new
   * one when there is none, or it is full) and gets the folder `<array folder>/<task index>`; its id,
   * `<array id>_<index>`, comes once the array is submitted — when no job joined for the window, or full.
   */
  #enqueue(job: ProcessJob, script: string): { spool: string; id: Promise<string> } {
    const { maxSize, windowMs } = this.#settings.jobArrays!;
    // what differs between jobs of one array is where they run and write, chosen by the task index
    const args = this.sbatchArguments(job, '').filter(
      (arg) => !/^--(job-name|chdir|output|error)=/.test(arg),
    );
    const key = args.join('\0');
    let group = this.#arrays.get(key);
    if (!group) {
      group = { dir: join(this.#settings.spoolDir, uniqueName()), args, tasks: [], writing: 0 };
      this.#arrays.set(key, group);
    }
    const open = group;
    const spool = join(open.dir, String(open.tasks.length));
    // a full array takes no more jobs; it goes as soon as the files of all its tasks are written
    if (open.tasks.length + 1 >= maxSize) this.#arrays.delete(key);
    const id = new Promise<string>((resolve, reject) => open.tasks.push({ resolve, reject }));
    open.writing += 1;
    void (async () => {
      try {
        await mkdir(spool, { recursive: true });
        await writeFile(join(spool, 'cwd'), job.cwd);
        await writeFile(join(spool, 'run.sh'), script, { mode: 0o600 });
      } catch {
        // the task finds no run.sh on its node and ends with the not-shared exit code, read as a failure
      } finally {
        open.writing -= 1;
      }
      if (this.#arrays.get(key) !== open) {
        if (open.writing === 0) void this.#flushArray(open);
        return;
      }
      // the window starts again with each job that joins: jobs that become ready together go together
      if (open.timer) clearTimeout(open.timer);
      open.timer = setTimeout(() => {
        if (this.#arrays.get(key) === open) this.#arrays.delete(key);
        if (open.writing === 0) void this.#flushArray(open);
      }, windowMs);
    })();
    return { spool, id };
  }

  async #flushArray(group: ArrayGroup): Promise<void> {
    if (group.flushed) return;
    group.flushed = true;
    if (group.timer) clearTimeout(group.timer);
    const tasks = group.tasks;
    const args = [
      `--array=0-${tasks.length - 1}`,
      `--job-name=sluice:${this.name}:array`,
      `--chdir=${group.dir}`,
      `--output=${join(group.dir, '%a', 'stdout')}`,
      `--error=${join(group.dir, '%a', 'stderr')}`,
      ...group.args,
    ];
    const folder = `${shellQuote(group.dir)}/"$SLURM_ARRAY_TASK_ID"`;
    const script = jobScript(`"$(cat ${folder}/cwd)"`, folder, 'its step folder');
    try {
      const id = await this.#sbatch(args, script, `a job array of ${tasks.length} steps`);
      tasks.forEach((task, index) => task.resolve(`${id}_${index}`));
    } catch (error) {
      for (const task of tasks) task.reject(error);
    }
  }

  #follow(
    id: string,
    job: ProcessJob,
    spool: string,
    hooks: ProcessRunHooks,
    submitted: number,
  ): Promise<ProcessResult> {
    return new Promise<ProcessResult>((resolve, reject) => {
      const stdout = new Tail(join(spool, 'stdout'), (chunk) => hooks.onStdout?.(chunk));
      // without cgroups, Slurm's accounting kills a job over its memory: FAILED by SIGKILL, with this line
      let overMemory = false;
      const stderr = new Tail(join(spool, 'stderr'), (chunk) => {
        overMemory ||= /exceeded (job )?memory limit/i.test(chunk.toString('latin1'));
        hooks.onStderr?.(chunk);
      });
      let started = false;
      let finished = false;
      let canceled = false;
      let timedOut = false;
      let tail: NodeJS.Timeout | undefined;
      let timeout: NodeJS.Timeout | undefined;
      const pump = async (): Promise<void> => {
        await stdout.pump();
        await stderr.pump();
      };
      const start = (): void => {
        if (started) return;
        started = true;
        hooks.onStart?.();
        tail = setInterval(() => void pump().catch(() => undefined), TAIL_INTERVAL_MS);
        if (job.timeoutMs && job.timeoutMs > 0) {
          timeout = setTimeout(() => {
            timedOut = true;
            this.#cancel(id);
          }, job.timeoutMs);
        }
      };
      const onAbort = (): void => {
        canceled = true;
        this.#cancel(id);
      };
      const stop = (): void => {
        finished = true;
        unwatch();
        if (tail) clearInterval(tail);
        if (timeout) clearTimeout(timeout);
        hooks.signal?.removeEventListener('abort', onAbort);
      };
      const finish = async (known: JobInfo | undefined): Promise<void> => {
        stop();
        // a job the controller forgot: its exit file still tells how the step's process ended
        const exit = known ? undefined : await exitStatus(spool);
        const info: JobInfo | undefined =
          known ??
          (exit === undefined
            ? undefined
            : { id, state: exit === 0 ? 'COMPLETED' : 'FAILED', exitCode: exit, signal: null });
        const state = info?.state ?? 'UNKNOWN';
        // a job that ran leaves its output; one canceled or refused in the queue never started
        const ran = started || state === 'COMPLETED' || state === 'FAILED' || existsSync(join(spool, 'node'));
        if (ran) start();
        if (tail) clearInterval(tail);
        if (timeout) clearTimeout(timeout);
        await pump();
        await stdout.close();
        await stderr.close();
        if ((state === 'COMPLETED' || state === 'FAILED') && !existsSync(join(spool, 'node'))) {
          throw notShared(id, info, job.cwd, spool);
        }
        if (!info) {
          hooks.onStderr?.(
            Buffer.from(
              `slurm: job ${id} is no longer known to the controller (it ended longer ago than MinJobAge); its result is lost\n`,
            ),
          );
        } else if (state !== 'COMPLETED' && !canceled && !timedOut) {
          // the memory the job asked for is known here; what sacct shows for it is not always readable
          const memory = { ...this.#settings.defaults, ...job.resources }.memory ?? info.memory;
          const seen =
            overMemory || state === 'OUT_OF_MEMORY' ? { ...info, state: 'OUT_OF_MEMORY', memory } : info;
          hooks.onStderr?.(Buffer.from(`slurm: job ${id} ${explain(seen)}\n`));
        }
        // a job Slurm ended (cancel, time limit, memory, node) did not exit on its own, whatever code it shows
        const ended = state !== 'COMPLETED' && state !== 'FAILED';
        const exitCode = ended && info?.exitCode === 0 ? null : (info?.exitCode ?? null);
        const signal = info?.signal
          ? signalName(info.signal)
          : ended && exitCode === null
            ? endedBy(state)
            : null;
        resolve({
          exitCode,
          signal,
          timedOut: timedOut || state === 'TIMEOUT',
          canceled: canceled && !timedOut,
        });
      };
      const unwatch = this.#poller.watch(
        id,
        (info) => {
          if (finished) return;
          const phase = info ? phaseOf(info.state) : 'done';
          if (phase === 'running') start();
          if (phase === 'done') finish(info).catch(reject);
        },
        (error) => {
          if (finished) return;
          stop();
          reject(error);
        },
        submitted,
      );
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      if (hooks.signal?.aborted) onAbort();
    });
  }

  /** Cancel jobs: the ones asked for in the same turn go in one `scancel` call. */
  #cancel(id: string): void {
    this.#cancels.add(id);
    if (this.#cancelScheduled) return;
    this.#cancelScheduled = true;
    setImmediate(() => {
      const ids = [...this.#cancels];
      this.#cancels.clear();
      this.#cancelScheduled = false;
      this.commands.run('scancel', ids).catch(() => undefined);
    });
  }
}

/** Reads what a job appended to one of its output files since the last read. */
class Tail {
  #handle: FileHandle | undefined;
  #position = 0;
  #busy: Promise<void> = Promise.resolve();
  constructor(
    readonly path: string,
    readonly deliver: (chunk: Buffer) => void,
  ) {}

  pump(): Promise<void> {
    this.#busy = this.#busy.then(() => this.#read());
    return this.#busy;
  }

  async #read(): Promise<void> {
    if (!this.#handle) {
      if (!existsSync(this.path)) return;
      this.#handle = await open(this.path, 'r');
    }
    const buffer = Buffer.alloc(256 * 1024);
    for (;;) {
      const { bytesRead } = await this.#handle.read(buffer, 0, buffer.length, this.#position);
      if (bytesRead === 0) return;
      this.#position += bytesRead;
      this.deliver(Buffer.from(buffer.subarray(0, bytesRead)));
    }
  }

  async close(): Promise<void> {
    await this.#busy;
    await this.#handle?.close();
    this.#handle = undefined;
  }
}

/** A value in single quotes for sh. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The batch script Slurm stores: it checks the node sees the step's folder, then runs `run.sh` from the
 * spool folder. The step's variables stay in that file (mode 0600), never in the controller's state.
 */
function jobScript(where: string, folder: string, cwd: string): string {
  return [
    '#!/bin/sh',
    `cd ${where} 2>/dev/null && [ -f ${folder}/run.sh ] || {`,
    `  echo "sluice: node $(hostname) cannot see ${cwd.replaceAll('"', '\\"').replaceAll('$', '\\$')}: the workspace must be on a filesystem every node shares" >&2`,
    `  exit ${NOT_SHARED_EXIT}`,
    '}',
    `echo "\${SLURMD_NODENAME:-}" > ${folder}/node`,
    `/bin/sh ${folder}/run.sh`,
    // the exit status outlives the controller's memory of the job, for a runner that re-attaches later
    'code=$?',
    `echo "$code" > ${folder}/exit.tmp && mv ${folder}/exit.tmp ${folder}/exit`,
    // a process killed by a signal ends the job by the same signal, as Slurm would report it
    'if [ "$code" -gt 128 ]; then trap - TERM INT HUP; kill -$((code - 128)) $$; fi',
    'exit "$code"',
    '',
  ].join('\n');
}

/** `exec env -i` with exactly the job's variables (and Slurm's own job facts), then the command. */
function processScript(job: ProcessJob): string {
  const values = [job.command, ...job.args, ...Object.entries(job.env).flat()];
  if (values.some((value) => value.includes('\0'))) {
    throw new SluiceError(
      'ARGUMENT_INVALID',
      `Cannot start "${job.command}": an argument or environment variable holds a NUL byte, which no process can be given.`,
      { details: { command: job.command } },
    );
  }
  const keep = SLURM_VARIABLES.map((name) => `\${${name}+"${name}=$${name}"}`);
  const env = Object.entries(job.env)
    // the runner's secrets reach a step only through its environment's secretEnvironmentVariables
    .filter(([name]) => !name.startsWith(SECRET_PREFIX) && !SLURM_VARIABLES.includes(name))
    .map(([name, value]) => shellQuote(`${name}=${value}`));
  const command = [job.command, ...job.args].map(shellQuote);
  return `exec /usr/bin/env -i ${[...keep, ...env].join(' ')} ${command.join(' ')}\n`;
}

/** A fresh folder name for a job's (or a job array's) files. */
function uniqueName(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** The exit code a job's exit file holds, once its process has ended. */
async function exitStatus(spool: string): Promise<number | undefined> {
  const text = await readFile(join(spool, 'exit'), 'utf8').catch(() => undefined);
  const code = text === undefined ? NaN : Number(text.trim());
  return Number.isInteger(code) ? code : undefined;
}

/** The signal Slurm ends a job in a state with. */
function endedBy(state: string): string | null {
  if (state === 'OUT_OF_MEMORY') return 'SIGKILL';
  if (['CANCELLED', 'TIMEOUT', 'PREEMPTED', 'DEADLINE', 'NODE_FAIL'].includes(state)) return 'SIGTERM';
  return null;
}

function notShared(id: string, info: JobInfo | undefined, cwd: string, spool: string): SluiceError {
  const node = info?.nodes ? `node ${info.nodes}` : 'its node';
  return new SluiceError(
    'COMPUTE_FILESYSTEM_NOT_SHARED',
    `Slurm job ${id} ran on ${node}, which cannot see the step's folder ${cwd} or ${spool}. The workspace (with its .sluice folder) must be on a filesystem every node mounts at the same path, such as NFS or Lustre; open the workspace from there.`,
    { details: { jobId: id, cwd, nodes: info?.nodes } },
  );
}
