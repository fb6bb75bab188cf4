/**
 * Sluice's own routes of the REST API (camelCase JSON, see api-types.ts): what the studio reads and drives,
 * and what any script can read the same way.
 */
import { open, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { SluiceError } from '@sluice/core';
import type { RunFilter, RunStatus, StepRunRecord, Workspace } from '@sluice/runtime';
import type { RunList, StepDetail, WhoAmI } from './api-types.js';
import { PipelineEndpoint } from './endpoint.js';
import { PublishedPipeline } from './published-pipeline.js';
import {
  computeTargets,
  datasetProfile,
  datasets,
  datastores,
  experimentMetric,
  experimentMetricNames,
  experiments,
  getRunRecord,
  getStepRecord,
  logFolder,
  runDetail,
  runExplanations,
  runMetrics,
  runSummaries,
  schedules,
  waitingSummary,
  stepDetail,
} from './read-api.js';
import { json, type Action, type Route } from './routing.js';
import { publishStore } from './store.js';
import { submissionQuery } from './wire.js';

/** The last bytes of a log `GET …/logs/{stream}` answers when no range is asked for. */
export const DEFAULT_LOG_TAIL_BYTES = 256 * 1024;
/** The most bytes one log range may ask for (the whole file: `?download=1`). */
export const MAX_LOG_RANGE_BYTES = 8 * 1024 * 1024;
const DEFAULT_RUNS_PAGE = 50;
const MAX_RUNS_PAGE = 500;
const RUN_STATUSES: ReadonlyArray<RunStatus | 'Queued'> = [
  'Queued',
  'NotStarted',
  'Running',
  'Finished',
  'Failed',
  'Canceled',
];
const LOG_STREAMS = ['stdout', 'stderr', 'sluice'] as const;
type LogStream = (typeof LOG_STREAMS)[number];

function invalid(field: string, message: string, details: Record<string, unknown> = {}): SluiceError {
  return new SluiceError('REQUEST_INVALID', message, { details: { field, ...details } });
}

/** A query value that must be a whole number from `minimum` to `maximum`. */
function wholeNumber(
  name: string,
  value: string | undefined,
  minimum: number,
  maximum: number,
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < minimum || number > maximum) {
    throw invalid(
      `?${name}`,
      `The query parameter ${name} must be a whole number from ${minimum} to ${maximum}; got ${JSON.stringify(value)}.`,
    );
  }
  return number;
}

/** `GET /runs`'s query as a run filter; `status: 'Queued'` asks for the submissions not started yet only. */
export function runsQuery(
  ws: Workspace,
  url: URL,
): Omit<RunFilter, 'status'> & { limit: number; status?: RunStatus | 'Queued' } {
  const query = submissionQuery(url, [
    'experiment',
    'status',
    'pipeline',
    'tag',
    'source',
    'limit',
    'before',
  ] as const);
  const filter: ReturnType<typeof runsQuery> = {
    limit: wholeNumber('limit', query.limit, 1, MAX_RUNS_PAGE) ?? DEFAULT_RUNS_PAGE,
  };
  if (query.experiment !== undefined) filter.experiment = query.experiment;
  if (query.pipeline !== undefined) filter.pipelineName = query.pipeline;
  if (query.source !== undefined) filter.runSource = query.source;
  if (query.status !== undefined) {
    const status = RUN_STATUSES.find((candidate) => candidate.toLowerCase() === query.status!.toLowerCase());
    if (!status) {
      throw invalid(
        '?status',
        `The query parameter status must be one of ${RUN_STATUSES.join(', ')}; got ${JSON.stringify(query.status)}.`,
        { known: [...RUN_STATUSES] },
      );
    }
    filter.status = status;
  }
  if (query.tag !== undefined) {
    const at = query.tag.indexOf(':');
    const key = at === -1 ? query.tag : query.tag.slice(0, at);
    if (key === '') {
      throw invalid(
        '?tag',
        `The query parameter tag must be key:value or key; got ${JSON.stringify(query.tag)}.`,
      );
    }
    filter.tags = { [key]: at === -1 ? null : query.tag.slice(at + 1) };
  }
  if (query.before !== undefined) {
    if (!ws.store.getRun(query.before)) {
      throw invalid(
        '?before',
        `The query parameter before must be the id of a run (the "next" of the page before); no run "${query.before}" exists.`,
      );
    }
    filter.before = query.before;
  }
  return filter;
}

