/**
 * Sluice's own read routes over real HTTP on loopback, against a workspace with real runs of python3 steps:
 * the runs list and its filters, a run's graph, steps, logs in ranges, outputs, explanations, metrics,
 * experiments, datasets, schedules, compute, datastores; the write routes (enable/disable, cancel); and for
 * each, credentials and coded answers to bad input.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Pipeline } from '@sluice/core';
import { Dataset, Experiment } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import type {
  ComputeSummary,
  DatasetProfile,
  DatasetVersionSummary,
  DatastoreSummary,
  ExperimentSummary,
  ExplanationDetail,
  MetricPoint,
  RunDetail,
  RunList,
  RunSummary,
  ScheduleSummary,
  StepDetail,
  WhoAmI,
} from '../api-types.js';
import {
  Schedule,
  createSluiceClient,
  publishPipeline,
  publishRun,
  serve,
  type SluiceServer,
} from '../index.js';
import { fixture, onCleanup, until, writeScripts, type Fixture } from './helpers.js';

async function server(f: Fixture): Promise<SluiceServer> {
  const started = await serve({ workspace: f.ws });
  onCleanup(() => started.close({ graceMs: 0 }));
  return started;
}

/** A client of one server with one token: `get(path)` → status and JSON. */
function caller(rest: SluiceServer, token?: string) {
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...extra,
  });
  return {
    raw: (path: string, init: RequestInit = {}) =>
      fetch(rest.url + path, { ...init, headers: headers(init.headers as Record<string, string>) }),
    async get<T = unknown>(path: string): Promise<{ status: number; body: T }> {
      const response = await fetch(rest.url + path, { headers: headers() });
      return { status: response.status, body: (await response.json()) as T };
    },
    async post<T = unknown>(path: string): Promise<{ status: number; body: T }> {
      const response = await fetch(rest.url + path, { method: 'POST', headers: headers() });
      return { status: response.status, body: (await response.json()) as T };
    },
  };
}

const TRAIN = `
import sys
from sluice import Run
run = Run.get_context()
for epoch in range(3):
    run.log("accuracy", 0.5 + epoch / 10)
for line in range(2000):
    print("line {:05d}".format(line))
print("to stderr", file=sys.stderr)
`;

function trainPipeline(f: Fixture): Pipeline {
  const folder = writeScripts(join(f.dir, 'train'), { 'train.py': TRAIN });
  return new Pipeline({
    name: 'trainer',
    steps: [new PythonScriptStep({ name: 'train', scriptName: 'train.py', sourceDirectory: folder })],
  });
}

/** A workspace with two seed runs (SDK, tagged), a training run, and a server. */
async function workspaceWithRuns() {
  const f = await fixture();
  const first = await new Experiment(f.ws, 'seed-exp').submit(f.pipeline(), { tags: { team: 'a' } });
  await first.waitForCompletion();
  const second = await new Experiment(f.ws, 'seed-exp').submit(f.pipeline(), {
    tags: { team: 'b' },
    parameters: { pipeline_arg: 11 },
    runSource: 'CLI',
    submittedBy: 'user:alice',
  });
  await second.waitForCompletion();
  const train = await new Experiment(f.ws, 'train-exp').submit(trainPipeline(f));
  expect(await train.waitForCompletion()).toBe('Finished');
  const rest = await server(f);
  return { f, first, second, train, rest, api: caller(rest, f.token('read')) };
}

