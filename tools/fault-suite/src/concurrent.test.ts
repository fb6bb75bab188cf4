import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { newWorkspace, pipelineFile, recordFigures, sluice, withWorkspace } from './harness.js';

const SUBMITS = 8;

it('eight concurrent `sluice run`s of overlapping pipelines execute each fingerprint once and lose nothing', async () => {
  const ws = newWorkspace('concurrent');
  const log = join(dirname(ws), 'executions.log');
  // variant v computes feature v mod 3 and trains with lr 0.1 or 0.5: 1 + 3 + 6 distinct steps
  const results = await Promise.all(
    Array.from({ length: SUBMITS }, (_, variant) =>
      sluice(['run', pipelineFile('overlap'), '-w', ws, '-p', `lr=${variant % 2 ? 0.5 : 0.1}`], {
        FAULT_LOG: log,
        FAULT_VARIANT: String(variant),
      }),
    ),
  );
  for (const result of results) expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);

  const executions = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const perKey = new Map<string, number>();
  for (const key of executions) perKey.set(key, (perKey.get(key) ?? 0) + 1);

  const figures = await withWorkspace(ws, (opened) => {
    const runs = opened.store.listRuns();
    const steps = runs.flatMap((run) => opened.store.getStepRuns(run.id));
    const executedPerFingerprint = new Map<string, number>();
    for (const step of steps) {
      if (step.status !== 'Finished') continue;
      executedPerFingerprint.set(step.fingerprint!, (executedPerFingerprint.get(step.fingerprint!) ?? 0) + 1);
    }
    return {
      runs: runs.map((run) => run.status),
      steps: steps.map((step) => step.status),
      fingerprints: new Set(steps.map((step) => step.fingerprint)).size,
      executedPerFingerprint: [...executedPerFingerprint.values()],
    };
  });
  recordFigures('Concurrent submits (tools/fault-suite/src/concurrent.test.ts)', {
    'concurrent sluice run processes': SUBMITS,
    'runs recorded': `${figures.runs.length} (${figures.runs.filter((s) => s === 'Finished').length} Finished)`,
    'step runs recorded': `${figures.steps.length} (${figures.steps.filter((s) => s === 'Finished').length} executed, ${figures.steps.filter((s) => s === 'Reused').length} reused)`,
    'distinct fingerprints': figures.fingerprints,
    'executions per fingerprint': [...perKey.values()].join(' '),
  });
  // every run and every step is recorded and finished
  expect(figures.runs).toEqual(Array(SUBMITS).fill('Finished'));
  expect(figures.steps).toHaveLength(SUBMITS * 3);
  for (const status of figures.steps) expect(['Finished', 'Reused']).toContain(status);
  // each distinct fingerprint executed exactly once, by the steps' own account and by the store's
  expect(perKey.size).toBe(10);
  expect(figures.fingerprints).toBe(10);
  expect(Object.fromEntries(perKey)).toEqual(Object.fromEntries([...perKey.keys()].map((key) => [key, 1])));
  expect(figures.executedPerFingerprint).toEqual(Array(10).fill(1));
});
