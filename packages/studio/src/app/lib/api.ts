/**
 * The one client of the REST API the studio uses: every read and write goes through it. Paths are relative
 * (`runs`, not `/runs`), so the studio works wherever the server mounts it. Session cookies go along; changes
 * carry `X-Sluice-Studio: 1`, which the server asks of cookie-authenticated writes.
 */
import type {
  ComputeSummary,
  DatasetProfile,
  DatasetVersionSummary,
  DatastoreSummary,
  ExperimentSummary,
  ExplanationDetail,
  MetricPoint,
  MetricValue,
  RunDetail,
  RunList,
  ScheduleSummary,
  StepDetail,
  WhoAmI,
} from '@sluice/publish';
import { runsPath, type RunFilters } from './filters.js';

/** A coded answer of the API (or a failure to reach it), as the studio shows it: code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The error of a response that is not OK: its coded body when it has one. */
export async function errorOf(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || 'The server answered with an error.';
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not a coded body: keep the status
  }
  return new ApiError(response.status, code, message);
}

async function send(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { credentials: 'same-origin', ...init });
  } catch (error) {
    throw new ApiError(0, 'NETWORK_ERROR', `The server cannot be reached (${(error as Error).message}).`);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

async function get<T>(path: string): Promise<T> {
  return (await (await send(path, { headers: { accept: 'application/json' } })).json()) as T;
}

async function post<T>(path: string, body?: unknown): Promise<T> {
  const response = await send(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sluice-studio': '1', accept: 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const part = encodeURIComponent;
const stepPath = (runId: string, step: string) => `runs/${part(runId)}/steps/${part(step)}`;

export type LogStream = 'stdout' | 'stderr' | 'sluice';

/** A published pipeline as `GET /pipelines` answers (Azure's shape). */
export interface PublishedPipelineEntity {
  Id: string;
  Name: string;
  Description: string;
  Version: string | null;
  Status: 'Active' | 'Disabled';
  CreatedAt: string;
  Url: string;
  Parameters: Array<{ Name: string; Type: 'string' | 'number' | 'boolean'; DefaultValue: unknown }>;
}

/** A pipeline endpoint as `GET /endpoints` answers. */
export interface EndpointEntity {
  Id: string;
  Name: string;
  Description: string;
  Status: 'Active' | 'Disabled';
  DefaultVersion: string;
  CreatedAt: string;
  Url: string;
  Versions: Array<{ Version: string; PipelineId: string; IsDefault: boolean }>;
}

/** The run entity of submissions and `GET /pipelines/{id}/runs` (Azure's shape). */
export interface RunEntity {
  Id: string;
  Status: { StatusDetail: string; CreationTime: string; EndTime: string | null };
  RunHistoryExperimentName: string;
}

export interface Submission {
  ExperimentName: string;
  ParameterAssignments: Record<string, unknown>;
}

export const api = {
  whoami: () => get<WhoAmI>('whoami'),
  login: (token: string) => post<unknown>('login', { token }),
  logout: () => post<unknown>('logout'),

  runs: (filters: RunFilters, page: { limit?: number; before?: string } = {}) =>
    get<RunList>(runsPath(filters, page)),
  run: (id: string) => get<RunDetail>(`runs/${part(id)}/detail`),
  explain: (id: string) => get<ExplanationDetail[]>(`runs/${part(id)}/explain`),
  runMetrics: (id: string) => get<Array<MetricValue & { step: string }>>(`runs/${part(id)}/metrics`),
  cancelRun: (id: string) => post<unknown>(`runs/${part(id)}/cancel`),
  step: (runId: string, step: string) => get<StepDetail>(stepPath(runId, step)),
  logUrl: (runId: string, step: string, stream: LogStream) => `${stepPath(runId, step)}/logs/${stream}`,
  /** A byte range of a log, and the log's whole size then. */
  async logRange(
    runId: string,
    step: string,
    stream: LogStream,
    range: { offset: number; length: number },
  ): Promise<{ bytes: Uint8Array; size: number }> {
    const response = await send(
      `${api.logUrl(runId, step, stream)}?offset=${range.offset}&length=${range.length}`,
    );
    const bytes = new Uint8Array(await response.arrayBuffer());
    const size = Number(response.headers.get('x-log-size'));
    return { bytes, size: Number.isFinite(size) ? size : range.offset + bytes.length };
  },
  outputFilesUrl: (runId: string, step: string, output: string) =>
    `${stepPath(runId, step)}/outputs/${part(output)}/files`,
  outputFiles: (runId: string, step: string, output: string) =>
    get<{ files: Array<{ path: string; bytes: number }> }>(api.outputFilesUrl(runId, step, output)),

  experiments: () => get<ExperimentSummary[]>('experiments'),
  metricNames: (experiment: string) => get<{ names: string[] }>(`experiments/${part(experiment)}/metrics`),
  metricPoints: (experiment: string, name: string) =>
    get<MetricPoint[]>(`experiments/${part(experiment)}/metrics?name=${part(name)}`),

  datasets: () => get<DatasetVersionSummary[]>('datasets'),
  datasetProfile: (name: string, version: number) =>
    get<DatasetProfile>(`datasets/${part(name)}/versions/${version}/profile`),
  schedules: () => get<ScheduleSummary[]>('schedules'),
  compute: () => get<ComputeSummary[]>('compute'),
  datastores: () => get<DatastoreSummary[]>('datastores'),

  pipelines: () => get<PublishedPipelineEntity[]>('pipelines'),
  pipelineRuns: (id: string) => get<RunEntity[]>(`pipelines/${part(id)}/runs`),
  endpoints: () => get<EndpointEntity[]>('endpoints'),
  submitPipeline: (id: string, submission: Submission) =>
    post<RunEntity>(`pipelines/${part(id)}`, submission),
  submitEndpoint: (name: string, version: string | null, submission: Submission) =>
    post<RunEntity>(`endpoints/${part(name)}${version ? `?version=${part(version)}` : ''}`, submission),
  setPipelineEnabled: (id: string, enabled: boolean) =>
    post<unknown>(`pipelines/${part(id)}/${enabled ? 'enable' : 'disable'}`),
  setEndpointEnabled: (name: string, enabled: boolean) =>
    post<unknown>(`endpoints/${part(name)}/${enabled ? 'enable' : 'disable'}`),
};
