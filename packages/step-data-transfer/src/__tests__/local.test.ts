import { readFileSync, rmSync, statSync } from 'node:fs';
import { nodeStep } from '@sluice/testing';
import { join } from 'node:path';
import {
  DataReference,
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  isSluiceError,
  type StepDefinition,
} from '@sluice/core';
import { Dataset, Experiment, Workspace } from '@sluice/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataTransferStep } from '../index.js';
import { SCRIPTS, statuses, tempDir, writeTree } from './helpers.js';

// Real workspaces, the real runtime and the two default local datastores; nothing is mocked.
let root: string;
let ws: Workspace;
let src: string;
beforeEach(async () => {
  root = tempDir();
  ws = Workspace.create(join(root, 'ws'));
  src = writeTree(join(root, 'src'), SCRIPTS);
  const data = writeTree(join(root, 'data'), {
    'raw/a.csv': 'x,y\n1,2\n',
    'raw/nested/b.txt': 'bee',
    'words.txt': 'hello',
  });
  await ws.getDefaultDatastore().uploadDirectory(join(data, 'raw'), { targetPath: 'raw' });
  await ws.getDefaultDatastore().uploadFiles([join(data, 'words.txt')], { targetPath: 'text' });
});
afterEach(async () => {
  await ws.close();
  rmSync(root, { recursive: true, force: true });
});

const onDisk = (store: string, path: string): string => ws.datastore(store).localPath!(path);

function folderCopy(): Pipeline {
  const raw = new DataReference({ datastore: 'workspaceblobstore', pathOnDatastore: 'raw', name: 'raw' });
  const copy = new DataTransferStep({
    name: 'copy',
    sourceDataReference: raw,
    destinationDataReference: new PipelineData('copied', { datastore: 'workspacefilestore' }),
  });
  return new Pipeline({ name: 'folder-copy', steps: [copy] });
}

