/**
 * The JSON of the REST API as Azure ML's pipeline service speaks it: the submission body a client posts to a
 * published pipeline or pipeline endpoint, and the pipeline-run entity it gets back (from the submission and
 * from `GET` of the run alike). Sources: packages/publish/README.md, "The wire".
 */
import { SluiceError } from '@sluice/core';
import type { PipelineRunRecord, Workspace } from '@sluice/runtime';
import { publishStore, type DatasetAssignment, type QueueRecord, type QueuedSubmission } from './store.js';
import { checkExperimentName } from './submission.js';

/** A run's status as Sluice names it; `Queued` until a worker of the server starts it. */
export type RunStatusDetail = 'Queued' | 'NotStarted' | 'Running' | 'Finished' | 'Failed' | 'Canceled';

/**
 * Azure ML's numeric pipeline-run status codes, as the v1 SDK reads them (azureml-pipeline-core,
 * `_AevaPipelineRunProvider.get_status`): 0 NotStarted, 1 Running, 2 Failed, 3 Finished, 4 Canceled.
 */
export const AZURE_STATUS_CODES: Readonly<Record<RunStatusDetail, number>> = {
  Queued: 0,
  NotStarted: 0,
  Running: 1,
  Failed: 2,
  Finished: 3,
  Canceled: 4,
};

/** Azure ML's run status object. */
export interface RunStatusObject {
  /** Azure's numeric code (see AZURE_STATUS_CODES). */
  StatusCode: number;
  /** Sluice's status word, which tells Queued from NotStarted. */
  StatusDetail: RunStatusDetail;
  /** When the submission was accepted (ISO 8601). */
  CreationTime: string;
  /** When the run ended, or null. */
  EndTime: string | null;
}

export interface StepDetails {
  Name: string;
  Status: string;
  ReusedFrom: string | null;
  StartedAt: string | null;
  EndedAt: string | null;
  Error: string | null;
}

/** A pipeline run as the submission answers it and `GET` of the run shows it. */
export interface RunEntity {
  Id: string;
  Status: RunStatusObject;
  /** The experiment (Azure's name for it). */
  RunHistoryExperimentName: string;
  /** The published pipeline that runs (null for a run that was not submitted through this API). */
  PipelineId: string | null;
  /** The pipeline endpoint submitted to: its name, which is how Sluice identifies an endpoint. */
  PipelineEndpointId: string | null;
  RunSource: string;
  Description: string | null;
  Tags: Record<string, string>;
  /** The same tags under the spelling Azure's run entity uses. */
  tags: Record<string, string>;
  /** Azure's run properties; Sluice keeps none, so this is always empty. */
  Properties: Record<string, string>;
  /** The parameter values the run uses: typed, with the defaults of parameters not given. */
  ParameterAssignments: Record<string, unknown>;
  DataPathAssignments: Record<string, { DataStoreName: string; RelativePath: string }>;
  DataSetDefinitionValueAssignments: Record<string, { DataSetReference: { Name: string; Version: string } }>;
  ContinueRunOnStepFailure: boolean;
  TotalRunSteps: number | null;
  /** When the submission was accepted (ISO 8601). */
  CreatedDate: string;
  // Sluice's own fields (every key is always there, null when it does not apply yet)
  ExperimentName: string;
  /** This run's URL on this server (`GET` it for its status). */
  Url: string;
  PipelineName: string | null;
  /** The endpoint's name and version the submission ran, for endpoint submissions. */
  PipelineEndpoint: string | null;
  PipelineVersion: string | null;
  /** When the submission was accepted (null for a run not submitted through this API). */
  AcceptedAt: string | null;
  /** When a worker created, started and ended the run (null until then). */
  CreatedAt: string | null;
  StartedAt: string | null;
  EndedAt: string | null;
  Error: string | null;
  /** The code of why an accepted submission could not start (its run was never created). */
  ErrorCode: string | null;
  Steps: StepDetails[];
  /** The run this one took over from, after that one was interrupted (its server stopped mid-run). */
  ResumedFrom: string | null;
  /** The run that took over after this one was interrupted. */
  ResumedAs: string | null;
}

/** The submission body's keys, as Azure ML's REST API documents them, and Sluice's older spelling. */
export const SUBMISSION_KEYS = [
  'ExperimentName',
  'ParameterAssignments',
  'DataPathAssignments',
  'DataSetDefinitionValueAssignments',
  'RunSource',
  'Description',
  'Tags',
  'ContinueRunOnStepFailure',
  'ContinueOnStepFailure',
] as const;

