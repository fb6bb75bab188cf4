import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataReference, Pipeline, PipelineData } from '@sluice/core';
import { Experiment, Workspace } from '@sluice/runtime';
import { startAzurite, type AzuriteInstance, nodeStep } from '@sluice/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Datastore } from '../index.js';
import { filesContaining } from './helpers.js';

// Runs against Azurite, Microsoft's storage emulator: a real blob service over HTTP, no mocks.
let azurite: AzuriteInstance;
let root: string;
beforeAll(async () => {
  azurite = await startAzurite();
  root = mkdtempSync(join(tmpdir(), 'sluice-azure-pipeline-'));
});
afterAll(async () => {
  await azurite?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

const SCRIPTS = {
  // upper-case the input file (arg 1) into <out>/data.txt (arg 2); count runs in arg 3
  'upper.js': `
const fs = require('fs'), path = require('path');
const [input, out, counter] = process.argv.slice(2);
fs.writeFileSync(path.join(out, 'data.txt'), fs.readFileSync(input, 'utf8').toUpperCase());
fs.appendFileSync(counter, 'upper\\n');
`,
  // wrap <in>/data.txt (arg 1) in brackets into <out>/result.txt (arg 2)
  'wrap.js': `
const fs = require('fs'), path = require('path');
const [input, out, counter] = process.argv.slice(2);
fs.writeFileSync(path.join(out, 'result.txt'), '[' + fs.readFileSync(path.join(input, 'data.txt'), 'utf8') + ']');
fs.appendFileSync(counter, 'wrap\\n');
`,
};

it('runs a pipeline whose input and outputs live on Azure, reuses it, and re-runs what a changed blob affects', async () => {
  const dir = join(root, 'ws');
  const src = join(root, 'src');
  mkdirSync(src, { recursive: true });
  for (const [name, text] of Object.entries(SCRIPTS)) writeFileSync(join(src, name), text);
  const counter = join(root, 'counter.txt');
  writeFileSync(counter, '');
  const ran = (): string[] => readFileSync(counter, 'utf8').split('\n').filter(Boolean);

  const ws = Workspace.create(dir);
  const store = Datastore.registerAzureBlobContainer(ws, {
    name: 'lake',
    containerName: 'pipeline-data',
    accountUrl: azurite.blobEndpoint,
    accountName: azurite.accountName,
    accountKey: azurite.accountKey,
    createContainerIfMissing: true,
  });
  await store.write('raw/words.txt', new TextEncoder().encode('hello'));

  const pipeline = (): Pipeline => {
    const raw = new DataReference({ datastore: 'lake', pathOnDatastore: 'raw/words.txt', name: 'raw' });
    const upper = new PipelineData('upper_out', { datastore: 'lake' });
    const wrapped = new PipelineData('wrapped', { datastore: 'lake' });
    return new Pipeline({
      name: 'azure-io',
      steps: [
        nodeStep({
          name: 'upper',
          script: 'upper.js',
          sourceDirectory: src,
          arguments: [raw, upper, counter],
          inputs: [raw],
          outputs: [upper],
        }),
        nodeStep({
          name: 'wrap',
          script: 'wrap.js',
          sourceDirectory: src,
          arguments: [upper.asDownload(), wrapped, counter],
          inputs: [upper.asDownload()],
          outputs: [wrapped],
        }),
      ],
    });
  };

  const first = await new Experiment(ws, 'azure').submit(pipeline());
  expect(await first.waitForCompletion()).toBe('Finished');
  expect(first.getSteps().map((step) => step.status)).toEqual(['Finished', 'Finished']);
  expect(ran()).toEqual(['upper', 'wrap']);
  // the outputs were committed to the Azure container
  const output = first.findStepRun('wrap').getOutputData('wrapped').record;
  expect(output.datastore).toBe('lake');
  const blobs = await ws.datastore('lake').list(output.path);
  expect(blobs.map((entry) => entry.path)).toEqual([`${output.path}/result.txt`]);
  const fetched = join(root, 'fetched');
  await ws.datastore('lake').download(output.path, fetched);
  expect(readFileSync(join(fetched, 'result.txt'), 'utf8')).toBe('[HELLO]');
  // the digest recorded at commit matches what the Azure datastore reports for the uploaded folder
  expect((await ws.datastore('lake').contentIdentity(output.path)).digest).toBe(output.digest);

  const second = await new Experiment(ws, 'azure').submit(pipeline());
  expect(await second.waitForCompletion()).toBe('Finished');
  expect(second.getSteps().map((step) => step.status)).toEqual(['Reused', 'Reused']);
  expect(ran()).toHaveLength(2);
  await ws.close();

  // a reopened workspace loads the provider from the package named in its config (submit calls ready())
  const reopened = Workspace.open(dir);
  const third = await new Experiment(reopened, 'azure').submit(pipeline());
  expect(await third.waitForCompletion()).toBe('Finished');
  expect(third.getSteps().map((step) => step.status)).toEqual(['Reused', 'Reused']);

  // another tool replaces the input blob's bytes (no Sluice metadata, Content-MD5 set by the service)
  const sdk = await import('@azure/storage-blob');
  const raw = sdk.BlobServiceClient.fromConnectionString(azurite.connectionString)
    .getContainerClient('pipeline-data')
    .getBlockBlobClient('raw/words.txt');
  await raw.upload('world', 5);
  const fourth = await new Experiment(reopened, 'azure').submit(pipeline());
  expect(await fourth.waitForCompletion()).toBe('Finished');
  expect(fourth.getSteps().map((step) => step.status)).toEqual(['Finished', 'Finished']);
  expect(ran()).toEqual(['upper', 'wrap', 'upper', 'wrap']);
  expect(fourth.findStepRun('upper').explain().reasons).toEqual([
    'input raw content changed (file words.txt changed)',
  ]);
  expect(fourth.findStepRun('wrap').explain().reasons).toEqual([
    'input upper_out content changed (file data.txt changed)',
  ]);
  const result = await fourth.findStepRun('wrap').getOutputData('wrapped').download(join(root, 'result'));
  expect(readFileSync(join(result, 'result.txt'), 'utf8')).toBe('[WORLD]');

  // and the changed blob's identity is stable: the next run reuses everything
  const fifth = await new Experiment(reopened, 'azure').submit(pipeline());
  expect(await fifth.waitForCompletion()).toBe('Finished');
  expect(fifth.getSteps().map((step) => step.status)).toEqual(['Reused', 'Reused']);
  await reopened.close();

  // the account key is in the workspace's secret file and nowhere else: not the config, the run store
  // (database, WAL), the logs or the snapshots
  expect(filesContaining(dir, azurite.accountKey).map((file) => file.slice(dir.length + 1))).toEqual([
    join('.sluice', 'secrets.json'),
  ]);
});
