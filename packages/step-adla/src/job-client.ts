import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { SluiceError, type SluiceErrorCode } from '@sluice/core';

/** The Data Lake Analytics job API version this client speaks. */
export const ADLA_API_VERSION = '2016-11-01';
/** The public cloud's DNS suffix of job endpoints: `https://<account>.azuredatalakeanalytics.net`. */
export const ADLA_JOB_DNS_SUFFIX = 'azuredatalakeanalytics.net';
/** The Azure AD scope of Data Lake tokens (the resource `https://datalake.azure.net/`). */
export const ADLA_TOKEN_SCOPE = 'https://datalake.azure.net//.default';

// Codes for failures of the service and of its credentials, and for requests it rejects.
const AUTH_FAILED: SluiceErrorCode = 'COMPUTE_AUTH_FAILED';
const UNAVAILABLE: SluiceErrorCode = 'COMPUTE_UNAVAILABLE';
const REJECTED: SluiceErrorCode = 'COMPUTE_REQUEST_FAILED';

export type AdlaJobState =
  | 'Accepted'
  | 'Compiling'
  | 'Ended'
  | 'New'
  | 'Queued'
  | 'Running'
  | 'Scheduling'
  | 'Starting'
  | 'Paused'
  | 'WaitingForCapacity'
  | 'Yielded'
  | 'Finalizing';

export type AdlaJobResult = 'None' | 'Succeeded' | 'Cancelled' | 'Failed';

/** One entry of a job's `errorMessage` list. */
export interface AdlaJobErrorDetails {
  readonly errorId?: string;
  readonly severity?: string;
  readonly source?: string;
  readonly message?: string;
  readonly description?: string;
  readonly details?: string;
  readonly resolution?: string;
  readonly lineNumber?: number;
  readonly startOffset?: number;
  readonly endOffset?: number;
  readonly filePath?: string;
  readonly helpLink?: string;
  readonly innerError?: AdlaJobErrorDetails;
}

/** What the service says about a job (the fields Sluice reads; the service sends more). */
export interface AdlaJobInformation {
  readonly jobId: string;
  readonly name: string;
  readonly type: string;
  readonly state: AdlaJobState;
  readonly result: AdlaJobResult;
  readonly errorMessage?: readonly AdlaJobErrorDetails[];
  readonly degreeOfParallelism?: number;
  readonly priority?: number;
  readonly submitter?: string;
  readonly submitTime?: string;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly properties?: { readonly type: string; readonly script?: string; readonly runtimeVersion?: string };
}

/** A U-SQL job to submit. */
export interface UsqlJobRequest {
  name: string;
  script: string;
  degreeOfParallelism: number;
  priority: number;
  runtimeVersion?: string;
}

export interface AdlaRetryOptions {
  /** Tries per request, the first included (default 6). */
  attempts?: number;
  /** The first back-off in milliseconds, doubled on each retry, with jitter (default 500). */
  baseDelayMs?: number;
  /** The longest back-off, and the longest Retry-After honoured, in milliseconds (default 30 000). */
  maxDelayMs?: number;
}

export interface AdlaJobClientOptions {
  /** The account's job endpoint, e.g. `https://myaccount.azuredatalakeanalytics.net`. */
  endpoint: string;
  /** The account name, for messages. */
  accountName: string;
  /** A bearer token for `https://datalake.azure.net/`. */
  getToken(signal?: AbortSignal): Promise<string>;
  /** Where the token comes from, in words, and what to do when it is refused (never the token). */
  credentialHint?: { source: string; fix: string };
  retry?: AdlaRetryOptions;
}

export interface AdlaRequestOptions {
  signal?: AbortSignal;
}

