/**
 * The answers of the read routes (see api-types.ts), built from the workspace's run store and config. Each
 * function takes what a route parsed and answers one type, or throws a coded error (unknown ids: 404).
 */
import { SluiceError, type Pipeline, type PipelineGraphJson } from '@sluice/core';
import {
  Dataset,
  PipelineRun,
  type PipelineRunRecord,
  type StepRunRecord,
  type StepStatus,
  type Workspace,
} from '@sluice/runtime';
import type {
  ComputeSummary,
  DatasetProfile,
  DatasetVersionSummary,
  DatastoreSummary,
  ExperimentSummary,
  ExplanationDetail,
  GitRecord,
  GraphEdge,
  GraphNode,
  MetricPoint,
  MetricValue,
  OutputDetail,
  RunDetail,
  RunSummary,
  ScheduleSummary,
  StepCounts,
  StepDetail,
} from './api-types.js';
import { Schedule } from './schedules/index.js';
import type { Recurrence } from './schedules/recurrence.js';
import type { DatastoreWatch } from './schedules/store.js';
import { withDatasets } from './dataset-assignments.js';
import { PublishedPipeline } from './published-pipeline.js';
import { publishStore, type QueueRecord } from './store.js';
import { buildPipeline } from './submission.js';

/** The run of an id (exactly; no prefixes): RUN_NOT_FOUND otherwise. */
export function getRunRecord(ws: Workspace, id: string): PipelineRunRecord {
  const record = ws.store.getRun(id);
  if (!record) {
    throw new SluiceError('RUN_NOT_FOUND', `No run "${id}" in this workspace; list runs with GET /runs.`, {
      details: { run: id },
    });
  }
  return record;
}

/** Whether an id is a submission the queue accepted whose run does not exist yet (queued, or failed to start). */
export function isWaiting(ws: Workspace, id: string): boolean {
  const entry = publishStore(ws).getQueued(id);
  return (
    entry !== undefined && ['queued', 'starting', 'failed'].includes(entry.status) && !ws.store.getRun(id)
  );
}

/** A step run of a run by the step's name: STEP_RUN_NOT_FOUND naming the steps otherwise. */
export function getStepRecord(ws: Workspace, runId: string, step: string): StepRunRecord {
  const steps = ws.store.getStepRuns(getRunRecord(ws, runId).id);
  const record = steps.find((candidate) => candidate.stepName === step);
  if (!record) {
    throw new SluiceError(
      'STEP_RUN_NOT_FOUND',
      `Run ${runId} has no step "${step}"; its steps: ${steps.map((entry) => entry.stepName).join(', ') || '(none)'}.`,
      { details: { run: runId, step } },
    );
  }
  return record;
}

function stepCounts(counts: Partial<Record<StepStatus, number>>): StepCounts {
  const of = (status: StepStatus): number => counts[status] ?? 0;
  return {
    total: Object.values(counts).reduce((sum, n) => sum + (n ?? 0), 0),
    ran: of('Finished'),
    reused: of('Reused'),
    failed: of('Failed'),
    running: of('Running'),
  };
}

/** The list rows of runs, their step counts read in one query. */
export function runSummaries(ws: Workspace, records: readonly PipelineRunRecord[]): RunSummary[] {
  const counts = ws.store.stepStatusCounts(records.map((record) => record.id));
  return records.map((record) => ({
    id: record.id,
    experiment: record.experiment,
    pipelineName: record.pipelineName,
    status: record.status,
    runSource: record.runSource,
    submittedBy: record.submittedBy,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    tags: record.tags,
    steps: stepCounts(counts.get(record.id) ?? {}),
    error: record.error,
  }));
}

export function runSummary(ws: Workspace, record: PipelineRunRecord): RunSummary {
  return runSummaries(ws, [record])[0]!;
}

/** Where a step's output is (`datastore:path`), for the data nodes of the graph. */
function outputLocations(ws: Workspace, steps: readonly StepRunRecord[]): Map<string, string> {
  const locations = new Map<string, string>();
  for (const step of steps) {
    for (const output of ws.store.getOutputs(step.id))
      locations.set(output.name, `${output.datastore}:${output.path}`);
  }
  return locations;
}

/**
 * The run's graph: a node per step and per piece of data (a step's outputs, and inputs read from
 * datastores), edges from producers to data to consumers, and `runAfter` edges from step to step.
 */
