import { connect } from 'node:net';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  changes,
  listing,
  newWorkspace,
  pipelineFile,
  recordFigures,
  sluice,
  startSluice,
  tempDir,
  withWorkspace,
} from './harness.js';

/** What was tried, and how each answered: printed at the end of the run. */
const tried = { cli: 0, pipelines: 0, configs: 0, http: 0 };
const CODED = /^error [A-Z][A-Z_]+: \S/m;
const STACK = /\n\s+at .+:\d+:\d+/;

/** A failed command: exit 2, `error CODE: message`, no stack trace. Returns the code. */
function expectCoded(result: { code: number | null; stderr: string; stdout: string }, what: string): string {
  expect(result.code, `${what}: exit code (stderr: ${result.stderr})`).toBe(2);
  expect(result.stderr, `${what}: coded message`).toMatch(CODED);
  expect(result.stderr, `${what}: no stack trace`).not.toMatch(STACK);
  return /^error ([A-Z_]+):/m.exec(result.stderr)![1]!;
}

let ws: string;
let outside: string;
afterAll(() => {
  recordFigures('Malformed inputs (tools/fault-suite/src/malformed.test.ts)', {
    'inputs tried': `${tried.cli + tried.pipelines + tried.configs + tried.http} (CLI arguments ${tried.cli}, pipeline definitions and paths ${tried.pipelines}, workspace configs ${tried.configs}, HTTP requests ${tried.http})`,
    'answered with a coded error': 'all (else the suite fails)',
  });
});

beforeAll(() => {
  ws = newWorkspace('malformed');
  // links out of the default datastore: a file, a folder, and a folder to upload into
  const store = join(ws, '.sluice', 'datastores', 'workspaceblobstore');
  mkdirSync(store, { recursive: true });
  outside = join(dirname(ws), 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'not for steps');
  symlinkSync('/etc/hostname', join(store, 'hostname'));
  symlinkSync('/etc', join(store, 'etc'));
  symlinkSync(outside, join(store, 'linked'));
});

/** Run `sluice` with arguments that must be refused, and check nothing was written. */
async function refused(args: string[], env: Record<string, string> = {}): Promise<string> {
  const before = listing(ws);
  const outsideBefore = listing(outside);
  const runsBefore = await withWorkspace(ws, (opened) => opened.store.listRuns().length);
  const result = await sluice([...args, '-w', ws], env);
  const what = `sluice ${args.join(' ').slice(0, 80)} ${JSON.stringify(env)}`;
  const code = expectCoded(result, what);
  expect(changes(before, listing(ws)), `${what}: wrote to the workspace`).toEqual([]);
  expect(changes(outsideBefore, listing(outside)), `${what}: wrote outside the workspace`).toEqual([]);
  expect(await withWorkspace(ws, (opened) => opened.store.listRuns().length), `${what}: run rows`).toBe(
    runsBefore,
  );
  return code;
}

describe('command-line arguments', () => {
  const CASES: Array<[string[], string?]> = [
    [['runs', '-n', 'abc'], 'OPTION_INVALID'],
    [['runs', '-n', '-5'], 'OPTION_INVALID'],
    [['runs', '--no-such-option'], 'OPTION_INVALID'],
    [['no-such-command'], 'OPTION_INVALID'],
    [['serve', '--port', '99999'], 'OPTION_INVALID'],
    [['serve', '--port', 'abc'], 'OPTION_INVALID'],
    [['serve', '--concurrency', '0'], 'OPTION_INVALID'],
    [['show', 'no-such-run'], 'RUN_NOT_FOUND'],
    [['logs', 'no-such-run'], 'RUN_NOT_FOUND'],
    [['explain', 'no-such-run'], 'RUN_NOT_FOUND'],
    [['datasets', 'no-such-dataset'], 'DATASET_NOT_FOUND'],
    [['gc', '--older-than', 'nonsense']],
    [['gc', '--keep-last', 'abc'], 'OPTION_INVALID'],
    [['token', 'create', '--scope', 'everything']],
    [['token', 'create', '--expires', 'soon']],
    [['token', 'revoke', 'no-such-token'], 'TOKEN_NOT_FOUND'],
    [['run', 'no-such-pipeline.mjs'], 'PIPELINE_FILE_INVALID'],
    [['run', FIXTURES], 'PIPELINE_FILE_INVALID'],
    [['run', pipelineFile('overlap'), '-p', 'lr'], 'OPTION_INVALID'],
    [['run', pipelineFile('overlap'), '-p', 'nope=1'], 'PARAMETER_UNKNOWN'],
    [['run', pipelineFile('overlap'), '-p', 'lr=fast'], 'PARAMETER_TYPE'],
    [['run', pipelineFile('overlap'), '-t', 'notag']],
    [['run'], 'OPTION_INVALID'],
    [['publish', pipelineFile('overlap')], 'OPTION_INVALID'],
    [['publish', 'no-such-pipeline.mjs', '--name', 'x'], 'PIPELINE_FILE_INVALID'],
  ];
  it.each(CASES)('sluice %j is refused with a coded error and writes nothing', async (args, expected) => {
    tried.cli += 1;
    const code = await refused(args, { FAULT_LOG: '/dev/null' });
    if (expected) expect(code).toBe(expected);
  });
  it('a workspace that does not exist is a coded error', async () => {
    tried.cli += 1;
    const result = await sluice(['runs', '-w', join(tempDir('none'), 'nowhere')]);
    expect(expectCoded(result, 'runs -w nowhere')).toBe('WORKSPACE_NOT_FOUND');
  });
});

