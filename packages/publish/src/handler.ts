import { SluiceError, isSluiceError } from '@sluice/core';
import type { Workspace } from '@sluice/runtime';
import { authenticate, authorize, type AuthVerifier, type Principal } from './auth.js';

import { PipelineEndpoint } from './endpoint.js';
import { httpStatusOf } from './http-status.js';
import { PublishedPipeline } from './published-pipeline.js';
import { RunQueue, type CloseOptions } from './queue.js';
import { createScheduler } from './schedules/index.js';
import type { ScheduleTarget } from './schedules/index.js';
import { publishStore, type QueuedSubmission } from './store.js';
import { buildPipeline, checkDataPaths, checkExperimentName, checkParameters } from './submission.js';
import { tokenVerifier } from './tokens.js';

export interface RequestHandlerOptions {
  workspace: Workspace;
  /** Who may call: verifiers asked in turn (default: the workspace's bearer tokens). Every route needs one. */
  auth?: AuthVerifier | readonly AuthVerifier[];
  /** Bodies larger than this are refused with 413, checked while reading (default 1 MiB). */
  maxBodyBytes?: number;
  /** How many queued runs execute at once (default 2). */
  concurrency?: number;
  /** Fire the workspace's schedules (default true); their runs go through the same queue. */
  schedules?: boolean;
  /**
   * The base of every URL in answers (`Location`, `Url`), e.g. `https://sluice.example.com` (default: the
   * origin of each request's URL, which the server hosting the handler must build from a trusted base).
   */
  publicUrl?: string;
}

/**
 * A Fetch-style request handler. `close()` makes it answer 503, stops schedules and the queue, and cancels
 * the runs it started after a grace period (see `RunQueue.close`); a second call can shorten the grace.
 */
export interface RequestHandler {
  (request: Request): Promise<Response>;
  close(options?: CloseOptions): Promise<void>;
}

interface Context {
  request: Request;
  url: URL;
  /** The base of URLs in answers. */
  base: URL;
  params: string[];
  principal: Principal;
}

type Action = (context: Context) => Promise<Response> | Response;

interface Route {
  pattern: RegExp;
  methods: Partial<Record<'GET' | 'POST', Action>>;
}

/** The body keys of a submission, as Azure ML's REST API names them. */
const SUBMISSION_KEYS = [
  'ExperimentName',
  'ParameterAssignments',
  'DataPathAssignments',
  'RunSource',
  'Description',
  'Tags',
  'ContinueOnStepFailure',
];

/**
 * The REST API of published pipelines and endpoints as one Fetch-style handler (`Request` in, `Response`
 * out); `serve()` puts it on node:http, and any server that speaks Fetch can host it. Submissions are
 * validated, queued persistently and answered 202 with the run id at once; the runs execute in this process.
 */
