import { SluiceError, isSluiceError } from '@sluice/core';
import type { Workspace } from '@sluice/runtime';
import { authenticate, authorize, type AuthVerifier, type Principal } from './auth.js';

import { PipelineEndpoint } from './endpoint.js';
import { httpStatusOf } from './http-status.js';
import { PublishedPipeline } from './published-pipeline.js';
import { RunQueue, type CloseOptions } from './queue.js';
import { createScheduler } from './schedules/index.js';
import type { ScheduleTarget } from './schedules/index.js';
import { datasetInputs, resolveDatasetAssignments, withDatasets } from './dataset-assignments.js';
import { publishStore, type QueuedSubmission } from './store.js';
import { buildPipeline, checkDataPaths, checkParameters } from './submission.js';
import { tokenVerifier } from './tokens.js';
import { namedVersion, parseSubmission, runEntity, submissionQuery } from './wire.js';
import { json, type Action, type Context, type Route } from './routing.js';
import { apiRoutes } from './read-routes.js';
import { eventStream, RunWatcher } from './events.js';
import { getRunRecord } from './read-api.js';
import { StudioSessions, SESSION_COOKIE, STUDIO_HEADER, cookie, sessionCookie } from './sessions.js';
import { isStudioPath, studioFile, type StudioOptions } from './static-files.js';

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
  /**
   * Serve the studio's files (`/`, `/index.html`, `/assets/*`, the favicon) from this folder, without
   * authentication (they hold no data), and take browser sign-ins (`/login`, `/logout`).
   */
  studio?: StudioOptions;
}

/**
 * A Fetch-style request handler. `close()` makes it answer 503, stops schedules and the queue, and cancels
 * the runs it started after a grace period (see `RunQueue.close`); a second call can shorten the grace.
 */
export interface RequestHandler {
  (request: Request): Promise<Response>;
  close(options?: CloseOptions): Promise<void>;
  /**
   * A single-use code for `GET /login?code=…`, good for 10 minutes: it signs a browser in to the studio
   * with the `submit` scope (the link `sluice studio` prints).
   */
  loginCode(): string;
}

/** The query parameters of endpoint submissions: Sluice's `version` and Azure's `pipelineVersion`. */
const ENDPOINT_QUERY = ['version', 'pipelineVersion'] as const;
const ENDPOINT_BY_NAME_QUERY = ['name', ...ENDPOINT_QUERY] as const;

/**
 * A route of Azure ML's pipeline service: `…/PipelineRuns<rest>`, at the root or under the workspace path of
 * an Azure URL (`/pipelines/v1.0/subscriptions/…/workspaces/<ws>`, or `/api/v1.0/…` of older URLs), so a
 * client only changes the host. Matched without regard to case, as Azure does. The subscription, resource
 * group and workspace segments are not checked: a server serves one workspace.
 */
function azure(rest: string): RegExp {
  const workspace = String.raw`(?:/(?:pipelines|api)/v1\.0/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+)?`;
  return new RegExp(`^${workspace}/PipelineRuns${rest}$`, 'i');
}

