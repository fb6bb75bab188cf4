import { hostname } from 'node:os';
import type { PipelineSpec } from '@sluice/core';
import type { Workspace } from '@sluice/runtime';

export type PublishedPipelineStatus = 'Active' | 'Disabled';
export type EndpointStatus = 'Active' | 'Disabled' | 'Archived';
export type TokenScope = 'read' | 'submit';

export interface PublishedPipelineRecord {
  id: string;
  name: string;
  description: string;
  version: string | null;
  spec: PipelineSpec;
  status: PublishedPipelineStatus;
  createdAt: string;
  /** The run it was published from (`publishRun`), or null for `publishPipeline`. */
  sourceRunId: string | null;
}

export interface EndpointRecord {
  name: string;
  description: string;
  defaultVersion: string;
  status: EndpointStatus;
  createdAt: string;
}

export interface EndpointVersionRecord {
  endpoint: string;
  version: string;
  pipelineId: string;
  createdAt: string;
}

export interface TokenRecord {
  id: string;
  scope: TokenScope;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** A registered dataset version given to a dataset input of a published pipeline for one run. */
export interface DatasetAssignment {
  /** The registered dataset's name. */
  name: string;
  /** Its version; a submission without one is given the latest version when accepted. */
  version?: number;
}

/** What a queued submission asks for, as accepted. */
export interface QueuedSubmission {
  experimentName: string;
  parameters: Record<string, unknown>;
  dataPathAssignments: Record<string, { datastore: string; path: string }>;
  /** Dataset inputs (by the name steps consume them under) given another registered dataset, each with its version. */
  datasetAssignments?: Record<string, DatasetAssignment>;
  runSource: string;
  description?: string;
  tags: Record<string, string>;
  continueOnStepFailure: boolean;
}

/**
 * queued: accepted, not started · starting: a worker is submitting it · submitted: its run exists ·
 * done: its run ended · failed: it could not be started (no run exists) · resumed: its run was interrupted
 * (its server was killed or shut down) and a new queue entry (`resumedAs`) took it over.
 */
export type QueueStatus = 'queued' | 'starting' | 'submitted' | 'done' | 'failed' | 'resumed';

export interface QueueRecord {
  runId: string;
  pipelineId: string;
  endpoint: string | null;
  endpointVersion: string | null;
  submission: QueuedSubmission;
  status: QueueStatus;
  acceptedAt: string;
  acceptedBy: string | null;
  /** When the entry last changed (for a failed entry: when it failed). */
  updatedAt: string;
  ownerPid: number | null;
  ownerHost: string | null;
  /** Why the entry did not complete: why it could not start (failed), or why its run stopped (resumed). */
  error: { code: string; message: string } | null;
  resumedFrom: string | null;
  resumedAs: string | null;
}

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE publish_pipelines (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      version TEXT,
      spec TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at TEXT NOT NULL,
      source_run_id TEXT
    );
    CREATE INDEX publish_pipelines_name ON publish_pipelines(name, created_at);
    CREATE TABLE publish_endpoints (
      name TEXT PRIMARY KEY,
      description TEXT NOT NULL DEFAULT '',
      default_version TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE publish_endpoint_versions (
      endpoint TEXT NOT NULL REFERENCES publish_endpoints(name),
      version TEXT NOT NULL,
      pipeline_id TEXT NOT NULL REFERENCES publish_pipelines(id),
      created_at TEXT NOT NULL,
      PRIMARY KEY (endpoint, version)
    );
    CREATE TABLE publish_tokens (
      id TEXT PRIMARY KEY,
      secret_sha256 TEXT NOT NULL,
      scope TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      created_at TEXT NOT NULL,
      expires_at TEXT,
      revoked_at TEXT
    );
    CREATE TABLE publish_queue (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      run_id TEXT NOT NULL UNIQUE,
      pipeline_id TEXT NOT NULL REFERENCES publish_pipelines(id),
      endpoint TEXT,
      endpoint_version TEXT,
      submission TEXT NOT NULL,
      status TEXT NOT NULL,
      accepted_at TEXT NOT NULL,
      accepted_by TEXT,
      owner_pid INTEGER,
      owner_host TEXT,
      updated_at TEXT NOT NULL,
      error TEXT,
      resumed_from TEXT,
      resumed_as TEXT
    );
    CREATE INDEX publish_queue_status ON publish_queue(status, accepted_at, seq);
  `,
};

type Row = Record<string, unknown>;
const now = (): string => new Date().toISOString();

function toPipeline(row: Row): PublishedPipelineRecord {
  return {
    id: row.id as string,
    name: row.name as string,
    description: row.description as string,
    version: (row.version as string | null) ?? null,
    spec: JSON.parse(row.spec as string) as PipelineSpec,
    status: row.status as PublishedPipelineStatus,
    createdAt: row.created_at as string,
    sourceRunId: (row.source_run_id as string | null) ?? null,
  };
}

function toEndpoint(row: Row): EndpointRecord {
  return {
    name: row.name as string,
    description: row.description as string,
    defaultVersion: row.default_version as string,
    status: row.status as EndpointStatus,
    createdAt: row.created_at as string,
  };
}

function toVersion(row: Row): EndpointVersionRecord {
  return {
    endpoint: row.endpoint as string,
    version: row.version as string,
    pipelineId: row.pipeline_id as string,
    createdAt: row.created_at as string,
  };
}

function toToken(row: Row): TokenRecord {
  return {
    id: row.id as string,
    scope: row.scope as TokenScope,
    description: row.description as string,
    createdAt: row.created_at as string,
    expiresAt: (row.expires_at as string | null) ?? null,
    revokedAt: (row.revoked_at as string | null) ?? null,
  };
}

function toQueue(row: Row): QueueRecord {
  return {
    runId: row.run_id as string,
    pipelineId: row.pipeline_id as string,
    endpoint: (row.endpoint as string | null) ?? null,
    endpointVersion: (row.endpoint_version as string | null) ?? null,
    submission: JSON.parse(row.submission as string) as QueuedSubmission,
    status: row.status as QueueStatus,
    acceptedAt: row.accepted_at as string,
    acceptedBy: (row.accepted_by as string | null) ?? null,
    updatedAt: row.updated_at as string,
    ownerPid: (row.owner_pid as number | null) ?? null,
    ownerHost: (row.owner_host as string | null) ?? null,
    error: row.error ? (JSON.parse(row.error as string) as { code: string; message: string }) : null,
    resumedFrom: (row.resumed_from as string | null) ?? null,
    resumedAs: (row.resumed_as as string | null) ?? null,
  };
}

/** This package's tables in the workspace's run store (namespace `publish`). */
export class PublishStore {
  readonly #ws: Workspace;

  constructor(ws: Workspace) {
    this.#ws = ws;
    ws.store.extend('publish', MIGRATIONS);
  }

  #all(sql: string, ...values: unknown[]): Row[] {
    return this.#ws.store.prepare(sql).all(...values) as Row[];
  }
  #get(sql: string, ...values: unknown[]): Row | undefined {
    return this.#ws.store.prepare(sql).get(...values) as Row | undefined;
  }
  #run(sql: string, ...values: unknown[]): number {
    return this.#ws.store.prepare(sql).run(...values).changes;
  }

  transaction<T>(fn: () => T): T {
    return this.#ws.store.transaction(fn);
  }

  // -- published pipelines -------------------------------------------------------------------------------

  insertPipeline(record: Omit<PublishedPipelineRecord, 'createdAt'>): PublishedPipelineRecord {
    const createdAt = now();
    this.#run(
      `INSERT INTO publish_pipelines (id, name, description, version, spec, status, created_at, source_run_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      record.id,
      record.name,
      record.description,
      record.version,
      JSON.stringify(record.spec),
      record.status,
      createdAt,
      record.sourceRunId,
    );
    return { ...record, createdAt };
  }

