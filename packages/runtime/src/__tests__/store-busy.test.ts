// Another process holding the run store's write lock: coded errors at the store boundary, and a step whose
// script succeeded still gets its results recorded once the lock is released.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Pipeline, PipelineData } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Experiment, RunStore, Workspace } from '../index.js';
import { tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

const SQLITE = createRequire(import.meta.url).resolve('better-sqlite3');

/** A second process that takes the store's write lock (BEGIN IMMEDIATE) and holds it until told to stop. */
async function holdLock(file: string): Promise<{ release: () => Promise<void> }> {
  const holder: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [
      '-e',
      `const db = new (require(${JSON.stringify(SQLITE)}))(${JSON.stringify(file)});
       db.pragma('busy_timeout = 5000');
       db.exec('BEGIN IMMEDIATE');
       process.stdout.write('locked\\n');
       process.stdin.on('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`,
    ],
    { stdio: 'pipe' },
  );
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve();
    });
    holder.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
  });
  return {
    release: () =>
      new Promise<void>((resolve) => {
        holder.once('exit', () => resolve());
        holder.stdin.write('release\n');
      }),
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let previous: string | undefined;
beforeEach(() => {
  previous = process.env.SLUICE_BUSY_TIMEOUT_MS;
  process.env.SLUICE_BUSY_TIMEOUT_MS = '100';
});
afterEach(() => {
  if (previous === undefined) delete process.env.SLUICE_BUSY_TIMEOUT_MS;
  else process.env.SLUICE_BUSY_TIMEOUT_MS = previous;
});

describe('a run store locked by another process', () => {
  it('fails a write with RUN_STORE_BUSY naming the store, not an SQLite error', async () => {
    const ws = Workspace.create(tempDir());
    const file = join(ws.dataDir, 'runs.db');
    const lock = await holdLock(file);
    try {
      let error: unknown;
      try {
        ws.store.ensureExperiment('blocked');
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toMatchObject({
        code: 'RUN_STORE_BUSY',
        details: { file, busyTimeoutMs: 100 },
        message: expect.stringContaining(`The run store ${file} is locked by another process`),
      });
      // reading still works while another process writes (WAL)
      expect(ws.store.listRuns()).toEqual([]);
    } finally {
      await lock.release();
    }
    ws.store.ensureExperiment('unblocked');
    expect(ws.store.listExperiments().map((e) => e.name)).toEqual(['unblocked']);
    await ws.close();
  });

  it('refuses a busy timeout that is not a whole number of milliseconds', () => {
    process.env.SLUICE_BUSY_TIMEOUT_MS = 'soon';
    expect(() => new RunStore(join(tempDir(), 'runs.db'))).toThrow(
      expect.objectContaining({
        code: 'OPTION_INVALID',
        message: expect.stringContaining('SLUICE_BUSY_TIMEOUT_MS'),
      }),
    );
  });

  it('records a step whose script succeeded once the lock is released, saying that it waits', async () => {
    const ws = Workspace.create(tempDir());
    const signals = tempDir();
    const src = writeTree(join(ws.dir, 'src'), {
      'finish.js': `
const fs = require('fs'), path = require('path');
const [out, signals] = process.argv.slice(2);
fs.writeFileSync(path.join(signals, 'started'), '');
const wait = () => fs.existsSync(path.join(signals, 'go')) ? finish() : setTimeout(wait, 10);
const finish = () => fs.writeFileSync(path.join(out, 'result.txt'), 'done');
wait();
`,
    });
    const out = new PipelineData('out');
    const pipeline = new Pipeline({
      name: 'busy',
      steps: [
        nodeStep({
          name: 'finish',
          script: 'finish.js',
          sourceDirectory: src,
          arguments: [out, signals],
          outputs: [out],
        }),
      ],
    });
    const run = await new Experiment(ws, 'busy').submit(pipeline);
    await until(() => existsSync(join(signals, 'started')), 'the step to start');
    const lock = await holdLock(join(ws.dataDir, 'runs.db'));
    writeFileSync(join(signals, 'go'), '');
    const log = join(ws.dataDir, 'runs', run.id, 'finish', 'sluice.txt');
    await until(
      () => existsSync(log) && readFileSync(log, 'utf8').includes('locked by another process'),
      'the runner to note that it waits for the lock',
    );
    await lock.release();
    expect(await run.waitForCompletion()).toBe('Finished');
    const step = run.findStepRun('finish');
    expect(step.status).toBe('Finished');
    const target = await step.getOutputData('out').download(tempDir());
    expect(readFileSync(join(target, 'result.txt'), 'utf8')).toBe('done');
    expect(await step.getSluiceLog()).toMatch(
      /the run store is locked by another process; waiting to record the step's results[^]*step finished; outputs committed/,
    );
    await ws.close();
  });
});
