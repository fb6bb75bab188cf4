import { setTimeout as delay } from 'node:timers/promises';
import type { TokenCredential } from '@azure/identity';
import { SluiceError } from '@sluice/core';
import {
  WORKSPACE_RESOURCE_ID,
  entraAuth,
  isTokenCredential,
  staticTokenAuth,
  type DatabricksAuth,
} from './auth.js';
import { AUTH_FAILED_CODE, REQUEST_FAILED_CODE } from './errors.js';
import { STEP_DATABRICKS_VERSION } from './version.js';

// ---------------------------------------------------------------------------------------------------------
// The parts of the Jobs API 2.1 and DBFS API 2.0 that Sluice uses (field names as the API spells them).

/** A library installed on the run's cluster. */
export type DatabricksLibrary =
  | { jar: string }
  | { egg: string }
  | { whl: string }
  | { pypi: { package: string; repo?: string } }
  | { maven: { coordinates: string; repo?: string; exclusions?: string[] } }
  | { cran: { package: string; repo?: string } };

/** A cluster created for the run and removed after it. */
export interface NewCluster {
  spark_version: string;
  node_type_id: string;
  num_workers?: number;
  autoscale?: { min_workers: number; max_workers: number };
}

/** One task of a one-time run: where it runs and which code. */
export interface SubmitTask {
  task_key: string;
  new_cluster?: NewCluster;
  existing_cluster_id?: string;
  notebook_task?: { notebook_path: string; base_parameters?: Record<string, string> };
  spark_python_task?: { python_file: string; parameters?: string[] };
  spark_jar_task?: { main_class_name: string; parameters?: string[] };
  libraries?: DatabricksLibrary[];
  timeout_seconds?: number;
}

/** The body of `POST /api/2.1/jobs/runs/submit`. */
export interface RunSubmitRequest {
  run_name?: string;
  tasks: SubmitTask[];
  timeout_seconds?: number;
  /** At most 64 characters; a second submit with the same token returns the first run instead of a new one. */
  idempotency_token?: string;
}

export type LifeCycleState =
  | 'QUEUED'
  | 'PENDING'
  | 'RUNNING'
  | 'TERMINATING'
  | 'TERMINATED'
  | 'SKIPPED'
  | 'INTERNAL_ERROR'
  | 'BLOCKED'
  | 'WAITING_FOR_RETRY';

/** The run's state in `RunInfo.status` (the successor of `RunState.life_cycle_state`). */
export type RunLifecycleStateV2 =
  'BLOCKED' | 'PENDING' | 'QUEUED' | 'RUNNING' | 'TERMINATING' | 'TERMINATED' | 'WAITING';

/** Why a run ended: `code` (SUCCESS, USER_CANCELED, CANCELED, RUN_EXECUTION_ERROR, …), `type`, `message`. */
export interface TerminationDetails {
  code?: string;
  /** SUCCESS, CLIENT_ERROR, INTERNAL_ERROR or CLOUD_FAILURE. */
  type?: string;
  message?: string;
}

/** The run's status; `RunState` is deprecated in its favour. */
export interface RunStatus {
  state?: RunLifecycleStateV2;
  /** Set once the run is TERMINATING or TERMINATED. */
  termination_details?: TerminationDetails;
  queue_details?: { code?: string; message?: string };
}

/** Deprecated by Databricks in favour of `RunStatus`; read when a workspace sends no `status`. */
export interface RunState {
  life_cycle_state: LifeCycleState;
  /** Set once the run has ended: SUCCESS, FAILED, TIMEDOUT, CANCELED, … */
  result_state?: string;
  state_message?: string;
  user_cancelled_or_timedout?: boolean;
}

/** What `GET /api/2.1/jobs/runs/get` returns (the fields Sluice reads). */
export interface RunInfo {
  run_id: number;
  run_name?: string;
  /** Deprecated: read only when `status` is absent. */
  state?: RunState;
  status?: RunStatus;
  run_page_url?: string;
  tasks?: Array<{ run_id: number; task_key: string; state?: RunState; status?: RunStatus }>;
}

/** What `GET /api/2.1/jobs/runs/get-output` returns for one task run. */
export interface RunOutput {
  notebook_output?: { result?: string; truncated?: boolean };
  /** The standard output of a Python or JAR task. */
  logs?: string;
  logs_truncated?: boolean;
  error?: string;
  error_trace?: string;
}