/**
 * The REST API of published pipelines and endpoints as one Fetch-style handler (`Request` in, `Response`
 * out); `serve()` puts it on node:http, and any server that speaks Fetch can host it. Submissions are
 * validated, queued persistently and answered 200 at once with the run as Azure ML's pipeline service shows
 * one (see wire.ts); the runs execute in this process.
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
  const sessions = new StudioSessions();
  const watcher = new RunWatcher(ws);
  /** Aborted when the handler closes: event streams end. */
  const closing = new AbortController();
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
    if (submission.datasetAssignments) {
      submission.datasetAssignments = resolveDatasetAssignments(
        ws,
        published.spec,
        submission.datasetAssignments,
      );
    }
    const spec = withDatasets(published, submission.datasetAssignments).spec;
    const pipeline = buildPipeline(ws, spec, submission.dataPathAssignments);
    // kept as the run will record them: typed, with the defaults of parameters not given
    submission.parameters = checkParameters(pipeline, submission.parameters);
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
    const run = runEntity(ws, runId, context.base);
    return json(200, run, { location: run.Url });
  };

  /** Submit a published pipeline by id; its URL takes no query parameters. */
  const submitPipeline: Action = (context) => {
    submissionQuery(context.url, []);
    const published = PublishedPipeline.get(ws, { id: context.params[0]! });
    published.assertActive();
    return accept(context, published, null);
  };

  /**
   * Submit an endpoint: the version the caller names in the path or the query (the default when none), never
   * another one. `byName` takes the endpoint's name from `?name=` (Azure's `PipelineEndpointSubmit/Name`).
   */
  const submitEndpoint =
    (form: { byName?: boolean } = {}): Action =>
    (context) => {
      const query: Partial<Record<'name' | 'version' | 'pipelineVersion', string>> = submissionQuery(
        context.url,
        form.byName ? ENDPOINT_BY_NAME_QUERY : ENDPOINT_QUERY,
      );
      const name = form.byName ? query.name : context.params[0]!;
      if (name === undefined) {
        throw new SluiceError(
          'REQUEST_INVALID',
          `${context.url.pathname} needs the endpoint's name: ?name=<endpoint name>[&pipelineVersion=<version>].`,
          { details: { field: '?name' } },
        );
      }
      const version = namedVersion([
        ['the path', form.byName ? undefined : context.params[1]],
        ['?version=', query.version],
        ['?pipelineVersion=', query.pipelineVersion],
      ]);
      const endpoint = PipelineEndpoint.get(ws, name);
      const resolved = endpoint.resolve(version);
      return accept(context, resolved.pipeline, { name: endpoint.name, version: resolved.version });
    };

  const getRun: Action = ({ base, params }) => json(200, runEntity(ws, params[0]!, base));
  const listRuns: Action = ({ base, params }) => {
    const published = PublishedPipeline.get(ws, { id: params[0]! });
    return json(
      200,
      publishStore(ws)
        .listQueuedFor(published.id)
        .map((entry) => runEntity(ws, entry.runId, base)),
    );
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
    { pattern: /^\/pipelines\/([^/]+)\/runs$/, methods: { GET: listRuns, POST: submitPipeline } },
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
        POST: submitEndpoint(),
      },
    },
    {
      pattern: /^\/endpoints\/([^/]+)\/versions\/([^/]+)$/,
      methods: {
        GET: ({ base, params }) =>
          json(200, describePipeline(PipelineEndpoint.get(ws, params[0]!).getPipeline(params[1]!), base)),
        POST: submitEndpoint(),
      },
    },
    { pattern: /^\/runs\/([^/]+)$/, methods: { GET: getRun } },
    ...apiRoutes({ workspace: ws, cancelRun: (runId) => queue.cancel(runId) }),
    {
      pattern: /^\/events$/,
      methods: {
        GET: ({ url }) => {
          const { run } = submissionQuery(url, ['run'] as const);
          // any run the queue accepted, in whatever state it is between acceptance and its run record, may be
          // followed: a browser's EventSource gives up for good on an error answer
          if (run !== undefined && !publishStore(ws).getQueued(run)) getRunRecord(ws, run);
          return eventStream(watcher, run, closing.signal);
        },
      },
    },
    // Azure ML's URL forms, with or without the workspace prefix of an Azure URL
    { pattern: azure('/PipelineSubmit/([^/]+)'), methods: { POST: submitPipeline } },
    { pattern: azure('/PipelineEndpointSubmit/Id/([^/]+)'), methods: { POST: submitEndpoint() } },
    { pattern: azure('/PipelineEndpointSubmit/Id/([^/]+)/([^/]+)'), methods: { POST: submitEndpoint() } },
    { pattern: azure('/PipelineEndpointSubmit/Name'), methods: { POST: submitEndpoint({ byName: true }) } },
    { pattern: azure('/Pipeline/([^/]+)'), methods: { GET: listRuns } },
    { pattern: azure('/([^/]+)'), methods: { GET: getRun } },
  ];

  /** Who asks: a credential header, else a studio session cookie; AUTH_REQUIRED without either. */
  const identify = async (request: Request): Promise<{ principal: Principal; via: Context['via'] }> => {
    const session = request.headers.has('authorization') ? undefined : cookie(request, SESSION_COOKIE);
    if (session === undefined || session === '')
      return { principal: await authenticate(request, verifiers), via: 'token' };
    return { principal: await sessions.principal(session), via: 'session' };
  };

  /** `POST /login` with `{ token }`, `GET /login?code=` (a one-time link), `POST /logout`. */
  const signIn = async (request: Request, url: URL, base: URL): Promise<Response> => {
    const method = request.method.toUpperCase();
    const secure = base.protocol === 'https:';
    const allowed = url.pathname === '/login' ? 'GET, POST' : 'POST';
    if (!allowed.split(', ').includes(method)) {
      throw new SluiceError('METHOD_NOT_ALLOWED', `${url.pathname} answers ${allowed}, not ${method}.`, {
        details: { allow: allowed },
      });
    }
    if (url.pathname === '/logout') {
      submissionQuery(url, []);
      const session = cookie(request, SESSION_COOKIE);
      if (session) {
        checkStudioHeader(request);
        sessions.end(session);
      }
      return new Response(null, { status: 204, headers: { 'set-cookie': sessionCookie('', secure) } });
    }
    if (method === 'GET') {
      const { code } = submissionQuery(url, ['code'] as const);
      if (code === undefined || !sessions.redeem(code)) {
        throw new SluiceError(
          'AUTH_INVALID',
          code === undefined
            ? 'GET /login needs ?code=<one-time code> (the link `sluice studio` prints); or POST /login with {"token": "…"}.'
            : 'This sign-in link was used already or has expired (links are good once, for 10 minutes); run `sluice studio` again for a new one, or sign in with a token.',
        );
      }
      const id = sessions.start({ subject: 'studio-link', scopes: ['read', 'submit'], verifier: 'session' });
      return new Response(null, {
        status: 303,
        headers: { location: new URL('/', base).href, 'set-cookie': sessionCookie(id, secure) },
      });
    }
    submissionQuery(url, []);
    const body = await readJson(request, maxBodyBytes);
    const token =
      typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 1
        ? (body as { token?: unknown }).token
        : undefined;
    if (typeof token !== 'string' || token === '' || /\s/.test(token)) {
      throw new SluiceError(
        'REQUEST_INVALID',
        'POST /login takes {"token": "<a bearer token of this workspace>"} (create one with `sluice token create`).',
        { details: { field: 'token' } },
      );
    }
    const check = (): Promise<Principal> =>
      authenticate(new Request(url, { headers: { authorization: `Bearer ${token}` } }), verifiers);
    const principal = await check();
    const id = sessions.start(principal, check);
    return json(
      200,
      {
        subject: principal.subject,
        scope: principal.scopes.includes('submit') ? 'submit' : 'read',
        via: 'session',
      },
      { 'set-cookie': sessionCookie(id, secure), 'cache-control': 'no-store' },
    );
  };

  const handle = async (request: Request): Promise<Response> => {
    try {
      if (closed)
        throw new SluiceError('SERVICE_UNAVAILABLE', 'This server is shutting down; try again shortly.');
      const url = new URL(request.url);
      const base = publicBase ?? new URL(url.origin);
      const method = request.method.toUpperCase();
      if (options.studio && (method === 'GET' || method === 'HEAD') && isStudioPath(url.pathname))
        return await studioFile(options.studio, url.pathname);
      if (url.pathname === '/login' || url.pathname === '/logout') return await signIn(request, url, base);
      const { principal, via } = await identify(request);
      const { route, params } = matchRoute(routes, url.pathname);
      const action = route.methods[method as 'GET' | 'POST'];
      if (!action) {
        const allow = Object.keys(route.methods).join(', ');
        throw new SluiceError('METHOD_NOT_ALLOWED', `${url.pathname} answers ${allow}, not ${method}.`, {
          details: { allow },
        });
      }
      authorize(principal, method === 'GET' ? 'read' : 'submit');
      if (via === 'session' && method !== 'GET') checkStudioHeader(request);
      return await action({ request, url, base, params, principal, via });
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
      sessions.clear();
      closing.abort();
      watcher.close();
      return closed;
    },
    loginCode: () => sessions.loginCode(),
  });
}