describe('pipeline definitions and paths', () => {
  const CASES: Array<[string, string?]> = [
    ['nothing', 'PIPELINE_FILE_INVALID'],
    ['number', 'PIPELINE_FILE_INVALID'],
    ['throws', 'PIPELINE_FILE_INVALID'],
    ['cycle', 'CYCLE_DETECTED'],
    ['duplicate', 'STEP_NAME_DUPLICATE'],
    ['missing-script', 'SCRIPT_NOT_FOUND'],
    ['missing-source', 'SOURCE_DIRECTORY_NOT_FOUND'],
    ['source-is-file', 'SOURCE_DIRECTORY_NOT_FOUND'],
    ['destination-dotdot', 'DATASTORE_PATH_ESCAPE'],
    ['destination-absolute', 'DATASTORE_PATH_ESCAPE'],
    ['destination-unknown-datastore', 'DATASTORE_NOT_FOUND'],
    ['destination-symlink', 'DATASTORE_PATH_ESCAPE'],
    ['argument-nul', 'ARGUMENT_INVALID'],
    ['argument-1mb', 'ARGUMENT_INVALID'],
    ['compute-unknown', 'COMPUTE_NOT_FOUND'],
    ['input-missing', 'INPUT_NOT_AVAILABLE'],
    ['input-dotdot', 'DATASTORE_PATH_ESCAPE'],
    ['input-symlink-file', 'DATASTORE_PATH_ESCAPE'],
    ['input-symlink-folder', 'DATASTORE_PATH_ESCAPE'],
    ['upload-through-symlink', 'DATASTORE_PATH_ESCAPE'],
  ];
  it.each(CASES)(
    'pipeline case %s is refused at submit and nothing runs or is written',
    async (name, expected) => {
      tried.pipelines += 1;
      const code = await refused(['run', pipelineFile('bad')], { FAULT_CASE: name });
      if (expected) expect(code).toBe(expected);
    },
  );
});

describe('workspace configurations', () => {
  const valid = {
    name: 'broken',
    plugins: [],
    defaultDatastore: 'workspaceblobstore',
    datastores: {},
    computeTargets: { local: { provider: 'local', options: {} } },
  };
  const CASES: Array<[string, string]> = [
    ['not JSON', '{ "name": '],
    ['an array', '[]'],
    ['no name', JSON.stringify({ ...valid, name: undefined })],
    ['name not a string', JSON.stringify({ ...valid, name: 5 })],
    [
      'maxConcurrency 0',
      JSON.stringify({
        ...valid,
        computeTargets: { local: { provider: 'local', options: { maxConcurrency: 0 } } },
      }),
    ],
    [
      'maxConcurrency "two"',
      JSON.stringify({
        ...valid,
        computeTargets: { local: { provider: 'local', options: { maxConcurrency: 'two' } } },
      }),
    ],
    ['datastores 5', JSON.stringify({ ...valid, datastores: 5 })],
    [
      'a datastore path 5',
      JSON.stringify({
        ...valid,
        datastores: { workspaceblobstore: { provider: 'local', options: { path: 5 } } },
      }),
    ],
    ['a datastore without provider', JSON.stringify({ ...valid, datastores: { extra: { options: {} } } })],
    ['defaultDatastore unknown', JSON.stringify({ ...valid, defaultDatastore: 'no-such-store' })],
    ['plugins a string', JSON.stringify({ ...valid, plugins: 'step-python' })],
    ['computeTargets 5', JSON.stringify({ ...valid, computeTargets: 5 })],
    [
      'a compute provider 5',
      JSON.stringify({ ...valid, computeTargets: { local: { provider: 5, options: {} } } }),
    ],
    [
      'killGraceMs -1',
      JSON.stringify({
        ...valid,
        computeTargets: { local: { provider: 'local', options: { killGraceMs: -1 } } },
      }),
    ],
  ];
  it.each(CASES)('a config with %s is refused when the workspace opens', async (_name, text) => {
    tried.configs += 1;
    const dir = newWorkspace('config');
    writeFileSync(join(dir, 'sluice.workspace.json'), text);
    const before = listing(dir);
    for (const args of [['runs'], ['run', pipelineFile('overlap')]]) {
      const result = await sluice([...args, '-w', dir], { FAULT_LOG: '/dev/null' });
      expect(expectCoded(result, `${args[0]} with ${_name}`)).toBe('WORKSPACE_CONFIG_INVALID');
    }
    expect(changes(before, listing(dir))).toEqual([]);
  });
});

