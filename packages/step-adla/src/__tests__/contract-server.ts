/**
 * A local HTTP server implementing the documented Data Lake Analytics job API contract (api-version
 * 2016-11-01): PUT /Jobs/{id} creates a U-SQL job (a second PUT for the same id answers 409 Conflict),
 * GET /Jobs/{id} reads it, POST /Jobs/{id}/CancelJob cancels it; every request needs `Authorization: Bearer
 * <token>`. Each GET moves a job one state on: Accepted → Compiling → Queued → Running → Ended.
 *
 * The service itself was retired in 2024, so this stands in for it. It does not run U-SQL: when a job
 * reaches Ended it calls `outcome`, whose default copies each `FROM "file://…"` file of the script to each
 * `TO "file://…"` location — enough to stand in for a U-SQL job that reads its inputs and writes its outputs.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdlaJobErrorDetails, AdlaJobInformation, AdlaJobState } from '../job-client.js';

export type JobOutcome =
  { result: 'Succeeded' | 'Cancelled' } | { result: 'Failed'; errorMessage: AdlaJobErrorDetails[] };

export interface ContractJob {
  info: AdlaJobInformation & { state: AdlaJobState };
  /** The script as submitted. */
  readonly script: string;
  gets: number;
}

/** An answer the server gives instead of the real one. */
export type Fault = { status: number; retryAfter?: string; body?: unknown } | { destroy: true };

interface QueuedFault {
  fault: Fault;
  method: string | undefined;
  /** Handle the request first, then answer with the fault (the client cannot tell it worked). */
  after: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  /** Whether the bearer token was the right one (the token itself is not kept). */
  authorized: boolean;
  at: number;
}

