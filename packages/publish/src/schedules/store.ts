import type { StoreStatement, Workspace } from '@sluice/runtime';
import type { Recurrence } from './recurrence.js';

/** The run-store namespace (and table-name prefix) of schedules. */
export const SCHEDULES_NAMESPACE = 'publish_schedules';

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE publish_schedules (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      description TEXT NOT NULL DEFAULT '',
      target TEXT NOT NULL,
      experiment_name TEXT NOT NULL,
      parameters TEXT NOT NULL DEFAULT '{}',
      kind TEXT NOT NULL CHECK (kind IN ('recurrence', 'datastore')),
      recurrence TEXT,
      datastore_watch TEXT,
      status TEXT NOT NULL CHECK (status IN ('Active', 'Disabled')),
      created_at TEXT NOT NULL,
      last_fired_at TEXT,
      next_fire_at TEXT,
      last_seen TEXT
    );
    CREATE INDEX publish_schedules_due ON publish_schedules(status, next_fire_at);
    CREATE TABLE publish_schedules_firings (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      schedule_id TEXT NOT NULL REFERENCES publish_schedules(id),
      due_at TEXT NOT NULL,
      fired_at TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('Pending', 'Submitted', 'Skipped', 'Failed')),
      run_id TEXT,
      data_path TEXT,
      error TEXT
    );
    CREATE INDEX publish_schedules_firings_schedule ON publish_schedules_firings(schedule_id, id);
  `,
};

/** What a schedule starts: a published pipeline, or a pipeline endpoint (its default version unless given). */
export type ScheduleTarget = { pipelineId: string } | { endpointName: string; version?: string };

export type ScheduleKind = 'recurrence' | 'datastore';
export type ScheduleStatus = 'Active' | 'Disabled';

/** A schedule that fires when files under a datastore path are added or changed. */
export interface DatastoreWatch {
  datastore: string;
  /** The folder (or file) watched, '' for the whole datastore; files in subfolders count too. */
  pathOnDatastore: string;
  /** Minutes between two looks at the datastore. */
  pollingInterval: number;
  /** The pipeline parameter that receives the path of the added or changed file. */
  dataPathParameterName?: string;
}

/**
 * Pending: claimed, the run not yet confirmed (a scheduler that stops here leaves it so; it is never retried) ·
 * Submitted: its run exists · Skipped: not fired (`error` says why, e.g. the target is disabled) ·
 * Failed: the run could not be submitted, or the datastore could not be listed.
 */
export type FiringStatus = 'Pending' | 'Submitted' | 'Skipped' | 'Failed';

/** One time a schedule was due, and what came of it. */
export interface Firing {
  id: number;
  scheduleId: string;
  scheduleName: string;
  /** When the schedule was due (ISO); a late scheduler fires a missed time once, later. */
  dueAt: string;
  /** When the scheduler handled it (ISO). */
  firedAt: string;
  status: FiringStatus;
  runId: string | null;
  /** The added or changed file that fired a datastore watch (one firing per file with dataPathParameterName). */
  dataPath: string | null;
  error: { code: string; message: string } | null;
}

/** A schedule's row, parsed. */
export interface ScheduleRecord {
  id: string;
  name: string;
  description: string;
  target: ScheduleTarget;
  experimentName: string;
  parameters: Record<string, string | number | boolean>;
  kind: ScheduleKind;
  recurrence: Recurrence | null;
  datastoreWatch: DatastoreWatch | null;
  status: ScheduleStatus;
  createdAt: string;
  lastFiredAt: string | null;
  nextFireAt: string | null;
  /** A datastore watch's files at its last look (path → size/etag/time), null before its first look. */
  lastSeen: Record<string, string> | null;
}

type Row = Record<string, unknown>;

const ready = new WeakSet<object>();

/** Create or upgrade the schedule tables of this workspace's run store (once per open store). */
export function ensureScheduleTables(ws: Workspace): void {
  if (ready.has(ws.store)) return;
  ws.store.extend(SCHEDULES_NAMESPACE, MIGRATIONS);
  ready.add(ws.store);
}

/** A prepared statement on the workspace's run store (compiled once per store; lock errors are coded). */
export function sql(ws: Workspace, text: string): StoreStatement {
  ensureScheduleTables(ws);
  return ws.store.prepare(text);
}

const parse = <T>(text: unknown, fallback: T): T =>
  typeof text === 'string' ? (JSON.parse(text) as T) : fallback;

export function toSchedule(row: Row): ScheduleRecord {
  return {
    id: row.id as string,
    name: row.name as string,
    description: row.description as string,
    target: parse(row.target, { pipelineId: '' }),
    experimentName: row.experiment_name as string,
    parameters: parse(row.parameters, {}),
    kind: row.kind as ScheduleKind,
    recurrence: parse(row.recurrence, null),
    datastoreWatch: parse(row.datastore_watch, null),
    status: row.status as ScheduleStatus,
    createdAt: row.created_at as string,
    lastFiredAt: (row.last_fired_at as string | null) ?? null,
    nextFireAt: (row.next_fire_at as string | null) ?? null,
    lastSeen: parse(row.last_seen, null),
  };
}

export function toFiring(row: Row): Firing {
  return {
    id: row.id as number,
    scheduleId: row.schedule_id as string,
    scheduleName: row.schedule_name as string,
    dueAt: row.due_at as string,
    firedAt: row.fired_at as string,
    status: row.status as FiringStatus,
    runId: (row.run_id as string | null) ?? null,
    dataPath: (row.data_path as string | null) ?? null,
    error: parse(row.error, null),
  };
}

export function getScheduleRecord(ws: Workspace, idOrName: string): ScheduleRecord | undefined {
  const row = (sql(ws, 'SELECT * FROM publish_schedules WHERE id = ?').get(idOrName) ??
    sql(ws, 'SELECT * FROM publish_schedules WHERE name = ?').get(idOrName)) as Row | undefined;
  return row ? toSchedule(row) : undefined;
}

export function getFiring(ws: Workspace, id: number): Firing {
  return toFiring(
    sql(
      ws,
      `SELECT f.*, s.name AS schedule_name FROM publish_schedules_firings f
         JOIN publish_schedules s ON s.id = f.schedule_id WHERE f.id = ?`,
    ).get(id) as Row,
  );
}

/** Record a firing; returns its id. */
export function insertFiring(
  ws: Workspace,
  firing: Pick<Firing, 'scheduleId' | 'dueAt' | 'firedAt' | 'status' | 'dataPath' | 'error'>,
): number {
  const result = sql(
    ws,
    `INSERT INTO publish_schedules_firings (schedule_id, due_at, fired_at, status, data_path, error)
       VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(
    firing.scheduleId,
    firing.dueAt,
    firing.firedAt,
    firing.status,
    firing.dataPath,
    firing.error === null ? null : JSON.stringify(firing.error),
  );
  return Number(result.lastInsertRowid);
}

/** Settle a Pending firing: its run, or why there is none. */
export function settleFiring(
  ws: Workspace,
  id: number,
  outcome: { runId: string } | { error: { code: string; message: string } },
): Firing {
  if ('runId' in outcome) {
    sql(ws, `UPDATE publish_schedules_firings SET status = 'Submitted', run_id = ? WHERE id = ?`).run(
      outcome.runId,
      id,
    );
  } else {
    sql(ws, `UPDATE publish_schedules_firings SET status = 'Failed', error = ? WHERE id = ?`).run(
      JSON.stringify(outcome.error),
      id,
    );
  }
  return getFiring(ws, id);
}