export function createRequestHandler(options: RequestHandlerOptions): RequestHandler {
  const ws = options.workspace;
  publishStore(ws); // the tables exist before the first request
  const verifiers: readonly AuthVerifier[] =
    options.auth === undefined
      ? [tokenVerifier(ws)]
      : Array.isArray(options.auth)
        ? [...(options.auth as readonly AuthVerifier[])]
        : [options.auth as AuthVerifier];
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const publicBase = options.publicUrl === undefined ? undefined : new URL(publicOrigin(options.publicUrl));
  const queue = new RunQueue(ws, { concurrency: options.concurrency ?? 2 });
  let closed: Promise<void> | undefined;
  /** The published pipeline a schedule's target names (an endpoint's default or given version). */
  const resolveTarget = (
    target: ScheduleTarget,
  ): { published: PublishedPipeline; endpoint: { name: string; version: string; status: string } | null } => {
    if ('pipelineId' in target)
      return { published: PublishedPipeline.get(ws, { id: target.pipelineId }), endpoint: null };
    const endpoint = PipelineEndpoint.get(ws, target.endpointName);
    const resolved = endpoint.resolve(target.version);
    return {
      published: resolved.pipeline,
      endpoint: { name: endpoint.name, version: resolved.version, status: endpoint.status },
    };
  };

  const scheduler =
    options.schedules === false
      ? undefined
      : createScheduler({
          workspace: ws,
          submit: async (target, fired) => {
            await ws.ready();
            const { published, endpoint } = resolveTarget(target);
            published.assertActive();
            const submission: QueuedSubmission = {
              experimentName: fired.experimentName,
              parameters: { ...fired.parameters },
              dataPathAssignments: {},
              runSource: 'Schedule',
              description: `fired by schedule ${fired.schedule.name}`,
              tags: { schedule: fired.schedule.name },
              continueOnStepFailure: false,
            };
            checkParameters(buildPipeline(ws, published.spec, {}), submission.parameters);
            const runId = queue.accept(
              {
                pipelineId: published.id,
                endpoint: endpoint?.name ?? null,
                endpointVersion: endpoint?.version ?? null,
              },
              submission,
              `schedule:${fired.schedule.name}`,
            );
            return { runId };
          },
          isTargetEnabled: (target) => {
            try {
              const { published, endpoint } = resolveTarget(target);
              return published.status === 'Active' && (!endpoint || endpoint.status === 'Active');
            } catch {
              return false;
            }
          },
        });
  scheduler?.start();

  const accept = async (
    context: Context,
    published: PublishedPipeline,
    endpoint: { name: string; version: string } | null,
  ): Promise<Response> => {
    const submission = parseSubmission(await readJson(context.request, maxBodyBytes));
    await ws.ready();
    const pipeline = buildPipeline(ws, published.spec, submission.dataPathAssignments);
    checkParameters(pipeline, submission.parameters);
    await checkDataPaths(ws, submission.dataPathAssignments);
    const runId = queue.accept(
      {
        pipelineId: published.id,
        endpoint: endpoint?.name ?? null,
        endpointVersion: endpoint?.version ?? null,
      },
      submission,
      context.principal.subject,
    );
    const url = new URL(`/runs/${encodeURIComponent(runId)}`, context.base).href;
    return json(
      202,
      {
        Id: runId,
        Status: 'Queued',
        Url: url,
        ExperimentName: submission.experimentName,
        PipelineId: published.id,
        ...(endpoint ? { PipelineEndpoint: endpoint.name, PipelineVersion: endpoint.version } : {}),
      },
      { location: url },
    );
  };

  const submitPipeline: Action = (context) => {
    const published = PublishedPipeline.get(ws, { id: context.params[0]! });
    published.assertActive();
    return accept(context, published, null);
  };

  const submitEndpoint = (context: Context, version: string | undefined): Promise<Response> => {
    const endpoint = PipelineEndpoint.get(ws, context.params[0]!);
    const resolved = endpoint.resolve(version);
    return accept(context, resolved.pipeline, { name: endpoint.name, version: resolved.version });
  };

  const routes: Route[] = [
    {
      pattern: /^\/pipelines$/,
      methods: {
        GET: ({ base }) =>
          json(
            200,
            PublishedPipeline.list(ws).map((entry) => describePipeline(entry, base)),
          ),
      },
    },
    {
      pattern: /^\/pipelines\/([^/]+)$/,
      methods: {
        GET: ({ base, params }) =>
          json(200, describePipeline(PublishedPipeline.get(ws, { id: params[0]! }), base)),
        POST: submitPipeline,
      },
    },
    { pattern: /^\/pipelines\/([^/]+)\/runs$/, methods: { POST: submitPipeline } },
    {
      pattern: /^\/endpoints$/,
      methods: {
        GET: ({ base }) =>
          json(
            200,
            PipelineEndpoint.list(ws).map((entry) => describeEndpoint(entry, base)),
          ),
      },
    },
    {
      pattern: /^\/endpoints\/([^/]+)$/,
      methods: {
        GET: ({ base, params }) => json(200, describeEndpoint(PipelineEndpoint.get(ws, params[0]!), base)),
        POST: (context) => submitEndpoint(context, context.url.searchParams.get('version') ?? undefined),
      },
    },
    {
      pattern: /^\/endpoints\/([^/]+)\/versions\/([^/]+)$/,
      methods: {
        GET: ({ base, params }) =>
          json(200, describePipeline(PipelineEndpoint.get(ws, params[0]!).getPipeline(params[1]!), base)),
        POST: (context) => submitEndpoint(context, context.params[1]!),
      },
    },
    {
      pattern: /^\/runs\/([^/]+)$/,
      methods: { GET: ({ base, params }) => json(200, describeRun(ws, params[0]!, base)) },
    },
  ];

  const handle = async (request: Request): Promise<Response> => {
    try {
      if (closed)
        throw new SluiceError('SERVICE_UNAVAILABLE', 'This server is shutting down; try again shortly.');
      const url = new URL(request.url);
      const base = publicBase ?? new URL(url.origin);
      const principal = await authenticate(request, verifiers);
      const { route, params } = matchRoute(routes, url.pathname);
      const method = request.method.toUpperCase();
      const action = route.methods[method as 'GET' | 'POST'];
      if (!action) {
        const allow = Object.keys(route.methods).join(', ');
        throw new SluiceError('METHOD_NOT_ALLOWED', `${url.pathname} answers ${allow}, not ${method}.`, {
          details: { allow },
        });
      }
      authorize(principal, method === 'GET' ? 'read' : 'submit');
      return await action({ request, url, base, params, principal });
    } catch (error) {
      return errorResponse(error);
    }
  };
  return Object.assign(handle, {
    close: (closeOptions: CloseOptions = {}): Promise<void> => {
      // runs the scheduler fires while it stops are kept queued for the next server
      const queueClosed = queue.close(closeOptions);
      closed ??= (async () => {
        await scheduler?.stop();
        await queueClosed;
      })();
      return closed;
    },
  });
}

