import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import {
  SluiceError,
  isSluiceError,
  type FingerprintPart,
  type StatCache,
  type StatCacheEntry,
  sha256,
  canonicalJson,
} from '@sluice/core';
import {
  processStartIdentity,
  recordedProcessState,
  stopMarkedProcesses,
  stopProcessGroup,
} from './processes.js';

export type RunStatus = 'NotStarted' | 'Running' | 'Finished' | 'Failed' | 'Canceled';
export type StepStatus =
  'NotStarted' | 'Queued' | 'Running' | 'Finished' | 'Failed' | 'Canceled' | 'Skipped' | 'Reused';

export const TERMINAL_STEP_STATUSES: readonly StepStatus[] = [
  'Finished',
  'Failed',
  'Canceled',
  'Skipped',
  'Reused',
];

export interface GitInfo {
  /** The URL of the checkout's `origin` remote; its folder when it has none. */
  repository: string;
  /** The folder of the git checkout (its top level). Missing from records written before it was kept. */
  folder?: string;
  branch: string | null;
  commit: string | null;
  dirty: boolean;
}

/** Why a step ran instead of being reused. */
export type RanReason = 'no-match' | 'allow-reuse-false' | 'regenerate-outputs';

export interface PipelineRunRecord {
  id: string;
  /** How the run was started: 'SDK', 'CLI', 'REST', 'Schedule', … */
  runSource: string;
  /** Who or what submitted it (a token's subject, `schedule:<name>`, a user name), when known. */
  submittedBy: string | null;
  /** The pipeline as JSON (see pipelineToSpec), when it could be recorded. */
  spec: unknown;
  experiment: string;
  pipelineName: string;
  description: string;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  parameters: Record<string, unknown>;
  options: Record<string, unknown>;
  tags: Record<string, string>;
  graph: unknown;
  runnerPid: number | null;
  runnerHost: string | null;
  error: string | null;
}

export interface StepRunRecord {
  id: string;
  runId: string;
  stepName: string;
  kind: string;
  seq: number;
  status: StepStatus;
  fingerprint: string | null;
  reusedFrom: string | null;
  ranReason: RanReason | null;
  computeTarget: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  exitCode: number | null;
  error: string | null;
  logDir: string | null;
  snapshot: string | null;
  git: GitInfo | null;
  /** The step run of another run this one waited for because it was executing the same fingerprint. */
  waitedFor: string | null;
  /** The scheduler job the step's process ran as, on targets that submit jobs (Slurm, …). */
  remoteJob: RemoteJobRecord | null;
  /** The step run of a later run that re-attached to this one's job after its runner ended. */
  adoptedBy: string | null;
}

/**
 * A job a compute target's scheduler accepted for a step run: enough for a later runner to follow it again
 * (`ComputeTarget.findJob` / `attachProcess`) and to find what it writes.
 */
export interface RemoteJobRecord {
  /** The compute target's name. */
  target: string;
  id: string;
  handle?: Record<string, string>;
  /** The step run whose staging folders the job writes its outputs to (the one that submitted it). */
  origin: string;
  /** That step run's folder (its logs, context and metrics file). */
  workDir: string;
}

/** Who holds a lease: a step run, in a runner process on a host. */
export interface LeaseHolder {
  key: string;
  stepRunId: string;
  /** The holder's pipeline run (null when the step run is not in this store any more). */
  runId: string | null;
  pid: number;
  host: string;
  /** The holder process's start identity, when it could be read. */
  started: string | null;
  acquiredAt: string;
  heartbeatAt: string;
}

/**
 * How long a lease held from another host lives without a heartbeat (its holder refreshes it every
 * sixth of that). Holders on this host are checked directly: their process must still run.
 */
export const LEASE_TTL_MS = 60_000;

export interface OutputRecord {
  /** Set when `sluice gc` deleted the data. */
  deletedAt?: string | null;
  stepRunId: string;
  name: string;
  datastore: string;
  path: string;
  type: 'file' | 'directory';
  digest: string;
  bytes: number;
  files?: Record<string, string>;
  /**
   * The fixed destination (a path on the same datastore) the output was published to, for an
   * OutputFileDatasetConfig whose destination names no `{run-id}`; `path` is then the step run's own copy.
   */
  destination?: string | null;
  /**
   * The stat stamp of the committed files (inode, size, mtime, ctime; see output-stamp.ts), recorded when
   * their content was hashed long enough after its last change: while the files stamp the same, reuse
   * trusts the digest without reading them again.
   */
  stamp?: string | null;
}

/** Whose content a fixed destination holds: the step run that published there last. */
export interface DestinationRecord {
  datastore: string;
  path: string;
  stepRunId: string;
  outputName: string;
  digest: string;
  publishedAt: string;
}

export interface DatasetRecord {
  name: string;
  version: number;
  kind: string;
  /** What the dataset is: its paths, parsing options and transformations (no secrets). */
  spec: unknown;
  /** The content identity the version had when it was registered. */
  digest: string;
  bytes: number;
  files?: Record<string, string>;
  description: string;
  tags: Record<string, string>;
  sourceStepRun: string | null;
  createdAt: string;
}

export interface MetricRecord {
  stepRunId: string;
  name: string;
  value: unknown;
  loggedAt: string;
}