// ---------------------------------------------------------------------------------------------------------

export interface DatabricksClientOptions {
  /** `https://adb-<id>.<n>.azuredatabricks.net` (no path). */
  workspaceUrl: string;
  /** A Databricks personal access token (or any bearer token the workspace accepts). */
  token?: string;
  /**
   * Instead of `token`: a Microsoft Entra ID credential (`@azure/identity`'s `TokenCredential`, e.g.
   * `DefaultAzureCredential`, `ClientSecretCredential`). Tokens for the AzureDatabricks resource are asked for
   * as needed and renewed before they expire.
   */
  credential?: TokenCredential;
  /** Where `credential` comes from, in words, for error messages. Default: its class name. */
  credentialSource?: string;
  /**
   * With `credential`: the workspace's Azure resource id
   * (`/subscriptions/…/resourceGroups/…/providers/Microsoft.Databricks/workspaces/…`). Each request then also
   * carries the service principal's management token, so an identity with Contributor or Owner on the
   * workspace is let in without being a workspace user.
   */
  workspaceResourceId?: string;
  /** Attempts per request when Databricks answers 429 or a transient 5xx, or the network fails (default 6). */
  maxAttempts?: number;
  /** The first wait between attempts in milliseconds (default 1000); it doubles each time, up to 30 s. */
  retryDelayMs?: number;
  /** Give up on one attempt after this many milliseconds (default 60000). */
  requestTimeoutMs?: number;
  /** Said in an authentication error: how to give the compute a working token. Never the token itself. */
  credentialHint?: string;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** What to check when the workspace refuses a Microsoft Entra ID token. */
export const ENTRA_HINT =
  'Add the identity to the workspace as a user or service principal, or give workspaceResourceId (/subscriptions/…/resourceGroups/…/providers/Microsoft.Databricks/workspaces/…) with an identity that has the Contributor or Owner role on the workspace, so that its Azure management token is sent too.';

/** Answers worth another attempt: rate limiting and the service being briefly unavailable. */
const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
/** Network failures where the request never reached the service (safe to repeat any request). */
const NOT_SENT = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
/** Network failures worth another attempt for requests that may be repeated. */
const TRANSIENT_NETWORK = new Set([
  ...NOT_SENT,
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const MAX_DELAY_MS = 30_000;
/** The longest `Retry-After` honoured. */
const MAX_RETRY_AFTER_MS = 300_000;

/**
 * The base64 of a block this size stays under the DBFS API's 1 MB limit for `put` contents and `add-block`
 * data (a multiple of 3, so the blocks' base64 needs no padding but the last).
 */
export const DBFS_BLOCK_BYTES = 720_000;

interface Call {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number>;
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** May the request be sent twice? Non-idempotent requests are only repeated when they cannot have arrived. */
  idempotent: boolean;
}

/**
 * A small client for the Databricks Jobs API 2.1 and DBFS API 2.0 over `fetch`: bearer authentication,
 * retries with exponential backoff on 429 (honouring `Retry-After`), transient 5xx and network errors,
 * an `AbortSignal` on every call, and coded errors. The token is kept private and never put in a message.
 */
export class DatabricksClient {
  readonly workspaceUrl: string;
  readonly #auth: DatabricksAuth;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #requestTimeoutMs: number;
  readonly #credentialHint: string;

  constructor(options: DatabricksClientOptions) {
    this.workspaceUrl = normaliseWorkspaceUrl(options.workspaceUrl);
    this.#auth = authOf(options);
    this.#maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 6));
    this.#retryDelayMs = Math.max(0, options.retryDelayMs ?? 1000);
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.#credentialHint =
      options.credentialHint ??
      (options.credential === undefined
        ? 'Create a personal access token in the Databricks workspace (Settings → Developer → Access tokens) and give it to the client.'
        : ENTRA_HINT);
  }

  // -- Jobs API 2.1 ------------------------------------------------------------------------------------------

  /**
   * Start a one-time run. With an `idempotency_token` the call is repeated on transient failures (the
   * service returns the same run for the same token); without one it is only repeated when it cannot have
   * arrived.
   */
  submitRun(request: RunSubmitRequest, options: RequestOptions = {}): Promise<{ run_id: number }> {
    return this.#call({
      method: 'POST',
      path: '/api/2.1/jobs/runs/submit',
      body: request,
      signal: options.signal,
      idempotent: Boolean(request.idempotency_token),
    });
  }

  getRun(runId: number, options: RequestOptions = {}): Promise<RunInfo> {
    return this.#call({
      method: 'GET',
      path: '/api/2.1/jobs/runs/get',
      query: { run_id: runId },
      signal: options.signal,
      idempotent: true,
    });
  }

  /** The output of one task run (for a run submitted with `tasks`, pass the task's `run_id`). */
  getRunOutput(runId: number, options: RequestOptions = {}): Promise<RunOutput> {
    return this.#call({
      method: 'GET',
      path: '/api/2.1/jobs/runs/get-output',
      query: { run_id: runId },
      signal: options.signal,
      idempotent: true,
    });
  }

  async cancelRun(runId: number, options: RequestOptions = {}): Promise<void> {
    await this.#call({
      method: 'POST',
      path: '/api/2.1/jobs/runs/cancel',
      body: { run_id: runId },
      signal: options.signal,
      idempotent: true,
    });
  }

  // -- DBFS API 2.0 ------------------------------------------------------------------------------------------

  /** Create a folder and its parents (absolute DBFS path, e.g. `/sluice/snapshots/…`). */
  async dbfsMkdirs(path: string, options: RequestOptions = {}): Promise<void> {
    await this.#call({
      method: 'POST',
      path: '/api/2.0/dbfs/mkdirs',
      body: { path: dbfsPath(path) },
      signal: options.signal,
      idempotent: true,
    });
  }

  /**
   * Write one file: with `put` when it fits in one request, else as a stream (`create`, `add-block`…,
   * `close`). A stream that fails part-way is started again from the beginning, since a repeated block
   * would be appended twice.
   */
  async dbfsUpload(
    path: string,
    data: Uint8Array,
    options: RequestOptions & { overwrite?: boolean } = {},
  ): Promise<void> {
    const target = dbfsPath(path);
    const overwrite = options.overwrite ?? true;
    const { signal } = options;
    if (data.byteLength <= DBFS_BLOCK_BYTES) {
      await this.#call({
        method: 'POST',
        path: '/api/2.0/dbfs/put',
        body: { path: target, contents: Buffer.from(data).toString('base64'), overwrite },
        signal,
        idempotent: overwrite,
      });
      return;
    }
    for (let attempt = 1; ; attempt += 1) {
      try {
        const { handle } = await this.#call<{ handle: number }>({
          method: 'POST',
          path: '/api/2.0/dbfs/create',
          // a restarted stream replaces what an earlier attempt left
          body: { path: target, overwrite: overwrite || attempt > 1 },
          signal,
          idempotent: false,
        });
        for (let offset = 0; offset < data.byteLength; offset += DBFS_BLOCK_BYTES) {
          const block = Buffer.from(
            data.buffer,
            data.byteOffset + offset,
            Math.min(DBFS_BLOCK_BYTES, data.byteLength - offset),
          );
          await this.#call({
            method: 'POST',
            path: '/api/2.0/dbfs/add-block',
            body: { handle, data: block.toString('base64') },
            signal,
            idempotent: false,
          });
        }
        await this.#call({
          method: 'POST',
          path: '/api/2.0/dbfs/close',
          body: { handle },
          signal,
          idempotent: false,
        });
        return;
      } catch (error) {
        const transient = error instanceof SluiceError && error.details.transient === true;
        if (!transient || attempt >= this.#maxAttempts || signal?.aborted) throw error;
        await this.#wait(this.#backoff(attempt), signal);
      }
    }
  }

  // -- transport ---------------------------------------------------------------------------------------------

  async #call<T>(call: Call): Promise<T> {
    const url = new URL(`${this.workspaceUrl}${call.path}`);
    for (const [key, value] of Object.entries(call.query ?? {})) url.searchParams.set(key, String(value));
    const endpoint = `${call.method} ${call.path}`;
    let renewed = false;
    for (let attempt = 1; ; attempt += 1) {
      if (call.signal?.aborted) throw canceled(endpoint);
      let auth: Record<string, string>;
      try {
        auth = await this.#auth.headers(call.signal);
      } catch (error) {
        if (call.signal?.aborted) throw canceled(endpoint, error);
        throw error;
      }
      const timeout = AbortSignal.timeout(this.#requestTimeoutMs);
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, {
          method: call.method,
          headers: {
            ...auth,
            Accept: 'application/json',
            'User-Agent': `sluice-step-databricks/${STEP_DATABRICKS_VERSION}`,
            ...(call.body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
          signal: call.signal ? AbortSignal.any([call.signal, timeout]) : timeout,
        });
        text = await response.text();
      } catch (error) {
        if (call.signal?.aborted) throw canceled(endpoint, error);
        const code = networkCode(error);
        const timedOut = timeout.aborted;
        const retry =
          (timedOut || TRANSIENT_NETWORK.has(code ?? '')) && (call.idempotent || NOT_SENT.has(code ?? ''));
        if (retry && attempt < this.#maxAttempts) {
          await this.#wait(this.#backoff(attempt), call.signal);
          continue;
        }
        throw unreachable(this.workspaceUrl, endpoint, error, code, timedOut, attempt);
      }
      if (response.ok) return this.#parse<T>(endpoint, text);
      const status = response.status;
      // a refused token may have been revoked or expired early: once per call, ask for new ones and retry
      if ((status === 401 || status === 403) && !renewed && this.#auth.renew()) {
        renewed = true;
        attempt -= 1;
        continue;
      }
      // a 429 was not acted on, so any request may be repeated; a 5xx only one that may run twice
      if (
        TRANSIENT_STATUS.has(status) &&
        (status === 429 || call.idempotent) &&
        attempt < this.#maxAttempts
      ) {
        const after = status === 429 ? retryAfterMs(response.headers.get('retry-after')) : undefined;
        await this.#wait(after ?? this.#backoff(attempt), call.signal);
        continue;
      }
      throw this.#failure(endpoint, status, text, attempt);
    }
  }

  #parse<T>(endpoint: string, text: string): T {
    if (text.trim() === '') return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new SluiceError(
        REQUEST_FAILED_CODE,
        `${this.workspaceUrl} answered ${endpoint} with something that is not JSON; check that workspaceUrl is the Databricks workspace's URL.`,
        { cause: error, details: { endpoint, reason: 'not-json' } },
      );
    }
  }

  #backoff(attempt: number): number {
    const base = Math.min(this.#retryDelayMs * 2 ** (attempt - 1), MAX_DELAY_MS);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  async #wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await delay(ms, undefined, signal ? { signal } : {});
    } catch (error) {
      throw canceled('waiting to retry', error);
    }
  }

  #failure(endpoint: string, status: number, text: string, attempts: number): SluiceError {
    const { errorCode, message } = parseError(text);
    const said = `HTTP ${status}${errorCode ? ` ${errorCode}` : ''}${message ? `: ${message}` : ''}`;
    const details = { endpoint, status, ...(errorCode ? { errorCode } : {}) };
    if (status === 401 || status === 403) {
      return new SluiceError(
        AUTH_FAILED_CODE,
        `Databricks at ${this.workspaceUrl} refused ${this.#auth.what} (${said}). ${this.#credentialHint}`,
        { details: { ...details, reason: 'authentication' } },
      );
    }
    if (TRANSIENT_STATUS.has(status)) {
      return new SluiceError(
        REQUEST_FAILED_CODE,
        status === 429
          ? `Databricks at ${this.workspaceUrl} kept rate-limiting ${endpoint} (${said}) after ${attempts} attempt(s); run fewer Databricks steps at once or try again later.`
          : `Databricks at ${this.workspaceUrl} failed ${endpoint} (${said}) after ${attempts} attempt(s); the service may be unavailable, try again later.`,
        { details: { ...details, reason: status === 429 ? 'rate-limited' : 'unavailable', transient: true } },
      );
    }
    if (status === 404 && (errorCode === undefined || errorCode === 'ENDPOINT_NOT_FOUND')) {
      return new SluiceError(
        REQUEST_FAILED_CODE,
        `${this.workspaceUrl} has no ${endpoint} (${said}); check that workspaceUrl is the Databricks workspace's URL (e.g. https://adb-1234567890123456.7.azuredatabricks.net).`,
        { details: { ...details, reason: 'not-found' } },
      );
    }
    return new SluiceError(
      REQUEST_FAILED_CODE,
      `Databricks rejected ${endpoint} (${said}); fix the request it names and try again.`,
      { details: { ...details, reason: 'rejected' } },
    );
  }
}

