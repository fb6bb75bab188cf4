/**
 * A local HTTP server implementing the documented contract of the Databricks Jobs API 2.1 (runs/submit,
 * runs/get, runs/get-output, runs/cancel) and DBFS API 2.0 (mkdirs, put, create, add-block, close), for
 * tests. It is not Databricks: it checks requests the way the documentation describes, keeps runs and
 * files in memory, and moves each run through PENDING → RUNNING → TERMINATING → TERMINATED, one state per
 * runs/get call (a run stays RUNNING for at least `runMs`). runs/get answers with the run's `status`
 * (`state`, `termination_details { code, type, message }`) and the deprecated `state` object, either of
 * which can be left out.
 *
 * Authentication: every request needs `Authorization: Bearer <token>`, the personal access token or, with
 * an `EntraServer`, a Microsoft Entra ID token issued for the AzureDatabricks application
 * (2ff814a6-3304-4ab8-85cb-cd0e6f879c1d) that has not expired. An identity that is not among `users` is
 * let in only with the service principal's headers: `X-Databricks-Azure-Workspace-Resource-Id` naming this
 * workspace and `X-Databricks-Azure-SP-Management-Token`, an unexpired token of the same identity for
 * https://management.core.windows.net/, and only when the identity is among `contributors` (Contributor or
 * Owner on the workspace resource). Missing or malformed credentials are 401, refused ones 403.
 *
 * What a run "does" stands in for the notebook, script or JAR: when a run terminates successfully it
 * reads every parameter that is a `file://` URI which exists (the step's inputs) and writes a
 * `part-00000.txt` into every `file://` URI that does not exist yet (the step's outputs), as a notebook
 * writing to the output locations it was given would. Another `job` may reach other addresses (e.g.
 * `wasbs://` on Azurite); a job that throws fails the run with its error, as a failing notebook does. Outcomes other than success are chosen per code
 * path with `outcome()`; faults (429 with Retry-After, 5xx, dropped connections) with `fault()`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EntraServer } from './entra-server.js';

/** The resource Azure Databricks tokens are issued for, and that of Azure management tokens. */
const DATABRICKS_RESOURCE = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';
const MANAGEMENT_RESOURCE = 'https://management.core.windows.net/';

/** What a run does when it runs: succeeds, fails (with an error and a trace), or runs until stopped. */
export type Outcome = 'success' | 'fail' | 'hang';

export interface Task {
  task_key: string;
  new_cluster?: { spark_version: string; node_type_id: string; num_workers?: number; autoscale?: unknown };
  existing_cluster_id?: string;
  notebook_task?: { notebook_path: string; base_parameters?: Record<string, string> };
  spark_python_task?: { python_file: string; parameters?: string[] };
  spark_jar_task?: { main_class_name: string; parameters?: string[] };
  libraries?: unknown[];
}

interface State {
  life_cycle_state: string;
  result_state?: string;
  state_message: string;
}

export interface SimulatedRun {
  readonly runId: number;
  readonly taskRunId: number;
  readonly request: {
    run_name?: string;
    tasks: Task[];
    timeout_seconds?: number;
    idempotency_token?: string;
  };
  readonly startedAt: number;
  readonly outcome: Outcome;
  state: State;
  output: Record<string, unknown>;
  gets: number;
}

/** What a successful run is given, for the code standing in for the notebook, script or JAR. */
export interface JobContext {
  readonly task: Task;
  /** A notebook's base_parameters by name, or a script's or JAR's parameters in order (key ''). */
  readonly parameters: ReadonlyArray<{ key: string; value: string }>;
  /** Local paths of the `file://` parameters that exist (the step's inputs). */
  readonly inputs: readonly string[];
  /** Local paths of the `file://` parameters that do not exist yet (the step's outputs). */
  readonly outputs: readonly string[];
}

export type SimulatedJob = (job: JobContext) => void | Promise<void>;

