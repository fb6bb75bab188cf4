import { SluiceError, type DatastoreEntry, type ParameterValue } from '@sluice/core';
import type { Workspace } from '@sluice/runtime';
import { nextOccurrence } from './recurrence.js';
import {
  getFiring,
  insertFiring,
  settleFiring,
  sql,
  toSchedule,
  type Firing,
  type FiringStatus,
  type ScheduleRecord,
  type ScheduleTarget,
} from './store.js';

/** What a scheduler asks the server to submit. */
export interface ScheduledSubmission {
  experimentName: string;
  /** The schedule's parameters; a datastore watch with dataPathParameterName adds the changed file's path. */
  parameters: Record<string, ParameterValue>;
  runSource: 'Schedule';
  /**
   * For a datastore watch: the added or changed file (`parameterName` is the schedule's
   * dataPathParameterName), or the watched path when the schedule has no dataPathParameterName.
   */
  dataPath?: { datastore: string; path: string; parameterName?: string };
  /** The schedule that fired. */
  schedule: { id: string; name: string };
}

export interface SchedulerOptions {
  workspace: Workspace;
  /** Start a run of the target; the server that runs the scheduler supplies it. */
  submit(target: ScheduleTarget, submission: ScheduledSubmission): Promise<{ runId: string }>;
  /** Whether the target (published pipeline or endpoint) may run; a disabled one's schedules do not fire. */
  isTargetEnabled(target: ScheduleTarget): boolean | Promise<boolean>;
  /** The clock (default: the system clock). */
  now?: () => Date;
  /** Milliseconds between two ticks once started (default 1000). */
  pollMs?: number;
}

export interface Scheduler {
  /** Fire every schedule that is due now, once, and advance it; resolves to the firings recorded. */
  tick(): Promise<Firing[]>;
  /** Tick now and then every `pollMs` until stopped (the timer does not keep the process alive). */
  start(): void;
  /** Stop ticking; resolves once a tick under way has finished. */
  stop(): Promise<void>;
}

const MINUTE = 60_000;

type Outcome = { status: Extract<FiringStatus, 'Skipped' | 'Failed'>; error: ErrorInfo };
type ErrorInfo = { code: string; message: string };