/** How a `DataSetDefinitionValueAssignments` value may name a dataset. */
const DATASET_VALUE_FORMS = [
  '{"DataSetReference": {"Name": "<registered name>", "Version": "<version>"}} (Version optional: the latest)',
  '{"DataSetReference": {"Id": "<name>:<version>"}}',
  '{"SavedDataSetReference": {"Id": "<name>:<version>"}}',
];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === 'string';

function invalid(field: string, message: string, details: Record<string, unknown> = {}): SluiceError {
  return new SluiceError('REQUEST_INVALID', message, { details: { field, ...details } });
}

/**
 * An object's entries under their canonical key names, matched without regard to case as Azure's service
 * does (`experimentName` is `ExperimentName`). Unknown keys, and a key given twice in two spellings, are
 * refused.
 */
function canonical<K extends string>(
  object: Record<string, unknown>,
  keys: readonly K[],
  where: string,
): Partial<Record<K, unknown>> {
  const out: Partial<Record<K, unknown>> = {};
  const seen = new Map<K, string>();
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(object)) {
    const name = keys.find((candidate) => candidate.toLowerCase() === key.toLowerCase());
    if (name === undefined) {
      unknown.push(key);
      continue;
    }
    if (seen.has(name)) {
      throw invalid(
        `${where}${name}`,
        `${where}${name} is given twice (as ${JSON.stringify(seen.get(name))} and ${JSON.stringify(key)}); give it once.`,
      );
    }
    seen.set(name, key);
    out[name] = value;
  }
  if (unknown.length > 0) {
    throw invalid(
      `${where}${unknown[0]!}`,
      `Unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => JSON.stringify(key)).join(', ')} in ${where ? where.replace(/\.$/, '') : 'the request body'}; the keys are ${keys.join(', ')}.`,
      { known: [...keys] },
    );
  }
  return out;
}

/** Check a submission body's shape and turn it into what the queue keeps (datasets not yet pinned). */
export function parseSubmission(body: unknown): QueuedSubmission {
  if (!isRecord(body)) {
    throw invalid(
      '',
      'The request body must be a JSON object such as {"ExperimentName": "…", "ParameterAssignments": {…}}.',
    );
  }
  const keys = canonical(body, SUBMISSION_KEYS, '');
  const experimentName = checkExperimentName(keys.ExperimentName, 'A submission');
  const optional = <T>(
    key: (typeof SUBMISSION_KEYS)[number],
    check: (value: unknown) => value is T,
    what: string,
  ) => {
    const value = keys[key];
    if (value === undefined || value === null) return undefined;
    if (!check(value)) throw invalid(key, `${key} must be ${what}; got ${JSON.stringify(value)}.`);
    return value;
  };
  const parameters =
    optional('ParameterAssignments', isRecord, 'an object of parameter values by name') ?? {};

  const rawPaths =
    optional('DataPathAssignments', isRecord, 'an object of {DataStoreName, RelativePath} by name') ?? {};
  const dataPathAssignments: QueuedSubmission['dataPathAssignments'] = {};
  for (const [name, value] of Object.entries(rawPaths)) {
    const where = `DataPathAssignments.${name}.`;
    const shape = `DataPathAssignments.${name} must be {"DataStoreName": "…", "RelativePath": "…"}; got ${JSON.stringify(value)}.`;
    if (!isRecord(value)) throw invalid('DataPathAssignments', shape);
    const path = canonical(value, ['DataStoreName', 'RelativePath'] as const, where);
    if (!isString(path.DataStoreName) || path.DataStoreName === '' || !isString(path.RelativePath)) {
      throw invalid('DataPathAssignments', shape);
    }
    dataPathAssignments[name] = { datastore: path.DataStoreName, path: path.RelativePath };
  }

  const rawDatasets =
    optional(
      'DataSetDefinitionValueAssignments',
      isRecord,
      'an object of {"DataSetReference": {…}} or {"SavedDataSetReference": {…}} by dataset input name',
    ) ?? {};
  const datasetAssignments: Record<string, DatasetAssignment> = {};
  for (const [name, value] of Object.entries(rawDatasets))
    datasetAssignments[name] = parseDatasetValue(name, value);

  const isTags = (value: unknown): value is Record<string, string> =>
    isRecord(value) && Object.values(value).every(isString);
  const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
  const runSource = optional('RunSource', isString, 'a string');
  const description = optional('Description', isString, 'a string');
  const tags = optional('Tags', isTags, 'an object of string values') ?? {};
  const continueRun = optional('ContinueRunOnStepFailure', isBoolean, 'true or false');
  const continueAlias = optional('ContinueOnStepFailure', isBoolean, 'true or false');
  if (continueRun !== undefined && continueAlias !== undefined && continueRun !== continueAlias) {
    throw invalid(
      'ContinueRunOnStepFailure',
      `ContinueRunOnStepFailure (${continueRun}) and ContinueOnStepFailure (${continueAlias}) disagree; give ContinueRunOnStepFailure only.`,
    );
  }
  return {
    experimentName,
    parameters,
    dataPathAssignments,
    ...(Object.keys(datasetAssignments).length > 0 ? { datasetAssignments } : {}),
    runSource: runSource || 'REST',
    ...(description === undefined ? {} : { description }),
    tags,
    continueOnStepFailure: continueRun ?? continueAlias ?? false,
  };
}