/** Exactly one of a token and a credential; a resource id only with a credential, and well formed. */
function authOf(options: DatabricksClientOptions): DatabricksAuth {
  const { token, credential, workspaceResourceId } = options;
  if (credential !== undefined) {
    if (token !== undefined) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        'DatabricksClient takes a token or a credential, not both.',
      );
    }
    if (!isTokenCredential(credential)) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        'DatabricksClient: credential must be a TokenCredential from @azure/identity (an object with getToken), e.g. new DefaultAzureCredential().',
      );
    }
    if (workspaceResourceId !== undefined && !WORKSPACE_RESOURCE_ID.test(workspaceResourceId)) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `DatabricksClient: workspaceResourceId ${JSON.stringify(workspaceResourceId)} is not an Azure Databricks workspace resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Databricks/workspaces/<name>).`,
      );
    }
    return entraAuth(credential, {
      source: options.credentialSource ?? credentialName(credential),
      workspaceResourceId,
    });
  }
  if (workspaceResourceId !== undefined) {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      'DatabricksClient: workspaceResourceId goes with a Microsoft Entra ID credential, not with a personal access token.',
    );
  }
  if (typeof token !== 'string' || token === '') {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      'DatabricksClient needs a non-empty access token, or a credential (a TokenCredential from @azure/identity).',
    );
  }
  return staticTokenAuth(token);
}