/**
 * The scheduler: each tick fires every due schedule at most once, however many of its times were missed
 * (a server down for a day fires an hourly schedule once when it is back, not 24 times), and moves it to
 * its next time after now. Claiming a due time, advancing the schedule and recording the firing are one
 * transaction guarded by the time claimed, so two schedulers on one workspace never fire a time twice.
 * A run that was claimed but whose submission never answered (the process died) stays a Pending firing;
 * it is not retried.
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const { workspace: ws, submit, isTargetEnabled } = options;
  const clock = options.now ?? (() => new Date());
  const pollMs = options.pollMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let current: Promise<unknown> = Promise.resolve();

  async function tick(): Promise<Firing[]> {
    const now = clock();
    const due = (
      sql(
        ws,
        `SELECT * FROM publish_schedules WHERE status = 'Active' AND next_fire_at IS NOT NULL AND next_fire_at <= ?
           ORDER BY next_fire_at, name`,
      ).all(now.toISOString()) as Array<Record<string, unknown>>
    ).map(toSchedule);
    const firings = await Promise.all(
      due.map((schedule) =>
        schedule.kind === 'recurrence' ? fireRecurrence(schedule, now) : lookAtDatastore(schedule, now),
      ),
    );
    return firings.flat();
  }

  /** Why the target cannot run now, or undefined when it can. */
  async function gate(schedule: ScheduleRecord): Promise<Outcome | undefined> {
    try {
      if (await isTargetEnabled(schedule.target)) return undefined;
      const pipeline = 'pipelineId' in schedule.target;
      return {
        status: 'Skipped',
        error: {
          code: pipeline ? 'PUBLISHED_PIPELINE_DISABLED' : 'ENDPOINT_DISABLED',
          message: `${describeTarget(schedule.target)} is disabled, so schedule "${schedule.name}" did not fire; enable it to let the schedule fire again.`,
        },
      };
    } catch (error) {
      return { status: 'Failed', error: errorInfo(error) };
    }
  }

  async function fireRecurrence(schedule: ScheduleRecord, now: Date): Promise<Firing[]> {
    const blocked = await gate(schedule);
    const dueAt = schedule.nextFireAt!;
    const next = nextOccurrence(schedule.recurrence!, now);
    const firingId = ws.store.transaction(() => {
      if (!claim(schedule, dueAt, next)) return undefined;
      setLastFired(schedule, now);
      return insertFiring(ws, {
        scheduleId: schedule.id,
        dueAt,
        firedAt: now.toISOString(),
        status: blocked?.status ?? 'Pending',
        dataPath: null,
        error: blocked?.error ?? null,
      });
    });
    if (firingId === undefined) return [];
    if (blocked) return [getFiring(ws, firingId)];
    return [await submitFiring(schedule, firingId)];
  }

  async function lookAtDatastore(schedule: ScheduleRecord, now: Date): Promise<Firing[]> {
    const watch = schedule.datastoreWatch!;
    const dueAt = schedule.nextFireAt!;
    const next = new Date(now.getTime() + watch.pollingInterval * MINUTE);
    if (!ws.store.transaction(() => claim(schedule, dueAt, next))) return [];

    let entries: DatastoreEntry[];
    try {
      entries = await ws.datastore(watch.datastore).list(watch.pathOnDatastore);
    } catch (error) {
      const id = ws.store.transaction(() => {
        setLastFired(schedule, now);
        return insertFiring(ws, {
          scheduleId: schedule.id,
          dueAt,
          firedAt: now.toISOString(),
          status: 'Failed',
          dataPath: null,
          error: errorInfo(error),
        });
      });
      return [getFiring(ws, id)];
    }
    const seen = fileSignatures(entries, watch.pathOnDatastore);
    const blocked = await gate(schedule);

    const fired = ws.store.transaction(() => {
      // compared with what is recorded now, not at the start of the tick
      const row = sql(ws, 'SELECT status, last_seen FROM publish_schedules WHERE id = ?').get(schedule.id) as
        { status: string; last_seen: string | null } | undefined;
      if (row?.status !== 'Active') return [];
      sql(ws, 'UPDATE publish_schedules SET last_seen = ? WHERE id = ?').run(
        JSON.stringify(seen),
        schedule.id,
      );
      if (row.last_seen === null) return []; // the first look only records what is there
      const before = JSON.parse(row.last_seen) as Record<string, string>;
      const changed = Object.keys(seen)
        .filter((path) => before[path] !== seen[path])
        .sort();
      if (changed.length === 0) return [];
      setLastFired(schedule, now);
      // one run per file when the file's path is passed on, else one run per look
      const paths = watch.dataPathParameterName ? changed : [watch.pathOnDatastore];
      return paths.map((path) => ({
        path,
        id: insertFiring(ws, {
          scheduleId: schedule.id,
          dueAt,
          firedAt: now.toISOString(),
          status: blocked?.status ?? 'Pending',
          dataPath: path,
          error: blocked?.error ?? null,
        }),
      }));
    });
    if (blocked) return fired.map(({ id }) => getFiring(ws, id));
    return Promise.all(
      fired.map(({ path, id }) =>
        submitFiring(schedule, id, {
          datastore: watch.datastore,
          path,
          ...(watch.dataPathParameterName ? { parameterName: watch.dataPathParameterName } : {}),
        }),
      ),
    );
  }

  /** Move the schedule from the due time it was read with to `next`; false when another scheduler did. */
  function claim(schedule: ScheduleRecord, dueAt: string, next: Date | null): boolean {
    const result = sql(
      ws,
      `UPDATE publish_schedules SET next_fire_at = ?
         WHERE id = ? AND status = 'Active' AND next_fire_at = ?`,
    ).run(next?.toISOString() ?? null, schedule.id, dueAt);
    return result.changes === 1;
  }

  function setLastFired(schedule: ScheduleRecord, now: Date): void {
    sql(ws, 'UPDATE publish_schedules SET last_fired_at = ? WHERE id = ?').run(
      now.toISOString(),
      schedule.id,
    );
  }

  async function submitFiring(
    schedule: ScheduleRecord,
    firingId: number,
    dataPath?: ScheduledSubmission['dataPath'],
  ): Promise<Firing> {
    const parameters = { ...schedule.parameters };
    const submission: ScheduledSubmission = {
      experimentName: schedule.experimentName,
      parameters,
      runSource: 'Schedule',
      schedule: { id: schedule.id, name: schedule.name },
    };
    if (dataPath) {
      submission.dataPath = dataPath;
      if (dataPath.parameterName) parameters[dataPath.parameterName] = dataPath.path;
    }
    try {
      const result = await submit(schedule.target, submission);
      if (!result || typeof result.runId !== 'string') {
        throw new Error('submit() resolved without a runId');
      }
      return settleFiring(ws, firingId, { runId: result.runId });
    } catch (error) {
      return settleFiring(ws, firingId, { error: errorInfo(error) });
    }
  }

  function loop(): void {
    if (!running) return;
    current = tick()
      .catch((error: unknown) => {
        process.emitWarning(
          `Sluice scheduler: a tick failed: ${(error as Error)?.message ?? String(error)}`,
          {
            code: 'SLUICE_SCHEDULER_TICK',
          },
        );
      })
      .then(() => {
        if (!running) return;
        timer = setTimeout(loop, pollMs);
        timer.unref();
      });
  }

  return {
    tick,
    start() {
      if (running) return;
      running = true;
      loop();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
    },
  };
}

/**
 * What identifies a file's content for a watch: etag, content hash, time and size (whichever the store
 * gives). Only files directly in the watched folder count, as with Azure ML's datastore schedules.
 */
function fileSignatures(entries: readonly DatastoreEntry[], watched: string): Record<string, string> {
  const prefix = watched === '' ? '' : `${watched}/`;
  const signatures: Record<string, string> = {};
  for (const entry of entries) {
    const rest = entry.path === watched ? '' : entry.path.slice(prefix.length);
    if (rest.includes('/')) continue;
    signatures[entry.path] = JSON.stringify([
      entry.etag ?? null,
      entry.contentHash ?? null,
      entry.lastModified ?? null,
      entry.size,
    ]);
  }
  return signatures;
}

function describeTarget(target: ScheduleTarget): string {
  if ('pipelineId' in target) return `Published pipeline ${target.pipelineId}`;
  return `Endpoint "${target.endpointName}"${target.version ? ` version ${target.version}` : ''}`;
}

function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof SluiceError) return { code: error.code, message: error.message };
  return { code: 'INTERNAL_ERROR', message: (error as Error)?.message ?? String(error) };
}
