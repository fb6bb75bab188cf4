/** The job API client against the local contract server (see contract-server.ts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdlaJobClient, adlaJobId, retryAfterMs, type AdlaJobState } from '../job-client.js';
import { ContractServer, failed } from './contract-server.js';
import { expectCode } from './helpers.js';

let server: ContractServer;
beforeEach(async () => {
  server = await ContractServer.start();
});
afterEach(async () => {
  await server.close();
});

function client(token = server.token, attempts = 4): AdlaJobClient {
  return new AdlaJobClient({
    endpoint: `${server.url}/`,
    accountName: 'contractacct',
    getToken: async () => token,
    credentialHint: { source: 'the test token', fix: 'Use the right token.' },
    retry: { attempts, baseDelayMs: 10, maxDelayMs: 2000 },
  });
}

const job = {
  name: 'test',
  script: 'OUTPUT @x TO "file:///nowhere";',
  degreeOfParallelism: 2,
  priority: 500,
};

describe('adlaJobId', () => {
  it('is a version-5 UUID that depends only on the step run id', () => {
    const id = adlaJobId('exp_20250101_000000_abcdef.prepare');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(adlaJobId('exp_20250101_000000_abcdef.prepare')).toBe(id);
    expect(adlaJobId('exp_20250101_000000_abcdef.train')).not.toBe(id);
  });
});

describe('AdlaJobClient', () => {
  it('creates a job with the documented body, reads it until it ends, and reports each state once', async () => {
    const id = adlaJobId('run.step');
    const created = await client().createJob(id, { ...job, runtimeVersion: 'release_20190318' });
    expect(created).toMatchObject({ jobId: id, state: 'Accepted', result: 'None', priority: 500 });
    expect(server.jobs.get(id)!.info.properties).toEqual({
      type: 'USql',
      script: job.script,
      runtimeVersion: 'release_20190318',
    });
    const states: AdlaJobState[] = [];
    const ended = await client().waitForJob(id, {
      pollIntervalMs: 1,
      onState: (state) => states.push(state),
    });
    expect(ended.result).toBe('Succeeded');
    expect(states).toEqual(['Compiling', 'Queued', 'Running', 'Ended']);
    expect(server.requests.every((request) => request.authorized)).toBe(true);
  });

  it('treats 409 Conflict for its own job id as already created: a retried create makes no second job', async () => {
    const id = adlaJobId('run.retried');
    // the first PUT creates the job but its answer is lost; the retry meets 409 and reads the job instead
    server.inject({ status: 503 }, { method: 'PUT', after: true });
    const created = await client().createJob(id, job);
    expect(created.jobId).toBe(id);
    expect(server.jobs.size).toBe(1);
    expect(server.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 503', 'PUT 409', 'GET 200']);
    // and a create after a dropped connection does the same
    const other = adlaJobId('run.dropped');
    server.inject({ destroy: true }, { method: 'PUT', after: true });
    expect((await client().createJob(other, job)).jobId).toBe(other);
    expect(server.jobs.size).toBe(2);
  });

  it('waits as long as Retry-After says on 429', async () => {
    server.inject({ status: 429, retryAfter: '1' }, { method: 'PUT' });
    const started = Date.now();
    await client().createJob(adlaJobId('run.throttled'), job);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('retries transient 5xx and network errors with back-off', async () => {
    const id = adlaJobId('run.flaky');
    await client().createJob(id, job);
    server.inject({ status: 500 }, { method: 'GET', times: 2 });
    server.inject({ destroy: true }, { method: 'GET' });
    expect((await client().getJob(id)).jobId).toBe(id);
    expect(server.requests.filter((r) => r.method === 'GET').map((r) => r.status)).toEqual([
      500, 500, 0, 200,
    ]);
  });

  it('gives up after its attempts with a coded error that says what to do', async () => {
    server.inject({ status: 503 }, { times: 3 });
    const error = await expectCode(
      () => client(server.token, 3).getJob(adlaJobId('x')),
      'COMPUTE_UNAVAILABLE',
    );
    expect(error.message).toMatch(/kept answering 503 .*3 attempts.*submit the pipeline again later/);
  });

  it('says a refused token is missing or expired (401) and a forbidden identity needs a role (403)', async () => {
    const refused = await expectCode(
      () => client('wrong-token').getJob(adlaJobId('x')),
      'COMPUTE_AUTH_FAILED',
    );
    expect(refused.message).toMatch(
      /refused the token from the test token \(401 Unauthorized.*Use the right token/,
    );
    expect(refused.message).not.toContain('wrong-token');
    expect(server.count('GET')).toBe(1); // not retried
    server.forbidden = true;
    const denied = await expectCode(() => client().getJob(adlaJobId('x')), 'COMPUTE_AUTH_FAILED');
    expect(denied.message).toMatch(/403 Forbidden.*Data Lake Analytics Developer/);
    expect(denied.message).not.toContain(server.token);
  });

  it("passes on the service's message for 400", async () => {
    const error = await expectCode(
      () => client().createJob(adlaJobId('bad'), { ...job, degreeOfParallelism: 0 }),
      'COMPUTE_REQUEST_FAILED',
    );
    expect(error.message).toMatch(
      /rejected PUT job .*400 Bad Request: degreeOfParallelism must be a positive integer/,
    );
  });

  it('cancels a job, and counts a job the service does not know as canceled', async () => {
    const id = adlaJobId('run.cancel');
    await client().createJob(id, job);
    await client().cancelJob(id);
    expect(server.jobs.get(id)!.info).toMatchObject({ state: 'Ended', result: 'Cancelled' });
    await client().cancelJob(adlaJobId('never-created'));
  });

  it('reports the errors of a failed job', async () => {
    server.outcome = () => failed('E_CSC_USER_SYNTAXERROR', 'syntax error', { lineNumber: 3 });
    const id = adlaJobId('run.fails');
    await client().createJob(id, job);
    const ended = await client().waitForJob(id, { pollIntervalMs: 1 });
    expect(ended).toMatchObject({ result: 'Failed', errorMessage: [{ errorId: 'E_CSC_USER_SYNTAXERROR' }] });
  });

  it('stops waiting, and stops backing off, when its signal is aborted', async () => {
    const id = adlaJobId('run.abort');
    await client().createJob(id, job);
    server.holdAt = 'Running';
    const controller = new AbortController();
    const waiting = client().waitForJob(id, { pollIntervalMs: 5, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(waiting).rejects.toThrow();
    // every GET from now on is throttled (a poll of the aborted wait still in flight may take one of them)
    server.inject({ status: 429, retryAfter: '30' }, { method: 'GET', times: 1000 });
    const backingOff = client().getJob(id, { signal: AbortSignal.timeout(100) });
    const started = Date.now();
    await expect(backingOff).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reads Retry-After as seconds or a date', () => {
    expect(retryAfterMs('2', 60_000)).toBe(2000);
    expect(retryAfterMs('120', 60_000)).toBe(60_000);
    expect(retryAfterMs(new Date(Date.now() + 3000).toUTCString(), 60_000)).toBeGreaterThan(1000);
    expect(retryAfterMs('soon', 60_000)).toBeUndefined();
    expect(retryAfterMs(null, 60_000)).toBeUndefined();
  });
});
