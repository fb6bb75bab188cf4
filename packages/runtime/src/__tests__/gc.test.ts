import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pipeline, PipelineData } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Experiment,
  PARTIAL_DIR,
  Workspace,
  collectGarbage,
  parseDuration,
  type PipelineRun,
} from '../index.js';
import { tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

let ws: Workspace;
let src: string;
beforeEach(() => {
  ws = Workspace.create(tempDir());
  src = writeTree(tempDir(), {
    'emit.js': `require('fs').writeFileSync(require('path').join(process.argv[2], 'x.txt'), process.argv[3].repeat(1000));`,
  });
});
afterEach(async () => {
  await ws.close();
});

function pipeline(value: string): Pipeline {
  const out = new PipelineData('out');
  return new Pipeline({
    name: 'gc',
    steps: [
      nodeStep({
        name: 'emit',
        script: 'emit.js',
        sourceDirectory: src,
        arguments: [out, value],
        outputs: [out],
      }),
    ],
  });
}

describe('sluice gc', () => {
  it('deletes only outputs no retained run, dataset or latest step result references', async () => {
    const experiment = new Experiment(ws, 'gc');
    const runs: PipelineRun[] = [];
    for (const value of ['a', 'b', 'c']) {
      const run = await experiment.submit(pipeline(value));
      await run.waitForCompletion();
      runs.push(run);
    }
    const pathOf = (run: (typeof runs)[number]) =>
      ws.getDefaultDatastore().localPath!(run.findStepRun('emit').getOutputs()[0]!.pathOnDatastore);
    // keep only the newest run: run "a" is old and not the latest result of the step
    const preview = await collectGarbage(ws, { keepLast: 1, olderThanMs: 0, dryRun: true });
    const outputsOf = (report: typeof preview) =>
      report.deleted.filter((item) => item.reason === 'unreferenced output');
    expect(
      outputsOf(preview)
        .map((item) => item.stepRunId)
        .sort(),
    ).toEqual([runs[0]!.findStepRun('emit').id, runs[1]!.findStepRun('emit').id].sort());
    expect(outputsOf(preview).reduce((sum, item) => sum + item.bytes, 0)).toBe(2000);
    expect(preview.freedBytes).toBe(preview.deleted.reduce((sum, item) => sum + item.bytes, 0));
    expect(existsSync(pathOf(runs[0]!))).toBe(true);

    const report = await collectGarbage(ws, { keepLast: 1, olderThanMs: 0 });
    expect(outputsOf(report)).toHaveLength(2);
    // each ended step's scratch copy of its source goes; its logs stay
    const stepDir = runs[0]!.findStepRun('emit').record.logDir!;
    expect(existsSync(join(stepDir, 'source'))).toBe(false);
    expect(existsSync(join(stepDir, 'sluice.txt'))).toBe(true);
    expect(existsSync(pathOf(runs[0]!))).toBe(false);
    expect(existsSync(pathOf(runs[2]!))).toBe(true);
    expect(() => runs[0]!.findStepRun('emit').getOutputData('out')).toThrow(
      expect.objectContaining({ code: 'OUTPUT_NOT_AVAILABLE' }),
    );
    // a deleted output is never reused: the step runs again
    const again = await experiment.submit(pipeline('a'));
    await again.waitForCompletion();
    expect(again.findStepRun('emit').status).toBe('Finished');
    expect(again.findStepRun('emit').explain().reasons).toEqual([
      expect.stringMatching(/^parameter|arguments/),
    ]);
    expect(
      outputsOf(await collectGarbage(ws, { keepLast: 1, olderThanMs: 0, dryRun: true })).map(
        (i) => i.stepRunId,
      ),
    ).toEqual([runs[2]!.findStepRun('emit').id]);
  });

  it('keeps everything that is recent by default and removes leftovers of ended steps', async () => {
    const run = await new Experiment(ws, 'gc').submit(pipeline('a'));
    await run.waitForCompletion();
    const store = ws.getDefaultDatastore();
    mkdirSync(store.localPath!(`${PARTIAL_DIR}/${run.id}.emit/out`), { recursive: true });
    writeFileSync(store.localPath!(`${PARTIAL_DIR}/${run.id}.emit/out/half.txt`), 'half');
    mkdirSync(store.localPath!('sluice/outputs/ghost.step/out'), { recursive: true });
    writeFileSync(store.localPath!('sluice/outputs/ghost.step/out/x'), '12345');
    const report = await collectGarbage(ws);
    const leftovers = report.deleted.filter((item) => item.reason !== 'scratch files of an ended step');
    expect(leftovers.map((item) => item.reason).sort()).toEqual([
      'output without a record',
      'partial output of an ended step',
    ]);
    expect(leftovers.reduce((sum, item) => sum + item.bytes, 0)).toBe(9);
    expect(existsSync(store.localPath!(PARTIAL_DIR + `/${run.id}.emit`))).toBe(false);
    expect(await run.findStepRun('emit').getOutputData('out').download(tempDir())).toBeTruthy();
  });

  it('parses durations', () => {
    expect(parseDuration('30d')).toBe(30 * 24 * 3600 * 1000);
    expect(parseDuration('90m')).toBe(90 * 60 * 1000);
    expect(() => parseDuration('soon')).toThrow(expect.objectContaining({ code: 'PARAMETER_TYPE' }));
  });

  it('is safe while a pipeline is running: nothing of a running run is touched', async () => {
    writeFileSync(
      join(src, 'slow.js'),
      `const fs = require('fs'), path = require('path');
fs.writeFileSync(path.join(process.argv[2], 'part.txt'), 'p');
setTimeout(() => fs.writeFileSync(path.join(process.argv[2], 'done.txt'), 'd'), 700);`,
    );
    const out = new PipelineData('out');
    const slow = nodeStep({
      name: 'slow',
      script: 'slow.js',
      sourceDirectory: src,
      arguments: [out],
      outputs: [out],
    });
    const earlier = await new Experiment(ws, 'gc').submit(pipeline('a'));
    await earlier.waitForCompletion();
    const run = await new Experiment(ws, 'gc').submit(new Pipeline({ name: 'slow', steps: [slow] }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const report = await collectGarbage(ws, { keepLast: 0, olderThanMs: 0 });
    expect(report.deleted.filter((item) => item.stepRunId?.startsWith(run.id))).toEqual([]);
    expect(await run.waitForCompletion()).toBe('Finished');
    const files = await run.findStepRun('slow').getOutputData('out').download(tempDir());
    expect(existsSync(join(files, 'done.txt'))).toBe(true);
  });
});
