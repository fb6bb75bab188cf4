import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hashTree } from '@sluice/core';
import type { Workspace } from '@sluice/runtime';
import { expect, it } from 'vitest';
import {
  alive,
  commandLine,
  finished,
  newWorkspace,
  pipelineFile,
  random,
  recordFigures,
  seed,
  sleep,
  sluice,
  startSluice,
  withWorkspace,
} from './harness.js';

/** How many runs must be killed mid-run (FAULT_KILL_POINTS to change it). */
const KILLS = Number(process.env.FAULT_KILL_POINTS ?? 10);
const CHAIN = pipelineFile('chain');
/** The outputs each step of the chain declares. */
const OUTPUTS: Record<string, string[]> = {
  make: ['raw'],
  left: ['left_out'],
  right: ['right_out'],
  join: ['joined'],
  summary: ['report'],
};
const DESTINATION = 'reports/latest';
/** The processes of the chain's steps: their Python scripts and the child each leaves running. */
const OURS =
  /sleep 300|fixtures\/steps\/(make|left|right|join|summary)\.py|\/source\/(make|left|right|join|summary)\.py/;

/** How many of the chain's steps have started in a workspace (each notes its processes when it starts). */
const startedSteps = (pids: string): number =>
  new Set(readdirSync(pids).map((name) => name.split('.')[0])).size;

/** The digest of what is on disk at an output's location, hashed afresh (no cache). */
async function onDisk(ws: Workspace, datastore: string, path: string): Promise<string | undefined> {
  const local = ws.datastore(datastore).localPath!(path);
  return hashTree(local)
    .then((tree) => tree.digest)
    .catch(() => undefined);
}

/** step/output → digest of the latest run's outputs, and the destination's digest. */
async function latestOutputs(ws: Workspace): Promise<Map<string, string | undefined>> {
  const [run] = ws.store.listRuns({ limit: 1 });
  const digests = new Map<string, string | undefined>();
  for (const step of ws.store.getStepRuns(run!.id)) {
    for (const output of ws.store.getOutputs(step.id)) {
      digests.set(`${step.stepName}/${output.name}`, await onDisk(ws, output.datastore, output.path));
    }
  }
  digests.set(DESTINATION, await onDisk(ws, 'workspaceblobstore', DESTINATION));
  return digests;
}

it('kills `sluice run` at random points; every resubmission ends byte-identical, consistent and alone', async () => {
  const runSeed = seed();
  const next = random(runSeed);
  const replay = `replay with FAULT_SEED=${runSeed}`;

  const reference = newWorkspace('kill-reference');
  const started = performance.now();
  const clean = await sluice(['run', CHAIN, '-w', reference], { FAULT_PID_DIR: '-' });
  const cleanMs = performance.now() - started;
  expect(clean.code, clean.stderr).toBe(0);
  const expected = await withWorkspace(reference, latestOutputs);
  expect(expected.size).toBe(Object.keys(OUTPUTS).length + 1);
  for (const [name, digest] of expected) expect(digest, name).toBeDefined();

  const delays: number[] = [];
  const startedWhenKilled: number[] = [];
  let attempts = 0;
  let endedBeforeKill = 0;
  let doubleKills = 0;
  let recordsVerified = 0;
  let processesSeen = 0;
  const survivors: string[] = [];
  while (delays.length < KILLS && attempts < KILLS * 3) {
    attempts += 1;
    const ws = newWorkspace(`kill-${attempts}`);
    const pids = join(dirname(ws), 'pids');
    mkdirSync(pids);
    const env = { FAULT_PID_DIR: pids };
    const where = `point ${attempts} (${replay})`;
    // kill once, sometimes twice (the first resubmission too), then let a last run finish
    const kills = next() < 0.3 ? 2 : 1;
    for (let kill = 0; kill < kills; kill++) {
      // a quarter of the points at a random time of the whole run (start-up and commits included), the rest
      // a random moment after a random step has started (so that most kills land while steps execute)
      const atTime = next() < 0.25;
      const stepsBefore = startedSteps(pids);
      const target = 1 + Math.floor(next() * Object.keys(OUTPUTS).length);
      const extra = Math.round(next() * (atTime ? cleanMs : 400));
      const child = startSluice(['run', CHAIN, '-w', ws], env);
      const done = finished(child);
      const begun = performance.now();
      let ended = false;
      void done.then(() => (ended = true));
      if (!atTime) {
        while (
          !ended &&
          startedSteps(pids) - stepsBefore < target &&
          performance.now() - begun < cleanMs * 3
        ) {
          await sleep(10);
        }
      }
      await sleep(extra);
      child.kill('SIGKILL');
      const result = await done;
      if (result.signal !== 'SIGKILL') {
        endedBeforeKill += 1;
        expect(result.code, `${where}: ${result.stderr}`).toBe(0);
        continue;
      }
      delays.push(Math.round(performance.now() - begun));
      if (kill === 1) doubleKills += 1;
      startedWhenKilled.push(startedSteps(pids));
    }
    const last = await sluice(['run', CHAIN, '-w', ws], env);
    expect(last.code, `${where}: ${last.stdout}\n${last.stderr}`).toBe(0);

    await withWorkspace(ws, async (opened) => {
      expect(opened.store.checkIntegrity(), where).toEqual([]);
      // the resubmission's outputs are byte-identical to a clean run's
      expect(await latestOutputs(opened), where).toEqual(expected);
      // no step is Finished (or Reused) without its committed outputs, intact; nothing is left unfinished
      for (const run of opened.store.listRuns()) {
        expect(['Finished', 'Failed', 'Canceled'], `${where}: run ${run.id}`).toContain(run.status);
        for (const step of opened.store.getStepRuns(run.id)) {
          expect(['NotStarted', 'Queued', 'Running'], `${where}: ${step.id}`).not.toContain(step.status);
          if (step.status !== 'Finished' && step.status !== 'Reused') continue;
          const outputs = opened.store.getOutputs(step.id);
          expect(outputs.map((output) => output.name).sort(), `${where}: ${step.id}`).toEqual(
            OUTPUTS[step.stepName],
          );
          for (const output of outputs) {
            if (output.deletedAt) continue;
            expect(await onDisk(opened, output.datastore, output.path), `${where}: ${step.id}`).toBe(
              output.digest,
            );
            recordsVerified += 1;
          }
        }
      }
    });
    // no process of a killed run is left: every step process and the child it started is gone
    for (const name of readdirSync(pids)) {
      processesSeen += 1;
      const pid = Number(name.split('.')[1]);
      if (alive(pid) && OURS.test(commandLine(pid))) {
        survivors.push(`${name} (${commandLine(pid).trim()})`);
        process.kill(pid, 'SIGKILL');
      }
    }
  }
  recordFigures('SIGKILL at random points (tools/fault-suite/src/kill.test.ts)', {
    seed: `${runSeed} (FAULT_SEED=${runSeed} replays it)`,
    'clean run': `${Math.round(cleanMs)} ms`,
    'points killed': `${delays.length} kills in ${attempts} workspaces (${endedBeforeKill} ended before the kill, ${doubleKills} second kills)`,
    'kill times after start (ms)': delays.join(' '),
    'steps started when killed': startedWhenKilled.join(' '),
    'output records verified on disk': recordsVerified,
    'step processes watched': processesSeen,
    survivors: survivors.length,
  });
  expect(survivors, replay).toEqual([]);
  expect(delays.length, replay).toBeGreaterThanOrEqual(KILLS);
});