export interface WaitForJobOptions extends AdlaRequestOptions {
  /** Milliseconds between reads of the job's state. */
  pollIntervalMs: number;
  /** Called with every state the job is seen in, once per change. */
  onState?(state: AdlaJobState, job: AdlaJobInformation): void;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

/**
 * A small client for the Data Lake Analytics job API: create, get, cancel. Every request retries with
 * back-off on 429 (honouring Retry-After), 408, 5xx and network errors; create is safe to retry because the
 * job id is chosen by the caller and a 409 Conflict for it means the job already exists.
 */
export class AdlaJobClient {
  readonly endpoint: string;
  readonly accountName: string;
  readonly #getToken: (signal?: AbortSignal) => Promise<string>;
  readonly #hint: { source: string; fix: string };
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;

  constructor(options: AdlaJobClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.accountName = options.accountName;
    this.#getToken = options.getToken;
    this.#hint = options.credentialHint ?? {
      source: 'the configured credential',
      fix: 'give the compute target a valid token.',
    };
    this.#attempts = Math.max(1, options.retry?.attempts ?? 6);
    this.#baseDelayMs = Math.max(0, options.retry?.baseDelayMs ?? 500);
    this.#maxDelayMs = Math.max(0, options.retry?.maxDelayMs ?? 30_000);
  }

  /** Submit a U-SQL job under `jobId`; when a job with that id exists already (409), return that job. */
  async createJob(
    jobId: string,
    job: UsqlJobRequest,
    options: AdlaRequestOptions = {},
  ): Promise<AdlaJobInformation> {
    const body = {
      type: 'USql',
      name: job.name,
      degreeOfParallelism: job.degreeOfParallelism,
      priority: job.priority,
      properties: {
        type: 'USql',
        script: job.script,
        ...(job.runtimeVersion === undefined ? {} : { runtimeVersion: job.runtimeVersion }),
      },
    };
    const response = await this.#send('PUT', jobId, '', body, options.signal, [409]);
    if (response.status === 409) return this.getJob(jobId, options);
    return (await response.json()) as AdlaJobInformation;
  }

  async getJob(jobId: string, options: AdlaRequestOptions = {}): Promise<AdlaJobInformation> {
    const response = await this.#send('GET', jobId, '', undefined, options.signal);
    return (await response.json()) as AdlaJobInformation;
  }

  /** Ask the service to cancel the job; a job it does not know (404) counts as canceled. */
  async cancelJob(jobId: string, options: AdlaRequestOptions = {}): Promise<void> {
    const response = await this.#send('POST', jobId, '/CancelJob', undefined, options.signal, [404]);
    await response.body?.cancel();
  }

  /** Read the job's state until it has ended; returns the ended job (see its `result`). */
  async waitForJob(jobId: string, options: WaitForJobOptions): Promise<AdlaJobInformation> {
    let last: AdlaJobState | undefined;
    for (;;) {
      const job = await this.getJob(jobId, options);
      if (job.state !== last) {
        last = job.state;
        options.onState?.(job.state, job);
      }
      if (job.state === 'Ended') return job;
      await delay(options.pollIntervalMs, undefined, options.signal ? { signal: options.signal } : {});
    }
  }