describe('HTTP requests', () => {
  let server: ChildProcess;
  let base: URL;
  let submit: string;
  let read: string;
  let serverWs: string;

  beforeAll(async () => {
    serverWs = newWorkspace('http');
    const published = await sluice(
      ['publish', pipelineFile('overlap'), '--name', 'overlap', '--endpoint', 'overlap', '-w', serverWs],
      { FAULT_LOG: '/dev/null' },
    );
    expect(published.code, published.stderr).toBe(0);
    submit = (await sluice(['token', 'create', '--scope', 'submit', '-w', serverWs])).stdout.trim();
    read = (await sluice(['token', 'create', '--scope', 'read', '-w', serverWs])).stdout.trim();
    server = startSluice(['serve', '--port', '0', '-w', serverWs], { FAULT_LOG: '/dev/null' });
    base = new URL(
      await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (match) resolve(match[1]!);
        });
        server.once('exit', () => reject(new Error(`sluice serve exited: ${out}`)));
      }),
    );
  });
  afterAll(async () => {
    server.kill('SIGTERM');
    await new Promise((resolve) => (server.exitCode === null ? server.once('exit', resolve) : resolve(null)));
  });

  const body = (value: unknown): string => JSON.stringify(value);
  const valid = { ExperimentName: 'http', ParameterAssignments: { lr: 0.1 } };
  const FETCHED: Array<[string, () => { path: string; init: RequestInit }]> = [
    ['no token', () => ({ path: '/endpoints/overlap', init: { method: 'POST', body: body(valid) } })],
    [
      'a wrong token',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', headers: { authorization: 'Bearer slc_nonsense' }, body: body(valid) },
      }),
    ],
    [
      'a malformed authorization header',
      () => ({ path: '/pipelines', init: { headers: { authorization: 'Basic Zm9vOmJhcg==' } } }),
    ],
    [
      'a read token submitting',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', headers: { authorization: `Bearer ${read}` }, body: body(valid) },
      }),
    ],
    [
      'a body that is not JSON',
      () => ({ path: '/endpoints/overlap', init: { method: 'POST', body: '{"ExperimentName": ' } }),
    ],
    ['an empty body', () => ({ path: '/endpoints/overlap', init: { method: 'POST', body: '' } })],
    ['a JSON array', () => ({ path: '/endpoints/overlap', init: { method: 'POST', body: '[1,2]' } })],
    [
      'an unknown key',
      () => ({ path: '/endpoints/overlap', init: { method: 'POST', body: body({ ...valid, Surprise: 1 }) } }),
    ],
    [
      'no ExperimentName',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', body: body({ ParameterAssignments: {} }) },
      }),
    ],
    [
      'an ExperimentName with a slash',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', body: body({ ExperimentName: '../x' }) },
      }),
    ],
    [
      'ParameterAssignments a string',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', body: body({ ...valid, ParameterAssignments: 'lr=1' }) },
      }),
    ],
    [
      'an unknown parameter',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', body: body({ ...valid, ParameterAssignments: { nope: 1 } }) },
      }),
    ],
    [
      'a parameter of the wrong type',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', body: body({ ...valid, ParameterAssignments: { lr: 'fast' } }) },
      }),
    ],
    [
      'Tags that are not strings',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', body: body({ ...valid, Tags: { a: 1 } }) },
      }),
    ],
    [
      'DataPathAssignments of the wrong shape',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', body: body({ ...valid, DataPathAssignments: { x: 'y' } }) },
      }),
    ],
    [
      'a body over the limit',
      () => ({
        path: '/endpoints/overlap',
        init: { method: 'POST', body: body({ ...valid, Description: 'x'.repeat(2 * 1024 * 1024) }) },
      }),
    ],
    [
      'DataSetDefinitionValueAssignments of a form it cannot honour',
      () => ({
        path: '/endpoints/overlap',
        init: {
          method: 'POST',
          body: body({
            ...valid,
            DataSetDefinitionValueAssignments: {
              d: { LiteralValue: { DataStoreName: 'x', RelativePath: 'y' } },
            },
          }),
        },
      }),
    ],
    [
      'a query parameter the route does not take',
      () => ({ path: '/endpoints/overlap?pipelineVerison=1', init: { method: 'POST', body: body(valid) } }),
    ],
    [
      'two versions that disagree',
      () => ({
        path: '/endpoints/overlap?version=0&pipelineVersion=1',
        init: { method: 'POST', body: body(valid) },
      }),
    ],
    [
      'an Azure endpoint URL naming a version it does not have',
      () => ({
        path: '/PipelineRuns/PipelineEndpointSubmit/Id/overlap/99',
        init: { method: 'POST', body: body(valid) },
      }),
    ],
    [
      "Azure's endpoint-by-name URL without the name",
      () => ({
        path: '/PipelineRuns/PipelineEndpointSubmit/Name',
        init: { method: 'POST', body: body(valid) },
      }),
    ],
    ['an unknown endpoint', () => ({ path: '/endpoints/nope', init: { method: 'POST', body: body(valid) } })],
    [
      'an unknown endpoint version',
      () => ({ path: '/endpoints/overlap/versions/99', init: { method: 'POST', body: body(valid) } }),
    ],
    ['an unknown route', () => ({ path: '/no/such/route', init: {} })],
    ['a method not served', () => ({ path: '/pipelines', init: { method: 'DELETE' } })],
    ['a broken percent-encoding', () => ({ path: '/runs/%E0%A4%A', init: {} })],
    ['a traversal in the path', () => ({ path: '/runs/..%2F..%2Fetc%2Fpasswd', init: {} })],
    ['a NUL in the path', () => ({ path: '/runs/a%00b', init: {} })],
    ['a very long path', () => ({ path: `/runs/${'x'.repeat(20_000)}`, init: {} })],
    // Sluice's own read routes and the studio's
    ['a query parameter on /whoami', () => ({ path: '/whoami?x=1', init: {} })],
    ['a runs list with an unknown status', () => ({ path: '/runs?status=Done', init: {} })],
    ['a runs list with a negative limit', () => ({ path: '/runs?limit=-5', init: {} })],
    ['a runs list with a limit too large', () => ({ path: '/runs?limit=100000', init: {} })],
    ['a runs list after an unknown run', () => ({ path: '/runs?before=nope', init: {} })],
    ['a runs list with an unknown filter', () => ({ path: '/runs?colour=red', init: {} })],
    ['a runs list with a tag without a key', () => ({ path: '/runs?tag=:x', init: {} })],
    ['the detail of an unknown run', () => ({ path: '/runs/nope/detail', init: {} })],
    ['the explanation of an unknown run', () => ({ path: '/runs/nope/explain', init: {} })],
    ['the metrics of an unknown run', () => ({ path: '/runs/nope/metrics', init: {} })],
    ['an unknown step', () => ({ path: '/runs/nope/steps/x', init: {} })],
    ['a log of an unknown step', () => ({ path: '/runs/nope/steps/x/logs/stdout?offset=x', init: {} })],
    [
      'a traversal in an output file path',
      () => ({ path: '/runs/nope/steps/s/outputs/o/files/..%2F..%2Fsluice.workspace.json', init: {} }),
    ],
    ['the metrics of an unknown experiment', () => ({ path: '/experiments/nope/metrics?name=x', init: {} })],
    [
      'a dataset version that is not a number',
      () => ({ path: '/datasets/x/versions/abc/profile', init: {} }),
    ],
    ['the profile of an unknown dataset', () => ({ path: '/datasets/x/versions/1/profile', init: {} })],
    ['events of an unknown run', () => ({ path: '/events?run=nope', init: {} })],
    ['events with an unknown query parameter', () => ({ path: '/events?since=1', init: {} })],
    ['canceling an unknown run', () => ({ path: '/runs/nope/cancel', init: { method: 'POST' } })],
    ['disabling an unknown endpoint', () => ({ path: '/endpoints/nope/disable', init: { method: 'POST' } })],
    [
      'a read token disabling a pipeline',
      () => ({
        path: '/pipelines/x/disable',
        init: { method: 'POST', headers: { authorization: `Bearer ${read}` } },
      }),
    ],
    [
      'a forged session cookie instead of a token',
      () => ({ path: '/runs', init: { headers: { cookie: 'sluice_session=forged' } } }),
    ],
    [
      'a sign-in with a token that is not valid',
      () => ({ path: '/login', init: { method: 'POST', body: body({ token: 'nope' }) } }),
    ],
    [
      'a sign-in body that is not an object (no token)',
      () => ({ path: '/login', init: { method: 'POST', body: '[1]' } }),
    ],
    ['a sign-in link that is not valid (no token)', () => ({ path: '/login?code=nope', init: {} })],
  ];
  it.each(FETCHED)('%s gets a 4xx with a coded body', async (_name, make) => {
    tried.http += 1;
    const { path, init } = make();
    const headers = new Headers(init.headers);
    if (!headers.has('authorization') && !/token/.test(_name))
      headers.set('authorization', `Bearer ${submit}`);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    const response = await fetch(new URL(path, base), { ...init, headers });
    expect(response.status, _name).toBeGreaterThanOrEqual(400);
    expect(response.status, _name).toBeLessThan(500);
    const answer = (await response.json()) as { error?: { code?: string; message?: string } };
    expect(answer.error?.code, _name).toMatch(/^[A-Z][A-Z_]+$/);
    expect(answer.error?.message, _name).toBeTruthy();
  });

  /** Send raw bytes and read what comes back until the server answers or closes. */
  const raw = (bytes: string, endAfterWrite = false): Promise<string> =>
    new Promise((resolve) => {
      const socket = connect(Number(base.port), base.hostname);
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('error', () => resolve(answer));
      socket.on('close', () => resolve(answer));
      socket.write(bytes, () => (endAfterWrite ? socket.end() : undefined));
      setTimeout(() => socket.destroy(), 5_000);
    });
  const auth = () => `Authorization: Bearer ${read}\r\n`;
  // [what, bytes, whether the client ends its side after writing (then closing without an answer is fine)]
  const RAW: Array<[string, () => string, boolean?]> = [
    ['a path of two slashes', () => `GET // HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`],
    ['a malformed Host header', () => `GET /pipelines HTTP/1.1\r\nHost: [::1\r\n${auth()}\r\n`],
    ['no Host header', () => `GET /pipelines HTTP/1.1\r\n${auth()}Connection: close\r\n\r\n`],
    [
      'an absolute-form target for another host',
      () => `GET http://evil.example/runs/x HTTP/1.1\r\nHost: evil.example\r\n${auth()}\r\n`,
    ],
    ['a request line that is not HTTP', () => 'HELLO THERE\r\n\r\n'],
    ['an invalid header line', () => `GET /pipelines HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n`],
    [
      'a negative Content-Length',
      () => `POST /endpoints/overlap HTTP/1.1\r\nHost: x\r\n${auth()}Content-Length: -1\r\n\r\n`,
    ],
    [
      'a Content-Length that is not a number',
      () => `POST /endpoints/overlap HTTP/1.1\r\nHost: x\r\n${auth()}Content-Length: ten\r\n\r\n`,
    ],
    [
      'an unknown Transfer-Encoding',
      () =>
        `POST /endpoints/overlap HTTP/1.1\r\nHost: x\r\n${auth()}Transfer-Encoding: gzip, nonsense\r\n\r\n`,
    ],
    [
      'a body cut short',
      () =>
        `POST /endpoints/overlap HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${submit}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"Experiment`,
      true,
    ],
    [
      'a header block over the size limit',
      () => `GET /pipelines HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(64 * 1024)}\r\n\r\n`,
    ],
  ];
  it.each(RAW)('%s does not end the server', async (_name, make, endAfterWrite) => {
    tried.http += 1;
    const answer = await raw(make(), endAfterWrite);
    // an HTTP answer (never a 5xx), unless the client hung up first; never a link to the Host it sent
    if (answer || !endAfterWrite) expect(answer, _name).toMatch(/^HTTP\/1\.1 [234]\d\d /);
    expect(answer, _name).not.toMatch(/evil\.example/);
    const after = await fetch(new URL('/pipelines', base), { headers: { authorization: `Bearer ${read}` } });
    expect(after.status, `${_name}: the server answers afterwards`).toBe(200);
    expect(server.exitCode, `${_name}: the server exited`).toBeNull();
  });

  it('the server still answers, and nothing was queued or run', async () => {
    const response = await fetch(new URL('/pipelines', base), {
      headers: { authorization: `Bearer ${read}` },
    });
    expect(response.status).toBe(200);
    expect(server.exitCode).toBeNull();
    await withWorkspace(serverWs, (opened) => {
      expect(opened.store.listRuns()).toEqual([]);
      expect(opened.store.prepare('SELECT COUNT(*) AS n FROM publish_queue').get()).toEqual({ n: 0 });
    });
  });
});