/** The default job: writes `part-00000.txt` into each output, listing its parameters and the input files it read. */
export const writePartFile: SimulatedJob = ({ parameters, inputs, outputs }) => {
  const lines = [
    ...parameters
      .filter(({ value }) => !value.startsWith('file://'))
      .map(({ key, value }) => `parameter ${key}=${value}`),
    ...inputs.flatMap((input) => listFiles(input).map((file) => `read ${file.name}: ${file.bytes} bytes`)),
  ];
  for (const output of outputs) {
    mkdirSync(output, { recursive: true });
    writeFileSync(path.join(output, 'part-00000.txt'), `${lines.join('\n')}\n`);
  }
};

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown> | undefined;
  authorized: boolean;
  /** The HTTP status of the answer (0 when the connection was dropped). */
  status: number;
  /** Who was let in: `token` (the personal access token) or the Entra identity's client id. */
  identity?: string;
  /** Whether the service principal's headers were sent (their values are not kept). */
  spHeaders: boolean;
}

export interface ContractServerOptions {
  /** The personal access token the workspace accepts. */
  token: string;
  /** What a successful run does (default: `writePartFile`). */
  job?: SimulatedJob;
  /** Where Microsoft Entra ID tokens come from; without it only the personal access token is accepted. */
  entra?: EntraServer;
  /** The workspace's Azure resource id, for the service principal's headers. */
  workspaceResourceId?: string;
  /** Entra client ids that are users of the workspace. */
  users?: readonly string[];
  /** Entra client ids with Contributor or Owner on the workspace resource (let in with the SP headers). */
  contributors?: readonly string[];
  /** A run stays RUNNING at least this long (default 0). */
  runMs?: number;
  /** Answer runs/get with `status` (default true) and with the deprecated `state` (default true). */
  status?: boolean;
  legacyState?: boolean;
}

type Fault =
  | { type: 'status'; status: number; retryAfter?: string; message?: string }
  /** Close the connection without an answer, before or after acting on the request. */
  | { type: 'drop'; afterHandling: boolean };

/** The DBFS API's limit on `put` contents and `add-block` data (base64 text). */
export const DBFS_LIMIT = 1_000_000;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

export class ContractServer {
  readonly url: string;
  readonly token: string;
  readonly runs = new Map<number, SimulatedRun>();
  readonly requests: RecordedRequest[] = [];
  /** DBFS files by absolute path. */
  readonly files = new Map<string, Buffer>();
  readonly folders = new Set<string>(['/']);
  readonly #server: Server;
  readonly #job: SimulatedJob;
  readonly #outcomes = new Map<string, Outcome>();
  readonly #faults: Array<{ path: string; remaining: number; fault: Fault }> = [];
  readonly #options: ContractServerOptions;
  readonly #tokens = new Map<string, number>();
  readonly #handles = new Map<number, { path: string; blocks: Buffer[] }>();
  #nextRunId = 1001;
  #nextHandle = 1;

  private constructor(server: Server, url: string, options: ContractServerOptions) {
    this.#server = server;
    this.#job = options.job ?? writePartFile;
    this.#options = options;
    this.url = url;
    this.token = options.token;
  }