export function runGraph(
  ws: Workspace,
  graph: PipelineGraphJson,
  steps: readonly StepRunRecord[],
): RunDetail['graph'] {
  const byName = new Map(steps.map((step) => [step.stepName, step]));
  const locations = outputLocations(ws, steps);
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const data = new Set<string>();
  const dataNode = (name: string): string => {
    const id = `data:${name}`;
    if (!data.has(name)) {
      data.add(name);
      nodes.push({ id, type: 'data', label: name, location: locations.get(name) ?? null });
    }
    return id;
  };
  for (const node of graph.nodes) {
    const step = byName.get(node.name);
    const reused = step?.reusedFrom ? ws.store.getStepRun(step.reusedFrom) : undefined;
    nodes.push({
      id: node.name,
      type: 'step',
      label: node.name,
      kind: node.kind,
      status: step?.status ?? 'NotStarted',
      reusedFrom: step?.reusedFrom ? { stepRunId: step.reusedFrom, runId: reused?.runId ?? '' } : null,
      startedAt: step?.startedAt ?? null,
      endedAt: step?.endedAt ?? null,
      error: step?.error ?? null,
    });
  }
  for (const node of graph.nodes) {
    for (const output of node.outputs) edges.push({ source: node.name, target: dataNode(output) });
    for (const input of node.inputs) edges.push({ source: dataNode(input), target: node.name });
  }
  for (const edge of graph.edges) {
    if (edge.data === undefined) edges.push({ source: edge.from, target: edge.to });
  }
  return { nodes, edges };
}

function gitRecords(steps: readonly StepRunRecord[]): Record<string, GitRecord | null> {
  const git: Record<string, GitRecord | null> = {};
  for (const step of steps) {
    if (!step.git) continue;
    const { repository, branch, commit, dirty } = step.git;
    git[step.git.folder ?? repository] = { repository, branch, commit, dirty };
  }
  return git;
}

/** `GET /runs/{id}/detail`. */
export function runDetail(ws: Workspace, id: string): RunDetail {
  if (isWaiting(ws, id)) return waitingDetail(ws, publishStore(ws).getQueued(id)!);
  const record = getRunRecord(ws, id);
  const steps = ws.store.getStepRuns(record.id);
  const queued = publishStore(ws).getQueued(record.id);
  return {
    ...runSummary(ws, record),
    description: record.description,
    parameters: record.parameters,
    options: record.options,
    git: gitRecords(steps),
    graph: runGraph(ws, (record.graph ?? { nodes: [], edges: [] }) as PipelineGraphJson, steps),
    published: queued
      ? { pipelineId: queued.pipelineId, endpoint: queued.endpoint, version: queued.endpointVersion }
      : null,
  };
}

/** The pipeline a queued submission will run, when it can be built (its plugins are here). */
function waitingPipeline(ws: Workspace, entry: QueueRecord): Pipeline | undefined {
  try {
    const published = withDatasets(
      PublishedPipeline.get(ws, { id: entry.pipelineId }),
      entry.submission.datasetAssignments,
    );
    return buildPipeline(ws, published.spec, entry.submission.dataPathAssignments);
  } catch {
    return undefined;
  }
}

/**
 * A submission whose run does not exist yet: `Queued` while it waits for a worker of the server, `Failed`
 * when it could not start (its error says why).
 */
export function waitingSummary(
  ws: Workspace,
  entry: QueueRecord,
  pipeline = waitingPipeline(ws, entry),
): RunSummary {
  const failed = entry.status === 'failed';
  return {
    id: entry.runId,
    experiment: entry.submission.experimentName,
    pipelineName: pipeline?.name ?? '',
    status: failed ? 'Failed' : 'Queued',
    runSource: entry.submission.runSource,
    submittedBy: entry.acceptedBy,
    createdAt: entry.acceptedAt,
    startedAt: null,
    endedAt: failed ? entry.updatedAt : null,
    tags: entry.submission.tags,
    steps: { total: pipeline?.order.length ?? 0, ran: 0, reused: 0, failed: 0, running: 0 },
    error: failed ? (entry.error?.message ?? null) : null,
  };
}

function waitingDetail(ws: Workspace, entry: QueueRecord): RunDetail {
  const pipeline = waitingPipeline(ws, entry);
  return {
    ...waitingSummary(ws, entry, pipeline),
    description: entry.submission.description ?? pipeline?.description ?? '',
    parameters: entry.submission.parameters,
    options: { regenerateOutputs: false, continueOnStepFailure: entry.submission.continueOnStepFailure },
    git: {},
    graph: runGraph(ws, pipeline ? pipeline.toGraphJson() : { nodes: [], edges: [] }, []),
    published: { pipelineId: entry.pipelineId, endpoint: entry.endpoint, version: entry.endpointVersion },
  };
}

