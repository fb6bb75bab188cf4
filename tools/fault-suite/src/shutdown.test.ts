import type { ChildProcess } from 'node:child_process';
import { expect, it } from 'vitest';
import {
  finished,
  newWorkspace,
  pipelineFile,
  recordFigures,
  sluice,
  startSluice,
  withWorkspace,
  type Result,
} from './harness.js';

interface Served {
  process: ChildProcess;
  exited: Promise<Result>;
  url: string;
}

async function serve(ws: string, args: string[] = []): Promise<Served> {
  const child = startSluice(['serve', '--port', '0', '--concurrency', '1', ...args, '-w', ws]);
  const exited = finished(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    void exited.then((result) => reject(new Error(`sluice serve exited: ${result.stdout}${result.stderr}`)));
  });
  return { process: child, exited, url };
}

async function prepare(prefix: string): Promise<{ ws: string; token: string }> {
  const ws = newWorkspace(prefix);
  const published = await sluice([
    'publish',
    pipelineFile('slow'),
    '--name',
    'slow',
    '--endpoint',
    'slow',
    '-w',
    ws,
  ]);
  expect(published.code, published.stderr).toBe(0);
  const token = (await sluice(['token', 'create', '--scope', 'submit', '-w', ws])).stdout.trim();
  return { ws, token };
}

async function submitRun(served: Served, token: string, seconds: number): Promise<string> {
  const response = await fetch(`${served.url}/endpoints/slow`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ExperimentName: 'shutdown', ParameterAssignments: { seconds } }),
  });
  expect(response.status).toBeLessThan(300);
  return ((await response.json()) as { Id: string }).Id;
}

const stepStatus = (ws: string, runId: string): Promise<string | undefined> =>
  withWorkspace(ws, (opened) => opened.store.getStepRuns(runId)[0]?.status);

const figures: Record<string, string> = {};

it('SIGTERM during a run past the grace period: the run is canceled, the queue kept, exit 0', async () => {
  const { ws, token } = await prepare('shutdown-cancel');
  const first = await serve(ws, ['--grace-period', '1']);
  const running = await submitRun(first, token, 30);
  const queued = [await submitRun(first, token, 0), await submitRun(first, token, 0)];
  for (let i = 0; i < 200 && (await stepStatus(ws, running)) !== 'Running'; i++)
    await new Promise((r) => setTimeout(r, 100));
  expect(await stepStatus(ws, running)).toBe('Running');

  first.process.kill('SIGTERM');
  const stopped = await first.exited;
  expect(stopped.code, stopped.stderr).toBe(0);
  expect(stopped.stderr).not.toMatch(/TypeError|not open|unexpected/);
  await withWorkspace(ws, (opened) => {
    const run = opened.store.getRun(running)!;
    expect(run.status).toBe('Canceled');
    expect(opened.store.getStepRuns(running).map((step) => step.status)).toEqual(['Canceled']);
    for (const id of queued) expect(opened.store.getRun(id)).toBeUndefined();
    expect(
      opened.store.listRuns().filter((r) => r.status === 'Running' || r.status === 'NotStarted'),
    ).toEqual([]);
  });

  // the next server takes up what was queued
  const second = await serve(ws);
  try {
    const done = await waitForRuns(ws, queued);
    expect(done).toEqual(['Finished', 'Finished']);
  } finally {
    second.process.kill('SIGINT');
    expect((await second.exited).code).toBe(0);
  }
  figures['stopped past the grace period'] =
    'exit 0; the running run Canceled; 2 queued runs finished by the next server';
});

it('SIGTERM with a step that ends within the grace period: the run finishes, exit 0', async () => {
  const { ws, token } = await prepare('shutdown-finish');
  const served = await serve(ws, ['--grace-period', '60']);
  const id = await submitRun(served, token, 2);
  for (let i = 0; i < 200 && (await stepStatus(ws, id)) !== 'Running'; i++)
    await new Promise((r) => setTimeout(r, 100));
  served.process.kill('SIGTERM');
  const stopped = await served.exited;
  expect(stopped.code, stopped.stderr).toBe(0);
  await withWorkspace(ws, (opened) => {
    expect(opened.store.getRun(id)!.status).toBe('Finished');
  });
  figures['stopped within the grace period'] = 'exit 0; the running run Finished';
  recordFigures('Server shutdown (tools/fault-suite/src/shutdown.test.ts)', figures);
});

async function waitForRuns(ws: string, ids: string[]): Promise<Array<string | undefined>> {
  let statuses: Array<string | undefined> = [];
  for (let i = 0; i < 300; i++) {
    statuses = await withWorkspace(ws, (opened) => ids.map((id) => opened.store.getRun(id)?.status));
    if (statuses.every((status) => status === 'Finished' || status === 'Failed' || status === 'Canceled'))
      break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return statuses;
}