  getPipeline(id: string): PublishedPipelineRecord | undefined {
    const row = this.#get('SELECT * FROM publish_pipelines WHERE id = ?', id);
    return row ? toPipeline(row) : undefined;
  }

  /** The newest pipeline published under a name (of a version, when given). */
  findPipelineByName(name: string, version?: string): PublishedPipelineRecord | undefined {
    const row =
      version === undefined
        ? this.#get(
            'SELECT * FROM publish_pipelines WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1',
            name,
          )
        : this.#get(
            'SELECT * FROM publish_pipelines WHERE name = ? AND version = ? ORDER BY created_at DESC, rowid DESC LIMIT 1',
            name,
            version,
          );
    return row ? toPipeline(row) : undefined;
  }

  listPipelines(): PublishedPipelineRecord[] {
    return this.#all('SELECT * FROM publish_pipelines ORDER BY created_at, rowid').map(toPipeline);
  }

  setPipelineStatus(id: string, status: PublishedPipelineStatus): void {
    this.#run('UPDATE publish_pipelines SET status = ? WHERE id = ?', status, id);
  }

  // -- endpoints -------------------------------------------------------------------------------------------

  insertEndpoint(record: Omit<EndpointRecord, 'createdAt'>, pipelineId: string): boolean {
    return this.transaction(() => {
      if (this.#get('SELECT name FROM publish_endpoints WHERE name = ?', record.name)) return false;
      const createdAt = now();
      this.#run(
        'INSERT INTO publish_endpoints (name, description, default_version, status, created_at) VALUES (?, ?, ?, ?, ?)',
        record.name,
        record.description,
        record.defaultVersion,
        record.status,
        createdAt,
      );
      this.#run(
        'INSERT INTO publish_endpoint_versions (endpoint, version, pipeline_id, created_at) VALUES (?, ?, ?, ?)',
        record.name,
        record.defaultVersion,
        pipelineId,
        createdAt,
      );
      return true;
    });
  }

  getEndpoint(name: string): EndpointRecord | undefined {
    const row = this.#get('SELECT * FROM publish_endpoints WHERE name = ?', name);
    return row ? toEndpoint(row) : undefined;
  }

  listEndpoints(): EndpointRecord[] {
    return this.#all('SELECT * FROM publish_endpoints ORDER BY created_at, rowid').map(toEndpoint);
  }

  setEndpointStatus(name: string, status: EndpointStatus): void {
    this.#run('UPDATE publish_endpoints SET status = ? WHERE name = ?', status, name);
  }

  setDefaultVersion(name: string, version: string): boolean {
    return this.transaction(() => {
      if (!this.getEndpointVersion(name, version)) return false;
      this.#run('UPDATE publish_endpoints SET default_version = ? WHERE name = ?', version, name);
      return true;
    });
  }

  listEndpointVersions(name: string): EndpointVersionRecord[] {
    return this.#all(
      'SELECT * FROM publish_endpoint_versions WHERE endpoint = ? ORDER BY CAST(version AS INTEGER)',
      name,
    ).map(toVersion);
  }

  getEndpointVersion(name: string, version: string): EndpointVersionRecord | undefined {
    const row = this.#get(
      'SELECT * FROM publish_endpoint_versions WHERE endpoint = ? AND version = ?',
      name,
      version,
    );
    return row ? toVersion(row) : undefined;
  }

  /** Add a pipeline to an endpoint as its next version ("0", "1", …); a pipeline already there keeps its. */
  addEndpointVersion(name: string, pipelineId: string, makeDefault: boolean): string {
    return this.transaction(() => {
      const existing = this.#get(
        'SELECT version FROM publish_endpoint_versions WHERE endpoint = ? AND pipeline_id = ?',
        name,
        pipelineId,
      );
      let version = existing?.version as string | undefined;
      if (version === undefined) {
        const latest = this.#get(
          'SELECT MAX(CAST(version AS INTEGER)) AS latest FROM publish_endpoint_versions WHERE endpoint = ?',
          name,
        ) as { latest: number | null };
        version = String((latest.latest ?? -1) + 1);
        this.#run(
          'INSERT INTO publish_endpoint_versions (endpoint, version, pipeline_id, created_at) VALUES (?, ?, ?, ?)',
          name,
          version,
          pipelineId,
          now(),
        );
      }
      if (makeDefault)
        this.#run('UPDATE publish_endpoints SET default_version = ? WHERE name = ?', version, name);
      return version;
    });
  }

  // -- tokens ----------------------------------------------------------------------------------------------

  insertToken(record: Omit<TokenRecord, 'createdAt' | 'revokedAt'>, secretSha256: string): TokenRecord {
    const createdAt = now();
    this.#run(
      `INSERT INTO publish_tokens (id, secret_sha256, scope, description, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
      record.id,
      secretSha256,
      record.scope,
      record.description,
      createdAt,
      record.expiresAt,
    );
    return { ...record, createdAt, revokedAt: null };
  }

  getToken(id: string): (TokenRecord & { secretSha256: string }) | undefined {
    const row = this.#get('SELECT * FROM publish_tokens WHERE id = ?', id);
    return row ? { ...toToken(row), secretSha256: row.secret_sha256 as string } : undefined;
  }

  listTokens(): TokenRecord[] {
    return this.#all('SELECT * FROM publish_tokens ORDER BY created_at, rowid').map(toToken);
  }

  revokeToken(id: string): boolean {
    return (
      this.#run('UPDATE publish_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?', now(), id) > 0
    );
  }

  // -- the REST queue ----------------------------------------------------------------------------------------

  /** Whether a run id is used by a run or a queue entry. */
  runIdTaken(runId: string): boolean {
    return (
      this.#ws.store.getRun(runId) !== undefined ||
      this.#get('SELECT run_id FROM publish_queue WHERE run_id = ?', runId) !== undefined
    );
  }

  enqueue(entry: {
    runId: string;
    pipelineId: string;
    endpoint: string | null;
    endpointVersion: string | null;
    submission: QueuedSubmission;
    acceptedBy: string | null;
    /** A resumed entry keeps its original acceptance time, and so its place in the queue. */
    acceptedAt?: string;
    resumedFrom?: string;
  }): void {
    const stamp = now();
    this.#run(
      `INSERT INTO publish_queue (run_id, pipeline_id, endpoint, endpoint_version, submission, status, accepted_at,
         accepted_by, updated_at, resumed_from) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)`,
      entry.runId,
      entry.pipelineId,
      entry.endpoint,
      entry.endpointVersion,
      JSON.stringify(entry.submission),
      entry.acceptedAt ?? stamp,
      entry.acceptedBy,
      stamp,
      entry.resumedFrom ?? null,
    );
  }

  getQueued(runId: string): QueueRecord | undefined {
    const row = this.#get('SELECT * FROM publish_queue WHERE run_id = ?', runId);
    return row ? toQueue(row) : undefined;
  }

  /** Every entry accepted for a published pipeline, oldest first. */
  listQueuedFor(pipelineId: string): QueueRecord[] {
    return this.#all('SELECT * FROM publish_queue WHERE pipeline_id = ? ORDER BY seq', pipelineId).map(
      toQueue,
    );
  }

  /** Entries waiting for their run to start (queued, or being started), newest first. */
  listWaiting(): QueueRecord[] {
    return this.#all(
      `SELECT * FROM publish_queue WHERE status IN ('queued', 'starting') ORDER BY accepted_at DESC, seq DESC`,
    ).map(toQueue);
  }

  /** Take the oldest queued entry for this process, or undefined when none waits. */
  claimNext(): QueueRecord | undefined {
    return this.transaction(() => {
      const row = this.#get(
        `SELECT * FROM publish_queue WHERE status = 'queued' ORDER BY accepted_at, seq LIMIT 1`,
      );
      if (!row) return undefined;
      this.#run(
        `UPDATE publish_queue SET status = 'starting', owner_pid = ?, owner_host = ?, updated_at = ? WHERE seq = ?`,
        process.pid,
        hostname(),
        now(),
        row.seq,
      );
      return { ...toQueue(row), status: 'starting', ownerPid: process.pid, ownerHost: hostname() };
    });
  }

  setQueueStatus(
    runId: string,
    status: QueueStatus,
    changes: { error?: { code: string; message: string }; ownerless?: boolean } = {},
  ): void {
    this.#run(
      `UPDATE publish_queue SET status = ?, updated_at = ?, error = COALESCE(?, error),
         owner_pid = CASE WHEN ? THEN NULL ELSE owner_pid END,
         owner_host = CASE WHEN ? THEN NULL ELSE owner_host END
       WHERE run_id = ?`,
      status,
      now(),
      changes.error ? JSON.stringify(changes.error) : null,
      changes.ownerless ? 1 : 0,
      changes.ownerless ? 1 : 0,
      runId,
    );
  }

  /** Entries a worker owns (starting or submitted): candidates for recovery when their owner is gone. */
  ownedEntries(): QueueRecord[] {
    return this.#all(
      `SELECT * FROM publish_queue WHERE status IN ('starting', 'submitted') ORDER BY seq`,
    ).map(toQueue);
  }

  /**
   * Hand an interrupted entry over to a new run id: the old entry becomes `resumed`, records why its run
   * stopped and points at the new one, which is queued with the same submission. False when another
   * process did it first.
   */
  resume(entry: QueueRecord, newRunId: string, stopped: { code: string; message: string }): boolean {
    return this.transaction(() => {
      const changed = this.#run(
        `UPDATE publish_queue SET status = 'resumed', resumed_as = ?, updated_at = ?, error = ?
         WHERE run_id = ? AND status IN ('starting', 'submitted')`,
        newRunId,
        now(),
        JSON.stringify(stopped),
        entry.runId,
      );
      if (changed !== 1) return false;
      this.enqueue({
        runId: newRunId,
        pipelineId: entry.pipelineId,
        endpoint: entry.endpoint,
        endpointVersion: entry.endpointVersion,
        submission: entry.submission,
        acceptedBy: entry.acceptedBy,
        acceptedAt: entry.acceptedAt,
        resumedFrom: entry.runId,
      });
      return true;
    });
  }
}

const stores = new WeakMap<Workspace, PublishStore>();

/** The publish tables of a workspace (created on first use). */
export function publishStore(ws: Workspace): PublishStore {
  let store = stores.get(ws);
  if (!store) {
    store = new PublishStore(ws);
    stores.set(ws, store);
  }
  return store;
}