/** `a ClientSecretCredential`, from the object's class; never its fields. */
export function credentialName(credential: TokenCredential): string {
  const name = (credential as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? `a ${name}` : 'a TokenCredential';
}

/** `https://host/` → `https://host`; anything that is not an http(s) URL is refused. */
export function normaliseWorkspaceUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      `${JSON.stringify(url)} is not a Databricks workspace URL; give it as https://<workspace host>, e.g. https://adb-1234567890123456.7.azuredatabricks.net.`,
    );
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      `The Databricks workspace URL ${url} must start with https://.`,
    );
  }
  if (parsed.username || parsed.password || parsed.search) {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      'The Databricks workspace URL must not carry credentials or a query; give the token as accessToken.',
    );
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** `dbfs:/a/b` → `/a/b`; a DBFS API path is absolute. */
function dbfsPath(path: string): string {
  const bare = path.startsWith('dbfs:') ? path.slice('dbfs:'.length) : path;
  if (!bare.startsWith('/')) {
    throw new SluiceError(
      'STEP_INVALID',
      `DBFS path ${JSON.stringify(path)} must be absolute (/… or dbfs:/…).`,
    );
  }
  return bare;
}

function parseError(text: string): { errorCode?: string; message?: string } {
  try {
    const body = JSON.parse(text) as { error_code?: unknown; message?: unknown; error?: unknown };
    const errorCode = typeof body.error_code === 'string' ? body.error_code : undefined;
    const message =
      typeof body.message === 'string'
        ? body.message
        : typeof body.error === 'string'
          ? body.error
          : undefined;
    return { ...(errorCode ? { errorCode } : {}), ...(message ? { message } : {}) };
  } catch {
    const plain = text
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 200);
    return plain ? { message: plain } : {};
  }
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

function networkCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  const code = (cause?.code ?? (error as { code?: unknown } | undefined)?.code) as unknown;
  return typeof code === 'string' ? code : undefined;
}

function causeMessage(error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return String((cause as Error | undefined)?.message ?? (error as Error | undefined)?.message ?? error);
}

function canceled(endpoint: string, cause?: unknown): SluiceError {
  return new SluiceError('RUN_CANCELED', `The Databricks request (${endpoint}) was canceled.`, {
    ...(cause === undefined ? {} : { cause }),
    details: { endpoint, reason: 'canceled' },
  });
}

function unreachable(
  workspaceUrl: string,
  endpoint: string,
  error: unknown,
  code: string | undefined,
  timedOut: boolean,
  attempts: number,
): SluiceError {
  const what = timedOut
    ? 'did not answer in time'
    : code === 'ENOTFOUND'
      ? 'has a host name that does not resolve'
      : `could not be reached (${code ?? causeMessage(error)})`;
  return new SluiceError(
    REQUEST_FAILED_CODE,
    `Databricks at ${workspaceUrl} ${what} for ${endpoint} after ${attempts} attempt(s); check workspaceUrl and the network.`,
    {
      cause: error,
      details: {
        endpoint,
        reason: 'unreachable',
        transient: code !== 'ENOTFOUND',
        ...(code ? { networkCode: code } : {}),
      },
    },
  );
}