describe('DataTransferStep on local datastores', () => {
  it('copies a folder from workspaceblobstore to workspacefilestore and records it as the step output', async () => {
    const run = await new Experiment(ws, 'transfer').submit(folderCopy());
    expect(await run.waitForCompletion()).toBe('Finished');
    const step = run.findStepRun('copy');
    const output = step.getOutputData('copied');
    expect(output.datastoreName).toBe('workspacefilestore');
    expect(output.pathOnDatastore).toBe(`sluice/outputs/${step.id}/copied`);
    expect(output.record.type).toBe('directory');
    expect(Object.keys(output.record.files ?? {}).sort()).toEqual(['a.csv', 'nested/b.txt']);
    const copied = onDisk('workspacefilestore', output.pathOnDatastore);
    expect(readFileSync(join(copied, 'a.csv'), 'utf8')).toBe('x,y\n1,2\n');
    expect(readFileSync(join(copied, 'nested', 'b.txt'), 'utf8')).toBe('bee');
    // the same bytes have the same identity wherever they are
    expect(output.record.digest).toBe((await ws.getDefaultDatastore().contentIdentity('raw')).digest);
    const log = await step.getSluiceLog();
    expect(log).toMatch(
      /copying directory workspaceblobstore:raw \(2 files, 11 B\) to workspacefilestore:sluice\/outputs\/.+\/copied by upload from the local source/,
    );
    expect(log).toMatch(/upload 100%: 2\/2 files, 11 B of 11 B/);
    expect(log).toMatch(/copied 2 files \(11 B\) to workspacefilestore:/);
    expect(log).not.toMatch(/downloading input/);
    expect(step.getMetrics()).toEqual({ files: 2, bytes: 11 });
  });

  it('copies a file into a folder (keeping its name), into a file, and server-side within one datastore', async () => {
    const words = new DataReference({
      datastore: 'workspaceblobstore',
      pathOnDatastore: 'text/words.txt',
      name: 'words',
    });
    const intoFolder = new DataTransferStep({
      name: 'into_folder',
      sourceDataReference: words,
      destinationDataReference: new PipelineData('folder', { datastore: 'workspacefilestore' }),
    });
    const intoFile = new DataTransferStep({
      name: 'into_file',
      sourceDataReference: words,
      sourceReferenceType: 'file',
      destinationReferenceType: 'file',
      destinationDataReference: new OutputFileDatasetConfig({
        name: 'file',
        destination: ['workspacefilestore', 'copies/{run-id}/words.txt'],
      }),
    });
    const sameStore = new DataTransferStep({
      name: 'same_store',
      sourceDataReference: words,
      destinationDataReference: new OutputFileDatasetConfig({
        name: 'beside',
        destination: ['workspaceblobstore', 'copies/{run-id}'],
      }),
    });
    const run = await new Experiment(ws, 'transfer').submit(
      new Pipeline({ name: 'file-copy', steps: [intoFolder, intoFile, sameStore] }),
    );
    expect(await run.waitForCompletion()).toBe('Finished');

    const folder = run.findStepRun('into_folder').getOutputData('folder');
    expect(folder.record.type).toBe('directory');
    expect(
      readFileSync(join(onDisk('workspacefilestore', folder.pathOnDatastore), 'words.txt'), 'utf8'),
    ).toBe('hello');

    const stepRun = run.findStepRun('into_file');
    const file = stepRun.getOutputData('file');
    expect(file.record.type).toBe('file');
    expect(file.pathOnDatastore).toBe(`copies/${stepRun.id}/words.txt`);
    expect(statSync(onDisk('workspacefilestore', file.pathOnDatastore)).isFile()).toBe(true);
    expect(readFileSync(onDisk('workspacefilestore', file.pathOnDatastore), 'utf8')).toBe('hello');

    const beside = run.findStepRun('same_store');
    const copy = beside.getOutputData('beside');
    expect(copy.datastoreName).toBe('workspaceblobstore');
    expect(readFileSync(join(onDisk('workspaceblobstore', copy.pathOnDatastore), 'words.txt'), 'utf8')).toBe(
      'hello',
    );
    expect(await beside.getSluiceLog()).toMatch(/by server-side copy/);
  });

  it('copies the folder of a file dataset', async () => {
    const dataset = Dataset.File.fromFiles([['workspaceblobstore', 'raw']]);
    const step = new DataTransferStep({
      name: 'copy',
      sourceDataReference: dataset.asNamedInput('raw_files'),
      destinationDataReference: new PipelineData('copied', { datastore: 'workspacefilestore' }),
    });
    const run = await new Experiment(ws, 'transfer').submit(new Pipeline({ steps: [step] }));
    expect(await run.waitForCompletion()).toBe('Finished');
    const output = run.findStepRun('copy').getOutputData('copied');
    expect(Object.keys(output.record.files ?? {}).sort()).toEqual(['a.csv', 'nested/b.txt']);
    expect(readFileSync(join(onDisk('workspacefilestore', output.pathOnDatastore), 'a.csv'), 'utf8')).toBe(
      'x,y\n1,2\n',
    );
  });

  it('replaces what a fixed destination held: a file copied into it is the only file there', async () => {
    const copyTo = (path: string, name: string): Pipeline =>
      new Pipeline({
        steps: [
          new DataTransferStep({
            name: 'latest',
            sourceDataReference: new DataReference({
              datastore: 'workspaceblobstore',
              pathOnDatastore: path,
              name,
            }),
            destinationDataReference: new OutputFileDatasetConfig({
              name: 'latest',
              destination: ['workspacefilestore', 'latest'],
            }),
          }),
        ],
      });
    const experiment = new Experiment(ws, 'transfer');
    const first = await experiment.submit(copyTo('text/words.txt', 'words'));
    expect(await first.waitForCompletion()).toBe('Finished');
    expect(await ws.datastore('workspacefilestore').list('latest')).toMatchObject([
      { path: 'latest/words.txt' },
    ]);
    const second = await experiment.submit(copyTo('raw/a.csv', 'table'));
    expect(await second.waitForCompletion()).toBe('Finished');
    expect(await ws.datastore('workspacefilestore').list('latest')).toMatchObject([{ path: 'latest/a.csv' }]);
    expect(second.findStepRun('latest').getOutputData('latest').record.files).toEqual({
      'a.csv': expect.any(String),
    });
  });

  it('is reused while the source is unchanged and re-runs, naming the input, when its bytes change', async () => {
    const experiment = new Experiment(ws, 'transfer');
    const first = await experiment.submit(folderCopy());
    expect(await first.waitForCompletion()).toBe('Finished');
    const second = await experiment.submit(folderCopy());
    expect(await second.waitForCompletion()).toBe('Finished');
    expect(second.findStepRun('copy').status).toBe('Reused');
    expect(second.findStepRun('copy').reusedFrom).toBe(first.findStepRun('copy').id);
    expect(second.findStepRun('copy').getOutputData('copied').pathOnDatastore).toBe(
      first.findStepRun('copy').getOutputData('copied').pathOnDatastore,
    );

    await ws.getDefaultDatastore().write('raw/nested/b.txt', new TextEncoder().encode('BEE!'), {
      overwrite: true,
    });
    const third = await experiment.submit(folderCopy());
    expect(await third.waitForCompletion()).toBe('Finished');
    const step = third.findStepRun('copy');
    expect(step.status).toBe('Finished');
    expect(step.explain().reasons).toEqual(['input raw content changed (file nested/b.txt changed)']);
    const output = step.getOutputData('copied');
    expect(
      readFileSync(join(onDisk('workspacefilestore', output.pathOnDatastore), 'nested', 'b.txt'), 'utf8'),
    ).toBe('BEE!');
    // the first copy is still there, untouched, for the run that made it
    const earlier = first.findStepRun('copy').getOutputData('copied');
    expect(
      readFileSync(join(onDisk('workspacefilestore', earlier.pathOnDatastore), 'nested', 'b.txt'), 'utf8'),
    ).toBe('bee');
  });

  it('takes an upstream step output and hands its copy to a downstream step', async () => {
    const words = new DataReference({
      datastore: 'workspaceblobstore',
      pathOnDatastore: 'text/words.txt',
      name: 'words',
    });
    const made = new PipelineData('made');
    const make = nodeStep({
      name: 'make',
      script: 'make.js',
      sourceDirectory: src,
      arguments: [words, made],
      inputs: [words],
      outputs: [made],
    });
    const transfer = new DataTransferStep({
      name: 'transfer',
      sourceDataReference: made,
      destinationDataReference: new PipelineData('moved', { datastore: 'workspacefilestore' }),
    });
    const wrapped = new PipelineData('wrapped');
    const wrap = nodeStep({
      name: 'wrap',
      script: 'wrap.js',
      sourceDirectory: src,
      arguments: [transfer.getOutput().asDownload(), 'data.txt', wrapped],
      inputs: [transfer.getOutput().asDownload()],
      outputs: [wrapped],
    });
    const steps: StepDefinition[] = [wrap, transfer, make];
    const run = await new Experiment(ws, 'transfer').submit(new Pipeline({ name: 'chain', steps }));
    expect(await run.waitForCompletion()).toBe('Finished');
    expect(statuses(run)).toEqual({ make: 'Finished', transfer: 'Finished', wrap: 'Finished' });
    const moved = run.findStepRun('transfer').getOutputData('moved');
    expect(moved.datastoreName).toBe('workspacefilestore');
    const result = run.findStepRun('wrap').getOutputData('wrapped');
    expect(
      readFileSync(join(onDisk('workspaceblobstore', result.pathOnDatastore), 'result.txt'), 'utf8'),
    ).toBe('[HELLO]');
  });

  it('fails, saying what to change, when the declared source type is not what the source is', async () => {
    const raw = new DataReference({ datastore: 'workspaceblobstore', pathOnDatastore: 'raw', name: 'raw' });
    const step = new DataTransferStep({
      name: 'copy',
      sourceDataReference: raw,
      sourceReferenceType: 'file',
    });
    const run = await new Experiment(ws, 'transfer').submit(new Pipeline({ steps: [step] }));
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    expect(run.findStepRun('copy').record.error).toMatch(
      /sourceReferenceType is 'file' but workspaceblobstore:raw is a directory; set sourceReferenceType: 'directory'/,
    );
    expect(run.findStepRun('copy').getOutputs()).toEqual([]);
  });

  it('refuses the submit, before anything runs, when the source does not exist', async () => {
    const missing = new DataReference({
      datastore: 'workspaceblobstore',
      pathOnDatastore: 'nowhere/data.csv',
      name: 'missing',
    });
    const experiment = new Experiment(ws, 'transfer');
    let error: unknown;
    try {
      await experiment.submit(
        new Pipeline({ steps: [new DataTransferStep({ name: 'copy', sourceDataReference: missing })] }),
      );
    } catch (caught) {
      error = caught;
    }
    expect(isSluiceError(error, 'INPUT_NOT_AVAILABLE'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/"nowhere\/data.csv" from datastore "workspaceblobstore"/);
    expect(experiment.listRuns()).toEqual([]);
    expect(await ws.getDefaultDatastore().exists('sluice/outputs')).toBe(false);
  });
});