/**
 * The origin of a public URL (`https://sluice.example.com`, `http://10.0.0.5:8765`): http or https, a
 * host, an optional port, no path, query, fragment or credentials (the API is served at the root).
 */
export function publicOrigin(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // refused below
  }
  if (
    !url ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.hostname === '' ||
    url.username !== '' ||
    url.password !== '' ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== '' ||
    /[?#]$/.test(value)
  ) {
    throw new SluiceError(
      'OPTION_INVALID',
      `The public URL ${JSON.stringify(value)} is not valid: give http:// or https://, a host and an optional port, with no path (the API is served at the root), e.g. https://sluice.example.com.`,
      { details: { option: 'publicUrl', value } },
    );
  }
  return url.origin;
}

function matchRoute(routes: readonly Route[], pathname: string): { route: Route; params: string[] } {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    try {
      return { route, params: match.slice(1).map((part) => decodeURIComponent(part)) };
    } catch {
      break;
    }
  }
  throw new SluiceError(
    'ROUTE_NOT_FOUND',
    `Nothing is served at ${pathname}. Routes: GET /pipelines, GET|POST /pipelines/{id}, POST /pipelines/{id}/runs, GET /endpoints, GET|POST /endpoints/{name}, GET|POST /endpoints/{name}/versions/{version}, GET /runs/{id}.`,
    { details: { path: pathname } },
  );
}

