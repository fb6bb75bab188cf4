import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunStore, Workspace } from '../index.js';
import { STEP_RUN_VARIABLE, stopProcessGroup } from '../processes.js';
import Database from 'better-sqlite3';
import { isRunning, startRunner, tempDir, waitFor, writeRunner, writeTree } from './fixtures.js';

// A step that starts a child of its own (same process group), both ignoring SIGTERM, then waits.
const SOURCES = {
  'leader.js': `
const fs = require('fs');
const { spawn } = require('child_process');
process.on('SIGTERM', () => {});
const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setTimeout(() => {}, 60000)"], { stdio: 'ignore' });
fs.writeFileSync(process.argv[2] + '.tmp', JSON.stringify({ leader: process.pid, child: child.pid }));
fs.renameSync(process.argv[2] + '.tmp', process.argv[2]);
setTimeout(() => {}, 60000);`,
};

const leftovers: number[] = [];
afterEach(() => {
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** Run a one-step pipeline in a runner process, kill -9 the runner once the step runs; the step's pids. */
async function killRunnerMidStep(): Promise<{ dir: string; leader: number; child: number }> {
  const dir = tempDir();
  const src = writeTree(join(dir, 'src'), SOURCES);
  Workspace.create(join(dir, 'ws')).store.close();
  const marker = join(dir, 'marker.json');
  const runner = writeRunner(
    join(dir, 'runner.mjs'),
    `
const pipeline = new Pipeline({ name: 'orphans', steps: [
  step({ name: 'hold', script: 'leader.js', sourceDirectory: ${JSON.stringify(src)}, arguments: [${JSON.stringify(marker)}] }),
]});
const ws = Workspace.open(${JSON.stringify(join(dir, 'ws'))});
await (await new Experiment(ws, 'orphans').submit(pipeline)).waitForCompletion({ raiseOnError: false });`,
  );
  const { child, exited } = startRunner(runner);
  expect(await waitFor(() => existsSync(marker))).toBe(true);
  const pids = JSON.parse(readFileSync(marker, 'utf8')) as { leader: number; child: number };
  leftovers.push(pids.leader);
  child.kill('SIGKILL');
  await exited;
  return { dir, ...pids };
}

describe('recovery after kill -9 of the runner', () => {
  it('stops the step processes the runner left running before marking the step Canceled', async () => {
    const { dir, leader, child } = await killRunnerMidStep();
    // the killed runner's step is still running, reparented, with the child it started
    expect(isRunning(leader)).toBe(true);
    expect(isRunning(child)).toBe(true);

    const ws = Workspace.open(join(dir, 'ws'));
    try {
      expect(await waitFor(() => !isRunning(leader) && !isRunning(child), { tries: 100 })).toBe(true);
      const [run] = ws.store.listRuns();
      expect(run!.status).toBe('Failed');
      const [step] = ws.store.getStepRuns(run!.id);
      expect(step!.status).toBe('Canceled');
      expect(ws.store.stepProcesses(step!.id)).toEqual([]);
    } finally {
      await ws.close();
    }
  });

  it('stops what a step left in its group when the step itself has ended since', async () => {
    const { dir, leader, child } = await killRunnerMidStep();
    // the step ends on its own after its runner was killed; the child it started lives on in its group
    process.kill(leader, 'SIGKILL');
    expect(await waitFor(() => !isRunning(leader))).toBe(true);
    expect(isRunning(child)).toBe(true);

    const ws = Workspace.open(join(dir, 'ws'));
    try {
      expect(await waitFor(() => !isRunning(child), { tries: 100 })).toBe(true);
      const [run] = ws.store.listRuns();
      expect(ws.store.getStepRuns(run!.id)[0]!.status).toBe('Canceled');
    } finally {
      await ws.close();
    }
  });

  it('stops step processes the runner had no time to record, by the step run id they carry', async () => {
    const { dir, leader, child } = await killRunnerMidStep();
    // as if the runner had been killed between starting the step's process and recording its group
    const db = new Database(join(dir, 'ws', '.sluice', 'runs.db'));
    expect(db.prepare('DELETE FROM step_processes').run().changes).toBe(1);
    db.close();
    // a process of another step run, with the same variable, is not the killed run's
    const other = spawn('sleep', ['60'], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, [STEP_RUN_VARIABLE]: 'another-run.step' },
    });
    leftovers.push(other.pid!);

    const ws = Workspace.open(join(dir, 'ws'));
    try {
      expect(await waitFor(() => !isRunning(leader) && !isRunning(child), { tries: 100 })).toBe(true);
      expect(isRunning(other.pid!)).toBe(true);
      const [run] = ws.store.listRuns();
      expect(ws.store.getStepRuns(run!.id)[0]!.status).toBe('Canceled');
    } finally {
      await ws.close();
    }
  });

  it('leaves alone a process that now holds a recorded process id (its start time differs)', async () => {
    const { dir, leader } = await killRunnerMidStep();
    process.kill(-leader, 'SIGKILL');
    // a process started later, leading a group of its own, stands in for one given the recorded id again
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      detached: true,
      stdio: 'ignore',
    });
    leftovers.push(other.pid!);
    const store = new RunStore(join(dir, 'ws', '.sluice', 'runs.db'));
    try {
      store.prepare('UPDATE step_processes SET process_group = ?').run(other.pid);
    } finally {
      store.close();
    }

    const ws = Workspace.open(join(dir, 'ws'));
    try {
      const [run] = ws.store.listRuns();
      expect(run!.status).toBe('Failed');
      expect(ws.store.getStepRuns(run!.id)[0]!.status).toBe('Canceled');
      expect(isRunning(other.pid!)).toBe(true);
    } finally {
      await ws.close();
    }
  });

  it('never signals a group whose leader cannot be verified', () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      detached: true,
      stdio: 'ignore',
    });
    leftovers.push(other.pid!);
    expect(stopProcessGroup(other.pid!, null)).toBe('unverified');
    expect(stopProcessGroup(other.pid!, 'another-boot:1')).toBe('gone');
    expect(isRunning(other.pid!)).toBe(true);
  });
});