  async #send(
    method: 'GET' | 'PUT' | 'POST',
    jobId: string,
    action: string,
    body: unknown,
    signal: AbortSignal | undefined,
    accepted: readonly number[] = [],
  ): Promise<Response> {
    const url = `${this.endpoint}/Jobs/${encodeURIComponent(jobId)}${action}?api-version=${ADLA_API_VERSION}`;
    const what = `${method} ${action ? action.slice(1) : 'job'} ${jobId}`;
    for (let attempt = 1; ; attempt += 1) {
      signal?.throwIfAborted();
      const token = await this.#getToken(signal);
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            'x-ms-client-request-id': randomUUID(),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (attempt >= this.#attempts) throw this.#unreachable(error, what, attempt);
        await delay(this.#backoff(attempt), undefined, signal ? { signal } : {});
        continue;
      }
      if (response.ok || accepted.includes(response.status)) return response;
      if (RETRYABLE.has(response.status) && attempt < this.#attempts) {
        const wait =
          retryAfterMs(response.headers.get('retry-after'), this.#maxDelayMs) ?? this.#backoff(attempt);
        await response.body?.cancel();
        await delay(wait, undefined, signal ? { signal } : {});
        continue;
      }
      throw await this.#failure(response, what, jobId, attempt);
    }
  }

  #backoff(attempt: number): number {
    const exponential = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (attempt - 1));
    return Math.round(exponential * (0.5 + Math.random() / 2));
  }

  #unreachable(error: unknown, what: string, attempts: number): SluiceError {
    const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
    return new SluiceError(
      UNAVAILABLE,
      `Could not reach the Data Lake Analytics account "${this.accountName}" at ${this.endpoint} (${what}: ${reason}, ${attempts} attempts). Check the network and the account name (or jobEndpoint) of the compute target.`,
      { cause: error, details: { account: this.accountName, endpoint: this.endpoint } },
    );
  }

  async #failure(response: Response, what: string, jobId: string, attempts: number): Promise<SluiceError> {
    const { status } = response;
    const service = await serviceMessage(response);
    const said = service ? `: ${service}` : '';
    const details = { account: this.accountName, status, jobId };
    const account = `Data Lake Analytics account "${this.accountName}"`;
    if (status === 401) {
      return new SluiceError(
        AUTH_FAILED,
        `The ${account} refused the token from ${this.#hint.source} (401 Unauthorized${said}): it is missing, expired or not issued for https://datalake.azure.net/. ${this.#hint.fix}`,
        { details },
      );
    }
    if (status === 403) {
      return new SluiceError(
        AUTH_FAILED,
        `The ${account} denied ${what} to the identity behind ${this.#hint.source} (403 Forbidden${said}). Give that identity the "Data Lake Analytics Developer" role on the account (and access to the data the script reads and writes).`,
        { details },
      );
    }
    if (status === 400) {
      return new SluiceError(
        REJECTED,
        `The ${account} rejected ${what} (400 Bad Request${said}). Fix the script or the step's degreeOfParallelism, priority or runtimeVersion as the message says.`,
        { details },
      );
    }
    if (status === 404) {
      return new SluiceError(
        REJECTED,
        `The ${account} has no job ${jobId} (404 Not Found${said}). Check the compute target's accountName and jobEndpoint; a job submitted elsewhere cannot be read here.`,
        { details },
      );
    }
    if (RETRYABLE.has(status)) {
      return new SluiceError(
        UNAVAILABLE,
        `The ${account} kept answering ${status} ${response.statusText} to ${what} (${attempts} attempts${said}). The service is busy or failing; submit the pipeline again later.`,
        { details },
      );
    }
    return new SluiceError(
      REJECTED,
      `The ${account} answered ${status} ${response.statusText} to ${what}${said}.`,
      { details },
    );
  }
}

/** The service's own words from an error response: `{ error: { code, message } }` or plain text. */
async function serviceMessage(response: Response): Promise<string> {
  const text = (await response.text().catch(() => '')).trim();
  if (!text) return '';
  try {
    const body = JSON.parse(text) as {
      error?: { code?: unknown; message?: unknown };
      code?: unknown;
      message?: unknown;
    };
    const message = body.error?.message ?? body.message;
    const code = body.error?.code ?? body.code;
    if (typeof message === 'string') return typeof code === 'string' ? `${message} (${code})` : message;
  } catch {
    // not JSON: the text itself
  }
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** Retry-After as seconds or an HTTP date, in milliseconds, capped; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, capMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - Date.now();
  }
  return Math.min(capMs, Math.max(0, Math.round(ms)));
}

// A fixed namespace for name-based (version 5) job ids: the same step run always gets the same job id.
const JOB_ID_NAMESPACE = Buffer.from('3b1f7c52c1d44a4e9a0f5de1b0a7c6e1', 'hex');

/** The job id of a step run: a version-5 UUID of the step run id, so a retried submission finds its job. */
export function adlaJobId(stepRunId: string): string {
  const hash = createHash('sha1').update(JOB_ID_NAMESPACE).update(stepRunId, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