/**
 * A page of runs, newest first (one more run than the page is read, to know whether one follows). The first
 * page starts with the submissions the queue has not started yet (`Queued`), which have no run yet.
 */
export function listRunsPage(ws: Workspace, url: URL): RunList {
  const { status, ...filter } = runsQuery(ws, url);
  const waiting =
    filter.before === undefined && (status === undefined || status === 'Queued')
      ? publishStore(ws)
          .listWaiting()
          .filter((entry) => !ws.store.getRun(entry.runId))
          .map((entry) => waitingSummary(ws, entry))
          .filter(
            (run) =>
              (filter.experiment === undefined || run.experiment === filter.experiment) &&
              (filter.pipelineName === undefined || run.pipelineName === filter.pipelineName) &&
              (filter.runSource === undefined || run.runSource === filter.runSource) &&
              Object.entries(filter.tags ?? {}).every(([key, value]) =>
                value === null ? key in run.tags : run.tags[key] === value,
              ),
          )
      : [];
  if (status === 'Queued') return { runs: waiting };
  const records = ws.store.queryRuns({
    ...filter,
    ...(status === undefined ? {} : { status }),
    limit: filter.limit + 1,
  });
  const page = records.slice(0, filter.limit);
  return {
    runs: [...waiting, ...runSummaries(ws, page)],
    ...(records.length > filter.limit ? { next: page[page.length - 1]!.id } : {}),
  };
}

/** The file of a step's log, or null when the step has none (yet). */
function logFile(ws: Workspace, step: StepRunRecord, stream: LogStream): string | null {
  const folder = logFolder(ws, step);
  return folder ? join(folder, `${stream}.txt`) : null;
}

async function fileSize(file: string | null): Promise<number> {
  if (!file) return 0;
  return (await stat(file).catch(() => undefined))?.size ?? 0;
}

/** The byte size of each log of a step. */
export async function logSizes(ws: Workspace, step: StepRunRecord): Promise<StepDetail['logs']> {
  const [stdout, stderr, sluice] = await Promise.all(
    LOG_STREAMS.map((stream) => fileSize(logFile(ws, step, stream))),
  );
  return { stdout: stdout!, stderr: stderr!, sluice: sluice! };
}

function logStream(value: string): LogStream {
  const stream = LOG_STREAMS.find((candidate) => candidate === value);
  if (!stream) {
    throw invalid('stream', `A step has the logs ${LOG_STREAMS.join(', ')}; not ${JSON.stringify(value)}.`, {
      known: [...LOG_STREAMS],
    });
  }
  return stream;
}

/**
 * A range of a step's log (never the whole file in memory): `offset` and `length`, by default the last
 * 256 KiB; `download=1` streams the whole file as an attachment. `X-Log-Size` tells the file's size and
 * `X-Log-Offset` where the answered bytes start.
 */
async function readLog(ws: Workspace, url: URL, params: string[]): Promise<Response> {
  const [runId, stepName, streamName] = params as [string, string, string];
  const stream = logStream(streamName);
  const step = getStepRecord(ws, runId, stepName);
  const query = submissionQuery(url, ['offset', 'length', 'download'] as const);
  if (query.download !== undefined && query.download !== '1' && query.download !== 'true') {
    throw invalid(
      '?download',
      `The query parameter download takes 1; got ${JSON.stringify(query.download)}.`,
    );
  }
  const download = query.download !== undefined;
  if (download && (query.offset !== undefined || query.length !== undefined)) {
    throw invalid('?download', 'download=1 answers the whole log; leave out offset and length.');
  }
  const file = logFile(ws, step, stream);
  const handle = file ? await open(file, 'r').catch(() => undefined) : undefined;
  const size = handle ? (await handle.stat()).size : 0;
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'x-log-size': String(size),
    'cache-control': 'no-store',
  };
  if (download) {
    headers['content-disposition'] =
      `attachment; filename="${`${step.runId}.${step.stepName}.${stream}.txt`.replace(/[^\w.-]/g, '_')}"`;
    headers['content-length'] = String(size);
    if (!handle) return new Response('', { status: 200, headers });
    const body = Readable.toWeb(handle.createReadStream({ start: 0, end: Math.max(0, size - 1) }));
    return new Response(size === 0 ? '' : (body as ReadableStream<Uint8Array>), { status: 200, headers });
  }
  try {
    const length = wholeNumber('length', query.length, 0, MAX_LOG_RANGE_BYTES);
    const offset =
      wholeNumber('offset', query.offset, 0, Number.MAX_SAFE_INTEGER) ??
      Math.max(0, size - (length ?? DEFAULT_LOG_TAIL_BYTES));
    const count = Math.max(0, Math.min(length ?? DEFAULT_LOG_TAIL_BYTES, size - offset));
    const buffer = Buffer.alloc(count);
    if (handle && count > 0) await handle.read(buffer, 0, count, offset);
    headers['x-log-offset'] = String(Math.min(offset, size));
    return new Response(buffer, { status: 200, headers });
  } finally {
    await handle?.close();
  }
}