const SCHEMA_VERSION = 7;

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE experiments (
      name TEXT PRIMARY KEY,
      created_at TEXT NOT NULL
    );
    CREATE TABLE pipeline_runs (
      id TEXT PRIMARY KEY,
      experiment TEXT NOT NULL REFERENCES experiments(name),
      pipeline_name TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL,
      created_at TEXT NOT NULL,
      started_at TEXT,
      ended_at TEXT,
      parameters TEXT NOT NULL,
      options TEXT NOT NULL,
      tags TEXT NOT NULL,
      graph TEXT NOT NULL,
      runner_pid INTEGER,
      runner_host TEXT,
      error TEXT
    );
    CREATE INDEX pipeline_runs_created ON pipeline_runs(created_at);
    CREATE TABLE step_runs (
      id TEXT PRIMARY KEY,
      run_id TEXT NOT NULL REFERENCES pipeline_runs(id),
      step_name TEXT NOT NULL,
      pipeline_name TEXT NOT NULL,
      kind TEXT NOT NULL,
      seq INTEGER NOT NULL,
      status TEXT NOT NULL,
      fingerprint TEXT,
      reused_from TEXT,
      ran_reason TEXT,
      compute_target TEXT,
      created_at TEXT NOT NULL,
      started_at TEXT,
      ended_at TEXT,
      exit_code INTEGER,
      error TEXT,
      log_dir TEXT,
      snapshot TEXT,
      git TEXT
    );
    CREATE INDEX step_runs_run ON step_runs(run_id, seq);
    CREATE INDEX step_runs_fingerprint ON step_runs(fingerprint, status);
    CREATE INDEX step_runs_history ON step_runs(pipeline_name, step_name, created_at);
    CREATE TABLE manifests (
      digest TEXT PRIMARY KEY,
      files TEXT NOT NULL
    );
    CREATE TABLE fingerprint_parts (
      step_run_id TEXT NOT NULL REFERENCES step_runs(id),
      name TEXT NOT NULL,
      digest TEXT NOT NULL,
      value TEXT,
      manifest TEXT REFERENCES manifests(digest),
      PRIMARY KEY (step_run_id, name)
    );
    CREATE TABLE outputs (
      step_run_id TEXT NOT NULL REFERENCES step_runs(id),
      name TEXT NOT NULL,
      datastore TEXT NOT NULL,
      path TEXT NOT NULL,
      type TEXT NOT NULL,
      digest TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      manifest TEXT REFERENCES manifests(digest),
      PRIMARY KEY (step_run_id, name)
    );
    CREATE TABLE metrics (
      step_run_id TEXT NOT NULL REFERENCES step_runs(id),
      seq INTEGER NOT NULL,
      name TEXT NOT NULL,
      value TEXT NOT NULL,
      logged_at TEXT NOT NULL,
      PRIMARY KEY (step_run_id, seq)
    );
    CREATE TABLE environments (
      name TEXT NOT NULL,
      version TEXT NOT NULL,
      definition TEXT NOT NULL,
      created_at TEXT NOT NULL,
      PRIMARY KEY (name, version)
    );
    CREATE TABLE stat_cache (
      path TEXT PRIMARY KEY,
      size INTEGER NOT NULL,
      mtime_ns TEXT NOT NULL,
      ino TEXT NOT NULL,
      hash TEXT NOT NULL
    );
  `,
  2: `
    CREATE TABLE datasets (
      name TEXT NOT NULL,
      version INTEGER NOT NULL,
      kind TEXT NOT NULL,
      spec TEXT NOT NULL,
      digest TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      manifest TEXT REFERENCES manifests(digest),
      description TEXT NOT NULL DEFAULT '',
      tags TEXT NOT NULL DEFAULT '{}',
      source_step_run TEXT,
      created_at TEXT NOT NULL,
      PRIMARY KEY (name, version)
    );
    ALTER TABLE outputs ADD COLUMN deleted_at TEXT;
  `,
  3: `
    ALTER TABLE pipeline_runs ADD COLUMN spec TEXT;
    ALTER TABLE pipeline_runs ADD COLUMN run_source TEXT NOT NULL DEFAULT 'SDK';
    CREATE TABLE schema_versions (
      namespace TEXT PRIMARY KEY,
      version INTEGER NOT NULL
    );
  `,
  4: `
    ALTER TABLE pipeline_runs ADD COLUMN runner_started TEXT;
    ALTER TABLE step_runs ADD COLUMN waited_for TEXT;
    ALTER TABLE outputs ADD COLUMN destination TEXT;
    CREATE TABLE destinations (
      datastore TEXT NOT NULL,
      path TEXT NOT NULL,
      step_run_id TEXT NOT NULL,
      output_name TEXT NOT NULL,
      digest TEXT NOT NULL,
      published_at TEXT NOT NULL,
      PRIMARY KEY (datastore, path)
    );
    CREATE TABLE leases (
      key TEXT PRIMARY KEY,
      step_run_id TEXT NOT NULL,
      owner_pid INTEGER NOT NULL,
      owner_host TEXT NOT NULL,
      owner_started TEXT,
      acquired_at TEXT NOT NULL,
      heartbeat_at TEXT NOT NULL
    );
    CREATE TABLE step_processes (
      step_run_id TEXT NOT NULL REFERENCES step_runs(id),
      process_group INTEGER NOT NULL,
      host TEXT NOT NULL,
      started TEXT,
      recorded_at TEXT NOT NULL,
      PRIMARY KEY (step_run_id, process_group)
    );
  `,
  5: `
    ALTER TABLE pipeline_runs ADD COLUMN submitted_by TEXT;
    CREATE INDEX pipeline_runs_experiment ON pipeline_runs(experiment, created_at);
  `,
  6: `
    ALTER TABLE step_runs ADD COLUMN remote_job TEXT;
    ALTER TABLE step_runs ADD COLUMN adopted_by TEXT;
  `,
  7: `
    ALTER TABLE outputs ADD COLUMN stamp TEXT;
  `,
};

const now = (): string => new Date().toISOString();
const json = (value: unknown): string => JSON.stringify(value ?? null);
const parse = <T>(text: string | null | undefined, fallback: T): T =>
  text === null || text === undefined ? fallback : (JSON.parse(text) as T);

type Row = Record<string, unknown>;

function toRun(row: Row): PipelineRunRecord {
  return {
    id: row.id as string,
    runSource: (row.run_source as string | null) ?? 'SDK',
    submittedBy: (row.submitted_by as string | null) ?? null,
    spec: parse(row.spec as string | null, null),
    experiment: row.experiment as string,
    pipelineName: row.pipeline_name as string,
    description: row.description as string,
    status: row.status as RunStatus,
    createdAt: row.created_at as string,
    startedAt: (row.started_at as string | null) ?? null,
    endedAt: (row.ended_at as string | null) ?? null,
    parameters: parse(row.parameters as string, {}),
    options: parse(row.options as string, {}),
    tags: parse(row.tags as string, {}),
    graph: parse(row.graph as string, null),
    runnerPid: (row.runner_pid as number | null) ?? null,
    runnerHost: (row.runner_host as string | null) ?? null,
    error: (row.error as string | null) ?? null,
  };
}

function toDataset(row: Row): DatasetRecord {
  return {
    name: row.name as string,
    version: row.version as number,
    kind: row.kind as string,
    spec: parse(row.spec as string, null),
    digest: row.digest as string,
    bytes: row.bytes as number,
    ...(row.files ? { files: JSON.parse(row.files as string) as Record<string, string> } : {}),
    description: row.description as string,
    tags: parse(row.tags as string, {}),
    sourceStepRun: (row.source_step_run as string | null) ?? null,
    createdAt: row.created_at as string,
  };
}

function toOutput(row: Row): OutputRecord {
  return {
    stepRunId: row.step_run_id as string,
    name: row.name as string,
    datastore: row.datastore as string,
    path: row.path as string,
    type: row.type as 'file' | 'directory',
    digest: row.digest as string,
    bytes: row.bytes as number,
    deletedAt: (row.deleted_at as string | null) ?? null,
    ...(row.destination ? { destination: row.destination as string } : {}),
    ...(row.stamp ? { stamp: row.stamp as string } : {}),
    ...(row.files ? { files: JSON.parse(row.files as string) as Record<string, string> } : {}),
  };
}

function toStepRun(row: Row): StepRunRecord {
  return {
    id: row.id as string,
    runId: row.run_id as string,
    stepName: row.step_name as string,
    kind: row.kind as string,
    seq: row.seq as number,
    status: row.status as StepStatus,
    fingerprint: (row.fingerprint as string | null) ?? null,
    reusedFrom: (row.reused_from as string | null) ?? null,
    ranReason: (row.ran_reason as RanReason | null) ?? null,
    computeTarget: (row.compute_target as string | null) ?? null,
    createdAt: row.created_at as string,
    startedAt: (row.started_at as string | null) ?? null,
    endedAt: (row.ended_at as string | null) ?? null,
    exitCode: (row.exit_code as number | null) ?? null,
    error: (row.error as string | null) ?? null,
    logDir: (row.log_dir as string | null) ?? null,
    snapshot: (row.snapshot as string | null) ?? null,
    git: parse(row.git as string | null, null),
    waitedFor: (row.waited_for as string | null) ?? null,
    remoteJob: parse(row.remote_job as string | null | undefined, null),
    adoptedBy: (row.adopted_by as string | null | undefined) ?? null,
  };
}

/** Which runs `RunStore.queryRuns` answers (every filter optional). */
export interface RunFilter {
  experiment?: string;
  status?: RunStatus;
  pipelineName?: string;
  runSource?: string;
  /** Tags the run must carry: a value, or null for any value. */
  tags?: Record<string, string | null>;
  /** A run id: only runs created before it. */
  before?: string;
  /** At most this many runs (default 1000). */
  limit?: number;
}

/** How long a store operation waits for another process's lock by default (`SLUICE_BUSY_TIMEOUT_MS`). */
export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

/** What a statement that writes did: how many rows it changed, and the rowid of the last row it inserted. */
export interface StoreRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/** A prepared statement of the run store; SQLite errors leave it as coded errors (RUN_STORE_BUSY, …). */
export interface StoreStatement {
  run(...params: unknown[]): StoreRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

export interface RunStoreOptions {
  /**
   * How long an operation waits for a lock held by another process before failing with RUN_STORE_BUSY.
   * Default: `SLUICE_BUSY_TIMEOUT_MS` from the environment, else 10000.
   */
  busyTimeoutMs?: number;
}

/**
 * The workspace's run store: one SQLite database in WAL mode. Every state change is one transaction, so a
 * crash leaves the store as it was before or after a change, never between.
 */
export class RunStore {
  readonly #db: Database.Database;
  readonly file: string;
  readonly busyTimeoutMs: number;
  readonly #statements = new Map<string, StoreStatement>();

  /** A prepared statement, compiled once per store. */
  #sql(text: string): StoreStatement {
    let statement = this.#statements.get(text);
    if (!statement) {
      const prepared = this.#guard(() => this.#db.prepare(text));
      statement = {
        run: (...params) => this.#guard(() => prepared.run(...params)),
        get: (...params) => this.#guard(() => prepared.get(...params)),
        all: (...params) => this.#guard(() => prepared.all(...params)),
      };
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /**
   * A prepared statement for a package's own tables (see `extend`), compiled once per store; like every
   * store operation it fails with RUN_STORE_BUSY, not an SQLite error, when another process holds the lock.
   */
  prepare(text: string): StoreStatement {
    return this.#sql(text);
  }

  constructor(file: string, options: RunStoreOptions = {}) {
    this.file = file;
    this.busyTimeoutMs = options.busyTimeoutMs ?? busyTimeoutFromEnvironment();
    this.#db = this.#guard(() => {
      try {
        return new Database(file);
      } catch (error) {
        throw new SluiceError(
          'RUN_STORE_ERROR',
          `Cannot open the run store at ${file}: ${(error as Error).message}. Check that its folder is writable.`,
          { cause: error, details: { file } },
        );
      }
    });
    try {
      this.#guard(() => {
        this.#db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
        this.#db.pragma('journal_mode = WAL');
        this.#db.pragma('synchronous = NORMAL');
        this.#db.pragma('foreign_keys = ON');
      });
      this.#migrate();
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  /** Run a database operation; SQLite's errors about locks, the disk or the file become coded errors. */
  #guard<T>(operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      throw storeError(error, this.file, this.busyTimeoutMs);
    }
  }

  #migrate(): void {
    const current = this.#guard(() => this.#db.pragma('user_version', { simple: true }) as number);
    if (current > SCHEMA_VERSION) {
      throw new SluiceError(
        'RUN_STORE_ERROR',
        `The run store was written by a newer Sluice (schema ${current}); upgrade @sluice/runtime to open it.`,
      );
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      this.transaction(() => {
        // another process opening the store at the same time may have migrated it first
        if ((this.#db.pragma('user_version', { simple: true }) as number) >= version) return;
        this.#db.exec(MIGRATIONS[version]!);
        this.#db.pragma(`user_version = ${version}`);
      });
    }
  }

  /**
   * Let a package keep its own tables in the run store: `migrations[n]` is the SQL that brings its schema
   * from version n-1 to n; each runs once, in a transaction. Table names should start with the namespace.
   */
  extend(namespace: string, migrations: Readonly<Record<number, string>>): void {
    const row = this.#sql('SELECT version FROM schema_versions WHERE namespace = ?').get(namespace) as
      { version: number } | undefined;
    const current = row?.version ?? 0;
    const latest = Math.max(0, ...Object.keys(migrations).map(Number));
    if (current > latest) {
      throw new SluiceError(
        'RUN_STORE_ERROR',
        `The run store holds ${namespace} data written by a newer version (schema ${current}); upgrade the package that owns it.`,
      );
    }
    for (let version = current + 1; version <= latest; version++) {
      this.transaction(() => {
        this.#db.exec(migrations[version]!);
        this.#sql(
          'INSERT INTO schema_versions (namespace, version) VALUES (?, ?) ON CONFLICT(namespace) DO UPDATE SET version = excluded.version',
        ).run(namespace, version);
      });
    }
  }

  /**
   * Check the database file with SQLite's integrity check: the problems it finds, none when the file is
   * intact.
   */
  checkIntegrity(): string[] {
    const rows = this.#guard(() => this.#db.pragma('integrity_check') as Array<{ integrity_check: string }>);
    const problems = rows.map((row) => row.integrity_check);
    return problems.length === 1 && problems[0] === 'ok' ? [] : problems;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.#guard(() => this.#db.transaction(fn).immediate());
  }

  // -- experiments and runs ------------------------------------------------------------------------------

  ensureExperiment(name: string): void {
    this.#sql('INSERT OR IGNORE INTO experiments (name, created_at) VALUES (?, ?)').run(name, now());
  }

  listExperiments(): Array<{ name: string; createdAt: string; runs: number; lastRunAt: string | null }> {
    return (
      this.#sql(
        `SELECT e.name, e.created_at, COUNT(r.id) AS runs, MAX(r.created_at) AS last_run_at FROM experiments e
           LEFT JOIN pipeline_runs r ON r.experiment = e.name GROUP BY e.name ORDER BY e.name`,
      ).all() as Row[]
    ).map((row) => ({
      name: row.name as string,
      createdAt: row.created_at as string,
      runs: row.runs as number,
      lastRunAt: (row.last_run_at as string | null) ?? null,
    }));
  }

  createRun(
    run: Omit<
      PipelineRunRecord,
      'createdAt' | 'startedAt' | 'endedAt' | 'error' | 'runnerPid' | 'runnerHost' | 'submittedBy'
    > & { submittedBy?: string | null },
    steps: Array<Pick<StepRunRecord, 'id' | 'stepName' | 'kind' | 'seq' | 'computeTarget'>>,
  ): void {
    this.transaction(() => {
      this.ensureExperiment(run.experiment);
      this.#sql(
        `INSERT INTO pipeline_runs (id, experiment, pipeline_name, description, status, created_at, parameters,
             options, tags, graph, runner_pid, runner_host, runner_started, spec, run_source, submitted_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        run.id,
        run.experiment,
        run.pipelineName,
        run.description,
        run.status,
        now(),
        json(run.parameters),
        json(run.options),
        json(run.tags),
        json(run.graph),
        process.pid,
        hostname(),
        processStartIdentity(process.pid) ?? null,
        run.spec === null || run.spec === undefined ? null : json(run.spec),
        run.runSource,
        run.submittedBy ?? null,
      );
      const insert = this.#sql(
        `INSERT INTO step_runs (id, run_id, step_name, pipeline_name, kind, seq, status, compute_target, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'NotStarted', ?, ?)`,
      );
      for (const step of steps) {
        insert.run(
          step.id,
          run.id,
          step.stepName,
          run.pipelineName,
          step.kind,
          step.seq,
          step.computeTarget,
          now(),
        );
      }
    });
  }

  setRunStatus(id: string, status: RunStatus, error?: string): void {
    const stamp = now();
    if (status === 'Running') {
      this.#sql(`UPDATE pipeline_runs SET status = ?, started_at = COALESCE(started_at, ?) WHERE id = ?`).run(
        status,
        stamp,
        id,
      );
    } else if (status === 'NotStarted') {
      this.#sql(`UPDATE pipeline_runs SET status = ? WHERE id = ?`).run(status, id);
    } else {
      this.#sql(`UPDATE pipeline_runs SET status = ?, ended_at = ?, error = ? WHERE id = ?`).run(
        status,
        stamp,
        error ?? null,
        id,
      );
    }
  }

  getRun(id: string): PipelineRunRecord | undefined {
    const row = this.#sql('SELECT * FROM pipeline_runs WHERE id = ?').get(id) as Row | undefined;
    return row ? toRun(row) : undefined;
  }

  /** Find a run by id, unique id prefix, or `latest`. */
  resolveRun(idOrPrefix: string): PipelineRunRecord {
    if (typeof idOrPrefix !== 'string' || idOrPrefix === '') {
      throw new SluiceError(
        'RUN_NOT_FOUND',
        `A run is named by its id, a unique prefix of it, or "latest"; got ${JSON.stringify(idOrPrefix) ?? String(idOrPrefix)}.`,
      );
    }
    if (idOrPrefix === 'latest' || idOrPrefix === '@') {
      const row = this.#sql(
        'SELECT * FROM pipeline_runs ORDER BY created_at DESC, rowid DESC LIMIT 1',
      ).get() as Row | undefined;
      if (!row)
        throw new SluiceError('RUN_NOT_FOUND', 'There are no runs in this workspace yet; submit one first.');
      return toRun(row);
    }
    const exact = this.getRun(idOrPrefix);
    if (exact) return exact;
    const rows = this.#sql(
      `SELECT * FROM pipeline_runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT 2`,
    ).all(`${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) as Row[];
    if (rows.length === 1) return toRun(rows[0]!);
    throw new SluiceError(
      'RUN_NOT_FOUND',
      rows.length === 0
        ? `No run "${idOrPrefix}" in this workspace; list runs with \`sluice runs\`.`
        : `"${idOrPrefix}" matches more than one run; give more of the id.`,
      { details: { run: idOrPrefix } },
    );
  }

  listRuns(options: { experiment?: string; limit?: number } = {}): PipelineRunRecord[] {
    const rows = options.experiment
      ? this.#sql(
          'SELECT * FROM pipeline_runs WHERE experiment = ? ORDER BY created_at DESC, rowid DESC LIMIT ?',
        ).all(options.experiment, options.limit ?? 1000)
      : this.#sql('SELECT * FROM pipeline_runs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(
          options.limit ?? 1000,
        );
    return (rows as Row[]).map(toRun);
  }

  /**
   * Runs matching a filter, newest first, a page at a time: `before` is a run id, and the page holds the
   * runs created before it (keyset pagination, stable while runs are added). Tags match by key (and value).
   */
  queryRuns(filter: RunFilter = {}): PipelineRunRecord[] {
    const where: string[] = [];
    const values: unknown[] = [];
    const equal = (column: string, value: string | undefined): void => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      values.push(value);
    };
    equal('experiment', filter.experiment);
    equal('status', filter.status);
    equal('pipeline_name', filter.pipelineName);
    equal('run_source', filter.runSource);
    for (const [key, value] of Object.entries(filter.tags ?? {})) {
      where.push(
        value === null
          ? 'EXISTS (SELECT 1 FROM json_each(pipeline_runs.tags) WHERE key = ?)'
          : 'EXISTS (SELECT 1 FROM json_each(pipeline_runs.tags) WHERE key = ? AND value = ?)',
      );
      values.push(key, ...(value === null ? [] : [value]));
    }
    if (filter.before !== undefined) {
      where.push('(created_at, rowid) < (SELECT created_at, rowid FROM pipeline_runs WHERE id = ?)');
      values.push(filter.before);
    }
    const sql = `SELECT * FROM pipeline_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    return (this.#sql(sql).all(...values, filter.limit ?? 1000) as Row[]).map(toRun);
  }

  /** How many steps of each run are in each status. */
  stepStatusCounts(runIds: readonly string[]): Map<string, Partial<Record<StepStatus, number>>> {
    const counts = new Map<string, Partial<Record<StepStatus, number>>>();
    if (runIds.length === 0) return counts;
    const rows = this.#sql(
      `SELECT run_id, status, COUNT(*) AS n FROM step_runs
         WHERE run_id IN (SELECT value FROM json_each(?)) GROUP BY run_id, status`,
    ).all(JSON.stringify(runIds)) as Row[];
    for (const row of rows) {
      const entry = counts.get(row.run_id as string) ?? {};
      entry[row.status as StepStatus] = row.n as number;
      counts.set(row.run_id as string, entry);
    }
    return counts;
  }

  /**
   * The runs (and their step runs) that may have changed since a look that saw runs up to `afterRowid`:
   * runs added since, runs not yet ended, and the runs named (those that had not ended at the last look).
   */
  changedRuns(
    afterRowid: number,
    watched: readonly string[],
  ): { runs: Array<PipelineRunRecord & { rowid: number }>; steps: StepRunRecord[] } {
    const rows = this.#sql(
      `SELECT rowid AS _rowid, * FROM pipeline_runs WHERE rowid > ? OR status IN ('NotStarted', 'Running')
         OR id IN (SELECT value FROM json_each(?)) ORDER BY rowid`,
    ).all(afterRowid, JSON.stringify(watched)) as Row[];
    const runs = rows.map((row) => ({ ...toRun(row), rowid: row._rowid as number }));
    const steps = (
      this.#sql(
        'SELECT * FROM step_runs WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, seq',
      ).all(JSON.stringify(runs.map((run) => run.id))) as Row[]
    ).map(toStepRun);
    return { runs, steps };
  }

  /** The highest rowid of the runs table: where a watcher starts looking. */
  lastRunRowid(): number {
    return (this.#sql('SELECT COALESCE(MAX(rowid), 0) AS n FROM pipeline_runs').get() as { n: number }).n;
  }

  /**
   * SQLite's `data_version` of this connection: it changes when another connection (another process, or
   * another store object on the same file) commits a change.
   */
  dataVersion(): number {
    return this.#guard(() => this.#db.pragma('data_version', { simple: true }) as number);
  }

  /** The names of the metrics the runs of an experiment logged. */
  experimentMetricNames(experiment: string): string[] {
    return (
      this.#sql(
        `SELECT DISTINCT m.name FROM pipeline_runs r JOIN step_runs s ON s.run_id = r.id
           JOIN metrics m ON m.step_run_id = COALESCE(s.reused_from, s.id) WHERE r.experiment = ? ORDER BY m.name`,
      ).all(experiment) as Row[]
    ).map((row) => row.name as string);
  }

  /**
   * Every value of a metric the runs of an experiment have, oldest run first; a reused step has the values
   * the step run it reused logged.
   */
  experimentMetric(
    experiment: string,
    name: string,
  ): Array<{ runId: string; createdAt: string; step: string; value: unknown }> {
    return (
      this.#sql(
        `SELECT r.id AS run_id, r.created_at, s.step_name, m.value FROM pipeline_runs r
           JOIN step_runs s ON s.run_id = r.id JOIN metrics m ON m.step_run_id = COALESCE(s.reused_from, s.id)
           WHERE r.experiment = ? AND m.name = ? ORDER BY r.created_at, r.rowid, s.seq, m.seq`,
      ).all(experiment, name) as Row[]
    ).map((row) => ({
      runId: row.run_id as string,
      createdAt: row.created_at as string,
      step: row.step_name as string,
      value: JSON.parse(row.value as string),
    }));
  }

  // -- step runs -----------------------------------------------------------------------------------------

  getStepRuns(runId: string): StepRunRecord[] {
    return (this.#sql('SELECT * FROM step_runs WHERE run_id = ? ORDER BY seq').all(runId) as Row[]).map(
      toStepRun,
    );
  }

  getStepRun(id: string): StepRunRecord | undefined {
    const row = this.#sql('SELECT * FROM step_runs WHERE id = ?').get(id) as Row | undefined;
    return row ? toStepRun(row) : undefined;
  }

  updateStepRun(id: string, changes: Partial<Omit<StepRunRecord, 'id' | 'runId'>>): void {
    const columns: Record<string, string> = {
      status: 'status',
      fingerprint: 'fingerprint',
      reusedFrom: 'reused_from',
      ranReason: 'ran_reason',
      startedAt: 'started_at',
      endedAt: 'ended_at',
      exitCode: 'exit_code',
      error: 'error',
      logDir: 'log_dir',
      snapshot: 'snapshot',
      git: 'git',
      computeTarget: 'compute_target',
      waitedFor: 'waited_for',
    };
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [key, value] of Object.entries(changes)) {
      const column = columns[key];
      if (!column) continue;
      sets.push(`${column} = ?`);
      values.push(key === 'git' ? json(value) : (value ?? null));
    }
    if (sets.length === 0) return;
    this.#sql(`UPDATE step_runs SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
  }

  /** Record a step's fingerprint and its parts (file lists stored once per distinct content). */
  recordFingerprint(stepRunId: string, fingerprint: string, parts: readonly FingerprintPart[]): void {
    this.transaction(() => this.#writeFingerprint(stepRunId, fingerprint, parts));
  }

  #writeFingerprint(stepRunId: string, fingerprint: string, parts: readonly FingerprintPart[]): void {
    this.#sql('UPDATE step_runs SET fingerprint = ? WHERE id = ?').run(fingerprint, stepRunId);
    this.#sql('DELETE FROM fingerprint_parts WHERE step_run_id = ?').run(stepRunId);
    const insert = this.#sql(
      'INSERT INTO fingerprint_parts (step_run_id, name, digest, value, manifest) VALUES (?, ?, ?, ?, ?)',
    );
    for (const part of parts) {
      const manifest = part.files ? this.#saveManifest(part.files) : null;
      insert.run(
        stepRunId,
        part.name,
        part.digest,
        part.value === undefined ? null : json(part.value),
        manifest,
      );
    }
  }

  #saveManifest(files: Readonly<Record<string, string>>): string {
    const text = canonicalJson(files);
    const digest = sha256(text);
    this.#sql('INSERT OR IGNORE INTO manifests (digest, files) VALUES (?, ?)').run(digest, text);
    return digest;
  }

  getFingerprintParts(stepRunId: string): FingerprintPart[] {
    const rows = this.#sql(
      `SELECT p.name, p.digest, p.value, m.files FROM fingerprint_parts p
         LEFT JOIN manifests m ON m.digest = p.manifest WHERE p.step_run_id = ? ORDER BY p.name`,
    ).all(stepRunId) as Row[];
    return rows.map((row) => {
      const part: { name: string; digest: string; value?: unknown; files?: Record<string, string> } = {
        name: row.name as string,
        digest: row.digest as string,
      };
      if (row.value !== null) part.value = JSON.parse(row.value as string);
      if (row.files !== null) part.files = JSON.parse(row.files as string);
      return part;
    });
  }

  /** The newest finished step run with this fingerprint: a candidate to reuse. */
  findReusable(fingerprint: string, excludeRunId: string): StepRunRecord[] {
    return (
      this.#sql(
        `SELECT * FROM step_runs WHERE fingerprint = ? AND status = 'Finished' AND run_id != ?
           ORDER BY ended_at DESC LIMIT 5`,
      ).all(fingerprint, excludeRunId) as Row[]
    ).map(toStepRun);
  }

  /** The latest earlier run of the same step (same pipeline name and step name) that has a fingerprint. */
  previousStepRun(stepRun: StepRunRecord, pipelineName: string): StepRunRecord | undefined {
    const row = this.#sql(
      `SELECT * FROM step_runs WHERE pipeline_name = ? AND step_name = ? AND fingerprint IS NOT NULL
           AND run_id != ? AND created_at <= ? ORDER BY created_at DESC, rowid DESC LIMIT 1`,
    ).get(pipelineName, stepRun.stepName, stepRun.runId, stepRun.createdAt) as Row | undefined;
    return row ? toStepRun(row) : undefined;
  }

  // -- outputs and metrics -------------------------------------------------------------------------------

  /** Mark a step finished together with its committed outputs, in one transaction. */
  completeStep(
    stepRunId: string,
    outputs: readonly OutputRecord[],
    changes: Partial<Omit<StepRunRecord, 'id' | 'runId'>>,
    fingerprint?: { fingerprint: string; parts: readonly FingerprintPart[] },
  ): void {
    this.transaction(() => {
      if (fingerprint) this.#writeFingerprint(stepRunId, fingerprint.fingerprint, fingerprint.parts);
      const insert = this.#sql(
        `INSERT OR REPLACE INTO outputs (step_run_id, name, datastore, path, type, digest, bytes, manifest, destination, stamp)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const output of outputs) {
        insert.run(
          stepRunId,
          output.name,
          output.datastore,
          output.path,
          output.type,
          output.digest,
          output.bytes,
          output.files ? this.#saveManifest(output.files) : null,
          output.destination ?? null,
          output.stamp ?? null,
        );
      }
      this.updateStepRun(stepRunId, changes);
    });
  }

  getOutputs(stepRunId: string): OutputRecord[] {
    const rows = this.#sql(
      `SELECT o.*, m.files FROM outputs o LEFT JOIN manifests m ON m.digest = o.manifest
         WHERE o.step_run_id = ? ORDER BY o.name`,
    ).all(stepRunId) as Row[];
    return rows.map(toOutput);
  }

  /**
   * Record a reuse: the step takes the outputs of `source`, in one transaction that first checks none of
   * them was deleted by a concurrent `sluice gc` (false then, and nothing is written). `stamps` are new
   * stat stamps of `source`'s outputs by name, taken when their content was checked again.
   */
  reuseStep(
    stepRunId: string,
    source: string,
    changes: Partial<Omit<StepRunRecord, 'id' | 'runId'>>,
    fingerprint: { fingerprint: string; parts: readonly FingerprintPart[] },
    stamps: ReadonlyMap<string, string> = new Map(),
  ): boolean {
    return this.transaction(() => {
      const deleted = this.#sql(
        'SELECT COUNT(*) AS n FROM outputs WHERE step_run_id = ? AND deleted_at IS NOT NULL',
      ).get(source) as { n: number };
      if (deleted.n > 0) return false;
      for (const [name, stamp] of stamps) {
        this.#sql('UPDATE outputs SET stamp = ? WHERE step_run_id = ? AND name = ?').run(stamp, source, name);
      }
      this.#writeFingerprint(stepRunId, fingerprint.fingerprint, fingerprint.parts);
      // the rows as they are, manifests and all: nothing to hash again
      this.#sql(
        `INSERT OR REPLACE INTO outputs (step_run_id, name, datastore, path, type, digest, bytes, manifest, destination, stamp)
         SELECT ?, name, datastore, path, type, digest, bytes, manifest, destination, stamp FROM outputs
          WHERE step_run_id = ?`,
      ).run(stepRunId, source);
      this.updateStepRun(stepRunId, changes);
      return true;
    });
  }

  /** Record that a fixed destination now holds a step run's output (the last to publish there wins). */
  recordDestination(record: Omit<DestinationRecord, 'publishedAt'>): void {
    this.#sql(
      `INSERT OR REPLACE INTO destinations (datastore, path, step_run_id, output_name, digest, published_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(record.datastore, record.path, record.stepRunId, record.outputName, record.digest, now());
  }

  getDestination(datastore: string, path: string): DestinationRecord | undefined {
    const row = this.#sql('SELECT * FROM destinations WHERE datastore = ? AND path = ?').get(
      datastore,
      path,
    ) as Row | undefined;
    return row
      ? {
          datastore: row.datastore as string,
          path: row.path as string,
          stepRunId: row.step_run_id as string,
          outputName: row.output_name as string,
          digest: row.digest as string,
          publishedAt: row.published_at as string,
        }
      : undefined;
  }

  /** Every output row not yet deleted, with the run and step it belongs to. */
  liveOutputs(): Array<
    OutputRecord & {
      runId: string;
      status: StepStatus;
      pipelineName: string;
      stepName: string;
      endedAt: string | null;
    }
  > {
    return (
      this.#sql(
        `SELECT o.*, s.run_id, s.status, s.pipeline_name, s.step_name, s.ended_at AS step_ended_at FROM outputs o
         JOIN step_runs s ON s.id = o.step_run_id WHERE o.deleted_at IS NULL`,
      ).all() as Row[]
    ).map((row) => ({
      ...toOutput(row),
      runId: row.run_id as string,
      status: row.status as StepStatus,
      pipelineName: row.pipeline_name as string,
      stepName: row.step_name as string,
      endedAt: (row.step_ended_at as string | null) ?? null,
    }));
  }

  /** Mark every output row at these locations deleted. */
  markOutputsDeleted(locations: ReadonlyArray<{ datastore: string; path: string }>): void {
    const mark = this.#sql(
      'UPDATE outputs SET deleted_at = ? WHERE datastore = ? AND path = ? AND deleted_at IS NULL',
    );
    const stamp = now();
    for (const { datastore, path } of locations) mark.run(stamp, datastore, path);
  }

  addMetrics(
    stepRunId: string,
    metrics: ReadonlyArray<{ name: string; value: unknown; loggedAt?: string }>,
  ): void {
    if (metrics.length === 0) return;
    this.transaction(() => {
      const start =
        (
          this.#sql('SELECT COALESCE(MAX(seq), -1) AS seq FROM metrics WHERE step_run_id = ?').get(
            stepRunId,
          ) as {
            seq: number;
          }
        ).seq + 1;
      const insert = this.#sql(
        'INSERT INTO metrics (step_run_id, seq, name, value, logged_at) VALUES (?, ?, ?, ?, ?)',
      );
      metrics.forEach((metric, index) =>
        insert.run(stepRunId, start + index, metric.name, json(metric.value), metric.loggedAt ?? now()),
      );
    });
  }

  getMetrics(stepRunId: string): MetricRecord[] {
    return (
      this.#sql('SELECT * FROM metrics WHERE step_run_id = ? ORDER BY seq').all(stepRunId) as Row[]
    ).map((row) => ({
      stepRunId: row.step_run_id as string,
      name: row.name as string,
      value: JSON.parse(row.value as string),
      loggedAt: row.logged_at as string,
    }));
  }

  // -- datasets ------------------------------------------------------------------------------------------

  /** Add a version of a dataset (1 for a new name). Refused for an existing name unless `createNewVersion`. */
  saveDatasetVersion(
    dataset: Omit<DatasetRecord, 'version' | 'createdAt'>,
    options: { createNewVersion: boolean },
  ): DatasetRecord {
    return this.transaction(() => {
      const latest = this.#sql('SELECT MAX(version) AS version FROM datasets WHERE name = ?').get(
        dataset.name,
      ) as {
        version: number | null;
      };
      if (latest.version !== null && !options.createNewVersion) {
        throw new SluiceError(
          'DATASET_INVALID',
          `A dataset named "${dataset.name}" is already registered (version ${latest.version}); pass createNewVersion: true to add a version.`,
          { details: { name: dataset.name, version: latest.version } },
        );
      }
      const version = (latest.version ?? 0) + 1;
      const createdAt = now();
      this.#sql(
        `INSERT INTO datasets (name, version, kind, spec, digest, bytes, manifest, description, tags, source_step_run, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        dataset.name,
        version,
        dataset.kind,
        json(dataset.spec),
        dataset.digest,
        dataset.bytes,
        dataset.files ? this.#saveManifest(dataset.files) : null,
        dataset.description,
        json(dataset.tags),
        dataset.sourceStepRun,
        createdAt,
      );
      return { ...dataset, version, createdAt };
    });
  }

  /** A dataset version (the latest when no version is given). */
  getDataset(name: string, version?: number): DatasetRecord | undefined {
    const row = (
      version === undefined
        ? this.#sql(
            `SELECT d.*, m.files FROM datasets d LEFT JOIN manifests m ON m.digest = d.manifest
             WHERE d.name = ? ORDER BY d.version DESC LIMIT 1`,
          ).get(name)
        : this.#sql(
            `SELECT d.*, m.files FROM datasets d LEFT JOIN manifests m ON m.digest = d.manifest
             WHERE d.name = ? AND d.version = ?`,
          ).get(name, version)
    ) as Row | undefined;
    return row ? toDataset(row) : undefined;
  }

  /** Every dataset version, by name then version. */
  listDatasets(): DatasetRecord[] {
    return (this.#sql('SELECT * FROM datasets ORDER BY name, version').all() as Row[]).map(toDataset);
  }

  // -- environments ----------------------------------------------------------------------------------------

  saveEnvironment(name: string, version: string, definition: unknown): void {
    const text = canonicalJson(definition);
    // One statement, so concurrent processes registering the same environment never race: the first
    // insert wins, the rest find its row and compare.
    const inserted = this.#sql(
      'INSERT INTO environments (name, version, definition, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name, version) DO NOTHING',
    ).run(name, version, text, now());
    if (inserted.changes > 0) return;
    const existing = this.#sql('SELECT definition FROM environments WHERE name = ? AND version = ?').get(
      name,
      version,
    ) as { definition: string } | undefined;
    if (existing?.definition === text) return;
    throw new SluiceError(
      'ENVIRONMENT_CONFLICT',
      `Environment ${name} version ${version} is already registered with a different definition; register it under a new version.`,
      { details: { name, version } },
    );
  }

  getEnvironment(name: string, version?: string): { version: string; definition: unknown } | undefined {
    const row = (
      version === undefined
        ? this.#sql(
            'SELECT version, definition FROM environments WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1',
          ).get(name)
        : this.#sql('SELECT version, definition FROM environments WHERE name = ? AND version = ?').get(
            name,
            version,
          )
    ) as { version: string; definition: string } | undefined;
    return row ? { version: row.version, definition: JSON.parse(row.definition) } : undefined;
  }

  listEnvironments(): Array<{ name: string; version: string; definition: unknown }> {
    return (this.#sql('SELECT * FROM environments ORDER BY name, created_at').all() as Row[]).map((row) => ({
      name: row.name as string,
      version: row.version as string,
      definition: JSON.parse(row.definition as string),
    }));
  }

  // -- leases ---------------------------------------------------------------------------------------------

  /**
   * Claim a lease (one holder per key across every process using the store) for a step run, in one
   * IMMEDIATE transaction: acquired when nobody holds it, when this step run already does, or when its
   * holder is gone — on this host its process no longer runs (or its id now belongs to another process),
   * on another host its heartbeat is older than LEASE_TTL_MS — in which case that holder is returned as
   * `tookOver`. Otherwise the live holder is returned.
   */
  claimLease(
    key: string,
    stepRunId: string,
  ): { acquired: true; tookOver?: LeaseHolder } | { acquired: false; holder: LeaseHolder } {
    return this.transaction(() => {
      const holder = this.leaseHolder(key);
      if (holder && holder.stepRunId !== stepRunId && !isLeaseStale(holder)) {
        return { acquired: false as const, holder };
      }
      const stamp = now();
      this.#sql(
        `INSERT OR REPLACE INTO leases (key, step_run_id, owner_pid, owner_host, owner_started, acquired_at, heartbeat_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(key, stepRunId, process.pid, hostname(), processStartIdentity(process.pid) ?? null, stamp, stamp);
      return holder && holder.stepRunId !== stepRunId
        ? { acquired: true as const, tookOver: holder }
        : { acquired: true as const };
    });
  }

  leaseHolder(key: string): LeaseHolder | undefined {
    const row = this.#sql(
      'SELECT l.*, s.run_id FROM leases l LEFT JOIN step_runs s ON s.id = l.step_run_id WHERE l.key = ?',
    ).get(key) as Row | undefined;
    if (!row) return undefined;
    return {
      key: row.key as string,
      stepRunId: row.step_run_id as string,
      runId: (row.run_id as string | null) ?? null,
      pid: row.owner_pid as number,
      host: row.owner_host as string,
      started: (row.owner_started as string | null) ?? null,
      acquiredAt: row.acquired_at as string,
      heartbeatAt: row.heartbeat_at as string,
    };
  }

  /** Refresh a held lease's heartbeat; false when the step run no longer holds it. */
  renewLease(key: string, stepRunId: string): boolean {
    return (
      this.#sql('UPDATE leases SET heartbeat_at = ? WHERE key = ? AND step_run_id = ?').run(
        now(),
        key,
        stepRunId,
      ).changes > 0
    );
  }

  releaseLease(key: string, stepRunId: string): void {
    this.#sql('DELETE FROM leases WHERE key = ? AND step_run_id = ?').run(key, stepRunId);
  }

  // -- step processes and crash recovery ------------------------------------------------------------------

  /**
   * Note a step's process group (its leader's id) and the leader's start identity while it runs, so that
   * recovery can stop it if this runner is killed.
   */
  recordStepProcess(stepRunId: string, processGroup: number, started: string | undefined): void {
    this.#sql(
      `INSERT OR REPLACE INTO step_processes (step_run_id, process_group, host, started, recorded_at)
       VALUES (?, ?, ?, ?, ?)`,
    ).run(stepRunId, processGroup, hostname(), started ?? null, now());
  }

  /** Record the scheduler job a step run's process was submitted as. */
  recordRemoteJob(stepRunId: string, job: RemoteJobRecord): void {
    this.#sql('UPDATE step_runs SET remote_job = ? WHERE id = ?').run(json(job), stepRunId);
  }

  /**
   * Step runs with this fingerprint, of runs that are over, whose scheduler job was left behind when their
   * runner ended (recovery marked them Canceled) and that no later step run re-attached to yet: newest first.
   */
  findAdoptableJobs(
    fingerprint: string,
    excludeRunId: string,
  ): Array<{ stepRunId: string; job: RemoteJobRecord }> {
    const rows = this.#sql(
      `SELECT s.id, s.remote_job FROM step_runs s JOIN pipeline_runs r ON r.id = s.run_id
         WHERE s.fingerprint = ? AND s.status = 'Canceled' AND s.remote_job IS NOT NULL AND s.adopted_by IS NULL
           AND s.run_id != ? AND r.status NOT IN ('Running', 'NotStarted')
         ORDER BY s.created_at DESC LIMIT 5`,
    ).all(fingerprint, excludeRunId) as Row[];
    return rows.map((row) => ({
      stepRunId: row.id as string,
      job: JSON.parse(row.remote_job as string) as RemoteJobRecord,
    }));
  }

  /** Mark a step run's job as taken over by another step run; false when another one took it first. */
  adoptJob(stepRunId: string, by: string): boolean {
    return (
      this.#sql('UPDATE step_runs SET adopted_by = ? WHERE id = ? AND adopted_by IS NULL').run(by, stepRunId)
        .changes === 1
    );
  }

  clearStepProcess(stepRunId: string, processGroup: number): void {
    this.#sql('DELETE FROM step_processes WHERE step_run_id = ? AND process_group = ?').run(
      stepRunId,
      processGroup,
    );
  }

  /** The process groups recorded for a step run that have not ended (as far as the store knows). */
  stepProcesses(stepRunId: string): Array<{ processGroup: number; host: string; started: string | null }> {
    return (
      this.#sql('SELECT * FROM step_processes WHERE step_run_id = ? ORDER BY recorded_at').all(
        stepRunId,
      ) as Row[]
    ).map((row) => ({
      processGroup: row.process_group as number,
      host: row.host as string,
      started: (row.started as string | null) ?? null,
    }));
  }

  /**
   * Runs left Running by a runner process that no longer exists on this machine (killed, crashed; a
   * process now holding its id with another start time does not count) are marked Failed and their
   * unfinished steps Canceled, so nothing half-done is ever taken for finished. Step process groups the
   * runner left running are stopped first — only those whose leader still runs with the start time that
   * was recorded, so a reused process id is never signalled.
   */
  recoverAbandonedRuns(): string[] {
    const host = hostname();
    const candidates = this.#sql(
      `SELECT id, runner_pid, runner_host, runner_started FROM pipeline_runs WHERE status IN ('Running', 'NotStarted')`,
    ).all() as Row[];
    const abandoned = candidates.filter(
      (row) =>
        row.runner_host === host &&
        recordedProcessState(row.runner_pid as number | null, row.runner_started as string | null) === 'gone',
    );
    for (const row of abandoned) {
      const groups = this.#sql(
        `SELECT p.step_run_id, p.process_group, p.started FROM step_processes p
           JOIN step_runs s ON s.id = p.step_run_id WHERE s.run_id = ? AND p.host = ?`,
      ).all(row.id, host) as Row[];
      for (const group of groups) {
        stopProcessGroup(group.process_group as number, (group.started as string | null) ?? null);
      }
      // and those it started but had no time to record, found by the variable every step process carries
      const unfinished = this.#sql(
        `SELECT id FROM step_runs WHERE run_id = ? AND status IN ('NotStarted', 'Queued', 'Running')`,
      ).all(row.id) as Row[];
      stopMarkedProcesses(new Set(unfinished.map((step) => step.id as string)));
      this.transaction(() => {
        const stamp = now();
        for (const table of ['step_processes', 'leases']) {
          this.#sql(
            `DELETE FROM ${table} WHERE step_run_id IN (SELECT id FROM step_runs WHERE run_id = ?)`,
          ).run(row.id);
        }
        this.#sql(
          `UPDATE step_runs SET status = 'Canceled', ended_at = ?, error = 'the runner process ended before the step finished'
             WHERE run_id = ? AND status IN ('NotStarted', 'Queued', 'Running')`,
        ).run(stamp, row.id);
        this.#sql(
          `UPDATE pipeline_runs SET status = 'Failed', ended_at = ?, error = ? WHERE id = ? AND status IN ('Running', 'NotStarted')`,
        ).run(stamp, 'the runner process ended before the run finished', row.id);
      });
    }
    return abandoned.map((row) => row.id as string);
  }

  // -- stat cache ---------------------------------------------------------------------------------------

  statCache(): StatCache {
    const get = this.#sql('SELECT size, mtime_ns, ino, hash FROM stat_cache WHERE path = ?');
    const range = this.#sql(
      'SELECT path, size, mtime_ns, ino, hash FROM stat_cache WHERE path >= ? AND path < ?',
    );
    const put = this.#sql(
      'INSERT OR REPLACE INTO stat_cache (path, size, mtime_ns, ino, hash) VALUES (?, ?, ?, ?, ?)',
    );
    const toEntry = (row: Row): StatCacheEntry => ({
      size: row.size as number,
      mtimeNs: row.mtime_ns as string,
      ino: row.ino as string,
      hash: row.hash as string,
    });
    const pending = new Map<string, StatCacheEntry>();
    // Entries of the tree being hashed, read with one range query instead of one query per file.
    let preloaded: { root: string; entries: Map<string, StatCacheEntry> } | undefined;
    return {
      preload: (root) => {
        const entries = new Map<string, StatCacheEntry>();
        const exact = get.get(root) as Row | undefined;
        if (exact) entries.set(root, toEntry(exact));
        // every path below root/ sorts between "root/" and "root0" ('0' follows '/')
        for (const row of range.all(`${root}/`, `${root}0`) as Row[])
          entries.set(row.path as string, toEntry(row));
        preloaded = { root, entries };
      },
      get: (path) => {
        if (preloaded && (path === preloaded.root || path.startsWith(`${preloaded.root}/`))) {
          return preloaded.entries.get(path);
        }
        const row = get.get(path) as Row | undefined;
        return row ? toEntry(row) : undefined;
      },
      set: (path, entry) => {
        pending.set(path, entry);
      },
      flush: () => {
        preloaded = undefined;
        if (pending.size === 0) return;
        this.transaction(() => {
          for (const [path, entry] of pending)
            put.run(path, entry.size, entry.mtimeNs, entry.ino, entry.hash);
        });
        pending.clear();
      },
    };
  }
}