/** One `DataSetDefinitionValueAssignments` value: a registered dataset by name and version, or by Sluice id. */
function parseDatasetValue(input: string, value: unknown): DatasetAssignment {
  const field = `DataSetDefinitionValueAssignments.${input}`;
  const unsupported = (why: string): SluiceError =>
    invalid(
      field,
      `${field} ${why} Sluice gives a dataset input a registered dataset, named as one of: ${DATASET_VALUE_FORMS.join('; ')}.`,
      { supported: DATASET_VALUE_FORMS },
    );
  if (!isRecord(value)) throw unsupported(`must be an object; got ${JSON.stringify(value)}.`);
  const forms = Object.keys(value);
  const kind = ['DataSetReference', 'SavedDataSetReference'].find((name) =>
    forms.some((key) => key.toLowerCase() === name.toLowerCase()),
  );
  if (forms.length !== 1 || kind === undefined) {
    throw unsupported(
      forms.length === 0
        ? 'names no dataset.'
        : `gives ${forms.map((key) => JSON.stringify(key)).join(', ')}, which Sluice cannot honour.`,
    );
  }
  const reference = value[forms[0]!];
  if (!isRecord(reference))
    throw unsupported(`.${kind} must be an object; got ${JSON.stringify(reference)}.`);
  const keys =
    kind === 'SavedDataSetReference'
      ? canonical(reference, ['Id'] as const, `${field}.${kind}.`)
      : canonical(reference, ['Id', 'Name', 'Version'] as const, `${field}.${kind}.`);
  const byName = 'Name' in keys ? keys.Name : undefined;
  const version = 'Version' in keys ? keys.Version : undefined;
  if (keys.Id !== undefined) {
    if (byName !== undefined || version !== undefined) {
      throw unsupported(`gives both an Id and a Name or Version; give one.`);
    }
    const match = isString(keys.Id) ? /^(.+):([1-9]\d*)$/.exec(keys.Id) : null;
    if (!match) {
      throw unsupported(
        `.${kind}.Id is ${JSON.stringify(keys.Id)}, which is not the id of a dataset registered in Sluice ("<name>:<version>", what dataset.id shows).`,
      );
    }
    return { name: match[1]!, version: Number(match[2]) };
  }
  if (!isString(byName) || byName === '') throw unsupported(`.${kind} needs a Name (or an Id).`);
  if (version === undefined || version === null || version === 'latest') return { name: byName };
  const number =
    typeof version === 'number'
      ? version
      : isString(version) && /^[1-9]\d*$/.test(version)
        ? Number(version)
        : NaN;
  if (!Number.isSafeInteger(number) || number < 1) {
    throw unsupported(
      `.${kind}.Version is ${JSON.stringify(version)}; give a whole number from 1, or "latest".`,
    );
  }
  return { name: byName, version: number };
}

/**
 * A run as the API shows it, whether a worker has started it yet or not: Azure's pipeline-run entity plus
 * Sluice's own fields. The submission answers with this, and `GET` of the run shows the same shape.
 */
