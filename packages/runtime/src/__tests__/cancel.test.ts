/**
 * Canceling a run with a grace period (running steps may finish, the rest are canceled), and a run whose
 * store is closed under it: the executor stops its steps and the run ends, with no uncaught error.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pipeline } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ComputeTarget, Experiment, Workspace, localCompute, type PipelineRun } from '../index.js';
import { SCRIPTS, isRunning, tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

let ws: Workspace;
let src: string;
let hold: string;

beforeEach(() => {
  const root = tempDir();
  ws = Workspace.create(join(root, 'ws'));
  hold = join(root, 'hold');
  src = writeTree(join(root, 'src'), {
    ...SCRIPTS,
    // writes its pid to <hold>/<name>.pid, then waits (at most 30 s) for <hold>/release
    'hold.js': `
const fs = require('fs'), path = require('path');
const [dir, name] = process.argv.slice(2);
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, name + '.pid'), String(process.pid));
const deadline = Date.now() + 30000;
const wait = () => {
  if (fs.existsSync(path.join(dir, 'release'))) return console.log(name + ' released');
  if (Date.now() > deadline) process.exit(9);
  setTimeout(wait, 20);
};
wait();
`,
  });
});
afterEach(async () => {
  writeFileSync(join(hold, 'release'), '');
  await ws.close();
});

const holding = (name: string): boolean => existsSync(join(hold, `${name}.pid`));
const pidOf = (name: string): number => Number(readFileSync(join(hold, `${name}.pid`), 'utf8'));
const release = (): void => writeFileSync(join(hold, 'release'), '');

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(check()).toBe(true);
}

const statuses = (run: PipelineRun): Record<string, string> =>
  Object.fromEntries(run.getSteps().map((step) => [step.name, step.status]));

function holdStep(
  name: string,
  extra: { runAfter?: ReturnType<typeof nodeStep>[]; computeTarget?: string } = {},
) {
  return nodeStep({
    name,
    script: 'hold.js',
    sourceDirectory: src,
    arguments: [hold, name],
    allowReuse: false,
    ...extra,
  });
}

describe('cancel with a grace period', () => {
  it('lets running steps finish, cancels the steps not started and records why', async () => {
    const first = holdStep('first');
    const second = holdStep('second', { runAfter: [first] });
    const run = await new Experiment(ws, 'grace').submit(new Pipeline({ steps: [first, second] }));
    await until(() => holding('first'));
    const canceled = run.cancel({ graceMs: 60_000, reason: 'the server shut down' });
    // the running step goes on
    await new Promise((r) => setTimeout(r, 100));
    expect(statuses(run)).toEqual({ first: 'Running', second: 'NotStarted' });
    release();
    await canceled;
    expect(run.status).toBe('Canceled');
    expect(run.record.error).toBe('the server shut down');
    expect(statuses(run)).toEqual({ first: 'Finished', second: 'Canceled' });
    expect(run.findStepRun('second').record.error).toBe('the server shut down');
    expect(holding('second')).toBe(false);
  });

  it('finishes the run when its last running step finishes within the grace', async () => {
    const only = holdStep('only');
    const run = await new Experiment(ws, 'grace').submit(new Pipeline({ steps: [only] }));
    await until(() => holding('only'));
    const canceled = run.cancel({ graceMs: 60_000 });
    release();
    await canceled;
    expect(run.status).toBe('Finished');
    expect(statuses(run)).toEqual({ only: 'Finished' });
  });

  it('cancels a step waiting for a compute slot at once, and a second call kills the running one', async () => {
    await ComputeTarget.create(ws, 'single', localCompute({ maxConcurrency: 1 }));
    const a = holdStep('a', { computeTarget: 'single' });
    const b = holdStep('b', { computeTarget: 'single' });
    const run = await new Experiment(ws, 'slots').submit(new Pipeline({ steps: [a, b] }));
    // the two steps race for the one slot: one runs, the other waits for it
    const waiting = (name: string, other: string): boolean =>
      holding(name) && statuses(run)[other] === 'Queued';
    await until(() => waiting('a', 'b') || waiting('b', 'a'));
    const [first, second] = holding('a') ? ['a', 'b'] : ['b', 'a'];
    const graceful = run.cancel({ graceMs: 60_000 });
    await until(() => statuses(run)[second!] === 'Canceled');
    expect(statuses(run)[first!]).toBe('Running');
    const pid = pidOf(first!);
    await run.cancel({ graceMs: 0 });
    await graceful;
    expect(run.status).toBe('Canceled');
    expect(statuses(run)).toEqual({ a: 'Canceled', b: 'Canceled' });
    expect(run.record.error).toBeNull();
    await until(() => !isRunning(pid));
    expect(holding(second!)).toBe(false);
  });
});

describe('a run store closed under a running run', () => {
  it('stops the run without an uncaught error', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const quick = nodeStep({ name: 'quick', script: 'sleep.js', sourceDirectory: src, arguments: ['300'] });
      const slow = holdStep('slow');
      const run = await new Experiment(ws, 'closed').submit(new Pipeline({ steps: [quick, slow] }));
      await until(() => holding('slow'));
      const pid = pidOf('slow');
      ws.store.close();
      // `quick` ends with the store closed: nothing can be recorded, so the run stops its other steps
      expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
      await until(() => !isRunning(pid));
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