/** Is the lease's holder gone (see RunStore.claimLease)? */
function isLeaseStale(holder: LeaseHolder): boolean {
  const expired = Date.now() - Date.parse(holder.heartbeatAt) > LEASE_TTL_MS;
  if (holder.host !== hostname()) return expired;
  const state = recordedProcessState(holder.pid, holder.started);
  return state === 'gone' || (state === 'unverified' && expired);
}

function busyTimeoutFromEnvironment(): number {
  const text = process.env.SLUICE_BUSY_TIMEOUT_MS;
  if (text === undefined || text === '') return DEFAULT_BUSY_TIMEOUT_MS;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new SluiceError(
      'OPTION_INVALID',
      `SLUICE_BUSY_TIMEOUT_MS must be a whole number of milliseconds (got ${JSON.stringify(text)}); unset it to wait ${DEFAULT_BUSY_TIMEOUT_MS} ms.`,
      { details: { variable: 'SLUICE_BUSY_TIMEOUT_MS' } },
    );
  }
  return value;
}

/** SQLite result codes (better-sqlite3 `error.code`) that mean the store cannot be used right now or here. */
const UNUSABLE = /^SQLITE_(READONLY|FULL|IOERR|CORRUPT|NOTADB|CANTOPEN|PERM|AUTH|NOLFS)/;

