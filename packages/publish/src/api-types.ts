/**
 * The answers of the REST API's read routes (the studio's and any script's view of a workspace), as types the
 * server and its clients share. The Azure ML-compatible routes keep Azure's PascalCase shapes (see wire.ts);
 * these routes, Sluice's own, use camelCase. Times are ISO 8601 strings.
 */

/** A run's status; `Queued` while a submission waits for a worker of the server. */
export type ApiRunStatus = 'Queued' | 'NotStarted' | 'Running' | 'Finished' | 'Failed' | 'Canceled';
export type ApiStepStatus =
  'NotStarted' | 'Queued' | 'Running' | 'Finished' | 'Failed' | 'Canceled' | 'Skipped' | 'Reused';

/** How many of a run's steps are in each state. */
export interface StepCounts {
  total: number;
  ran: number;
  reused: number;
  failed: number;
  running: number;
}

/** A row of the runs list: `GET /runs`. */
export interface RunSummary {
  id: string;
  experiment: string;
  pipelineName: string;
  status: ApiRunStatus;
  /** How the run was started: 'SDK', 'CLI', 'REST', 'Schedule', … */
  runSource: string;
  /** Who or what submitted it (a token's subject, a schedule's name), when known. */
  submittedBy: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  tags: Record<string, string>;
  steps: StepCounts;
  error: string | null;
}

/** `GET /runs?experiment=&status=&pipeline=&tag=key:value&source=&limit=&before=`: newest first. */
export interface RunList {
  runs: RunSummary[];
  /** Pass as `before` for the next page; absent on the last page. */
  next?: string;
}

/** A step (or a data node) of a run's graph. */
export interface GraphNode {
  /** The step's name, or `data:<name>` for a data node. */
  id: string;
  type: 'step' | 'data';
  /** What a person reads: the step's display name, or the data's name. */
  label: string;
  /** Step nodes: the step kind (`python-script`, …). */
  kind?: string;
  status?: ApiStepStatus;
  /** A reused step: the step run and run it came from. */
  reusedFrom?: { stepRunId: string; runId: string } | null;
  startedAt?: string | null;
  endedAt?: string | null;
  error?: string | null;
  /** Data nodes: where the data is (`datastore:path`), when known. */
  location?: string | null;
}

export interface GraphEdge {
  source: string;
  target: string;
}

export interface GitRecord {
  repository: string;
  branch: string | null;
  commit: string | null;
  dirty: boolean;
}

/** `GET /runs/{id}/detail`: everything the run page shows but logs. */
export interface RunDetail extends RunSummary {
  description: string;
  parameters: Record<string, unknown>;
  options: Record<string, unknown>;
  /** The git state of the steps' source folders, by folder. */
  git: Record<string, GitRecord | null>;
  graph: { nodes: GraphNode[]; edges: GraphEdge[] };
  /** The published pipeline and endpoint version it ran, for REST and scheduled runs. */
  published: { pipelineId: string; endpoint: string | null; version: string | null } | null;
}

export interface MetricValue {
  name: string;
  value: unknown;
  loggedAt: string;
}

export interface OutputDetail {
  name: string;
  datastore: string;
  path: string;
  type: 'file' | 'directory';
  bytes: number;
  files: number;
  digest: string;
  deletedAt: string | null;
  /** A fixed destination the output was published to, and whether it still holds this output. */
  destination: { datastore: string; path: string; current: boolean } | null;
}

/** Why a step ran or was reused, in words. */
export interface ExplanationDetail {
  step: string;
  stepRunId: string;
  status: ApiStepStatus;
  decision: 'REUSED' | 'RAN' | 'NOT RUN';
  reusedFrom?: { stepRunId: string; runId: string };
  comparedWith?: { stepRunId: string; runId: string };
  reasons: string[];
}

/** `GET /runs/{id}/steps/{step}`. */
export interface StepDetail {
  runId: string;
  stepRunId: string;
  name: string;
  kind: string;
  status: ApiStepStatus;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  exitCode: number | null;
  error: string | null;
  computeTarget: { name: string; provider: string } | null;
  /** The environment's definition; secret variables by name, never by value. */
  environment: Record<string, unknown> | null;
  outputs: OutputDetail[];
  /** Every value logged, in order (a metric logged more than once is a series). */
  metrics: MetricValue[];
  explanation: ExplanationDetail;
  /** Bytes in each log, for reading them in ranges. */
  logs: { stdout: number; stderr: number; sluice: number };
}

/** `GET /experiments`. */
export interface ExperimentSummary {
  name: string;
  runs: number;
  lastRunAt: string | null;
}

/** `GET /experiments/{name}/metrics?name=`: a metric across the experiment's runs, oldest first. */
export interface MetricPoint {
  runId: string;
  createdAt: string;
  step: string;
  value: unknown;
}

export interface DatasetVersionSummary {
  name: string;
  version: number;
  kind: string;
  bytes: number;
  digest: string;
  description: string;
  tags: Record<string, string>;
  sourceStepRun: string | null;
  createdAt: string;
}

/** `GET /datasets/{name}/versions/{version}/profile` (tabular datasets). */
export interface DatasetProfile {
  rows: number;
  columns: Array<{
    column: string;
    type: 'string' | 'number' | 'integer' | 'boolean';
    count: number;
    missing: number;
    distinct: number;
    min: number | null;
    max: number | null;
    mean: number | null;
    std: number | null;
  }>;
}

/** `GET /schedules`. */
export interface ScheduleSummary {
  name: string;
  target: { pipelineId: string } | { endpoint: string; version: string | null };
  experimentName: string;
  /** In words: "every 2 hours", "when files change under data/ on workspaceblobstore". */
  trigger: string;
  status: 'Active' | 'Disabled';
  nextFireAt: string | null;
  lastFiredAt: string | null;
}

/** `GET /compute`. */
export interface ComputeSummary {
  name: string;
  provider: string;
  /** The options as configured (secrets are never in them: they are referenced by name). */
  options: Record<string, unknown>;
}

/** `GET /datastores`. */
export interface DatastoreSummary {
  name: string;
  provider: string;
  isDefault: boolean;
  description: Record<string, unknown>;
}

/** `GET /whoami`. */
export interface WhoAmI {
  subject: string;
  scope: 'read' | 'submit';
  /** How the caller signed in. */
  via: 'token' | 'session';
}

/** The events of `GET /events` (server-sent; the `event:` field is the `type`). */
export type StudioEvent =
  | { type: 'run'; run: RunSummary }
  | { type: 'step'; runId: string; step: string; status: ApiStepStatus; reusedFrom?: string | null }
  | { type: 'log'; runId: string; step: string; stream: 'stdout' | 'stderr' | 'sluice'; size: number };
