import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataReference, Pipeline } from '@sluice/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Experiment, Workspace } from '../index.js';
import { tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

let ws: Workspace;
beforeEach(() => {
  ws = Workspace.create(tempDir());
});
afterEach(async () => {
  await ws.close();
});

it('delivers the same data downloaded and mounted under two names, each where its binding says', async () => {
  const data = writeTree(tempDir(), { 'numbers.csv': 'n\n1\n' });
  await ws.getDefaultDatastore().uploadFiles([join(data, 'numbers.csv')], { targetPath: 'in' });
  const src = writeTree(tempDir(), {});
  writeFileSync(join(src, 'paths.js'), 'console.log(JSON.stringify(process.argv.slice(2)));');
  const ref = new DataReference({
    datastore: 'workspaceblobstore',
    pathOnDatastore: 'in/numbers.csv',
    name: 'numbers',
  });
  const copied = ref.asDownload().asNamedInput('copied');
  const mounted = ref.asMount().asNamedInput('mounted');
  const step = nodeStep({
    name: 'paths',
    script: 'paths.js',
    sourceDirectory: src,
    inputs: [copied, mounted],
    arguments: [copied, mounted],
  });
  const run = await new Experiment(ws, 'inputs').submit(new Pipeline({ steps: [step] }));
  expect(await run.waitForCompletion()).toBe('Finished');
  const [copy, mount] = JSON.parse(await run.findStepRun('paths').getStdout()) as string[];
  expect(copy).toBe(join(run.findStepRun('paths').record.logDir!, 'inputs', 'copied', 'numbers.csv'));
  expect(mount).toBe(ws.getDefaultDatastore().localPath!('in/numbers.csv'));
  const parts = ws.store.getFingerprintParts(run.findStepRun('paths').id);
  expect(parts.find((part) => part.name === 'arguments')?.value).toEqual([
    { input: 'copied' },
    { input: 'mounted' },
  ]);
});
