/**
 * The persistent REST queue: accepted Ids survive a closed server and a killed one. Steps hold (see
 * SLUICE_TEST_HOLD in helpers) so a server can be stopped while runs are queued and running.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSluiceClient, publishPipeline, serve, type SluiceClient } from '../index.js';
import { startPublishedRun } from '../published-pipeline.js';
import { publishStore } from '../store.js';
import { fixture, onCleanup, sleep, until } from './helpers.js';

const dist = (path: string): string => JSON.stringify(pathToFileURL(resolve(__dirname, path)).href);

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A folder steps hold in until a `release` file appears there. */
function holdFolder(dir: string): { hold: string; holding: () => number[]; release: () => void } {
  const hold = join(dir, 'hold');
  mkdirSync(hold);
  return {
    hold,
    holding: () =>
      readdirSync(hold)
        .filter((name) => name.startsWith('pid-'))
        .map((name) => Number(name.slice(4))),
    release: () => writeFileSync(join(hold, 'release'), ''),
  };
}

async function submitThree(client: SluiceClient, id: string): Promise<string[]> {
  const ids: string[] = [];
  for (const value of [1, 2, 3]) {
    const accepted = await client.submitPipeline(id, {
      ExperimentName: 'queued',
      ParameterAssignments: { pipeline_arg: value },
    });
    ids.push(accepted.Id);
  }
  return ids;
}

/** A fixture whose steps hold (see SLUICE_TEST_HOLD), a published pipeline, and a server with one worker. */
async function heldServer(name: string) {
  const f = await fixture();
  const held = holdFolder(f.dir);
  process.env.SLUICE_TEST_HOLD = held.hold;
  onCleanup(() => delete process.env.SLUICE_TEST_HOLD);
  const published = await publishPipeline(f.ws, f.pipeline(), { name });
  const token = f.token();
  const server = await serve({ workspace: f.ws, concurrency: 1, shutdownGraceMs: 60_000 });
  onCleanup(() => server.close({ graceMs: 0 }));
  return { f, ...held, published, token, server };
}