describe('read routes', () => {
  it('answers who is asking, and 401 without credentials', async () => {
    const f = await fixture();
    const rest = await server(f);
    expect((await caller(rest).get('/whoami')).status).toBe(401);
    const read = await caller(rest, f.token('read')).get<WhoAmI>('/whoami');
    expect(read.body).toMatchObject({ scope: 'read', via: 'token' });
    expect(read.body.subject).toMatch(/^token:[0-9a-f]{12}$/);
    expect((await caller(rest, f.token('submit')).get<WhoAmI>('/whoami')).body.scope).toBe('submit');
    const bad = await caller(rest, f.token('read')).get<{ error: { code: string } }>('/whoami?x=1');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'REQUEST_INVALID']);
  });

  it('lists runs newest first with filters and keyset pages', async () => {
    const { first, second, train, api, f, rest: server1 } = await workspaceWithRuns();
    const all = await api.get<RunList>('/runs');
    expect(all.status).toBe(200);
    expect(all.body.runs.map((run) => run.id)).toEqual([train.id, second.id, first.id]);
    expect(all.body.next).toBeUndefined();
    expect(all.body.runs[1]).toMatchObject({
      experiment: 'seed-exp',
      pipelineName: 'seed',
      status: 'Finished',
      runSource: 'CLI',
      submittedBy: 'user:alice',
      tags: { team: 'b' },
      steps: { total: 2, ran: 1, reused: 1, failed: 0, running: 0 },
      error: null,
    });
    expect(all.body.runs[2]).toMatchObject({ runSource: 'SDK', submittedBy: null });

    const page1 = await api.get<RunList>('/runs?limit=2');
    expect(page1.body.runs.map((run) => run.id)).toEqual([train.id, second.id]);
    expect(page1.body.next).toBe(second.id);
    const page2 = await api.get<RunList>(`/runs?limit=2&before=${page1.body.next}`);
    expect(page2.body.runs.map((run) => run.id)).toEqual([first.id]);
    expect(page2.body.next).toBeUndefined();

    const ids = async (query: string): Promise<string[]> =>
      (await api.get<RunList>(`/runs?${query}`)).body.runs.map((run) => run.id);
    expect(await ids('experiment=seed-exp')).toEqual([second.id, first.id]);
    expect(await ids('tag=team:a')).toEqual([first.id]);
    expect(await ids('tag=team')).toEqual([second.id, first.id]);
    expect(await ids('source=CLI')).toEqual([second.id]);
    expect(await ids('pipeline=trainer&status=finished')).toEqual([train.id]);
    expect(await ids('status=Failed')).toEqual([]);

    for (const query of [
      'status=Done',
      'limit=0',
      'limit=abc',
      'limit=501',
      'before=nope',
      'color=red',
      'tag=:x',
    ]) {
      const answer = await api.get<{ error: { code: string; details: { field: string } } }>(`/runs?${query}`);
      expect([query, answer.status, answer.body.error.code]).toEqual([query, 400, 'REQUEST_INVALID']);
    }

    // a REST submission records the token's subject
    const published = await publishRun(f.ws, first, { name: 'seed-published' });
    const token = f.token('submit');
    const client = createSluiceClient({ baseUrl: server1.url, token });
    const submitted = await client.submitPipeline(published.id, { ExperimentName: 'rest-exp' });
    await client.waitForRun(submitted.Id, { timeoutMs: 20_000, pollIntervalMs: 50 });
    const rest = await api.get<RunList>('/runs?source=REST');
    expect(rest.body.runs[0]).toMatchObject({
      id: submitted.Id,
      runSource: 'REST',
      submittedBy: `token:${token.slice(4, 16)}`,
    });
    expect((await api.get<RunDetail>(`/runs/${submitted.Id}/detail`)).body.published).toEqual({
      pipelineId: published.id,
      endpoint: null,
      version: null,
    });
  });

  it("shows a run's graph, steps, logs, outputs, explanations and metrics", async () => {
    const { second, train, api } = await workspaceWithRuns();
    const detail = await api.get<RunDetail>(`/runs/${second.id}/detail`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      id: second.id,
      description: 'The seed pipeline',
      parameters: { pipeline_arg: 11 },
      published: null,
    });
    const nodes = Object.fromEntries(detail.body.graph.nodes.map((node) => [node.id, node]));
    expect(Object.keys(nodes).sort()).toEqual(
      ['compare', 'data:input_data', 'data:out_data', 'data:out_data3', 'prepare'].sort(),
    );
    expect(nodes.prepare).toMatchObject({ type: 'step', kind: 'python-script', status: 'Reused' });
    expect(nodes.prepare!.reusedFrom?.runId).not.toBe(second.id);
    expect(nodes.compare).toMatchObject({ status: 'Finished', reusedFrom: null });
    expect(nodes['data:out_data3']!.location).toMatch(/^workspaceblobstore:/);
    expect(detail.body.graph.edges).toEqual(
      expect.arrayContaining([
        { source: 'data:input_data', target: 'prepare' },
        { source: 'prepare', target: 'data:out_data' },
        { source: 'data:out_data', target: 'compare' },
        { source: 'compare', target: 'data:out_data3' },
      ]),
    );

    const explain = await api.get<ExplanationDetail[]>(`/runs/${second.id}/explain`);
    expect(explain.body.map((entry) => [entry.step, entry.decision])).toEqual([
      ['prepare', 'REUSED'],
      ['compare', 'RAN'],
    ]);
    expect(explain.body[1]!.reasons).toEqual(['parameter pipeline_arg 10 → 11']);

    const step = await api.get<StepDetail>(`/runs/${train.id}/steps/train`);
    expect(step.body).toMatchObject({
      runId: train.id,
      name: 'train',
      kind: 'python-script',
      status: 'Finished',
      exitCode: 0,
      computeTarget: { name: 'local', provider: 'local' },
      explanation: { decision: 'RAN' },
    });
    expect(step.body.metrics.map((metric) => metric.value)).toEqual([0.5, 0.6, 0.7]);
    expect(step.body.logs.stdout).toBe(2000 * 11);
    expect(step.body.logs.stderr).toBe('to stderr\n'.length);

    const metrics = await api.get<Array<{ step: string; name: string; value: number }>>(
      `/runs/${train.id}/metrics`,
    );
    expect(metrics.body.map((metric) => [metric.step, metric.name, metric.value])).toEqual([
      ['train', 'accuracy', 0.5],
      ['train', 'accuracy', 0.6],
      ['train', 'accuracy', 0.7],
    ]);

    // logs: the tail by default, any range, the whole file as a download
    const logs = `/runs/${train.id}/steps/train/logs`;
    const tail = await api.raw(`${logs}/stdout?length=22`);
    expect(tail.headers.get('x-log-size')).toBe(String(2000 * 11));
    expect(tail.headers.get('x-log-offset')).toBe(String(1998 * 11));
    expect(await tail.text()).toBe('line 01998\nline 01999\n');
    const range = await api.raw(`${logs}/stdout?offset=11&length=11`);
    expect(await range.text()).toBe('line 00001\n');
    const past = await api.raw(`${logs}/stdout?offset=999999`);
    expect([past.status, await past.text()]).toEqual([200, '']);
    const download = await api.raw(`${logs}/stdout?download=1`);
    expect(download.headers.get('content-disposition')).toMatch(
      /^attachment; filename=".*\.train\.stdout\.txt"$/,
    );
    const whole = await download.text();
    expect(whole.length).toBe(2000 * 11);
    expect(whole.startsWith('line 00000\n')).toBe(true);
    expect(await (await api.raw(`${logs}/stderr`)).text()).toBe('to stderr\n');
    for (const path of [
      `${logs}/stdout?offset=-1`,
      `${logs}/stdout?length=x`,
      `${logs}/other`,
      `${logs}/stdout?download=2`,
    ]) {
      const answer = await api.get<{ error: { code: string } }>(path);
      expect([path, answer.status, answer.body.error.code]).toEqual([path, 400, 'REQUEST_INVALID']);
    }

    // outputs: the file list and a file, never a path outside the output
    const files = await api.get<{ files: Array<{ path: string; bytes: number }> }>(
      `/runs/${second.id}/steps/compare/outputs/out_data3/files`,
    );
    expect(files.body.files).toEqual([{ path: 'result.txt', bytes: expect.any(Number) }]);
    const file = await api.raw(`/runs/${second.id}/steps/compare/outputs/out_data3/files/result.txt`);
    expect(await file.text()).toBe('v1 11 HELLO SLUICE\n');
    const escape = await api.get<{ error: { code: string } }>(
      `/runs/${second.id}/steps/compare/outputs/out_data3/files/..%2F..%2Fsluice.workspace.json`,
    );
    expect([escape.status, escape.body.error.code]).toEqual([400, 'DATASTORE_PATH_ESCAPE']);
    const missing = await api.get<{ error: { code: string } }>(
      `/runs/${second.id}/steps/compare/outputs/out_data3/files/nope.txt`,
    );
    expect([missing.status, missing.body.error.code]).toEqual([404, 'OUTPUT_NOT_FOUND']);

    // unknown ids: coded 404s
    for (const [path, code] of [
      ['/runs/nope/detail', 'RUN_NOT_FOUND'],
      ['/runs/nope/explain', 'RUN_NOT_FOUND'],
      ['/runs/nope/metrics', 'RUN_NOT_FOUND'],
      [`/runs/${train.id}/steps/nope`, 'STEP_RUN_NOT_FOUND'],
      [`/runs/${train.id}/steps/nope/logs/stdout`, 'STEP_RUN_NOT_FOUND'],
      [`/runs/${second.id}/steps/compare/outputs/nope/files`, 'OUTPUT_NOT_FOUND'],
    ] as const) {
      const answer = await api.get<{ error: { code: string } }>(path);
      expect([path, answer.status, answer.body.error.code]).toEqual([path, 404, code]);
    }
    // and no route answers without credentials
    expect((await caller(await server(await fixture())).get(`/runs`)).status).toBe(401);
  });

  it('lists experiments, metrics across runs, datasets and profiles, schedules, compute and datastores', async () => {
    const { f, first, train, api } = await workspaceWithRuns();
    await new Experiment(f.ws, 'train-exp').submit(trainPipeline(f)).then((run) => run.waitForCompletion());

    const experiments = await api.get<ExperimentSummary[]>('/experiments');
    expect(experiments.body.map((entry) => [entry.name, entry.runs])).toEqual([
      ['train-exp', 2],
      ['seed-exp', 2],
    ]);
    expect((await api.get('/experiments/train-exp/metrics')).body).toEqual({ names: ['accuracy'] });
    const points = await api.get<MetricPoint[]>('/experiments/train-exp/metrics?name=accuracy');
    expect(points.body.map((point) => point.value)).toEqual([0.5, 0.6, 0.7, 0.5, 0.6, 0.7]);
    expect(points.body[0]).toMatchObject({ runId: train.id, step: 'train' });
    const unknown = await api.get<{ error: { code: string } }>('/experiments/nope/metrics');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'EXPERIMENT_NOT_FOUND']);

    const csv = join(f.dir, 'iris.csv');
    writeFileSync(csv, 'sepal,species\n5.1,setosa\n4.9,setosa\n6.3,virginica\n');
    const store = f.ws.getDefaultDatastore();
    await store.uploadFiles([csv], { targetPath: 'tables' });
    await Dataset.Tabular.fromDelimitedFiles([[store, 'tables/iris.csv']]).register(f.ws, { name: 'iris' });
    await Dataset.File.fromFiles([[store, 'data/input.txt']]).register(f.ws, { name: 'inputs' });
    const list = await api.get<DatasetVersionSummary[]>('/datasets');
    expect(list.body.map((entry) => [entry.name, entry.version, entry.kind])).toEqual([
      ['inputs', 1, 'file'],
      ['iris', 1, 'tabular'],
    ]);
    const profile = await api.get<DatasetProfile>('/datasets/iris/versions/1/profile');
    expect(profile.body.rows).toBe(3);
    expect(profile.body.columns[0]).toMatchObject({
      column: 'sepal',
      type: 'number',
      count: 3,
      min: 4.9,
      max: 6.3,
    });
    for (const [path, status, code] of [
      ['/datasets/inputs/versions/1/profile', 400, 'REQUEST_INVALID'],
      ['/datasets/iris/versions/2/profile', 404, 'DATASET_VERSION_NOT_FOUND'],
      ['/datasets/iris/versions/one/profile', 400, 'REQUEST_INVALID'],
    ] as const) {
      const answer = await api.get<{ error: { code: string } }>(path);
      expect([path, answer.status, answer.body.error.code]).toEqual([path, status, code]);
    }

    const published = await publishRun(f.ws, first, { name: 'seed-published' });
    Schedule.create(f.ws, {
      name: 'nightly',
      pipelineId: published.id,
      experimentName: 'nightly-exp',
      recurrence: { frequency: 'Hour', interval: 2 },
    });
    const schedules = await api.get<ScheduleSummary[]>('/schedules');
    expect(schedules.body).toEqual([
      expect.objectContaining({
        name: 'nightly',
        target: { pipelineId: published.id },
        experimentName: 'nightly-exp',
        trigger: expect.stringMatching(/^every 2 hours/),
        status: 'Active',
      }),
    ]);
    expect((await api.get<ComputeSummary[]>('/compute')).body).toEqual([
      { name: 'local', provider: 'local', options: expect.any(Object) },
    ]);
    const datastores = (await api.get<DatastoreSummary[]>('/datastores')).body;
    expect(datastores.map((entry) => [entry.name, entry.provider, entry.isDefault])).toEqual([
      ['workspaceblobstore', 'local', true],
      ['workspacefilestore', 'local', false],
    ]);
  });

  it('enables and disables pipelines and endpoints, and cancels only runs it executes (submit scope)', async () => {
    const { f, first, rest } = await workspaceWithRuns();
    const published = await publishRun(f.ws, first, { name: 'seed-published' });
    const read = caller(rest, f.token('read'));
    const submit = caller(rest, f.token('submit'));
    const forbidden = await read.post<{ error: { code: string } }>(`/pipelines/${published.id}/disable`);
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, 'AUTH_FORBIDDEN']);
    expect((await caller(rest).post(`/pipelines/${published.id}/disable`)).status).toBe(401);
    expect((await submit.post(`/pipelines/${published.id}/disable`)).body).toEqual({ status: 'Disabled' });
    expect(published.status).toBe('Disabled');
    expect((await submit.post(`/pipelines/${published.id}/enable`)).body).toEqual({ status: 'Active' });
    const unknown = await submit.post<{ error: { code: string } }>('/endpoints/nope/disable');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'ENDPOINT_NOT_FOUND']);
    const ended = await submit.post<{ error: { code: string } }>(`/runs/${first.id}/cancel`);
    expect([ended.status, ended.body.error.code]).toEqual([409, 'RUN_NOT_ACTIVE']);
    const none = await submit.post<{ error: { code: string } }>('/runs/nope/cancel');
    expect([none.status, none.body.error.code]).toEqual([404, 'RUN_NOT_FOUND']);
    const wrong = await submit.get<{ error: { code: string } }>(`/runs/${first.id}/cancel`);
    expect([wrong.status, wrong.body.error.code]).toEqual([405, 'METHOD_NOT_ALLOWED']);
  });

  it('lists submissions not started yet as Queued, shows their graph, and cancels a run it executes', async () => {
    const f = await fixture();
    const hold = join(f.dir, 'hold');
    mkdirSync(hold);
    process.env.SLUICE_TEST_HOLD = hold;
    onCleanup(() => delete process.env.SLUICE_TEST_HOLD);
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'held' });
    const rest = await serve({ workspace: f.ws, concurrency: 1 });
    onCleanup(() => rest.close({ graceMs: 0 }));
    const token = f.token('submit');
    const client = createSluiceClient({ baseUrl: rest.url, token });
    const running = await client.submitPipeline(published.id, { ExperimentName: 'held', Tags: { n: '1' } });
    await until(() => readdirSync(hold).some((name) => name.startsWith('pid-')));
    const queued = await client.submitPipeline(published.id, { ExperimentName: 'held', Tags: { n: '2' } });
    const api = caller(rest, token);

    const list = await api.get<RunList>('/runs');
    expect(list.body.runs.map((run) => [run.id, run.status])).toEqual([
      [queued.Id, 'Queued'],
      [running.Id, 'Running'],
    ]);
    expect(list.body.runs[0]).toMatchObject({
      experiment: 'held',
      pipelineName: 'seed',
      runSource: 'REST',
      submittedBy: expect.stringMatching(/^token:/),
      tags: { n: '2' },
      steps: { total: 2, ran: 0 },
    });
    expect((await api.get<RunList>('/runs?status=Queued')).body.runs.map((run) => run.id)).toEqual([
      queued.Id,
    ]);
    expect((await api.get<RunList>('/runs?tag=n:1')).body.runs.map((run) => run.id)).toEqual([running.Id]);
    const detail = await api.get<RunDetail>(`/runs/${queued.Id}/detail`);
    expect(detail.body).toMatchObject({
      status: 'Queued',
      parameters: { pipeline_arg: 10 },
      published: { pipelineId: published.id, endpoint: null, version: null },
    });
    expect(detail.body.graph.nodes.filter((node) => node.type === 'step')).toEqual([
      expect.objectContaining({ id: 'prepare', status: 'NotStarted' }),
      expect.objectContaining({ id: 'compare', status: 'NotStarted' }),
    ]);

    expect((await api.get(`/runs/${queued.Id}/explain`)).body).toEqual([]);
    expect((await api.get(`/runs/${queued.Id}/metrics`)).body).toEqual([]);
    const events = await api.raw(`/events?run=${queued.Id}`);
    expect(events.status).toBe(200);
    await events.body?.cancel();

    const canceled = await api.post<RunSummary>(`/runs/${running.Id}/cancel`);
    expect([canceled.status, canceled.body.status]).toEqual([200, 'Canceled']);
    writeFileSync(join(hold, 'release'), '');
    const done = await client.waitForRun(queued.Id, { timeoutMs: 20_000, pollIntervalMs: 50 });
    expect(done.Status.StatusDetail).toBe('Finished');
  });
});