const STATES: readonly AdlaJobState[] = ['Accepted', 'Compiling', 'Queued', 'Running', 'Ended'];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class ContractServer {
  readonly url: string;
  readonly token: string;
  readonly jobs = new Map<string, ContractJob>();
  readonly requests: RecordedRequest[] = [];
  /** What a job does when it runs (called once, as it reaches Ended). Default: `copyJob`. */
  outcome: (job: ContractJob) => JobOutcome | Promise<JobOutcome> = copyJob;
  /** Jobs stop at this state (until canceled) instead of moving on; a function chooses per job. */
  holdAt: AdlaJobState | ((job: ContractJob) => AdlaJobState | undefined) | undefined;
  /** Answer 403 to requests with the right token. */
  forbidden = false;
  readonly #server: Server;
  readonly #faults: QueuedFault[] = [];

  private constructor(server: Server, token: string) {
    this.#server = server;
    this.token = token;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(token = `contract-token-${randomUUID()}`): Promise<ContractServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const instance = new ContractServer(server, token);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      instance.#handle(request, response).catch((error: unknown) => {
        if (!response.headersSent)
          answer(response, 500, { error: { code: 'Internal', message: String(error) } });
      });
    });
    return instance;
  }

  /** Answer the next `times` requests (of `method`, when given) with `fault`. */
  inject(fault: Fault, options: { times?: number; method?: string; after?: boolean } = {}): void {
    for (let i = 0; i < (options.times ?? 1); i += 1) {
      this.#faults.push({ fault, method: options.method, after: options.after ?? false });
    }
  }

  /** Requests of a method (and path pattern). */
  count(method: string, path?: RegExp): number {
    return this.requests.filter((r) => r.method === method && (!path || path.test(r.path))).length;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const authorized = request.headers.authorization === `Bearer ${this.token}`;
    const body = await readBody(request);
    const record = (status: number): void => {
      this.requests.push({ method, path: url.pathname, status, authorized, at: Date.now() });
    };
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}): void => {
      record(status);
      answer(response, status, payload, headers);
    };

    if (url.searchParams.get('api-version') !== '2016-11-01') {
      return send(400, {
        error: { code: 'InvalidApiVersionParameter', message: 'The api-version must be 2016-11-01.' },
      });
    }
    if (!authorized) {
      return send(
        401,
        { error: { code: 'AuthenticationFailed', message: 'The access token is missing or invalid.' } },
        { 'www-authenticate': 'Bearer error="invalid_token"' },
      );
    }
    if (this.forbidden) {
      return send(403, {
        error: { code: 'AuthorizationFailed', message: 'The caller may not perform this action.' },
      });
    }
    const index = this.#faults.findIndex((queued) => !queued.method || queued.method === method);
    const queued = index >= 0 ? this.#faults.splice(index, 1)[0] : undefined;
    const fail = (): void => {
      const fault = queued!.fault;
      if ('destroy' in fault) {
        record(0);
        request.socket.destroy();
        return;
      }
      send(
        fault.status,
        fault.body ?? { error: { code: 'Injected', message: `injected ${fault.status}` } },
        fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter },
      );
    };
    if (queued && !queued.after) return fail();

    const match = /^\/jobs\/([^/]+)(\/canceljob)?$/i.exec(url.pathname);
    if (!match) return send(404, { error: { code: 'NotFound', message: `No route ${url.pathname}.` } });
    const id = match[1]!;
    const cancel = Boolean(match[2]);
    if (!GUID.test(id)) {
      return send(400, { error: { code: 'InvalidJobId', message: `Job id ${id} is not a GUID.` } });
    }

    let status: number;
    let payload: unknown;
    if (method === 'PUT' && !cancel) [status, payload] = this.#create(id, body);
    else if (method === 'GET' && !cancel) [status, payload] = await this.#get(id);
    else if (method === 'POST' && cancel) [status, payload] = this.#cancel(id);
    else
      [status, payload] = [
        405,
        { error: { code: 'MethodNotAllowed', message: `${method} is not allowed.` } },
      ];

    if (queued) return fail();
    send(status, payload);
  }

  #create(id: string, body: string): [number, unknown] {
    let parameters: {
      type?: unknown;
      name?: unknown;
      degreeOfParallelism?: unknown;
      priority?: unknown;
      properties?: { type?: unknown; script?: unknown; runtimeVersion?: unknown };
    };
    try {
      parameters = JSON.parse(body) as typeof parameters;
    } catch {
      return [400, { error: { code: 'InvalidRequestBody', message: 'The body is not JSON.' } }];
    }
    const problems: string[] = [];
    if (parameters.type !== 'USql') problems.push('type must be USql');
    if (typeof parameters.name !== 'string' || parameters.name === '') problems.push('name is required');
    if (parameters.properties?.type !== 'USql') problems.push('properties.type must be USql');
    if (typeof parameters.properties?.script !== 'string' || parameters.properties.script === '') {
      problems.push('properties.script is required');
    }
    for (const field of ['degreeOfParallelism', 'priority'] as const) {
      const value = parameters[field];
      if (value !== undefined && (!Number.isInteger(value) || (value as number) < 1)) {
        problems.push(`${field} must be a positive integer`);
      }
    }
    if (problems.length) {
      return [400, { error: { code: 'InvalidJobParameters', message: problems.join('; ') } }];
    }
    if (this.jobs.has(id)) {
      return [409, { error: { code: 'JobAlreadyExists', message: `A job with id ${id} already exists.` } }];
    }
    const job: ContractJob = {
      script: parameters.properties!.script as string,
      gets: 0,
      info: {
        jobId: id,
        name: parameters.name as string,
        type: 'USql',
        submitter: 'contract-test@example.com',
        degreeOfParallelism: (parameters.degreeOfParallelism as number | undefined) ?? 1,
        priority: (parameters.priority as number | undefined) ?? 1000,
        submitTime: new Date().toISOString(),
        state: 'Accepted',
        result: 'None',
        properties: {
          type: 'USql',
          script: parameters.properties!.script as string,
          runtimeVersion: (parameters.properties!.runtimeVersion as string | undefined) ?? 'default',
        },
      },
    };
    this.jobs.set(id, job);
    return [200, job.info];
  }

  async #get(id: string): Promise<[number, unknown]> {
    const job = this.jobs.get(id);
    if (!job) return [404, { error: { code: 'JobNotFound', message: `No job ${id}.` } }];
    job.gets += 1;
    const { state } = job.info;
    const hold = typeof this.holdAt === 'function' ? this.holdAt(job) : this.holdAt;
    if (state !== 'Ended' && state !== hold) {
      const next = STATES[STATES.indexOf(state) + 1]!;
      if (next === 'Running') job.info = { ...job.info, startTime: new Date().toISOString() };
      if (next === 'Ended') {
        const outcome = await this.outcome(job);
        job.info = {
          ...job.info,
          result: outcome.result,
          endTime: new Date().toISOString(),
          ...(outcome.result === 'Failed' ? { errorMessage: outcome.errorMessage } : {}),
        };
      }
      job.info = { ...job.info, state: next };
    }
    return [200, job.info];
  }

  #cancel(id: string): [number, unknown] {
    const job = this.jobs.get(id);
    if (!job) return [404, { error: { code: 'JobNotFound', message: `No job ${id}.` } }];
    if (job.info.state !== 'Ended') {
      job.info = { ...job.info, state: 'Ended', result: 'Cancelled', endTime: new Date().toISOString() };
    }
    return [200, undefined];
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function answer(
  response: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  if (payload === undefined) {
    response.writeHead(status, headers).end();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(JSON.stringify(payload));
}

/**
 * The default job: copy each `FROM "file://…"` of the script to each `TO "file://…"`. It stands in for a
 * U-SQL job reading its inputs and writing its outputs; locations it cannot reach fail the job the way the
 * service reports errors.
 */
export async function copyJob(job: ContractJob): Promise<JobOutcome> {
  const sources = [...job.script.matchAll(/\bFROM\s+"([^"]+)"/gi)].map((m) => m[1]!);
  const targets = [...job.script.matchAll(/\bTO\s+"([^"]+)"/gi)].map((m) => m[1]!);
  const unreachable = [...sources, ...targets].filter((location) => !location.startsWith('file:'));
  if (unreachable.length) {
    return failed(
      'E_STORE_USER_FILENOTFOUND',
      `The contract server reaches file:// only: ${unreachable.join(', ')}`,
    );
  }
  const chunks: Buffer[] = [];
  for (const source of sources) {
    const file = fileURLToPath(source);
    if (!(await stat(file).catch(() => undefined))?.isFile()) {
      return failed('E_STORE_USER_FILENOTFOUND', `Input stream ${source} was not found.`);
    }
    chunks.push(await readFile(file));
  }
  for (const target of targets) {
    const file = fileURLToPath(target);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, Buffer.concat(chunks));
  }
  return { result: 'Succeeded' };
}

/** A failed outcome with one error, shaped like the service's JobErrorDetails. */
export function failed(
  errorId: string,
  message: string,
  extra: Partial<AdlaJobErrorDetails> = {},
): JobOutcome {
  return {
    result: 'Failed',
    errorMessage: [{ errorId, severity: 'Error', source: 'USER', message, ...extra }],
  };
}
