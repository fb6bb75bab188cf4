import { readFileSync, rmSync } from 'node:fs';
import { nodeStep } from '@sluice/testing';
import { join } from 'node:path';
import { DataReference, OutputFileDatasetConfig, Pipeline, PipelineData, isSluiceError } from '@sluice/core';
import { registerAzureBlobContainer } from '@sluice/datastore-azure';
import { Experiment, Workspace, pipelineDataPath, type WorkspaceDatastore } from '@sluice/runtime';
import { startAzurite, type AzuriteInstance } from '@sluice/testing/azurite';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { DataTransferStep } from '../index.js';
import { SCRIPTS, statuses, tempDir, writeTree } from './helpers.js';

// Runs against Azurite, Microsoft's storage emulator: a real blob service over HTTP, no mocks.
let azurite: AzuriteInstance;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

let root: string;
let ws: Workspace;
let lake: WorkspaceDatastore;
let containers = 0;
beforeEach(() => {
  root = tempDir();
  ws = Workspace.create(join(root, 'ws'));
  containers += 1;
  lake = registerAzureBlobContainer(ws, {
    name: 'lake',
    containerName: `lake-${containers}`,
    connectionString: azurite.connectionString,
    createContainerIfMissing: true,
  });
});
afterEach(async () => {
  await ws.close();
  rmSync(root, { recursive: true, force: true });
});

