import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataReference, Pipeline, PipelineData, PipelineParameter } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Experiment, Workspace } from '../index.js';
import { SCRIPTS, tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

let ws: Workspace;
let src: string;
let counter: string;

beforeEach(async () => {
  const root = tempDir();
  ws = Workspace.create(join(root, 'ws'));
  src = writeTree(join(root, 'src'), SCRIPTS);
  counter = join(root, 'counter.txt');
  writeFileSync(counter, '');
  const input = writeTree(join(root, 'data'), { 'words.txt': 'hello' });
  await ws.getDefaultDatastore().uploadFiles([join(input, 'words.txt')], { targetPath: 'raw' });
});
afterEach(async () => {
  await ws.close();
});

const ran = (): string[] => readFileSync(counter, 'utf8').split('\n').filter(Boolean);

function threeSteps(prefixDefault = 'p') {
  const raw = new DataReference({
    datastore: ws.getDefaultDatastore(),
    pathOnDatastore: 'raw/words.txt',
    name: 'raw',
  });
  const upper = new PipelineData('upper_out');
  const prefixed = new PipelineData('prefixed');
  const prefix = new PipelineParameter({ name: 'prefix', defaultValue: prefixDefault });
  const a = nodeStep({
    name: 'upper',
    script: 'upper.js',
    sourceDirectory: src,
    arguments: [raw, upper, counter],
    inputs: [raw],
    outputs: [upper],
  });
  const b = nodeStep({
    name: 'prefix',
    script: 'prefix.js',
    sourceDirectory: src,
    arguments: [prefix, upper.asDownload(), prefixed, counter],
    inputs: [upper.asDownload()],
    outputs: [prefixed],
  });
  const c = nodeStep({
    name: 'consume',
    script: 'consume.js',
    sourceDirectory: src,
    arguments: [prefixed, counter],
    inputs: [prefixed],
  });
  return new Pipeline({ name: 'three', steps: [a, [b, [c]]] });
}

describe('reuse', () => {
  it('runs everything, then reuses everything, then re-runs only what a parameter affects', async () => {
    const pipeline = threeSteps();
    const experiment = new Experiment(ws, 'reuse');
    const first = await experiment.submit(pipeline);
    expect(await first.waitForCompletion()).toBe('Finished');
    expect(ran()).toEqual(['upper', 'prefix', 'consume']);
    expect(first.getSteps().map((s) => s.status)).toEqual(['Finished', 'Finished', 'Finished']);
    expect(first.findStepRun('prefix').getMetrics()).toEqual({ length: 5 });
    expect(await first.findStepRun('upper').getStdout()).toContain('upper done');

    const second = await experiment.submit(pipeline);
    expect(await second.waitForCompletion()).toBe('Finished');
    expect(ran()).toHaveLength(3);
    const steps = second.getSteps();
    expect(steps.map((s) => s.status)).toEqual(['Reused', 'Reused', 'Reused']);
    expect(steps[0]!.reusedFrom).toBe(first.findStepRun('upper').id);
    expect(steps[1]!.getMetrics()).toEqual({ length: 5 });

    const third = await experiment.submit(pipeline, { parameters: { prefix: 'q' } });
    expect(await third.waitForCompletion()).toBe('Finished');
    expect(ran().slice(3)).toEqual(['prefix', 'consume']);
    expect(third.getSteps().map((s) => s.status)).toEqual(['Reused', 'Finished', 'Finished']);
    const why = third.findStepRun('prefix').explain();
    expect(why.decision).toBe('RAN');
    expect(why.reasons).toEqual(['parameter prefix p → q']);
    expect(third.findStepRun('consume').explain().reasons).toEqual([
      expect.stringMatching(/^input prefixed content changed/),
    ]);
    expect(third.findStepRun('upper').explain()).toMatchObject({
      decision: 'REUSED',
      reusedFrom: { runId: first.id },
    });

    const out = await third.findStepRun('prefix').getOutputData('prefixed').download(tempDir());
    expect(readFileSync(join(out, 'data.txt'), 'utf8')).toBe('q:HELLO');
  });

  it('sees a change in the bytes of an external input and names the file', async () => {
    const pipeline = threeSteps();
    const experiment = new Experiment(ws, 'data-change');
    await (await experiment.submit(pipeline)).waitForCompletion();
    const changed = writeTree(tempDir(), { 'words.txt': 'world' });
    await ws
      .getDefaultDatastore()
      .uploadFiles([join(changed, 'words.txt')], { targetPath: 'raw', overwrite: true });
    const run = await experiment.submit(pipeline);
    expect(await run.waitForCompletion()).toBe('Finished');
    expect(run.getSteps().map((s) => s.status)).toEqual(['Finished', 'Finished', 'Finished']);
    expect(run.findStepRun('upper').explain().reasons).toEqual([
      'input raw content changed (file words.txt changed)',
    ]);
  });

  it('reuses a downstream step when its upstream re-ran but produced identical bytes', async () => {
    const raw = new DataReference({
      datastore: 'workspaceblobstore',
      pathOnDatastore: 'raw/words.txt',
      name: 'raw',
    });
    const upper = new PipelineData('upper_out');
    const bucket = new PipelineData('bucket');
    const a = nodeStep({
      name: 'upper',
      script: 'upper.js',
      sourceDirectory: src,
      arguments: [raw, upper, counter],
      inputs: [raw],
      outputs: [upper],
    });
    const b = nodeStep({
      name: 'bucket',
      script: 'bucket.js',
      sourceDirectory: src,
      arguments: [upper, bucket],
      inputs: [upper],
      outputs: [bucket],
    });
    const c = nodeStep({
      name: 'consume',
      script: 'consume.js',
      sourceDirectory: src,
      arguments: [bucket, counter],
      inputs: [bucket],
    });
    const pipeline = new Pipeline({ name: 'bucketed', steps: [a, b, c] });
    const experiment = new Experiment(ws, 'identical');
    await (await experiment.submit(pipeline)).waitForCompletion();
    // same length, different bytes: upper and bucket re-run, bucket's output is identical, consume is reused
    await ws
      .getDefaultDatastore()
      .upload(writeTree(tempDir(), { 'w.txt': 'HOLLA' }) + '/w.txt', 'raw/words.txt', { overwrite: true });
    const run = await experiment.submit(pipeline);
    await run.waitForCompletion();
    expect(run.getSteps().map((s) => s.status)).toEqual(['Finished', 'Finished', 'Reused']);
  });

  it('allowReuse: false re-runs one step; regenerateOutputs re-runs all', async () => {
    const raw = new DataReference({
      datastore: 'workspaceblobstore',
      pathOnDatastore: 'raw/words.txt',
      name: 'raw',
    });
    const upper = new PipelineData('upper_out');
    const a = nodeStep({
      name: 'upper',
      script: 'upper.js',
      sourceDirectory: src,
      arguments: [raw, upper, counter],
      inputs: [raw],
      outputs: [upper],
    });
    const c = nodeStep({
      name: 'consume',
      script: 'consume.js',
      sourceDirectory: src,
      arguments: [upper, counter],
      inputs: [upper],
      allowReuse: false,
    });
    const pipeline = new Pipeline({ steps: [a, c] });
    const experiment = new Experiment(ws, 'flags');
    await (await experiment.submit(pipeline)).waitForCompletion();
    const second = await experiment.submit(pipeline);
    await second.waitForCompletion();
    expect(second.getSteps().map((s) => s.status)).toEqual(['Reused', 'Finished']);
    expect(second.findStepRun('consume').explain().reasons).toEqual(['allowReuse is false for this step']);
    const third = await experiment.submit(pipeline, { regenerateOutputs: true });
    await third.waitForCompletion();
    expect(third.getSteps().map((s) => s.status)).toEqual(['Finished', 'Finished']);
    expect(third.findStepRun('upper').explain().reasons[0]).toMatch(/regenerateOutputs/);
    expect(ran()).toEqual(['upper', 'consume', 'consume', 'upper', 'consume']);
  });

  it('re-runs a step whose source file changed and says which file', async () => {
    const pipeline = threeSteps();
    const experiment = new Experiment(ws, 'source');
    await (await experiment.submit(pipeline)).waitForCompletion();
    writeFileSync(join(src, 'consume.js'), `${SCRIPTS['consume.js']}\n// edited\n`);
    const run = await experiment.submit(pipeline);
    await run.waitForCompletion();
    // every step shares the source folder, so each sees the change
    expect(run.findStepRun('upper').explain().reasons).toEqual(['source file consume.js changed']);
  });

  it('ignores files listed in .amlignore (which wins over .gitignore)', async () => {
    writeFileSync(join(src, '.gitignore'), 'notes.md\n');
    writeFileSync(join(src, '.amlignore'), 'scratch/\n');
    const pipeline = threeSteps();
    const experiment = new Experiment(ws, 'ignore');
    await (await experiment.submit(pipeline)).waitForCompletion();
    writeTree(src, { 'scratch/tmp.txt': 'x' });
    const second = await experiment.submit(pipeline);
    await second.waitForCompletion();
    expect(second.getSteps().map((s) => s.status)).toEqual(['Reused', 'Reused', 'Reused']);
    writeTree(src, { 'notes.md': 'not ignored: .amlignore replaces .gitignore' });
    const third = await experiment.submit(pipeline);
    await third.waitForCompletion();
    expect(third.findStepRun('upper').explain().reasons).toEqual(['source file notes.md added']);
  });
});