  /** `job` replaces what a successful run does with its inputs and outputs (default: `writePartFile`). */
  static async start(options: ContractServerOptions): Promise<ContractServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const instance = new ContractServer(server, `http://127.0.0.1:${port}`, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void instance.#handle(req, res);
    });
    return instance;
  }

  /** Runs of this notebook path / python file / main class end this way (default: success). */
  outcome(codePath: string, outcome: Outcome): this {
    this.#outcomes.set(codePath, outcome);
    return this;
  }

  /** The next `times` requests to `path` (e.g. `/api/2.1/jobs/runs/submit`) meet this fault. */
  fault(path: string, fault: Fault, times = 1): this {
    this.#faults.push({ path, remaining: times, fault });
    return this;
  }

  /** Cancel a run as a user of the workspace would (its page's Cancel button). */
  cancelInWorkspace(runId: number): void {
    this.#cancel(runId);
  }

  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((request) => request.path === path);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // -- transport -----------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | undefined;
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      authorized: false,
      status: 0,
      spHeaders:
        req.headers['x-databricks-azure-workspace-resource-id'] !== undefined ||
        req.headers['x-databricks-azure-sp-management-token'] !== undefined,
    };
    this.requests.push(recorded);
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      recorded.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    const fault = this.#takeFault(url.pathname);
    if (fault?.type === 'status') {
      send(
        fault.status,
        {
          error_code: fault.status === 429 ? 'REQUEST_LIMIT_EXCEEDED' : 'TEMPORARILY_UNAVAILABLE',
          message:
            fault.message ??
            (fault.status === 429 ? 'Too many requests.' : 'The service is temporarily unavailable.'),
        },
        fault.retryAfter === undefined ? {} : { 'Retry-After': fault.retryAfter },
      );
      return;
    }
    if (fault?.type === 'drop' && !fault.afterHandling) {
      req.socket.destroy();
      return;
    }
    try {
      recorded.identity = this.#authenticate(req);
      recorded.authorized = true;
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          throw new ApiError(400, 'MALFORMED_REQUEST', 'Invalid JSON given in the body of the request.');
        }
      }
      recorded.body = body;
      const payload = await this.#route(req.method ?? 'GET', url, body ?? {});
      if (fault?.type === 'drop') {
        req.socket.destroy();
        return;
      }
      send(200, payload);
    } catch (error) {
      if (error instanceof ApiError)
        send(error.status, { error_code: error.errorCode, message: error.message });
      else send(500, { error_code: 'INTERNAL_ERROR', message: String((error as Error)?.message ?? error) });
    }
  }

  /** Who sends the request, or the ApiError the workspace answers with. */
  #authenticate(req: IncomingMessage): string {
    const header = req.headers.authorization;
    const bearer = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    if (!bearer) {
      throw new ApiError(
        401,
        'UNAUTHENTICATED',
        'Credential was not sent or was of an unsupported type for this API.',
      );
    }
    if (bearer === this.token) return 'token';
    const entra = this.#options.entra;
    const issued = entra?.check(bearer);
    if (!issued) throw new ApiError(403, 'PERMISSION_DENIED', 'Invalid access token.');
    if (issued.resource !== DATABRICKS_RESOURCE) {
      throw new ApiError(401, 'UNAUTHENTICATED', `Invalid audience: the token is for ${issued.resource}.`);
    }
    if (issued.expired) throw new ApiError(401, 'UNAUTHENTICATED', 'Token is expired.');
    if (this.#options.users?.includes(issued.clientId)) return issued.clientId;
    // a service principal that is not a workspace user: its management token and the workspace resource id
    const resourceId = req.headers['x-databricks-azure-workspace-resource-id'];
    const management = req.headers['x-databricks-azure-sp-management-token'];
    if (typeof resourceId !== 'string' || typeof management !== 'string') {
      throw new ApiError(
        403,
        'PERMISSION_DENIED',
        `${issued.clientId} is not a user of this workspace; add it, or send the service principal's management token with the workspace resource id.`,
      );
    }
    if (resourceId.toLowerCase() !== this.#options.workspaceResourceId?.toLowerCase()) {
      throw new ApiError(
        403,
        'PERMISSION_DENIED',
        `The workspace resource id ${resourceId} is not this workspace.`,
      );
    }
    const managed = entra!.check(management);
    if (!managed || managed.resource !== MANAGEMENT_RESOURCE || managed.clientId !== issued.clientId) {
      throw new ApiError(403, 'PERMISSION_DENIED', 'Invalid management token.');
    }
    if (managed.expired) throw new ApiError(401, 'UNAUTHENTICATED', 'The management token is expired.');
    if (!this.#options.contributors?.includes(issued.clientId)) {
      throw new ApiError(
        403,
        'PERMISSION_DENIED',
        `${issued.clientId} has no Contributor or Owner role on the workspace resource.`,
      );
    }
    return issued.clientId;
  }

  #takeFault(path: string): Fault | undefined {
    const entry = this.#faults.find((candidate) => candidate.path === path && candidate.remaining > 0);
    if (!entry) return undefined;
    entry.remaining -= 1;
    return entry.fault;
  }

  async #route(method: string, url: URL, body: Record<string, unknown>): Promise<unknown> {
    const route = `${method} ${url.pathname}`;
    switch (route) {
      case 'POST /api/2.1/jobs/runs/submit':
        return this.#submit(body);
      case 'GET /api/2.1/jobs/runs/get':
        return this.#get(runIdParam(url));
      case 'GET /api/2.1/jobs/runs/get-output':
        return this.#getOutput(runIdParam(url));
      case 'POST /api/2.1/jobs/runs/cancel':
        return this.#cancel(body.run_id);
      case 'POST /api/2.0/dbfs/mkdirs':
        return this.#mkdirs(dbfsPath(body.path));
      case 'POST /api/2.0/dbfs/put':
        return this.#put(body);
      case 'POST /api/2.0/dbfs/create':
        return this.#create(body);
      case 'POST /api/2.0/dbfs/add-block':
        return this.#addBlock(body);
      case 'POST /api/2.0/dbfs/close':
        return this.#closeHandle(body);
      default:
        throw new ApiError(404, 'ENDPOINT_NOT_FOUND', `No API found for '${route}'`);
    }
  }

  // -- Jobs API 2.1 --------------------------------------------------------------------------------------

  #submit(body: Record<string, unknown>): unknown {
    checkSubmit(body);
    const request = body as unknown as SimulatedRun['request'];
    const token = request.idempotency_token;
    if (token !== undefined) {
      const existing = this.#tokens.get(token);
      if (existing !== undefined) return { run_id: existing };
    }
    const runId = this.#nextRunId;
    this.#nextRunId += 2;
    const task = request.tasks[0]!;
    const codePath =
      task.notebook_task?.notebook_path ??
      task.spark_python_task?.python_file ??
      task.spark_jar_task?.main_class_name ??
      '';
    let outcome = this.#outcomes.get(codePath) ?? 'success';
    const output: Record<string, unknown> = {};
    const pythonFile = task.spark_python_task?.python_file;
    if (pythonFile?.startsWith('dbfs:/') && !this.files.has(dbfsPath(pythonFile))) {
      outcome = 'fail';
      output.error = `FileNotFoundError: [Errno 2] No such file or directory: '/dbfs${dbfsPath(pythonFile)}'`;
    }
    const run: SimulatedRun = {
      runId,
      taskRunId: runId + 1,
      request,
      startedAt: Date.now(),
      outcome,
      state: { life_cycle_state: 'PENDING', state_message: 'Waiting for cluster' },
      output,
      gets: 0,
    };
    this.runs.set(runId, run);
    if (token !== undefined) this.#tokens.set(token, runId);
    return { run_id: runId };
  }

  #find(runId: number): { run: SimulatedRun; isTask: boolean } {
    const run =
      this.runs.get(runId) ?? [...this.runs.values()].find((candidate) => candidate.taskRunId === runId);
    if (!run) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Run ${runId} does not exist.`);
    return { run, isTask: run.taskRunId === runId };
  }

  async #get(runId: number): Promise<unknown> {
    const { run } = this.#find(runId);
    run.gets += 1;
    this.#checkTimeout(run);
    const withStatus = this.#options.status ?? true;
    const withState = this.#options.legacyState ?? true;
    const progress = {
      ...(withState ? { state: { ...run.state } } : {}),
      ...(withStatus ? { status: statusOf(run.state) } : {}),
    };
    const task = run.request.tasks[0]!;
    const answer = {
      run_id: run.runId,
      run_name: run.request.run_name ?? 'Untitled',
      ...progress,
      run_page_url: `${this.url}/?o=0#job/0/run/${run.runId}`,
      format: 'MULTI_TASK',
      tasks: [{ run_id: run.taskRunId, task_key: task.task_key, ...progress }],
      start_time: run.startedAt,
    };
    await this.#advance(run);
    return answer;
  }

  #getOutput(runId: number): unknown {
    const { run, isTask } = this.#find(runId);
    if (!isTask) {
      throw new ApiError(
        400,
        'INVALID_PARAMETER_VALUE',
        'Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead.',
      );
    }
    return { ...run.output, metadata: { run_id: run.taskRunId, state: run.state } };
  }

  #cancel(runId: unknown): unknown {
    if (typeof runId !== 'number') throw new ApiError(400, 'INVALID_PARAMETER_VALUE', 'run_id is required.');
    const { run } = this.#find(runId);
    if (run.state.life_cycle_state !== 'TERMINATED') {
      run.state = {
        life_cycle_state: 'TERMINATING',
        result_state: 'CANCELED',
        state_message: 'Run cancellation requested',
      };
    }
    return {};
  }

  #checkTimeout(run: SimulatedRun): void {
    const limit = run.request.timeout_seconds;
    if (!limit || isOver(run.state)) return;
    if (Date.now() - run.startedAt > limit * 1000) {
      run.state = {
        life_cycle_state: 'TERMINATED',
        result_state: 'TIMEDOUT',
        state_message: `Run timed out after ${limit} seconds`,
      };
    }
  }

  /** One step of the life cycle, taken after each runs/get. */
  async #advance(run: SimulatedRun): Promise<void> {
    const { state } = run;
    if (isOver(state)) return;
    if (state.result_state === 'CANCELED') {
      run.state = {
        life_cycle_state: 'TERMINATED',
        result_state: 'CANCELED',
        state_message: 'Run canceled by user',
      };
      return;
    }
    switch (state.life_cycle_state) {
      case 'PENDING':
        run.state = { life_cycle_state: 'RUNNING', state_message: 'In run' };
        return;
      case 'RUNNING':
        if (run.outcome !== 'hang' && Date.now() - run.startedAt >= (this.#options.runMs ?? 0))
          run.state = { life_cycle_state: 'TERMINATING', state_message: 'Cleaning up' };
        return;
      default:
        await this.#finish(run);
    }
  }

  async #finish(run: SimulatedRun): Promise<void> {
    const task = run.request.tasks[0]!;
    if (run.outcome === 'success') {
      try {
        await this.#succeed(run, task);
        return;
      } catch (error) {
        // the job threw, as a notebook that cannot open a path does: the run fails with its error
        run.output.error = `${(error as Error).name}: ${(error as Error).message}`;
      }
    }
    this.#fail(run, task);
  }

  #fail(run: SimulatedRun, task: Task): void {
    if (run.output.error === undefined) {
      run.output.error = 'ZeroDivisionError: division by zero';
      run.output.error_trace = [
        '---------------------------------------------------------------------------',
        'ZeroDivisionError                         Traceback (most recent call last)',
        '<command-1> in <module>',
        '----> 1 1 / 0',
      ].join('\n');
    }
    run.state = {
      life_cycle_state: 'TERMINATED',
      result_state: 'FAILED',
      state_message: `Task ${task.task_key} failed with message: Workload failed, see run output for details.`,
    };
  }

  async #succeed(run: SimulatedRun, task: Task): Promise<void> {
    // the stand-in for the job: read the inputs it was given, write the outputs it was given
    const parameters = task.notebook_task
      ? Object.entries(task.notebook_task.base_parameters ?? {}).map(([key, value]) => ({ key, value }))
      : (task.spark_python_task?.parameters ?? task.spark_jar_task?.parameters ?? []).map((value) => ({
          key: '',
          value,
        }));
    const inputs: string[] = [];
    const outputs: string[] = [];
    for (const { value } of parameters) {
      if (!value.startsWith('file://')) continue;
      const local = fileURLToPath(value);
      (existsSync(local) ? inputs : outputs).push(local);
    }
    await this.#job({ task, parameters, inputs, outputs });
    if (task.notebook_task) {
      run.output.notebook_output = {
        result: JSON.stringify({ inputs: inputs.length, outputs: outputs.length }),
        truncated: false,
      };
    } else {
      run.output.logs = `ran ${task.spark_python_task?.python_file ?? task.spark_jar_task?.main_class_name} with ${parameters.length} parameter(s)\n`;
      run.output.logs_truncated = false;
    }
    run.state = { life_cycle_state: 'TERMINATED', result_state: 'SUCCESS', state_message: '' };
  }

  // -- DBFS API 2.0 --------------------------------------------------------------------------------------

  #mkdirs(target: string): unknown {
    for (const folder of ancestors(target)) {
      if (this.files.has(folder)) {
        throw new ApiError(
          400,
          'RESOURCE_ALREADY_EXISTS',
          `A file or directory already exists at the input path ${folder}.`,
        );
      }
      this.folders.add(folder);
    }
    return {};
  }

  #put(body: Record<string, unknown>): unknown {
    const target = dbfsPath(body.path);
    if (typeof body.contents !== 'string') {
      throw new ApiError(
        400,
        'INVALID_PARAMETER_VALUE',
        'contents must be given as base64 text (or as a multipart file).',
      );
    }
    if (body.contents.length > DBFS_LIMIT) {
      throw new ApiError(
        400,
        'MAX_BLOCK_SIZE_EXCEEDED',
        'The contents exceed the maximum of 1 MB; use create/add-block/close.',
      );
    }
    this.#checkWritable(target, body.overwrite === true);
    this.#mkdirs(path.posix.dirname(target));
    this.files.set(target, Buffer.from(body.contents, 'base64'));
    return {};
  }

  #create(body: Record<string, unknown>): unknown {
    const target = dbfsPath(body.path);
    this.#checkWritable(target, body.overwrite === true);
    const handle = this.#nextHandle;
    this.#nextHandle += 1;
    this.#handles.set(handle, { path: target, blocks: [] });
    return { handle };
  }

  #addBlock(body: Record<string, unknown>): unknown {
    const stream = this.#handles.get(body.handle as number);
    if (!stream)
      throw new ApiError(400, 'RESOURCE_DOES_NOT_EXIST', `No stream with handle ${String(body.handle)}.`);
    if (typeof body.data !== 'string')
      throw new ApiError(400, 'INVALID_PARAMETER_VALUE', 'data must be base64 text.');
    if (body.data.length > DBFS_LIMIT) {
      throw new ApiError(400, 'MAX_BLOCK_SIZE_EXCEEDED', 'The block exceeds the maximum of 1 MB.');
    }
    stream.blocks.push(Buffer.from(body.data, 'base64'));
    return {};
  }

  #closeHandle(body: Record<string, unknown>): unknown {
    const stream = this.#handles.get(body.handle as number);
    if (!stream)
      throw new ApiError(400, 'RESOURCE_DOES_NOT_EXIST', `No stream with handle ${String(body.handle)}.`);
    this.#handles.delete(body.handle as number);
    this.#mkdirs(path.posix.dirname(stream.path));
    this.files.set(stream.path, Buffer.concat(stream.blocks));
    return {};
  }

  #checkWritable(target: string, overwrite: boolean): void {
    if (this.folders.has(target)) {
      throw new ApiError(
        400,
        'RESOURCE_ALREADY_EXISTS',
        `A directory already exists at the input path ${target}.`,
      );
    }
    if (this.files.has(target) && !overwrite) {
      throw new ApiError(
        400,
        'RESOURCE_ALREADY_EXISTS',
        `A file or directory already exists at the input path ${target}.`,
      );
    }
  }
}