async function text(store: WorkspaceDatastore, path: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of (await store.read(path)) as AsyncIterable<Buffer | string>) {
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

it('copies local → blob, blob → blob server-side and blob → local, for a downstream step to read', async () => {
  const data = writeTree(join(root, 'data'), { 'a.csv': 'x,y\n1,2\n', 'nested/b.txt': 'bee' });
  await ws.getDefaultDatastore().uploadDirectory(data, { targetPath: 'raw' });
  const src = writeTree(join(root, 'src'), SCRIPTS);

  const pipeline = (): Pipeline => {
    const raw = new DataReference({ datastore: 'workspaceblobstore', pathOnDatastore: 'raw', name: 'raw' });
    const toLake = new DataTransferStep({
      name: 'to_lake',
      sourceDataReference: raw,
      destinationDataReference: new PipelineData('on_lake', { datastore: 'lake' }),
    });
    const withinLake = new DataTransferStep({
      name: 'within_lake',
      sourceDataReference: toLake.getOutput(),
      destinationDataReference: new OutputFileDatasetConfig({
        name: 'lake_copy',
        destination: ['lake', 'copies/{run-id}'],
      }),
    });
    const home = new DataTransferStep({
      name: 'home',
      sourceDataReference: withinLake.getOutput(),
      destinationDataReference: new PipelineData('at_home', { datastore: 'workspacefilestore' }),
    });
    const wrapped = new PipelineData('wrapped');
    const wrap = nodeStep({
      name: 'wrap',
      script: 'wrap.js',
      sourceDirectory: src,
      arguments: [home.getOutput(), 'nested/b.txt', wrapped],
      inputs: [home.getOutput()],
      outputs: [wrapped],
    });
    return new Pipeline({ name: 'azure-transfer', steps: [toLake, withinLake, home, wrap] });
  };

  const experiment = new Experiment(ws, 'azure');
  const run = await experiment.submit(pipeline());
  expect(await run.waitForCompletion()).toBe('Finished');
  expect(statuses(run)).toEqual({
    to_lake: 'Finished',
    within_lake: 'Finished',
    home: 'Finished',
    wrap: 'Finished',
  });

  const onLake = run.findStepRun('to_lake').getOutputData('on_lake');
  expect(onLake.datastoreName).toBe('lake');
  expect(await text(lake, `${onLake.pathOnDatastore}/nested/b.txt`)).toBe('bee');
  expect(await run.findStepRun('to_lake').getSluiceLog()).toMatch(/by upload from the local source/);

  const within = run.findStepRun('within_lake');
  const lakeCopy = within.getOutputData('lake_copy');
  expect(lakeCopy.pathOnDatastore).toBe(`copies/${within.id}`);
  expect(await text(lake, `${lakeCopy.pathOnDatastore}/a.csv`)).toBe('x,y\n1,2\n');
  expect(await within.getSluiceLog()).toMatch(/by server-side copy/);

  const homeRun = run.findStepRun('home');
  const atHome = homeRun.getOutputData('at_home');
  expect(atHome.datastoreName).toBe('workspacefilestore');
  const local = ws.datastore('workspacefilestore').localPath!(atHome.pathOnDatastore);
  expect(readFileSync(join(local, 'nested', 'b.txt'), 'utf8')).toBe('bee');
  const homeLog = await homeRun.getSluiceLog();
  expect(homeLog).toMatch(/by download to .*transfer, then upload/);
  expect(homeLog).toMatch(/download 100%: 2\/2 files, 11 B of 11 B/);
  expect(homeLog).toMatch(/upload 100%: 2\/2 files/);

  // the same bytes have the same identity on every store they were copied to
  const digest = (await ws.getDefaultDatastore().contentIdentity('raw')).digest;
  expect([onLake, lakeCopy, atHome].map((output) => output.record.digest)).toEqual([digest, digest, digest]);

  const wrapped = run.findStepRun('wrap').getOutputData('wrapped');
  const result = ws.getDefaultDatastore().localPath!(`${wrapped.pathOnDatastore}/result.txt`);
  expect(readFileSync(result, 'utf8')).toBe('[bee]');

  const again = await experiment.submit(pipeline());
  expect(await again.waitForCompletion()).toBe('Finished');
  expect(statuses(again)).toEqual({
    to_lake: 'Reused',
    within_lake: 'Reused',
    home: 'Reused',
    wrap: 'Reused',
  });
});

it('copies a blob file into a local file', async () => {
  await lake.write('raw/words.txt', new TextEncoder().encode('hello'));
  const words = new DataReference({ datastore: 'lake', pathOnDatastore: 'raw/words.txt', name: 'words' });
  const step = new DataTransferStep({
    name: 'fetch',
    sourceDataReference: words,
    destinationReferenceType: 'file',
    destinationDataReference: new OutputFileDatasetConfig({
      name: 'fetched',
      destination: ['workspacefilestore', 'fetched/{run-id}/words.txt'],
    }),
  });
  const run = await new Experiment(ws, 'azure').submit(new Pipeline({ steps: [step] }));
  expect(await run.waitForCompletion()).toBe('Finished');
  const output = run.findStepRun('fetch').getOutputData('fetched');
  expect(output.record.type).toBe('file');
  expect(readFileSync(ws.datastore('workspacefilestore').localPath!(output.pathOnDatastore), 'utf8')).toBe(
    'hello',
  );
  expect(output.record.digest).toBe((await lake.contentIdentity('raw/words.txt')).digest);
});

it('leaves no committed output, on the record or in the container, when the run is canceled mid-transfer', async () => {
  const files: Record<string, Uint8Array> = {};
  for (let index = 0; index < 40; index += 1) {
    files[`part-${String(index).padStart(2, '0')}.bin`] = new Uint8Array(64 * 1024).fill(index);
  }
  await ws.getDefaultDatastore().uploadDirectory(writeTree(join(root, 'big'), files), { targetPath: 'big' });
  const pipeline = (): Pipeline =>
    new Pipeline({
      name: 'big-transfer',
      steps: [
        new DataTransferStep({
          name: 'upload',
          sourceDataReference: new DataReference({
            datastore: 'workspaceblobstore',
            pathOnDatastore: 'big',
            name: 'big',
          }),
          destinationDataReference: new PipelineData('uploaded', { datastore: 'lake' }),
        }),
      ],
    });

  const experiment = new Experiment(ws, 'azure');
  const run = await experiment.submit(pipeline());
  const progress: string[] = [];
  run.on((event) => {
    if (event.type !== 'step-log' || !/upload \d+%/.test(event.text)) return;
    progress.push(event.text);
    // cancel as soon as the first tenth is in: most files have not started yet
    if (progress.length === 1) void run.cancel();
  });
  expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Canceled');
  // files were in the container when the cancel came, and are gone
  const uploadedBefore = Number(/upload \d+%: (\d+)\/40 files/.exec(progress[0]!)?.[1]);
  expect(uploadedBefore).toBeGreaterThan(0);
  expect(uploadedBefore).toBeLessThan(40);
  const step = run.findStepRun('upload');
  expect(step.status).toBe('Canceled');
  expect(step.getOutputs()).toEqual([]);
  let error: unknown;
  try {
    step.getOutputData('uploaded');
  } catch (caught) {
    error = caught;
  }
  expect(isSluiceError(error, 'OUTPUT_NOT_AVAILABLE')).toBe(true);
  expect(await lake.exists(pipelineDataPath(step.id, 'uploaded'))).toBe(false);
  expect(await lake.list('')).toEqual([]);
  expect(await step.getSluiceLog()).toMatch(/data transfer canceled/);

  // the next run copies everything afresh (a canceled step is never reused)
  const next = await experiment.submit(pipeline());
  expect(await next.waitForCompletion()).toBe('Finished');
  const uploaded = next.findStepRun('upload').getOutputData('uploaded');
  expect(Object.keys(uploaded.record.files ?? {})).toHaveLength(40);
  expect(uploaded.record.bytes).toBe(40 * 64 * 1024);
});
