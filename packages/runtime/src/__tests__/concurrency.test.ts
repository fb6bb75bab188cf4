import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Pipeline, PipelineData } from '@sluice/core';
import { Experiment, LEASE_TTL_MS, PipelineRun, RunStore, Workspace } from '../index.js';
import { processStartIdentity } from '../processes.js';
import { isRunning, startRunner, tempDir, waitFor, writeRunner, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

// work.js <label> <counter> [input folder] [output folder] [marker]: notes one execution in the counter
// file, takes a moment, writes its output. Given a marker file that does not exist yet, it writes its pid
// there and hangs instead.
const SOURCES = {
  'work.js': `
const fs = require('fs'), path = require('path');
const [label, counter, input, out, marker] = process.argv.slice(2);
fs.appendFileSync(counter, label + '\\n');
const upstream = input && input !== '-' ? fs.readFileSync(path.join(input, 'data.txt'), 'utf8') : '';
if (marker && !fs.existsSync(marker)) {
  fs.writeFileSync(marker, String(process.pid));
  setTimeout(() => {}, 60000);
} else setTimeout(() => { if (out && out !== '-') fs.writeFileSync(path.join(out, 'data.txt'), upstream + label + ';'); }, 300);`,
};

const counted = (file: string): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const label of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return counts;
};

describe('one execution per fingerprint across processes', () => {
  it('8 concurrent runners of overlapping pipelines execute each distinct step once', async () => {
    const dir = tempDir();
    const src = writeTree(join(dir, 'src'), SOURCES);
    const counter = join(dir, 'counter.txt');
    Workspace.create(join(dir, 'ws')).store.close();
    // runner i: prep (the same everywhere) → train:i%3 → report (its input differs with train's output),
    // and check:i%2 beside them: 1 + 3 + 3 + 2 = 9 distinct fingerprints over 32 step runs
    const runner = writeRunner(
      join(dir, 'runner.mjs'),
      `
const i = Number(arg), src = ${JSON.stringify(src)}, counter = ${JSON.stringify(counter)};
const a = new PipelineData('a'), b = new PipelineData('b'), c = new PipelineData('c');
const pipeline = new Pipeline({ name: 'overlap-' + i, steps: [
  step({ name: 'prep', script: 'work.js', sourceDirectory: src, arguments: ['prep', counter, '-', a], outputs: [a] }),
  step({ name: 'train', script: 'work.js', sourceDirectory: src, arguments: ['train:' + (i % 3), counter, a, b], inputs: [a], outputs: [b] }),
  step({ name: 'report', script: 'work.js', sourceDirectory: src, arguments: ['report', counter, b, c], inputs: [b], outputs: [c] }),
  step({ name: 'check', script: 'work.js', sourceDirectory: src, arguments: ['check:' + (i % 2), counter] }),
]});
const ws = Workspace.open(${JSON.stringify(join(dir, 'ws'))});
const run = await new Experiment(ws, 'overlap').submit(pipeline);
const status = await run.waitForCompletion({ raiseOnError: false });
process.stdout.write(JSON.stringify({ run: run.id, status }));
await ws.close();`,
    );
    const runners = Array.from({ length: 8 }, (_, i) => startRunner(runner, String(i)));
    const codes = await Promise.all(runners.map((r) => r.exited));
    expect(codes).toEqual(Array(8).fill(0));
    const results = runners.map((r) => JSON.parse(r.output()) as { run: string; status: string });
    expect(results.map((r) => r.status)).toEqual(Array(8).fill('Finished'));

    // the side effects: every distinct step executed exactly once
    const counts = counted(counter);
    const reports = counts.get('report') ?? 0;
    counts.delete('report');
    expect(Object.fromEntries(counts)).toEqual({
      prep: 1,
      'train:0': 1,
      'train:1': 1,
      'train:2': 1,
      'check:0': 1,
      'check:1': 1,
    });
    expect(reports).toBe(3);

    // the records: 32 step runs, one Finished per fingerprint, the others reused it
    const ws = Workspace.open(join(dir, 'ws'));
    try {
      const steps = results.flatMap((r) => ws.store.getStepRuns(r.run));
      expect(steps).toHaveLength(32);
      const byFingerprint = new Map<string, string[]>();
      for (const step of steps) {
        byFingerprint.set(step.fingerprint!, [...(byFingerprint.get(step.fingerprint!) ?? []), step.status]);
      }
      expect(byFingerprint.size).toBe(9);
      for (const statuses of byFingerprint.values()) {
        expect(statuses.filter((status) => status === 'Finished')).toHaveLength(1);
        expect(statuses.filter((status) => status !== 'Finished').every((s) => s === 'Reused')).toBe(true);
      }
      // a step that waited says so
      for (const step of steps.filter((candidate) => candidate.waitedFor)) {
        const reasons = PipelineRun.get(ws, step.runId).findStepRun(step.stepName).explain().reasons;
        expect(reasons.join(' ')).toContain(`waited for step run ${step.waitedFor}`);
      }
      expect(ws.store.prepare('SELECT COUNT(*) AS n FROM leases').get()).toEqual({ n: 0 });
    } finally {
      await ws.close();
    }
  });

  it('a runner waiting for a killed one takes the step over and executes it', async () => {
    const dir = tempDir();
    const src = writeTree(join(dir, 'src'), SOURCES);
    const counter = join(dir, 'counter.txt');
    const marker = join(dir, 'marker');
    Workspace.create(join(dir, 'ws')).store.close();
    const runner = writeRunner(
      join(dir, 'runner.mjs'),
      `
const pipeline = new Pipeline({ name: 'takeover', steps: [
  step({ name: 'slow', script: 'work.js', sourceDirectory: ${JSON.stringify(src)},
    arguments: ['slow', ${JSON.stringify(counter)}, '-', '-', ${JSON.stringify(marker)}] }),
]});
const ws = Workspace.open(${JSON.stringify(join(dir, 'ws'))});
const run = await new Experiment(ws, 'takeover').submit(pipeline);
process.stdout.write(JSON.stringify({ run: run.id, status: await run.waitForCompletion({ raiseOnError: false }) }));
await ws.close();`,
    );
    const owner = startRunner(runner);
    expect(await waitFor(() => existsSync(marker))).toBe(true);
    const orphan = Number(readFileSync(marker, 'utf8'));
    const waiter = startRunner(runner);
    const store = new RunStore(join(dir, 'ws', '.sluice', 'runs.db'));
    let waiting: { id: string; waited_for: string } | undefined;
    try {
      const query = store.prepare(
        "SELECT id, waited_for FROM step_runs WHERE status = 'Queued' AND waited_for IS NOT NULL",
      );
      expect(await waitFor(() => (waiting = query.get() as typeof waiting) !== undefined)).toBe(true);
    } finally {
      store.close();
    }
    // the owner dies mid-step (its step process hangs on, until stopped)
    owner.child.kill('SIGKILL');
    await owner.exited;
    expect(await waiter.exited).toBe(0);
    expect(JSON.parse(waiter.output())).toMatchObject({ status: 'Finished' });

    expect(counted(counter).get('slow')).toBe(2);
    // the dead owner's step process was stopped by the runner that took over
    expect(isRunning(orphan)).toBe(false);
    const ws = Workspace.open(join(dir, 'ws'));
    try {
      const taken = ws.store.getStepRun(waiting!.id)!;
      const killed = ws.store.getStepRun(waiting!.waited_for)!;
      expect(taken).toMatchObject({ status: 'Finished', waitedFor: killed.id, reusedFrom: null });
      expect(killed.status).toBe('Canceled');
      expect(ws.store.getRun(killed.runId)!.status).toBe('Failed');
      const step = PipelineRun.get(ws, taken.runId).findStepRun('slow');
      expect(step.explain().reasons.join(' ')).toContain(`step run ${killed.id}`);
      expect(await step.getSluiceLog()).toMatch(
        /waiting for step run .*\n.*runner \(pid \d+ on .*\) is gone/,
      );
    } finally {
      await ws.close();
    }
  });
});