describe('the REST queue', () => {
  it('lets running steps finish when a server closes; queued runs wait for the next server', async () => {
    const { f, holding, release, published, token, server: first } = await heldServer('queued');
    const client1 = createSluiceClient({ baseUrl: first.url, token });
    const ids = await submitThree(client1, published.id);
    await until(() => holding().length === 1);
    expect((await client1.getRun(ids[0]!)).Status.StatusDetail).toBe('Running');
    expect((await client1.getRun(ids[1]!)).Status.StatusDetail).toBe('Queued');
    expect(await client1.getRun(ids[2]!)).toMatchObject({
      Status: { StatusDetail: 'Queued' },
      Steps: [],
      ExperimentName: 'queued',
    });
    let closed = false;
    const closing = first.close().then(() => (closed = true));
    // the server no longer takes connections, but its running step goes on within the grace period
    await expect(fetch(`${first.url}/runs/${ids[0]}`)).rejects.toThrow();
    await sleep(200);
    expect(closed).toBe(false);
    expect(f.ws.store.getRun(ids[0]!)!.status).toBe('Running');
    release();
    await closing;
    expect(f.ws.store.getRun(ids[0]!)!.status).toBe('Finished');
    expect(f.ws.store.getRun(ids[1]!)).toBeUndefined();
    expect(f.ws.store.getRun(ids[2]!)).toBeUndefined();

    const second = await serve({ workspace: f.ws, concurrency: 2 });
    onCleanup(() => second.close());
    const client2 = createSluiceClient({ baseUrl: second.url, token });
    const finished = await Promise.all(ids.map((id) => client2.waitForRun(id, { pollIntervalMs: 50 })));
    expect(finished.map((run) => [run.Id, run.Status.StatusDetail])).toEqual(
      ids.map((id) => [id, 'Finished']),
    );
    expect(finished.map((run) => run.ParameterAssignments)).toEqual([
      { pipeline_arg: 1 },
      { pipeline_arg: 2 },
      { pipeline_arg: 3 },
    ]);
  });

  it('cancels what still runs after the grace period; the next server resumes it, reusing finished steps', async () => {
    const { f, holding, release, published, token, server: first } = await heldServer('stopped');
    const ids = await submitThree(createSluiceClient({ baseUrl: first.url, token }), published.id);
    await until(() => holding().length === 1);
    const [pid] = holding();
    const graceful = first.close();
    await sleep(100);
    // a second close cuts the grace period short: the held step is killed now
    await Promise.all([first.close({ graceMs: 0 }), graceful]);
    expect(() => process.kill(pid!, 0)).toThrow();
    const stopped = f.ws.store.getRun(ids[0]!)!;
    expect(stopped).toMatchObject({
      status: 'Canceled',
      error: 'the server shut down before the run finished',
    });
    expect(f.ws.store.getStepRuns(ids[0]!).map((step) => [step.stepName, step.status])).toEqual([
      ['prepare', 'Finished'],
      ['compare', 'Canceled'],
    ]);
    expect(f.ws.store.getRun(ids[1]!)).toBeUndefined();
    expect(f.ws.store.getRun(ids[2]!)).toBeUndefined();

    release();
    const second = await serve({ workspace: f.ws, concurrency: 2 });
    onCleanup(() => second.close());
    const client2 = createSluiceClient({ baseUrl: second.url, token });
    const finished = await Promise.all(ids.map((id) => client2.waitForRun(id, { pollIntervalMs: 50 })));
    expect(finished.map((run) => run.Status.StatusDetail)).toEqual(['Finished', 'Finished', 'Finished']);
    const old = await client2.getRun(ids[0]!);
    expect(old).toMatchObject({
      Status: { StatusDetail: 'Canceled' },
      Error: 'the server shut down before the run finished',
      ResumedAs: finished[0]!.Id,
    });
    expect(finished[0]).toMatchObject({ ResumedFrom: ids[0], ParameterAssignments: { pipeline_arg: 1 } });
    expect(finished[0]!.Steps.map((step) => [step.Name, step.Status, step.ReusedFrom])).toEqual([
      ['prepare', 'Reused', `${ids[0]}.prepare`],
      ['compare', 'Finished', null],
    ]);
    // the queue row records why its run stopped
    expect(publishStore(f.ws).getQueued(ids[0]!)).toMatchObject({
      status: 'resumed',
      resumedAs: finished[0]!.Id,
      error: { code: 'RUN_CANCELED', message: 'the server shut down before the run finished' },
    });
    expect(finished.slice(1).map((run) => run.Id)).toEqual(ids.slice(1));
  });

  it('resumes a run canceled by a shutdown whose server died before handing its row on', async () => {
    const f = await fixture();
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'handover' });
    const store = publishStore(f.ws);
    const submission = {
      experimentName: 'queued',
      parameters: { pipeline_arg: 4 },
      dataPathAssignments: {},
      runSource: 'REST',
      tags: {},
      continueOnStepFailure: false,
    };
    store.enqueue({
      runId: 'queued_stopped',
      pipelineId: published.id,
      endpoint: null,
      endpointVersion: null,
      submission,
      acceptedBy: 'test',
    });
    // what a server leaves when it dies right after canceling its run: the row still `submitted`
    expect(store.claimNext()?.runId).toBe('queued_stopped');
    const run = await startPublishedRun(published, 'queued', {
      parameters: submission.parameters,
      runId: 'queued_stopped',
    });
    await run.cancel({ reason: 'the server shut down before the run finished' });
    store.setQueueStatus('queued_stopped', 'submitted');
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    f.ws.store.prepare('UPDATE publish_queue SET owner_pid = ? WHERE run_id = ?').run(gone, 'queued_stopped');

    const rest = await serve({ workspace: f.ws });
    onCleanup(() => rest.close());
    const client = createSluiceClient({ baseUrl: rest.url, token: f.token() });
    const resumed = await client.waitForRun('queued_stopped', { pollIntervalMs: 50 });
    expect(resumed).toMatchObject({
      Status: { StatusDetail: 'Finished' },
      ResumedFrom: 'queued_stopped',
      ParameterAssignments: { pipeline_arg: 4 },
    });
    expect(store.getQueued('queued_stopped')).toMatchObject({
      status: 'resumed',
      error: { code: 'RUN_CANCELED', message: 'the server shut down before the run finished' },
    });
  });

  it('keeps serving when the run store fails under a running run and the scheduler', async () => {
    const { f, holding, release, published, token, server } = await heldServer('broken-store');
    const uncaught: unknown[] = [];
    const warnings: string[] = [];
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    const onWarning = (warning: Error & { code?: string }): void => {
      warnings.push(warning.code ?? warning.name);
    };
    process.on('unhandledRejection', onUncaught);
    process.on('warning', onWarning);
    onCleanup(() => {
      process.off('unhandledRejection', onUncaught);
      process.off('warning', onWarning);
    });

    const client = createSluiceClient({ baseUrl: server.url, token });
    const [id] = await submitThree(client, published.id);
    await until(() => holding().length === 1);
    f.ws.store.close();
    release();
    // the held step ends with nothing to record into: the run stops, the scheduler's ticks fail
    await until(() => warnings.includes('SLUICE_SCHEDULER_TICK'));
    await until(() => holding().every((pid) => !isAlive(pid)));
    await sleep(200);
    const answer = await fetch(`${server.url}/runs/${id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(answer.status).toBe(500);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('INTERNAL_ERROR');
    await server.close({ graceMs: 0 });
    expect(uncaught).toEqual([]);
  });

  it('resumes a run interrupted by a killed server under a new Id, reusing its finished steps', async () => {
    const f = await fixture();
    const { hold, holding } = holdFolder(f.dir);
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'killed' });
    const token = f.token();

    // the server: another Node process on the same workspace
    const script = join(f.dir, 'server.mjs');
    writeFileSync(
      script,
      `
import { Workspace } from ${dist('../../../runtime/dist/index.js')};
import { pythonScriptStep } from ${dist('../../../step-python/dist/index.js')};
import { serve } from ${dist('../../dist/index.js')};
const ws = Workspace.open(${JSON.stringify(f.ws.dir)});
ws.registry.use(pythonScriptStep());
const server = await serve({ workspace: ws, concurrency: 1 });
process.stdout.write(JSON.stringify({ url: server.url }) + '\\n');
`,
    );
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, SLUICE_TEST_HOLD: hold },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onCleanup(() => child.kill('SIGKILL'));
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { url } = JSON.parse(line) as { url: string };
    const client = createSluiceClient({ baseUrl: url, token });
    const ids = await submitThree(client, published.id);
    await until(() => holding().length === 1);
    expect((await client.getRun(ids[0]!)).Steps.map((step) => step.Status)).toEqual(['Finished', 'Running']);
    expect((await client.getRun(ids[1]!)).Status.StatusDetail).toBe('Queued');

    child.kill('SIGKILL');
    await once(child, 'exit');
    // the step's own process lives in its own group; an operator would stop it too
    for (const pid of holding()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }

    // a new server in this process (no SLUICE_TEST_HOLD here: steps run straight through)
    const rest = await serve({ workspace: f.ws });
    onCleanup(() => rest.close());
    const recovered = createSluiceClient({ baseUrl: rest.url, token });
    const finished = await Promise.all(ids.map((id) => recovered.waitForRun(id, { pollIntervalMs: 50 })));
    expect(finished.map((run) => run.Status.StatusDetail)).toEqual(['Finished', 'Finished', 'Finished']);
    expect(finished.map((run) => run.ParameterAssignments)).toEqual([
      { pipeline_arg: 1 },
      { pipeline_arg: 2 },
      { pipeline_arg: 3 },
    ]);

    const interrupted = await recovered.getRun(ids[0]!);
    expect(interrupted).toMatchObject({ Status: { StatusDetail: 'Failed' }, ResumedAs: finished[0]!.Id });
    expect(interrupted.Error).toMatch(/runner process ended/);
    expect(finished[0]).toMatchObject({ ResumedFrom: ids[0], ExperimentName: 'queued' });
    expect(finished[0]!.Id).not.toBe(ids[0]);
    expect(finished[0]!.Steps.map((step) => [step.Name, step.Status, step.ReusedFrom])).toEqual([
      ['prepare', 'Reused', `${ids[0]}.prepare`],
      ['compare', 'Finished', null],
    ]);
    // the queued ones kept their Ids
    expect(finished.slice(1).map((run) => run.Id)).toEqual(ids.slice(1));
    expect(existsSync(join(hold, 'release'))).toBe(false);
  });
});
