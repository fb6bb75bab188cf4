import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SluiceError } from '@sluice/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH_FAILED_CODE,
  DBFS_BLOCK_BYTES,
  DatabricksClient,
  REQUEST_FAILED_CODE,
  type RunSubmitRequest,
} from '../index.js';
import { ContractServer, DBFS_LIMIT } from './contract-server.js';

const token = `dapi${randomBytes(16).toString('hex')}`;
let server: ContractServer;
beforeAll(async () => {
  server = await ContractServer.start({ token });
});
afterAll(async () => {
  await server.close();
});

const SUBMIT = '/api/2.1/jobs/runs/submit';
const GET = '/api/2.1/jobs/runs/get';

function client(options: Partial<ConstructorParameters<typeof DatabricksClient>[0]> = {}): DatabricksClient {
  return new DatabricksClient({ workspaceUrl: server.url, token, retryDelayMs: 10, ...options });
}

function notebookRun(path = '/Users/me/notebook', extra: Partial<RunSubmitRequest> = {}): RunSubmitRequest {
  return {
    run_name: 'client test',
    tasks: [
      {
        task_key: 'main',
        new_cluster: { spark_version: '15.4.x-scala2.12', node_type_id: 'Standard_DS3_v2', num_workers: 1 },
        notebook_task: { notebook_path: path, base_parameters: { myparam: 'testparam' } },
      },
    ],
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

describe('DatabricksClient: Jobs API 2.1', () => {
  it('submits a run, follows it through its life cycle and reads the task output', async () => {
    const api = client();
    const { run_id: runId } = await api.submitRun(notebookRun());
    const states: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const run = await api.getRun(runId);
      states.push(
        `${run.state!.life_cycle_state}${run.state!.result_state ? ` ${run.state!.result_state}` : ''}`,
      );
    }
    expect(states).toEqual(['PENDING', 'RUNNING', 'TERMINATING', 'TERMINATED SUCCESS']);
    const run = await api.getRun(runId);
    const output = await api.getRunOutput(run.tasks![0]!.run_id);
    expect(output.notebook_output?.result).toBe('{"inputs":0,"outputs":0}');
    // a run submitted with tasks keeps its output on the task run
    const error = await rejection(api.getRunOutput(runId));
    expect(error.code).toBe(REQUEST_FAILED_CODE);
    expect(error.details).toMatchObject({
      status: 400,
      errorCode: 'INVALID_PARAMETER_VALUE',
      reason: 'rejected',
    });
    expect(error.message).toMatch(/multiple tasks/);
    expect(server.requests.every((request) => request.authorized)).toBe(true);
  });

  it('cancels a run', async () => {
    server.outcome('/Users/me/forever', 'hang');
    const api = client();
    const { run_id: runId } = await api.submitRun(notebookRun('/Users/me/forever'));
    await api.getRun(runId);
    await api.cancelRun(runId);
    await api.getRun(runId);
    const run = await api.getRun(runId);
    expect(run.state).toMatchObject({ life_cycle_state: 'TERMINATED', result_state: 'CANCELED' });
  });

  it('maps a 400 to a coded error with the API error_code and message', async () => {
    const request = notebookRun();
    delete (request.tasks[0]!.new_cluster as { spark_version?: string }).spark_version;
    const error = await rejection(client().submitRun(request));
    expect(error.code).toBe(REQUEST_FAILED_CODE);
    expect(error.details).toMatchObject({ status: 400, errorCode: 'INVALID_PARAMETER_VALUE' });
    expect(error.message).toMatch(/HTTP 400 INVALID_PARAMETER_VALUE: Missing required field: spark_version/);
  });

  it('says the token was refused on 401/403, without the token', async () => {
    const wrong = `dapi${randomBytes(16).toString('hex')}`;
    const error = await rejection(client({ token: wrong, credentialHint: 'Fix the token.' }).getRun(1001));
    expect(error.code).toBe(AUTH_FAILED_CODE);
    expect(error.details).toMatchObject({ status: 403, reason: 'authentication' });
    expect(error.message).toMatch(
      /refused the access token \(HTTP 403 PERMISSION_DENIED: Invalid access token\.\)\. Fix the token\./,
    );
    expect(JSON.stringify(error)).not.toContain(wrong);
    expect(error.message).not.toContain(wrong);
    // the server requires the bearer token at all
    const bare = await fetch(`${server.url}${GET}?run_id=1001`);
    expect(bare.status).toBe(401);
  });

  it('names a wrong workspace URL on 404', async () => {
    const error = await rejection(client({ workspaceUrl: `${server.url}/wrong` }).getRun(1));
    expect(error.details).toMatchObject({ status: 404, reason: 'not-found' });
    expect(error.message).toMatch(/check that workspaceUrl is the Databricks workspace's URL/);
  });
});

describe('DatabricksClient: retries', () => {
  it('waits for Retry-After on 429 and repeats the request', async () => {
    const api = client();
    const before = server.requestsTo(SUBMIT).length;
    server.fault(SUBMIT, { type: 'status', status: 429, retryAfter: '1' });
    const started = Date.now();
    await api.submitRun(notebookRun('/Users/me/limited'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.requestsTo(SUBMIT).length - before).toBe(2);
  });

  it('gives up on 429 after maxAttempts with a coded error', async () => {
    server.fault(GET, { type: 'status', status: 429, retryAfter: '0' }, 3);
    const error = await rejection(client({ maxAttempts: 3 }).getRun(1001));
    expect(error.code).toBe(REQUEST_FAILED_CODE);
    expect(error.details).toMatchObject({ status: 429, reason: 'rate-limited' });
    expect(error.message).toMatch(/kept rate-limiting GET \/api\/2\.1\/jobs\/runs\/get .* after 3 attempt/);
  });

  it('repeats requests that may run twice on transient 5xx, with backoff', async () => {
    const api = client();
    const { run_id: runId } = await api.submitRun(notebookRun());
    const before = server.requestsTo(GET).length;
    server.fault(GET, { type: 'status', status: 500 }, 2);
    const run = await api.getRun(runId);
    expect(run.run_id).toBe(runId);
    expect(server.requestsTo(GET).length - before).toBe(3);
  });

  it('does not repeat a submit without idempotency token on 5xx (it may have started a run)', async () => {
    const before = server.requestsTo(SUBMIT).length;
    server.fault(SUBMIT, { type: 'status', status: 503 });
    const error = await rejection(client().submitRun(notebookRun()));
    expect(error.details).toMatchObject({ status: 503, reason: 'unavailable' });
    expect(server.requestsTo(SUBMIT).length - before).toBe(1);
  });

  it('repeats a submit whose answer was lost; the idempotency token keeps it to one run', async () => {
    const runsBefore = server.runs.size;
    const before = server.requestsTo(SUBMIT).length;
    server.fault(SUBMIT, { type: 'drop', afterHandling: true });
    const idempotencyToken = randomBytes(32).toString('hex');
    const { run_id: runId } = await client().submitRun(
      notebookRun('/Users/me/once', { idempotency_token: idempotencyToken }),
    );
    const submits = server.requestsTo(SUBMIT).slice(before);
    expect(submits).toHaveLength(2);
    expect(submits.map((request) => request.body?.idempotency_token)).toEqual([
      idempotencyToken,
      idempotencyToken,
    ]);
    expect(server.runs.size - runsBefore).toBe(1);
    expect(server.runs.get(runId)?.request.idempotency_token).toBe(idempotencyToken);
  });

  it('repeats a request after a dropped connection', async () => {
    const api = client();
    const { run_id: runId } = await api.submitRun(notebookRun());
    server.fault(GET, { type: 'drop', afterHandling: false });
    expect((await api.getRun(runId)).run_id).toBe(runId);
  });

  it('reports an unreachable workspace with a coded error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await rejection(
      new DatabricksClient({
        workspaceUrl: `http://127.0.0.1:${port}`,
        token,
        maxAttempts: 2,
        retryDelayMs: 1,
      }).getRun(1),
    );
    expect(error.code).toBe(REQUEST_FAILED_CODE);
    expect(error.details).toMatchObject({ reason: 'unreachable' });
    expect(error.message).toMatch(/could not be reached .* after 2 attempt\(s\); check workspaceUrl/);
    expect(error.details.networkCode).toBe('ECONNREFUSED');
  });

  it('stops waiting when the signal is aborted', async () => {
    server.fault(GET, { type: 'status', status: 429, retryAfter: '30' });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    const error = await rejection(client().getRun(1001, { signal: controller.signal }));
    expect(error.code).toBe('RUN_CANCELED');
    expect(Date.now() - started).toBeLessThan(5000);
    // the fault was used; nothing else is pending
  });
});

describe('DatabricksClient: DBFS API 2.0', () => {
  it('writes a small file with put and a large one with create / add-block / close', async () => {
    const api = client();
    await api.dbfsMkdirs('dbfs:/sluice/test');
    expect(server.folders.has('/sluice/test')).toBe(true);
    const small = Buffer.from('print("hello")\n');
    await api.dbfsUpload('dbfs:/sluice/test/small.py', small);
    expect(server.files.get('/sluice/test/small.py')).toEqual(small);
    const large = randomBytes(2_000_000);
    const before = server.requests.length;
    await api.dbfsUpload('/sluice/test/large.bin', large);
    expect(server.files.get('/sluice/test/large.bin')?.equals(large)).toBe(true);
    const calls = server.requests.slice(before).map((request) => request.path.replace('/api/2.0/dbfs/', ''));
    expect(calls).toEqual(['create', 'add-block', 'add-block', 'add-block', 'close']);
    for (const request of server.requests.slice(before)) {
      expect(String(request.body?.data ?? '').length).toBeLessThanOrEqual(DBFS_LIMIT);
    }
    expect(Math.ceil((DBFS_BLOCK_BYTES * 4) / 3)).toBeLessThanOrEqual(DBFS_LIMIT);
  });

  it('starts a stream again when a block fails, so no block is written twice', async () => {
    const large = randomBytes(1_000_000);
    const before = server.requests.length;
    server.fault('/api/2.0/dbfs/add-block', { type: 'status', status: 500 });
    await client().dbfsUpload('/sluice/test/retried.bin', large);
    expect(server.files.get('/sluice/test/retried.bin')?.equals(large)).toBe(true);
    const calls = server.requests.slice(before).map((request) => request.path.replace('/api/2.0/dbfs/', ''));
    expect(calls).toEqual(['create', 'add-block', 'create', 'add-block', 'add-block', 'close']);
  });

  it('refuses to replace a file unless asked', async () => {
    const api = client();
    await api.dbfsUpload('/sluice/test/keep.txt', Buffer.from('one'));
    const error = await rejection(
      api.dbfsUpload('/sluice/test/keep.txt', Buffer.from('two'), { overwrite: false }),
    );
    expect(error.details).toMatchObject({ status: 400, errorCode: 'RESOURCE_ALREADY_EXISTS' });
    expect(server.files.get('/sluice/test/keep.txt')?.toString()).toBe('one');
  });
});
