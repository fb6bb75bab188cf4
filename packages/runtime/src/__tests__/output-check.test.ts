import { readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pipeline, PipelineData } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Experiment, Workspace, type PipelineRun } from '../index.js';
import { SCRIPTS, tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

let ws: Workspace;
let src: string;
let counter: string;
let input: string;

beforeEach(() => {
  const root = tempDir();
  ws = Workspace.create(join(root, 'ws'));
  src = writeTree(join(root, 'src'), SCRIPTS);
  counter = join(root, 'counter.txt');
  writeFileSync(counter, '');
  input = writeTree(join(root, 'data'), { 'words.txt': 'hello' });
});
afterEach(async () => {
  await ws.close();
});

const ran = (): string[] => readFileSync(counter, 'utf8').split('\n').filter(Boolean);

function pipeline(): Pipeline {
  const out = new PipelineData('upper_out');
  const step = nodeStep({
    name: 'upper',
    script: 'upper.js',
    sourceDirectory: src,
    arguments: [join(input, 'words.txt'), out, counter],
    outputs: [out],
  });
  return new Pipeline({ name: 'one', steps: [step] });
}

async function submit(): Promise<PipelineRun> {
  const run = await new Experiment(ws, 'check').submit(pipeline());
  expect(await run.waitForCompletion()).toBe('Finished');
  return run;
}

/** The committed output file of the first run, and that run's output record. */
function committed(first: PipelineRun): { file: string; stamp: () => string | null | undefined } {
  const stepRun = first.findStepRun('upper');
  const record = stepRun.getOutputData('upper_out').record;
  const file = join(ws.getDefaultDatastore().localPath!(record.path), 'data.txt');
  return { file, stamp: () => ws.store.getOutputs(stepRun.id)[0]!.stamp };
}

/**
 * A first run, then (once its output is older than the 100 ms a timestamp may hide a change in) a second
 * that hashes the output again and records its stat stamp; a third is reused on the stamp alone.
 */
async function stamped(): Promise<{ file: string }> {
  const first = await submit();
  const { file, stamp } = committed(first);
  expect(stamp()).toBeUndefined(); // written just before it was hashed: no stamp yet
  // a whole second, so a test can set the same mtime again exactly (utimes takes no nanoseconds)
  const second = Math.floor(Date.now() / 1000) - 10;
  utimesSync(file, second, second);
  await sleep(150);
  const checked = await submit();
  expect(checked.getSteps()[0]!.status).toBe('Reused');
  expect(stamp()).toMatch(/^[0-9a-f]{64}$/);
  const third = await submit();
  expect(third.getSteps()[0]!.status).toBe('Reused');
  expect(ran()).toEqual(['upper']);
  return { file };
}

describe('reuse checks a committed output', () => {
  it('re-runs the step when the output changed with the same size (its mtime moved)', async () => {
    const { file } = await stamped();
    writeFileSync(file, 'JELLO');
    const run = await submit();
    expect(run.getSteps()[0]!.status).toBe('Finished');
    expect(ran()).toEqual(['upper', 'upper']);
  });

  it('re-runs the step when the output changed size but its mtime was set back', async () => {
    const { file } = await stamped();
    const before = statSync(file, { bigint: true });
    writeFileSync(file, 'HELLO, WORLD');
    utimesSync(file, Number(before.mtimeNs / 1_000_000_000n), Number(before.mtimeNs / 1_000_000_000n));
    expect(statSync(file, { bigint: true }).mtimeNs).toBe(before.mtimeNs);
    const run = await submit();
    expect(run.getSteps()[0]!.status).toBe('Finished');
    expect(ran()).toEqual(['upper', 'upper']);
  });

  it('records the stamp at commit when the step wrote its files well before it ended', async () => {
    writeFileSync(
      join(src, 'settle.js'),
      `require('fs').writeFileSync(require('path').join(process.argv[2], 'data.txt'), 'x');
       setTimeout(() => {}, 300);`,
    );
    const out = new PipelineData('settled');
    const step = nodeStep({
      name: 'settle',
      script: 'settle.js',
      sourceDirectory: src,
      arguments: [out],
      outputs: [out],
    });
    const run = await new Experiment(ws, 'check').submit(new Pipeline({ name: 'settle', steps: [step] }));
    expect(await run.waitForCompletion()).toBe('Finished');
    const stepRun = run.findStepRun('settle');
    expect(ws.store.getOutputs(stepRun.id)[0]!.stamp).toMatch(/^[0-9a-f]{64}$/);
  });

  it('re-runs the step when an output file is missing, or one was added', async () => {
    const { file } = await stamped();
    rmSync(file);
    const rerun = await submit();
    expect(rerun.getSteps()[0]!.status).toBe('Finished');
    expect(ran()).toEqual(['upper', 'upper']);

    // the re-run's output gets its stamp when checked again later; then a file is added beside it
    const { file: latest, stamp } = committed(rerun);
    await sleep(150);
    expect((await submit()).getSteps()[0]!.status).toBe('Reused');
    expect(stamp()).toBeTruthy();
    writeFileSync(join(dirname(latest), 'extra.txt'), 'x');
    expect((await submit()).getSteps()[0]!.status).toBe('Finished');
    expect(ran()).toEqual(['upper', 'upper', 'upper']);
  });
});