/** Read a JSON body of at most `maxBytes`, counting while reading (a Content-Length above it fails at once). */
async function readJson(request: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = (): SluiceError =>
    new SluiceError(
      'REQUEST_TOO_LARGE',
      `The request body is larger than this server accepts (${maxBytes} bytes).`,
      {
        details: { maxBytes },
      },
    );
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge();
  if (!request.body) throw new SluiceError('REQUEST_INVALID', 'The request needs a JSON body.');
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch (error) {
      throw new SluiceError(
        'REQUEST_INVALID',
        'The request body could not be read to its end (the client closed the connection or sent a malformed body); send it again.',
        { cause: error },
      );
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new SluiceError('REQUEST_INVALID', 'The request needs a JSON body.');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SluiceError(
      'REQUEST_INVALID',
      `The request body is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function invalid(field: string, message: string): SluiceError {
  return new SluiceError('REQUEST_INVALID', message, { details: { field } });
}

/** Check a submission body's shape and turn it into what the queue keeps. */
function parseSubmission(body: unknown): QueuedSubmission {
  if (!isRecord(body)) {
    throw invalid(
      '',
      'The request body must be a JSON object such as {"ExperimentName": "…", "ParameterAssignments": {…}}.',
    );
  }
  const unknown = Object.keys(body).filter((key) => !SUBMISSION_KEYS.includes(key));
  if (unknown.length > 0) {
    throw invalid(
      unknown[0]!,
      `Unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => JSON.stringify(key)).join(', ')} in the request body; the keys are ${SUBMISSION_KEYS.join(', ')}.`,
    );
  }
  const experimentName = checkExperimentName(body.ExperimentName, 'A submission');
  const optional = <T>(key: string, check: (value: unknown) => value is T, what: string): T | undefined => {
    const value = body[key];
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
    if (
      !isRecord(value) ||
      typeof value.DataStoreName !== 'string' ||
      typeof value.RelativePath !== 'string' ||
      value.DataStoreName === ''
    ) {
      throw invalid(
        'DataPathAssignments',
        `DataPathAssignments.${name} must be {"DataStoreName": "…", "RelativePath": "…"}; got ${JSON.stringify(value)}.`,
      );
    }
    dataPathAssignments[name] = { datastore: value.DataStoreName, path: value.RelativePath };
  }
  const isString = (value: unknown): value is string => typeof value === 'string';
  const isTags = (value: unknown): value is Record<string, string> =>
    isRecord(value) && Object.values(value).every(isString);
  const runSource = optional('RunSource', isString, 'a string');
  const description = optional('Description', isString, 'a string');
  const tags = optional('Tags', isTags, 'an object of string values') ?? {};
  const continueOnStepFailure =
    optional(
      'ContinueOnStepFailure',
      (value): value is boolean => typeof value === 'boolean',
      'true or false',
    ) ?? false;
  return {
    experimentName,
    parameters,
    dataPathAssignments,
    runSource: runSource || 'REST',
    ...(description === undefined ? {} : { description }),
    tags,
    continueOnStepFailure,
  };
}

function describePipeline(published: PublishedPipeline, base: URL): Record<string, unknown> {
  return {
    Id: published.id,
    Name: published.name,
    Description: published.description,
    Version: published.version,
    Status: published.status,
    CreatedAt: published.createdAt,
    SourceRunId: published.sourceRunId,
    Url: new URL(published.endpoint, base).href,
    Parameters: published.parameters.map((parameter) => ({
      Name: parameter.name,
      Type: parameter.type,
      DefaultValue: parameter.defaultValue,
    })),
    DataPaths: published.spec.data.flatMap((entry) =>
      entry.kind === 'data-reference'
        ? [{ Name: entry.name, DataStoreName: entry.datastore, RelativePath: entry.pathOnDatastore }]
        : [],
    ),
  };
}

function describeEndpoint(endpoint: PipelineEndpoint, base: URL): Record<string, unknown> {
  return {
    Name: endpoint.name,
    Description: endpoint.description,
    Status: endpoint.status,
    DefaultVersion: endpoint.defaultVersion,
    CreatedAt: endpoint.createdAt,
    Url: new URL(endpoint.endpoint, base).href,
    Versions: endpoint.listVersions().map((entry) => ({
      Version: entry.version,
      PipelineId: entry.pipelineId,
      IsDefault: entry.isDefault,
    })),
  };
}

/** A run as the REST API shows it: a queued submission, or the run with its steps. */
function describeRun(ws: Workspace, id: string, base: URL): Record<string, unknown> {
  const entry = publishStore(ws).getQueued(id);
  const run = ws.store.getRun(id);
  if (!run && !entry) {
    throw new SluiceError('RUN_NOT_FOUND', `No run "${id}" in this workspace.`, { details: { run: id } });
  }
  const queueFacts = {
    ...(entry ? { PipelineId: entry.pipelineId, AcceptedAt: entry.acceptedAt } : {}),
    ...(entry?.endpoint ? { PipelineEndpoint: entry.endpoint, PipelineVersion: entry.endpointVersion } : {}),
    ...(entry?.resumedFrom ? { ResumedFrom: entry.resumedFrom } : {}),
    ...(entry?.resumedAs ? { ResumedAs: entry.resumedAs } : {}),
  };
  const url = new URL(`/runs/${encodeURIComponent(id)}`, base).href;
  if (!run) {
    const failed = entry!.status === 'failed';
    return {
      Id: id,
      Status: failed ? 'Failed' : 'Queued',
      ExperimentName: entry!.submission.experimentName,
      RunSource: entry!.submission.runSource,
      ParameterAssignments: entry!.submission.parameters,
      Error: failed ? (entry!.error?.message ?? null) : null,
      ...(failed && entry!.error ? { ErrorCode: entry!.error.code } : {}),
      Steps: [],
      Url: url,
      ...queueFacts,
    };
  }
  return {
    Id: run.id,
    Status: run.status,
    ExperimentName: run.experiment,
    PipelineName: run.pipelineName,
    RunSource: run.runSource,
    Description: run.description,
    Tags: run.tags,
    ParameterAssignments: run.parameters,
    CreatedAt: run.createdAt,
    StartedAt: run.startedAt,
    EndedAt: run.endedAt,
    Error: run.error,
    Steps: ws.store.getStepRuns(run.id).map((step) => ({
      Name: step.stepName,
      Status: step.status,
      ReusedFrom: step.reusedFrom,
      StartedAt: step.startedAt,
      EndedAt: step.endedAt,
      Error: step.error,
    })),
    Url: url,
    ...queueFacts,
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/** A coded error as a response: its status from the one table, `{ error: { code, message, details } }`. */
export function errorResponse(error: unknown): Response {
  let coded: SluiceError;
  if (isSluiceError(error)) {
    coded = error;
  } else {
    console.error('sluice publish: unexpected error while handling a request:', error);
    coded = new SluiceError('INTERNAL_ERROR', 'The server failed while handling the request; see its log.');
  }
  const status = httpStatusOf(coded.code);
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  if (isSluiceError(coded, 'METHOD_NOT_ALLOWED')) headers.allow = String(coded.details.allow);
  return json(
    status,
    { error: { code: coded.code, message: coded.message, details: coded.details } },
    headers,
  );
}
