import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pipeline, PipelineData } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ComputeTarget,
  Experiment,
  PipelineRun,
  Workspace,
  localCompute,
  pipelineDataPath,
} from '../index.js';
import { SCRIPTS, tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

let ws: Workspace;
let src: string;

beforeEach(() => {
  const root = tempDir();
  ws = Workspace.create(join(root, 'ws'));
  src = writeTree(join(root, 'src'), {
    ...SCRIPTS,
    'partial.js': `
const fs = require('fs'), path = require('path');
fs.writeFileSync(path.join(process.argv[2], 'half.txt'), 'half');
process.exit(1);`,
    'emit.js': `
const fs = require('fs'), path = require('path');
fs.writeFileSync(path.join(process.argv[2], 'x.txt'), 'x');`,
  });
});
afterEach(async () => {
  await ws.close();
});

describe('failures', () => {
  it('stops dependants of a failed step, keeps its logs and never reuses it', async () => {
    const out = new PipelineData('out');
    const bad = nodeStep({
      name: 'bad',
      script: 'partial.js',
      sourceDirectory: src,
      arguments: [out],
      outputs: [out],
    });
    const after = nodeStep({
      name: 'after',
      script: 'consume.js',
      sourceDirectory: src,
      arguments: [out],
      inputs: [out],
    });
    const pipeline = new Pipeline({ steps: [bad, after] });
    const experiment = new Experiment(ws, 'fail');
    const run = await experiment.submit(pipeline);
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    expect(run.getSteps().map((s) => s.status)).toEqual(['Failed', 'Skipped']);
    const failed = run.findStepRun('bad');
    expect(failed.record.exitCode).toBe(1);
    expect(failed.record.error).toMatch(/exited with code 1/);
    expect(run.record.error).toBe('step failed: bad');
    expect(() => failed.getOutputData('out')).toThrow(
      expect.objectContaining({ code: 'OUTPUT_NOT_AVAILABLE' }),
    );
    // the partial output never reached the datastore
    const store = ws.getDefaultDatastore();
    expect(await store.exists(pipelineDataPath(failed.id, 'out'))).toBe(false);
    const outputsRoot = store.localPath!('sluice/outputs');
    expect(existsSync(outputsRoot) ? readdirSync(outputsRoot) : []).toEqual([]);

    const again = await experiment.submit(pipeline);
    expect(await again.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    expect(again.findStepRun('bad').status).toBe('Failed');
    expect(again.findStepRun('bad').explain().reasons).toEqual([
      'nothing changed, but the earlier run of this step failed and is not reusable',
    ]);
  });

  it('a failed run raises a coded error by default (raise_on_error=True), and only returns Failed when asked', async () => {
    const bad = nodeStep({ name: 'bad', script: 'fail.js', sourceDirectory: src });
    const run = await new Experiment(ws, 'raise').submit(new Pipeline({ steps: [bad] }));
    await expect(run.waitForCompletion()).rejects.toMatchObject({
      code: 'RUN_FAILED',
      details: { run: run.id, status: 'Failed' },
    });
    await expect(run.waitForCompletion({ raiseOnError: true })).rejects.toMatchObject({ code: 'RUN_FAILED' });
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    expect(await run.findStepRun('bad').getStderr()).toContain('something broke');
    // read back from the store (a run executed elsewhere) it raises the same way
    await expect(PipelineRun.get(ws, run.id).waitForCompletion()).rejects.toMatchObject({
      code: 'RUN_FAILED',
    });
  });

  it('continueOnStepFailure keeps independent branches running', async () => {
    const out = new PipelineData('out');
    const bad = nodeStep({ name: 'bad', script: 'fail.js', sourceDirectory: src });
    const dependant = nodeStep({
      name: 'dependant',
      script: 'consume.js',
      sourceDirectory: src,
      runAfter: [bad],
    });
    const other = nodeStep({
      name: 'other',
      script: 'emit.js',
      sourceDirectory: src,
      arguments: [out],
      outputs: [out],
    });
    const pipeline = new Pipeline({ steps: [bad, dependant, other] });
    const stopped = await new Experiment(ws, 'stop').submit(pipeline);
    await stopped.waitForCompletion({ raiseOnError: false });
    // without the flag the run stops scheduling after the failure (the independent step may already run)
    expect(stopped.findStepRun('dependant').status).toBe('Skipped');

    const run = await new Experiment(ws, 'continue').submit(pipeline, { continueOnStepFailure: true });
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    expect(run.findStepRun('bad').status).toBe('Failed');
    expect(run.findStepRun('dependant').status).toBe('Skipped');
    // "other" already finished in the first run, so it may be reused here
    expect(['Finished', 'Reused']).toContain(run.findStepRun('other').status);
  });

  it('a step that times out fails and is not reusable', async () => {
    const slow = nodeStep({
      name: 'slow',
      script: 'sleep.js',
      sourceDirectory: src,
      arguments: ['20000'],
      timeoutSeconds: 1,
    });
    const run = await new Experiment(ws, 'timeout').submit(new Pipeline({ steps: [slow] }));
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    expect(run.findStepRun('slow').record.error).toBe('timed out');
  });

  it('cancel kills running steps and cancels the rest', async () => {
    const marker = join(tempDir(), 'pid');
    const slow = nodeStep({
      name: 'slow',
      script: 'sleep.js',
      sourceDirectory: src,
      arguments: ['30000', marker],
    });
    const next = nodeStep({ name: 'next', script: 'consume.js', sourceDirectory: src, runAfter: [slow] });
    const run = await new Experiment(ws, 'cancel').submit(new Pipeline({ steps: [slow, next] }));
    for (let i = 0; i < 200 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(readFileSync(marker, 'utf8'));
    await run.cancel();
    expect(run.status).toBe('Canceled');
    expect(run.getSteps().map((s) => s.status)).toEqual(['Canceled', 'Canceled']);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('reports a missing compute target, input or script before anything runs', async () => {
    const step = nodeStep({
      name: 'a',
      script: 'emit.js',
      sourceDirectory: src,
      computeTarget: 'gpu-cluster',
    });
    await expect(new Experiment(ws, 'x').submit(new Pipeline({ steps: [step] }))).rejects.toMatchObject({
      code: 'COMPUTE_NOT_FOUND',
    });
    expect(ws.store.listRuns()).toHaveLength(0);
    const missing = nodeStep({ name: 'b', script: 'emit.js', sourceDirectory: join(src, 'nope') });
    await expect(new Experiment(ws, 'x').submit(new Pipeline({ steps: [missing] }))).rejects.toMatchObject({
      code: 'SOURCE_DIRECTORY_NOT_FOUND',
    });
    expect(ws.store.listRuns()).toHaveLength(0);
  });

  it('runs at most maxConcurrency steps at once on a compute target', async () => {
    await ComputeTarget.create(ws, 'one-at-a-time', localCompute({ maxConcurrency: 1 }));
    const log = join(tempDir(), 'overlap.txt');
    writeFileSync(
      join(src, 'overlap.js'),
      `
const fs = require('fs');
fs.appendFileSync(${JSON.stringify(log)}, 'start\\n');
setTimeout(() => fs.appendFileSync(${JSON.stringify(log)}, 'end\\n'), 150);`,
    );
    const steps = ['a', 'b', 'c'].map((name) =>
      nodeStep({
        name,
        script: 'overlap.js',
        sourceDirectory: src,
        arguments: [name],
        computeTarget: 'one-at-a-time',
      }),
    );
    const run = await new Experiment(ws, 'limit').submit(new Pipeline({ steps }));
    expect(await run.waitForCompletion()).toBe('Finished');
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'start',
      'end',
      'start',
      'end',
      'start',
      'end',
    ]);
  });

  it('runs each step in its own copy of the snapshot, so files it writes beside itself do not leak', async () => {
    writeFileSync(
      join(src, 'litter.js'),
      `
const fs = require('fs');
console.log(JSON.stringify(fs.readdirSync('.').filter((f) => f.startsWith('leftover'))));
fs.writeFileSync('leftover.txt', 'x');`,
    );
    const step = nodeStep({ name: 'litter', script: 'litter.js', sourceDirectory: src, allowReuse: false });
    const pipeline = new Pipeline({ steps: [step] });
    const experiment = new Experiment(ws, 'litter');
    for (let i = 0; i < 2; i++) {
      const run = await experiment.submit(pipeline);
      expect(await run.waitForCompletion()).toBe('Finished');
      expect((await run.findStepRun('litter').getStdout()).trim()).toBe('[]');
    }
    expect(existsSync(join(src, 'leftover.txt'))).toBe(false);
  });
});