describe('one execution per fingerprint within a process (as `sluice serve` runs several)', () => {
  const setup = ({ hang = false } = {}) => {
    const dir = tempDir();
    const src = writeTree(join(dir, 'src'), SOURCES);
    const counter = join(dir, 'counter.txt');
    const ws = Workspace.create(join(dir, 'ws'));
    const pipeline = (): Pipeline => {
      const out = new PipelineData('out');
      return new Pipeline({
        name: 'shared',
        steps: [
          nodeStep({
            name: 'work',
            script: 'work.js',
            sourceDirectory: src,
            arguments: ['work', counter, '-', out, ...(hang ? [join(dir, 'marker')] : [])],
            outputs: [out],
          }),
        ],
      });
    };
    return { ws, counter, pipeline };
  };

  it('runs submitted together execute a shared step once; the others wait and reuse it', async () => {
    const { ws, counter, pipeline } = setup();
    try {
      const runs = await Promise.all(
        Array.from({ length: 4 }, () => new Experiment(ws, 'together').submit(pipeline())),
      );
      expect(await Promise.all(runs.map((run) => run.waitForCompletion()))).toEqual(
        Array(4).fill('Finished'),
      );
      expect(counted(counter).get('work')).toBe(1);
      const steps = runs.map((run) => run.findStepRun('work').record);
      expect(steps.filter((step) => step.status === 'Finished')).toHaveLength(1);
      const executed = steps.find((step) => step.status === 'Finished')!;
      for (const step of steps.filter((candidate) => candidate !== executed)) {
        expect(step).toMatchObject({ status: 'Reused', reusedFrom: executed.id, waitedFor: executed.id });
      }
    } finally {
      await ws.close();
    }
  });

  it('a forced run (regenerateOutputs) holds the claim, so a run submitted meanwhile reuses its result', async () => {
    const { ws, counter, pipeline } = setup();
    try {
      const forced = await new Experiment(ws, 'forced').submit(pipeline(), { regenerateOutputs: true });
      expect(await waitFor(() => forced.findStepRun('work').status === 'Running')).toBe(true);
      const later = await new Experiment(ws, 'forced').submit(pipeline());
      expect(await forced.waitForCompletion()).toBe('Finished');
      expect(await later.waitForCompletion()).toBe('Finished');
      expect(counted(counter).get('work')).toBe(1);
      expect(later.findStepRun('work').record).toMatchObject({
        status: 'Reused',
        reusedFrom: forced.findStepRun('work').id,
      });
      // forced steps always execute, even while another run holds the claim
      const again = await new Experiment(ws, 'forced').submit(pipeline(), { regenerateOutputs: true });
      expect(await again.waitForCompletion()).toBe('Finished');
      expect(counted(counter).get('work')).toBe(2);
    } finally {
      await ws.close();
    }
  });

  it('canceling a waiting run ends its wait', async () => {
    const { ws, pipeline } = setup({ hang: true });
    try {
      const holder = await new Experiment(ws, 'cancel').submit(pipeline());
      expect(await waitFor(() => holder.findStepRun('work').status === 'Running')).toBe(true);
      const waiting = await new Experiment(ws, 'cancel').submit(pipeline());
      expect(await waitFor(() => waiting.findStepRun('work').record.waitedFor !== null)).toBe(true);
      await waiting.cancel();
      expect(waiting.status).toBe('Canceled');
      expect(waiting.findStepRun('work').record).toMatchObject({
        status: 'Canceled',
        waitedFor: holder.findStepRun('work').id,
      });
      await holder.cancel();
    } finally {
      await ws.close();
    }
  });
});