/** An SQLite error as a coded error: a lock held too long, a full disk, a damaged or unreadable file. */
function storeError(error: unknown, file: string, busyTimeoutMs: number): unknown {
  if (isSluiceError(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error;
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return new SluiceError(
      'RUN_STORE_BUSY',
      `The run store ${file} is locked by another process and stayed locked for ${busyTimeoutMs} ms. Try again when the other sluice process (a run, gc or server on this workspace) has finished its write; if this keeps happening, look for a process that holds the store open and is stuck.`,
      { cause: error, details: { file, busyTimeoutMs, sqlite: code } },
    );
  }
  if (UNUSABLE.test(code)) {
    return new SluiceError(
      'RUN_STORE_ERROR',
      `The run store ${file} cannot be used: ${(error as Error).message} (${code}). Check the disk space and that the file and its folder are readable and writable.`,
      { cause: error, details: { file, sqlite: code } },
    );
  }
  return error;
}

/**
 * Run a store write, retrying while another process holds the lock (RUN_STORE_BUSY), with backoff, for up
 * to `limitMs` (default 10 minutes). `onWait` is called before each wait. Other errors are thrown at once.
 */
export async function retryWhileBusy<T>(
  write: () => T | Promise<T>,
  options: { limitMs?: number; onWait?: (waitedMs: number, error: SluiceError) => void } = {},
): Promise<T> {
  const limit = options.limitMs ?? 10 * 60_000;
  const started = Date.now();
  let delay = 100;
  for (;;) {
    try {
      return await write();
    } catch (error) {
      const waited = Date.now() - started;
      if (!isSluiceError(error, 'RUN_STORE_BUSY') || waited >= limit) throw error;
      options.onWait?.(waited, error);
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, limit - waited)));
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