interface OutputListing {
  datastore: string;
  /** Each file: its path inside the output, its size, and where it is on the datastore. */
  files: Array<{ path: string; bytes: number; at: string }>;
}

/** The files of a step's output (a finished, not deleted one), paths relative to the output. */
async function outputFiles(ws: Workspace, params: string[]): Promise<OutputListing> {
  const [runId, stepName, outputName] = params as [string, string, string];
  const step = getStepRecord(ws, runId, stepName);
  const output = ws.store.getOutputs(step.id).find((candidate) => candidate.name === outputName);
  if (!output) {
    const done = step.status === 'Finished' || step.status === 'Reused';
    throw new SluiceError(
      'OUTPUT_NOT_FOUND',
      `Step "${stepName}" of run ${runId} has no output "${outputName}"${done ? '' : ` (it is ${step.status}; outputs exist once it has finished)`}.`,
      { details: { run: runId, step: stepName, output: outputName } },
    );
  }
  if (output.deletedAt) {
    throw new SluiceError(
      'OUTPUT_NOT_AVAILABLE',
      `Output "${outputName}" of step "${stepName}" was deleted by \`sluice gc\` at ${output.deletedAt}; re-run the pipeline to produce it again.`,
      { details: { run: runId, step: stepName, output: outputName } },
    );
  }
  const prefix = `${output.path.replace(/\/+$/, '')}/`;
  const inside = (path: string): string =>
    output.type === 'file' ? basename(path) : path.startsWith(prefix) ? path.slice(prefix.length) : path;
  const entries = await ws.datastore(output.datastore).list(output.path);
  return {
    datastore: output.datastore,
    files: entries.map((entry) => ({ path: inside(entry.path), bytes: entry.size, at: entry.path })),
  };
}

/** One file of a step's output, by its path inside the output: only files the output lists are answered. */
async function outputFile(ws: Workspace, params: string[]): Promise<Response> {
  const path = params[3]!;
  if (path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '.')) {
    throw new SluiceError(
      'DATASTORE_PATH_ESCAPE',
      `The path ${JSON.stringify(path)} leaves the output; give a path its file list names.`,
      { details: { path } },
    );
  }
  const listing = await outputFiles(ws, params);
  const file = listing.files.find((candidate) => candidate.path === path);
  if (!file) {
    throw new SluiceError(
      'OUTPUT_NOT_FOUND',
      `Output "${params[2]}" has no file ${JSON.stringify(path)}; list its files with GET /runs/${params[0]}/steps/${params[1]}/outputs/${params[2]}/files.`,
      { details: { output: params[2], path } },
    );
  }
  const stream = await ws.datastore(listing.datastore).read(file.at);
  return new Response(Readable.toWeb(stream as Readable) as ReadableStream<Uint8Array>, {
    status: 200,
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': String(file.bytes),
      'content-disposition': `attachment; filename="${basename(path).replace(/[^\w.-]/g, '_')}"`,
    },
  });
}

export interface ApiRouteOptions {
  workspace: Workspace;
  /** Cancel a run this server executes (the queue's runs); false when it does not execute it. */
  cancelRun(runId: string): Promise<boolean>;
}

