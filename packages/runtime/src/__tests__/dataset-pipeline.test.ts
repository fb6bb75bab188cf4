import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OutputFileDatasetConfig, Pipeline } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Dataset, Experiment, Workspace } from '../index.js';
import { tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

const IRIS = resolve(__dirname, '../../../../examples/iris/data/iris.csv');

let ws: Workspace;
let src: string;
beforeEach(async () => {
  ws = Workspace.create(tempDir());
  await ws.getDefaultDatastore().uploadFiles([IRIS], { targetPath: 'train-dataset' });
  src = writeTree(tempDir(), {
    // counts the rows of a delivered CSV file and writes the count to its output folder
    'count.js': `
const fs = require('fs'), path = require('path');
const [input, out] = process.argv.slice(2);
const rows = fs.readFileSync(input, 'utf8').trim().split('\\n').length - 1;
fs.writeFileSync(path.join(out, 'count.txt'), String(rows));
console.log('rows', rows);`,
  });
});
afterEach(async () => {
  await ws.close();
});

function countPipeline(dataset: ReturnType<typeof Dataset.Tabular.fromDelimitedFiles>) {
  const iris = dataset.asNamedInput('iris').asDownload();
  const counts = new OutputFileDatasetConfig({
    name: 'counts',
    destination: [ws.getDefaultDatastore(), 'outputdataset/{run-id}'],
  }).registerOnComplete({ name: 'iris_counts' });
  return new Pipeline({
    name: 'count',
    steps: [
      nodeStep({
        name: 'count',
        script: 'count.js',
        sourceDirectory: src,
        arguments: [iris, counts],
        inputs: [iris],
        outputs: [counts],
      }),
    ],
  });
}

describe('datasets in pipelines', () => {
  it('reads a registered tabular dataset, registers the output, and reuses across versions with the same bytes', async () => {
    const store = ws.getDefaultDatastore();
    const v1 = await Dataset.Tabular.fromDelimitedFiles([[store, 'train-dataset/iris.csv']]).register(ws, {
      name: 'iris',
    });
    const experiment = new Experiment(ws, 'datasets');
    const first = await experiment.submit(countPipeline(v1));
    expect(await first.waitForCompletion()).toBe('Finished');
    expect((await first.findStepRun('count').getStdout()).trim()).toBe('rows 150');
    const output = first.findStepRun('count').getOutputData('counts');
    expect(output.pathOnDatastore).toBe(`outputdataset/${first.findStepRun('count').id}`);
    expect(
      ws.store
        .listDatasets()
        .filter((d) => d.name === 'iris_counts')
        .map((d) => d.version),
    ).toEqual([1]);

    // the same bytes registered as a new version: still reused, and no duplicate output dataset version
    const v2 = await Dataset.Tabular.fromDelimitedFiles([[store, 'train-dataset/iris.csv']]).register(ws, {
      name: 'iris',
      createNewVersion: true,
    });
    expect(v2.version).toBe(2);
    const second = await experiment.submit(countPipeline(Dataset.Tabular.get(ws, 'iris', 2)));
    expect(await second.waitForCompletion()).toBe('Finished');
    expect(second.findStepRun('count').status).toBe('Reused');
    expect(
      ws.store
        .listDatasets()
        .filter((d) => d.name === 'iris_counts')
        .map((d) => d.version),
    ).toEqual([1]);

    // a transformation changes what the step sees
    const third = await experiment.submit(countPipeline(Dataset.Tabular.get(ws, 'iris', 2).take(10)));
    expect(await third.waitForCompletion()).toBe('Finished');
    expect((await third.findStepRun('count').getStdout()).trim()).toBe('rows 10');
    expect(third.findStepRun('count').explain().reasons).toEqual([
      expect.stringMatching(/^input iris content changed/),
    ]);
    expect(
      ws.store
        .listDatasets()
        .filter((d) => d.name === 'iris_counts')
        .map((d) => d.version),
    ).toEqual([1, 2]);
  });

  it('re-runs when the data behind an unpinned dataset changes, and refuses a changed pinned version', async () => {
    const store = ws.getDefaultDatastore();
    const live = Dataset.Tabular.fromDelimitedFiles([[store, 'train-dataset/iris.csv']]);
    await live.register(ws, { name: 'iris' });
    const experiment = new Experiment(ws, 'changes');
    await (await experiment.submit(countPipeline(live))).waitForCompletion();
    const edited = readFileSync(IRIS, 'utf8').trim().split('\n').slice(0, 101).join('\n') + '\n';
    const file = join(tempDir(), 'iris.csv');
    writeFileSync(file, edited);
    await store.uploadFiles([file], { targetPath: 'train-dataset', overwrite: true });

    const run = await experiment.submit(countPipeline(live));
    expect(await run.waitForCompletion()).toBe('Finished');
    expect((await run.findStepRun('count').getStdout()).trim()).toBe('rows 100');
    expect(run.findStepRun('count').explain().reasons[0]).toMatch(
      /^input iris content changed \(file .*iris\.csv changed\)/,
    );

    const pinned = await experiment.submit(countPipeline(Dataset.Tabular.get(ws, 'iris', 1)));
    expect(await pinned.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    expect(pinned.findStepRun('count').record.error).toMatch(/^DATASET_CHANGED/);
  });
});