function checkSubmit(body: Record<string, unknown>): void {
  const bad = (message: string): never => {
    throw new ApiError(400, 'INVALID_PARAMETER_VALUE', message);
  };
  const tasks = body.tasks;
  if (!Array.isArray(tasks) || tasks.length === 0) bad('At least one task is required.');
  if (body.run_name !== undefined && typeof body.run_name !== 'string') bad('run_name must be a string.');
  if (
    body.timeout_seconds !== undefined &&
    !(Number.isInteger(body.timeout_seconds) && (body.timeout_seconds as number) >= 0)
  ) {
    bad('timeout_seconds must be a non-negative integer.');
  }
  const token = body.idempotency_token;
  if (token !== undefined && (typeof token !== 'string' || token.length > 64)) {
    bad('idempotency_token must be a string of at most 64 characters.');
  }
  for (const task of tasks as Task[]) {
    if (typeof task.task_key !== 'string' || !/^[\w-]{1,100}$/.test(task.task_key)) {
      bad(`Invalid task_key ${JSON.stringify(task.task_key)}.`);
    }
    const clusters = [task.new_cluster, task.existing_cluster_id].filter((value) => value !== undefined);
    if (clusters.length !== 1)
      bad(`Task ${task.task_key} needs exactly one of new_cluster and existing_cluster_id.`);
    const cluster = task.new_cluster;
    if (cluster) {
      if (typeof cluster.spark_version !== 'string') bad('Missing required field: spark_version');
      if (typeof cluster.node_type_id !== 'string') bad('Missing required field: node_type_id');
      const fixed = cluster.num_workers !== undefined;
      const scaling = cluster.autoscale as { min_workers?: unknown; max_workers?: unknown } | undefined;
      if (fixed === (scaling !== undefined))
        bad('new_cluster needs exactly one of num_workers and autoscale.');
      if (fixed && !(Number.isInteger(cluster.num_workers) && cluster.num_workers! >= 0))
        bad('num_workers must be a non-negative integer.');
      if (scaling && !(Number.isInteger(scaling.min_workers) && Number.isInteger(scaling.max_workers))) {
        bad('autoscale needs min_workers and max_workers.');
      }
    }
    const kinds = [task.notebook_task, task.spark_python_task, task.spark_jar_task].filter(
      (value) => value !== undefined,
    );
    if (kinds.length !== 1) bad(`Task ${task.task_key} needs exactly one task type.`);
    if (task.notebook_task) {
      if (
        typeof task.notebook_task.notebook_path !== 'string' ||
        !task.notebook_task.notebook_path.startsWith('/')
      ) {
        bad('notebook_path must be an absolute workspace path.');
      }
      for (const [key, value] of Object.entries(task.notebook_task.base_parameters ?? {})) {
        if (typeof value !== 'string') bad(`base_parameters.${key} must be a string.`);
      }
    }
    if (task.spark_python_task && typeof task.spark_python_task.python_file !== 'string') {
      bad('Missing required field: python_file');
    }
    if (task.spark_jar_task && typeof task.spark_jar_task.main_class_name !== 'string') {
      bad('Missing required field: main_class_name');
    }
    for (const parameters of [task.spark_python_task?.parameters, task.spark_jar_task?.parameters]) {
      if (
        parameters !== undefined &&
        !(Array.isArray(parameters) && parameters.every((p) => typeof p === 'string'))
      ) {
        bad('parameters must be a list of strings.');
      }
    }
    for (const library of task.libraries ?? []) {
      if (!library || typeof library !== 'object' || Object.keys(library).length !== 1)
        bad('Each library needs exactly one type.');
    }
  }
}

