import { SluiceError } from '@sluice/core';
import type { ErrorCode } from './codes.js';
import type { RunEntity } from './wire.js';

export type { RunStatusDetail, RunStatusObject, StepDetails } from './wire.js';

/** A submission's JSON body, with the keys of Azure ML's REST API. */
export interface SubmissionBody {
  ExperimentName: string;
  ParameterAssignments?: Record<string, string | number | boolean>;
  DataPathAssignments?: Record<string, { DataStoreName: string; RelativePath: string }>;
  /** Dataset inputs (by the name steps consume them under) given another registered dataset. */
  DataSetDefinitionValueAssignments?: Record<
    string,
    | { DataSetReference: { Name: string; Version?: string | number } | { Id: string } }
    | { SavedDataSetReference: { Id: string } }
  >;
  RunSource?: string;
  Description?: string;
  Tags?: Record<string, string>;
  ContinueRunOnStepFailure?: boolean;
  /** @deprecated Sluice's earlier spelling of ContinueRunOnStepFailure, still accepted. */
  ContinueOnStepFailure?: boolean;
}

/** A run as the submission answers it and `GET /runs/{id}` shows it. */
export interface RunDetails extends RunEntity {
  [key: string]: unknown;
}

/** The answer to an accepted submission: the run, before a worker starts it. */
export type SubmittedRun = RunDetails;

export interface PipelineSummary {
  Id: string;
  Name: string;
  Description: string;
  Version: string | null;
  Status: 'Active' | 'Disabled';
  Url: string;
  Parameters: Array<{ Name: string; Type: string; DefaultValue: string | number | boolean }>;
  DataPaths: Array<{ Name: string; DataStoreName: string; RelativePath: string }>;
  [key: string]: unknown;
}

export interface EndpointSummary {
  Name: string;
  Description: string;
  Status: 'Active' | 'Disabled' | 'Archived';
  DefaultVersion: string;
  Url: string;
  Versions: Array<{ Version: string; PipelineId: string; IsDefault: boolean }>;
  [key: string]: unknown;
}

export interface SluiceClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:4321`. */
  baseUrl: string;
  /** A bearer token (`slc_…`). */
  token: string;
  /** The fetch to use (default: the global one); a request handler can be passed to skip HTTP. */
  fetch?: (request: Request) => Promise<Response>;
}

export interface WaitForRunOptions {
  /** Give up after this long with WAIT_TIMEOUT (default 10 minutes). */
  timeoutMs?: number;
  /** How often to ask (default 500 ms). */
  pollIntervalMs?: number;
}

export interface SluiceClient {
  submitPipeline(id: string, body: SubmissionBody): Promise<SubmittedRun>;
  submitEndpoint(name: string, body: SubmissionBody, options?: { version?: string }): Promise<SubmittedRun>;
  getRun(id: string): Promise<RunDetails>;
  /** Poll until the run ends; a run resumed under a new id is followed to the end of that one. */
  waitForRun(id: string, options?: WaitForRunOptions): Promise<RunDetails>;
  listPipelines(): Promise<PipelineSummary[]>;
  listEndpoints(): Promise<EndpointSummary[]>;
}

const TERMINAL = ['Finished', 'Failed', 'Canceled'];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A client of a Sluice REST server; failures arrive as coded SluiceErrors (the server's codes). */
export function createSluiceClient(options: SluiceClientOptions): SluiceClient {
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  const doFetch = options.fetch ?? ((request: Request) => fetch(request));

  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const request = new Request(new URL(path.replace(/^\//, ''), base), {
      method,
      headers: {
        authorization: `Bearer ${options.token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    let response: Response;
    try {
      response = await doFetch(request);
    } catch (error) {
      throw new SluiceError(
        'SERVICE_UNAVAILABLE',
        `Cannot reach the Sluice server at ${base}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) throw errorFrom(response.status, parsed, text);
    return parsed as T;
  };

  const getRun = (id: string): Promise<RunDetails> => call('GET', `runs/${encodeURIComponent(id)}`);

  return {
    submitPipeline: (id, body) => call('POST', `pipelines/${encodeURIComponent(id)}`, body),
    submitEndpoint: (name, body, { version } = {}) =>
      call(
        'POST',
        version === undefined
          ? `endpoints/${encodeURIComponent(name)}`
          : `endpoints/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`,
        body,
      ),
    getRun,
    async waitForRun(id, { timeoutMs = 600_000, pollIntervalMs = 500 } = {}) {
      const deadline = Date.now() + timeoutMs;
      let current = id;
      for (;;) {
        const run = await getRun(current);
        if (run.ResumedAs) {
          current = run.ResumedAs;
          continue;
        }
        const status = run.Status.StatusDetail;
        if (TERMINAL.includes(status)) return run;
        if (Date.now() >= deadline) {
          throw new SluiceError('WAIT_TIMEOUT', `Run ${current} is still ${status} after ${timeoutMs} ms.`, {
            details: { run: current, status },
          });
        }
        await sleep(Math.min(pollIntervalMs, Math.max(0, deadline - Date.now())));
      }
    },
    listPipelines: () => call('GET', 'pipelines'),
    listEndpoints: () => call('GET', 'endpoints'),
  };
}

function errorFrom(status: number, parsed: unknown, text: string): SluiceError {
  const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    return new SluiceError(error.code as ErrorCode, error.message, {
      details: { ...(error.details as Record<string, unknown> | undefined), status },
    });
  }
  return new SluiceError(
    status >= 500 ? 'INTERNAL_ERROR' : 'REQUEST_INVALID',
    `The server answered ${status}: ${text.slice(0, 200)}`,
    {
      details: { status },
    },
  );
}