/** A cookie-authenticated request that changes anything must carry `X-Sluice-Studio: 1` (CSRF). */
function checkStudioHeader(request: Request): void {
  if (request.headers.get(STUDIO_HEADER) !== '1') {
    throw new SluiceError(
      'AUTH_FORBIDDEN',
      'A request signed in with the studio session cookie that changes anything must carry the header "X-Sluice-Studio: 1".',
      { details: { header: 'X-Sluice-Studio' } },
    );
  }
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
    `Nothing is served at ${pathname}. Routes: GET /pipelines, GET|POST /pipelines/{id}, GET|POST /pipelines/{id}/runs, GET /endpoints, GET|POST /endpoints/{name}, GET|POST /endpoints/{name}/versions/{version}, GET /runs/{id}; Sluice's own GET /whoami, GET /runs, GET /runs/{id}/detail|explain|metrics, GET /runs/{id}/steps/{step}[/logs/{stream}|/outputs/{output}/files[/{path}]], POST /runs/{id}/cancel, GET /events, GET /experiments[/{name}/metrics], GET /datasets[/{name}/versions/{version}/profile], GET /schedules, GET /compute, GET /datastores, POST /pipelines/{id}/enable|disable, POST /endpoints/{name}/enable|disable, POST /login, POST /logout; and Azure ML's POST …/PipelineRuns/PipelineSubmit/{id}, POST …/PipelineRuns/PipelineEndpointSubmit/Id/{name}[/{version}], POST …/PipelineRuns/PipelineEndpointSubmit/Name?name={name}, GET …/PipelineRuns/{runId}, GET …/PipelineRuns/Pipeline/{id}.`,
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
    DatasetInputs: datasetInputs(published.spec).map((input) => ({
      Name: input.name,
      Kind: input.kind,
      DataSetReference: input.dataset
        ? { Name: input.dataset.name, Version: String(input.dataset.version) }
        : null,
    })),
  };
}

function describeEndpoint(endpoint: PipelineEndpoint, base: URL): Record<string, unknown> {
  return {
    /** Sluice identifies an endpoint by its name (Azure's `PipelineEndpointSubmit/Id/{id}` takes it). */
    Id: endpoint.name,
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