function runIdParam(url: URL): number {
  const value = Number(url.searchParams.get('run_id'));
  if (!Number.isInteger(value)) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', 'run_id is required.');
  return value;
}

function dbfsPath(value: unknown): string {
  if (typeof value !== 'string') throw new ApiError(400, 'INVALID_PARAMETER_VALUE', 'path is required.');
  const bare = value.startsWith('dbfs:') ? value.slice('dbfs:'.length) : value;
  if (!bare.startsWith('/'))
    throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Path must be absolute: ${value}`);
  return path.posix.normalize(bare);
}

function ancestors(target: string): string[] {
  const parts = target.split('/').filter(Boolean);
  return parts.map((_, index) => `/${parts.slice(0, index + 1).join('/')}`);
}

/**
 * The run's `status` for its state: `PENDING`, `RUNNING`, `TERMINATING`, `TERMINATED` with
 * `termination_details` saying why (a run stopped at its timeout_seconds is CANCELED by Databricks, one
 * canceled through runs/cancel USER_CANCELED, a failed task RUN_EXECUTION_ERROR).
 */
function statusOf(state: State): Record<string, unknown> {
  const ending = state.result_state ?? (state.life_cycle_state === 'TERMINATED' ? 'SUCCESS' : undefined);
  const details: Record<string, { code: string; type: string }> = {
    SUCCESS: { code: 'SUCCESS', type: 'SUCCESS' },
    FAILED: { code: 'RUN_EXECUTION_ERROR', type: 'CLIENT_ERROR' },
    TIMEDOUT: { code: 'CANCELED', type: 'CLIENT_ERROR' },
    CANCELED: { code: 'USER_CANCELED', type: 'SUCCESS' },
  };
  const termination = ending ? details[ending] : undefined;
  return {
    state: state.life_cycle_state,
    ...(termination && (state.life_cycle_state === 'TERMINATED' || state.life_cycle_state === 'TERMINATING')
      ? { termination_details: { ...termination, message: state.state_message } }
      : {}),
  };
}

function isOver(state: State): boolean {
  return state.life_cycle_state === 'TERMINATED';
}

function listFiles(root: string): Array<{ name: string; bytes: number }> {
  if (statSync(root).isFile()) return [{ name: path.basename(root), bytes: readFileSync(root).byteLength }];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const full = path.join(entry.parentPath, entry.name);
      return { name: path.relative(root, full).split(path.sep).join('/'), bytes: statSync(full).size };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}