/** Sluice's own read routes and the studio's write routes (enable/disable, cancel). */
export function apiRoutes({ workspace: ws, cancelRun }: ApiRouteOptions): Route[] {
  const noQuery =
    (action: Action): Action =>
    (context) => {
      submissionQuery(context.url, []);
      return action(context);
    };
  /** A GET route answering JSON; it takes no query parameters unless it reads them (`query`). */
  const get = (
    pattern: RegExp,
    answer: (params: string[], url: URL) => unknown,
    options: { query?: boolean } = {},
  ): Route => {
    const action: Action = async ({ params, url }) => json(200, await answer(params, url));
    return { pattern, methods: { GET: options.query ? action : noQuery(action) } };
  };
  const post = (pattern: RegExp, action: Action): Route => ({ pattern, methods: { POST: noQuery(action) } });
  const whoami: Action = ({ principal, via }) =>
    json(200, {
      subject: principal.subject,
      scope: principal.scopes.includes('submit') ? 'submit' : 'read',
      via,
    } satisfies WhoAmI);
  const setStatus =
    (kind: 'pipeline' | 'endpoint', enable: boolean): Action =>
    ({ params }) => {
      const target =
        kind === 'pipeline'
          ? PublishedPipeline.get(ws, { id: params[0]! })
          : PipelineEndpoint.get(ws, params[0]!);
      if (enable) target.enable();
      else target.disable();
      return json(200, { status: target.status });
    };

  return [
    { pattern: /^\/whoami$/, methods: { GET: noQuery(whoami) } },
    get(/^\/runs$/, (_, url) => listRunsPage(ws, url), { query: true }),
    get(/^\/runs\/([^/]+)\/detail$/, ([id]) => runDetail(ws, id!)),
    get(/^\/runs\/([^/]+)\/explain$/, ([id]) => runExplanations(ws, id!)),
    get(/^\/runs\/([^/]+)\/metrics$/, ([id]) => runMetrics(ws, id!)),
    get(/^\/runs\/([^/]+)\/steps\/([^/]+)$/, async ([id, step]) =>
      stepDetail(ws, id!, step!, await logSizes(ws, getStepRecord(ws, id!, step!))),
    ),
    {
      pattern: /^\/runs\/([^/]+)\/steps\/([^/]+)\/logs\/([^/]+)$/,
      methods: { GET: ({ url, params }) => readLog(ws, url, params) },
    },
    get(/^\/runs\/([^/]+)\/steps\/([^/]+)\/outputs\/([^/]+)\/files$/, async (params) => ({
      files: (await outputFiles(ws, params)).files.map(({ path, bytes }) => ({ path, bytes })),
    })),
    {
      pattern: /^\/runs\/([^/]+)\/steps\/([^/]+)\/outputs\/([^/]+)\/files\/(.+)$/,
      methods: { GET: noQuery(({ params }) => outputFile(ws, params)) },
    },
    post(/^\/runs\/([^/]+)\/cancel$/, async ({ params }) => {
      const record = getRunRecord(ws, params[0]!);
      if (['Finished', 'Failed', 'Canceled'].includes(record.status)) {
        throw new SluiceError(
          'RUN_NOT_ACTIVE',
          `Run ${record.id} has already ended (${record.status}); nothing to cancel.`,
          {
            details: { run: record.id, status: record.status },
          },
        );
      }
      if (!(await cancelRun(record.id))) {
        throw new SluiceError(
          'RUN_NOT_ACTIVE',
          `Run ${record.id} is not executed by this server (its runner is process ${record.runnerPid ?? '?'}); cancel it where it runs.`,
          { details: { run: record.id, status: record.status } },
        );
      }
      return json(200, runSummaries(ws, [getRunRecord(ws, record.id)])[0]);
    }),
    get(/^\/experiments$/, () => experiments(ws)),
    {
      pattern: /^\/experiments\/([^/]+)\/metrics$/,
      methods: {
        GET: ({ params, url }) => {
          const { name } = submissionQuery(url, ['name'] as const);
          return json(
            200,
            name === undefined
              ? experimentMetricNames(ws, params[0]!)
              : experimentMetric(ws, params[0]!, name),
          );
        },
      },
    },
    get(/^\/datasets$/, () => datasets(ws)),
    get(/^\/datasets\/([^/]+)\/versions\/([^/]+)\/profile$/, ([name, version]) => {
      if (!/^[1-9]\d{0,8}$/.test(version!)) {
        throw invalid(
          'version',
          `A dataset version is a whole number from 1; got ${JSON.stringify(version)}.`,
        );
      }
      return datasetProfile(ws, name!, Number(version));
    }),
    get(/^\/schedules$/, () => schedules(ws)),
    get(/^\/compute$/, () => computeTargets(ws)),
    get(/^\/datastores$/, () => datastores(ws)),
    post(/^\/pipelines\/([^/]+)\/enable$/, setStatus('pipeline', true)),
    post(/^\/pipelines\/([^/]+)\/disable$/, setStatus('pipeline', false)),
    post(/^\/endpoints\/([^/]+)\/enable$/, setStatus('endpoint', true)),
    post(/^\/endpoints\/([^/]+)\/disable$/, setStatus('endpoint', false)),
  ];
}