/** Why each step of a run ran or was reused (`GET /runs/{id}/explain`), in the CLI's words. */
export function runExplanations(ws: Workspace, id: string): ExplanationDetail[] {
  if (isWaiting(ws, id)) return [];
  const run = PipelineRun.get(ws, getRunRecord(ws, id).id);
  return run.getSteps().map((step) => step.explain() as ExplanationDetail);
}

/** Every metric the run's steps logged, in step order then logging order. */
export function runMetrics(ws: Workspace, id: string): Array<MetricValue & { step: string }> {
  if (isWaiting(ws, id)) return [];
  return ws.store.getStepRuns(getRunRecord(ws, id).id).flatMap((step) =>
    ws.store.getMetrics(step.reusedFrom ?? step.id).map((metric) => ({
      step: step.stepName,
      name: metric.name,
      value: metric.value,
      loggedAt: metric.loggedAt,
    })),
  );
}

/** The folder of a step's logs: its own, or those of the step run it reused. */
export function logFolder(ws: Workspace, step: StepRunRecord): string | null {
  if (step.logDir) return step.logDir;
  if (step.reusedFrom) return ws.store.getStepRun(step.reusedFrom)?.logDir ?? null;
  return null;
}

function outputDetails(ws: Workspace, step: StepRunRecord): OutputDetail[] {
  return ws.store.getOutputs(step.id).map((output) => {
    const held = output.destination
      ? ws.store.getDestination(output.datastore, output.destination)
      : undefined;
    return {
      name: output.name,
      datastore: output.datastore,
      path: output.path,
      type: output.type,
      bytes: output.bytes,
      files: output.files ? Object.keys(output.files).length : output.type === 'file' ? 1 : 0,
      digest: output.digest,
      deletedAt: output.deletedAt ?? null,
      destination: output.destination
        ? { datastore: output.datastore, path: output.destination, current: held?.digest === output.digest }
        : null,
    };
  });
}

/** `GET /runs/{id}/steps/{step}`; `logSizes` gives the byte size of each log. */
export function stepDetail(
  ws: Workspace,
  runId: string,
  stepName: string,
  logSizes: StepDetail['logs'],
): StepDetail {
  const step = getStepRecord(ws, runId, stepName);
  const compute = step.computeTarget
    ? ws.listComputeTargets().find((target) => target.name === step.computeTarget)
    : undefined;
  const environment = ws.store
    .getFingerprintParts(step.reusedFrom ?? step.id)
    .find((part) => part.name === 'environment')?.value as Record<string, unknown> | null | undefined;
  return {
    runId: step.runId,
    stepRunId: step.id,
    name: step.stepName,
    kind: step.kind,
    status: step.status,
    createdAt: step.createdAt,
    startedAt: step.startedAt,
    endedAt: step.endedAt,
    exitCode: step.exitCode,
    error: step.error,
    computeTarget: step.computeTarget
      ? { name: step.computeTarget, provider: compute?.provider ?? 'unknown' }
      : null,
    environment: environment ?? null,
    outputs: outputDetails(ws, step),
    metrics: ws.store.getMetrics(step.reusedFrom ?? step.id).map((metric) => ({
      name: metric.name,
      value: metric.value,
      loggedAt: metric.loggedAt,
    })),
    explanation: new PipelineRun(ws, step.runId).findStepRun(step.stepName).explain() as ExplanationDetail,
    logs: logSizes,
  };
}

// -- experiments, datasets, schedules, compute, datastores ---------------------------------------------------

export function experiments(ws: Workspace): ExperimentSummary[] {
  return ws.store
    .listExperiments()
    .map(({ name, runs, lastRunAt }) => ({ name, runs, lastRunAt }))
    .sort((a, b) => (b.lastRunAt ?? '').localeCompare(a.lastRunAt ?? '') || a.name.localeCompare(b.name));
}

function getExperiment(ws: Workspace, name: string): void {
  if (!ws.store.listExperiments().some((experiment) => experiment.name === name)) {
    throw new SluiceError(
      'EXPERIMENT_NOT_FOUND',
      `No experiment "${name}" in this workspace; list them with GET /experiments.`,
      { details: { experiment: name } },
    );
  }
}

export function experimentMetricNames(ws: Workspace, name: string): { names: string[] } {
  getExperiment(ws, name);
  return { names: ws.store.experimentMetricNames(name) };
}