export function runEntity(ws: Workspace, id: string, base: URL): RunEntity {
  const store = publishStore(ws);
  const entry = store.getQueued(id);
  const run = ws.store.getRun(id);
  if (!run && !entry) {
    throw new SluiceError('RUN_NOT_FOUND', `No run "${id}" in this workspace.`, { details: { run: id } });
  }
  const published = entry ? store.getPipeline(entry.pipelineId) : undefined;
  const status: RunStatusDetail = run ? run.status : entry!.status === 'failed' ? 'Failed' : 'Queued';
  const creationTime = entry?.acceptedAt ?? run!.createdAt;
  const endTime = run ? run.endedAt : entry!.status === 'failed' ? entry!.updatedAt : null;
  const experiment = run?.experiment ?? entry!.submission.experimentName;
  const tags = { ...(run?.tags ?? entry!.submission.tags) };
  return {
    Id: id,
    Status: {
      StatusCode: AZURE_STATUS_CODES[status],
      StatusDetail: status,
      CreationTime: creationTime,
      EndTime: endTime,
    },
    RunHistoryExperimentName: experiment,
    PipelineId: entry?.pipelineId ?? null,
    PipelineEndpointId: entry?.endpoint ?? null,
    RunSource: run?.runSource ?? entry!.submission.runSource,
    Description: run
      ? run.description
      : (entry!.submission.description ?? published?.spec.description ?? null),
    Tags: tags,
    tags: { ...tags },
    Properties: {},
    ParameterAssignments: run?.parameters ?? entry!.submission.parameters,
    DataPathAssignments: dataPaths(entry),
    DataSetDefinitionValueAssignments: datasets(entry),
    ContinueRunOnStepFailure: continueOnStepFailure(run, entry),
    TotalRunSteps: published ? published.spec.steps.length : run ? ws.store.getStepRuns(run.id).length : null,
    CreatedDate: creationTime,
    ExperimentName: experiment,
    Url: new URL(`/runs/${encodeURIComponent(id)}`, base).href,
    PipelineName: run?.pipelineName ?? published?.spec.name ?? null,
    PipelineEndpoint: entry?.endpoint ?? null,
    PipelineVersion: entry?.endpointVersion ?? null,
    AcceptedAt: entry?.acceptedAt ?? null,
    CreatedAt: run?.createdAt ?? null,
    StartedAt: run?.startedAt ?? null,
    EndedAt: run?.endedAt ?? null,
    Error: run ? run.error : entry!.status === 'failed' ? (entry!.error?.message ?? null) : null,
    ErrorCode: !run && entry!.status === 'failed' ? (entry!.error?.code ?? null) : null,
    Steps: run
      ? ws.store.getStepRuns(run.id).map((step) => ({
          Name: step.stepName,
          Status: step.status,
          ReusedFrom: step.reusedFrom,
          StartedAt: step.startedAt,
          EndedAt: step.endedAt,
          Error: step.error,
        }))
      : [],
    ResumedFrom: entry?.resumedFrom ?? null,
    ResumedAs: entry?.resumedAs ?? null,
  };
}

function dataPaths(entry: QueueRecord | undefined): RunEntity['DataPathAssignments'] {
  return Object.fromEntries(
    Object.entries(entry?.submission.dataPathAssignments ?? {}).map(([name, { datastore, path }]) => [
      name,
      { DataStoreName: datastore, RelativePath: path },
    ]),
  );
}

function datasets(entry: QueueRecord | undefined): RunEntity['DataSetDefinitionValueAssignments'] {
  return Object.fromEntries(
    Object.entries(entry?.submission.datasetAssignments ?? {}).map(([input, { name, version }]) => [
      input,
      { DataSetReference: { Name: name, Version: String(version ?? 'latest') } },
    ]),
  );
}

function continueOnStepFailure(run: PipelineRunRecord | undefined, entry: QueueRecord | undefined): boolean {
  if (entry) return entry.submission.continueOnStepFailure;
  return run?.options.continueOnStepFailure === true;
}

/**
 * The query parameters of a submission's URL, each by its canonical name (matched without regard to case).
 * A parameter the route does not take, one given twice and an empty one are refused: a version or name the
 * caller wrote is never silently dropped.
 */
export function submissionQuery<K extends string>(
  url: URL,
  allowed: readonly K[],
): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const [key, value] of url.searchParams) {
    const name = allowed.find((candidate) => candidate.toLowerCase() === key.toLowerCase());
    if (name === undefined) {
      throw invalid(
        `?${key}`,
        `${url.pathname} takes ${allowed.length ? `the query parameter${allowed.length > 1 ? 's' : ''} ${allowed.join(', ')}` : 'no query parameters'}, not "${key}".`,
        { known: [...allowed] },
      );
    }
    if (out[name] !== undefined)
      throw invalid(`?${name}`, `The query parameter ${name} is given twice; give it once.`);
    if (value === '')
      throw invalid(`?${name}`, `The query parameter ${name} is empty; give a value or leave it out.`);
    out[name] = value;
  }
  return out;
}

/**
 * The endpoint version a submission names, from the path (`/versions/{v}`, `/Id/{id}/{v}`), `?version=` or
 * `?pipelineVersion=`; undefined when it names none (the default version runs). Two that differ are refused.
 */
export function namedVersion(
  given: ReadonlyArray<readonly [where: string, version: string | undefined]>,
): string | undefined {
  const named = given.filter((entry): entry is readonly [string, string] => entry[1] !== undefined);
  const versions = [...new Set(named.map(([, version]) => version))];
  if (versions.length > 1) {
    throw invalid(
      'pipelineVersion',
      `The request names two versions (${named.map(([where, version]) => `${where} ${JSON.stringify(version)}`).join(', ')}); name one.`,
      { versions },
    );
  }
  return versions[0];
}