describe('run store leases', () => {
  const holder = (
    store: RunStore,
    values: { host: string; pid: number; started: string | null; ageMs: number },
  ) => {
    const stamp = new Date(Date.now() - values.ageMs).toISOString();
    store
      .prepare(
        `INSERT OR REPLACE INTO leases (key, step_run_id, owner_pid, owner_host, owner_started, acquired_at, heartbeat_at)
         VALUES ('k', 'other.step', ?, ?, ?, ?, ?)`,
      )
      .run(values.pid, values.host, values.started, stamp, stamp);
  };

  it('goes to one claimant at a time, and back when released', () => {
    const store = new RunStore(join(tempDir(), 'runs.db'));
    try {
      expect(store.claimLease('k', 'a.step')).toEqual({ acquired: true });
      expect(store.claimLease('k', 'a.step')).toEqual({ acquired: true });
      expect(store.claimLease('k', 'b.step')).toMatchObject({
        acquired: false,
        holder: { stepRunId: 'a.step' },
      });
      store.releaseLease('k', 'b.step'); // not the holder: nothing happens
      expect(store.claimLease('k', 'b.step').acquired).toBe(false);
      store.releaseLease('k', 'a.step');
      expect(store.claimLease('k', 'b.step')).toEqual({ acquired: true });
    } finally {
      store.close();
    }
  });

  it('is taken over from a holder on another host only once its heartbeat is older than the TTL', () => {
    const store = new RunStore(join(tempDir(), 'runs.db'));
    try {
      holder(store, { host: 'elsewhere', pid: 1, started: null, ageMs: LEASE_TTL_MS / 2 });
      expect(store.claimLease('k', 'mine.step').acquired).toBe(false);
      holder(store, { host: 'elsewhere', pid: 1, started: null, ageMs: LEASE_TTL_MS * 2 });
      expect(store.claimLease('k', 'mine.step')).toMatchObject({
        acquired: true,
        tookOver: { stepRunId: 'other.step', host: 'elsewhere' },
      });
      // the new holder's heartbeat keeps it
      expect(store.renewLease('k', 'mine.step')).toBe(true);
      expect(store.renewLease('k', 'other.step')).toBe(false);
    } finally {
      store.close();
    }
  });

  it('is taken over at once from a holder on this host whose process is gone or was replaced', () => {
    const store = new RunStore(join(tempDir(), 'runs.db'));
    try {
      // this (live) process, recorded with another start time: its id was given to another process
      holder(store, { host: hostname(), pid: process.pid, started: 'another-boot:1', ageMs: 0 });
      expect(store.claimLease('k', 'mine.step')).toMatchObject({
        acquired: true,
        tookOver: { pid: process.pid },
      });
      // a live holder on this host keeps it however old its heartbeat
      store.releaseLease('k', 'mine.step');
      holder(store, {
        host: hostname(),
        pid: process.pid,
        started: processStartIdentity(process.pid) ?? null,
        ageMs: LEASE_TTL_MS * 2,
      });
      expect(store.claimLease('k', 'mine.step').acquired).toBe(false);
    } finally {
      store.close();
    }
  });
});