export function experimentMetric(ws: Workspace, name: string, metric: string): MetricPoint[] {
  getExperiment(ws, name);
  return ws.store.experimentMetric(name, metric);
}

export function datasets(ws: Workspace): DatasetVersionSummary[] {
  return ws.store
    .listDatasets()
    .sort((a, b) => a.name.localeCompare(b.name) || b.version - a.version)
    .map((record) => ({
      name: record.name,
      version: record.version,
      kind: record.kind,
      bytes: record.bytes,
      digest: record.digest,
      description: record.description,
      tags: record.tags,
      sourceStepRun: record.sourceStepRun,
      createdAt: record.createdAt,
    }));
}

/** Summary statistics of a registered tabular dataset version. */
export async function datasetProfile(ws: Workspace, name: string, version: number): Promise<DatasetProfile> {
  const record = ws.store.getDataset(name, version);
  if (!record) {
    throw new SluiceError(
      'DATASET_VERSION_NOT_FOUND',
      `No dataset "${name}" version ${version} is registered; list them with GET /datasets.`,
      { details: { name, version } },
    );
  }
  if (record.kind !== 'tabular') {
    throw new SluiceError(
      'REQUEST_INVALID',
      `Dataset "${name}" version ${version} is a ${record.kind} dataset; only tabular datasets have a profile.`,
      { details: { name, version, kind: record.kind } },
    );
  }
  const columns = await Dataset.Tabular.get(ws, name, version).summary(ws);
  return {
    // every row has a cell in each column, given or empty
    rows: columns[0] ? columns[0].count + columns[0].missing : 0,
    columns: columns.map(({ column, type, count, missing, distinct, min, max, mean, std }) => ({
      column,
      type,
      count,
      missing,
      distinct,
      min,
      max,
      mean,
      std,
    })),
  };
}

const plural = (n: number, unit: string): string => (n === 1 ? unit : `${n} ${unit}s`);

/** A schedule's trigger in words: "every 2 hours", "when files change under data/ on workspaceblobstore". */
export function triggerWords(recurrence: Recurrence | null, watch: DatastoreWatch | null): string {
  if (watch) {
    const where = watch.pathOnDatastore ? `under ${watch.pathOnDatastore} ` : '';
    return `when files change ${where}on ${watch.datastore} (looked at every ${plural(watch.pollingInterval, 'minute')})`;
  }
  if (!recurrence) return 'never';
  const unit = recurrence.frequency.toLowerCase();
  let words = `every ${plural(recurrence.interval, unit)}`;
  if (recurrence.weekDays?.length) words += ` on ${recurrence.weekDays.join(', ')}`;
  if (recurrence.hours?.length) {
    const minutes = recurrence.minutes?.length ? recurrence.minutes : [0];
    const times = recurrence.hours.flatMap((hour) =>
      minutes.map((minute) => `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`),
    );
    words += ` at ${times.join(', ')}`;
  } else if (recurrence.minutes?.length) {
    words += ` at minute ${recurrence.minutes.join(', ')}`;
  }
  return `${words} (${recurrence.timeZone})`;
}

export function schedules(ws: Workspace): ScheduleSummary[] {
  return Schedule.list(ws).map((schedule) => {
    const entry = schedule.toJSON();
    return {
      name: entry.name,
      target:
        'pipelineId' in entry.target
          ? { pipelineId: entry.target.pipelineId }
          : { endpoint: entry.target.endpointName, version: entry.target.version ?? null },
      experimentName: entry.experimentName,
      trigger: triggerWords(entry.recurrence, entry.datastoreWatch),
      status: entry.status,
      nextFireAt: entry.nextFireAt,
      lastFiredAt: entry.lastFiredAt,
    };
  });
}

export function computeTargets(ws: Workspace): ComputeSummary[] {
  return Object.entries(ws.config.computeTargets).map(([name, entry]) => ({
    name,
    provider: entry.provider,
    options: { ...entry.options },
  }));
}

export function datastores(ws: Workspace): DatastoreSummary[] {
  return ws.listDatastores().map((name) => {
    const entry = ws.config.datastores[name]!;
    let description: Record<string, unknown>;
    try {
      description = ws.datastore(name).describe();
    } catch {
      // a datastore whose plugin is not installed is still listed, by its configuration
      description = {};
    }
    return { name, provider: entry.provider, isDefault: name === ws.config.defaultDatastore, description };
  });
}
