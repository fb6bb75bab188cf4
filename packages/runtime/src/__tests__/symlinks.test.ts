import { existsSync, lstatSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DataReference, OutputFileDatasetConfig, Pipeline, PipelineData } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Dataset, Experiment, Workspace, type WorkspaceDatastore } from '../index.js';
import { tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

let root: string;
let ws: Workspace;
let store: WorkspaceDatastore;
let src: string;
let outside: string;
let outsideBefore: Record<string, string>;

/** A folder's files (relative path → text), following nothing. */
function files(dir: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      found[join(entry.parentPath, entry.name).slice(dir.length + 1)] = readFileSync(
        join(entry.parentPath, entry.name),
        'utf8',
      );
    }
  }
  return found;
}

/** A step running one of the scripts in `src`. */
const script = (
  name: string,
  file: string,
  options: Omit<Parameters<typeof nodeStep>[0], 'name' | 'script' | 'sourceDirectory'>,
) => nodeStep({ name, script: file, sourceDirectory: src, ...options });

beforeEach(async () => {
  root = tempDir();
  ws = Workspace.create(join(root, 'ws'));
  store = ws.getDefaultDatastore();
  src = writeTree(join(root, 'src'), {
    // copy each input (a file, or a folder's files) into the output folder, or print it without one
    'read.js': `
const fs = require('fs'), path = require('path');
const [input, out] = process.argv.slice(2);
const names = fs.statSync(input).isDirectory() ? fs.readdirSync(input).map((n) => path.join(input, n)) : [input];
for (const name of names) {
  const text = fs.readFileSync(name, 'utf8');
  if (out) fs.writeFileSync(path.join(out, path.basename(name)), text); else console.log(text);
}`,
    // write an output holding a file and a link (argument 3) to what argument 2 names
    'link.js': `
const fs = require('fs'), path = require('path');
const [out, target, name] = process.argv.slice(2);
fs.writeFileSync(path.join(out, 'ok.txt'), 'ok');
fs.symlinkSync(target, path.join(out, name));`,
    // write an output, and meanwhile turn a datastore folder into a link out of the store
    'swap.js': `
const fs = require('fs'), path = require('path');
const [out, folder, target] = process.argv.slice(2);
fs.writeFileSync(path.join(out, 'data.txt'), 'data');
fs.symlinkSync(target, folder);`,
  });
  outside = writeTree(join(root, 'outside'), { 'secret.txt': 'secret', 'sub/deep.txt': 'deep' });
  outsideBefore = files(outside);
  await store.write('data/ok.csv', new TextEncoder().encode('a,b\n1,2\n'));
  symlinkSync(outside, store.localPath!('linked'));
  symlinkSync(join(outside, 'secret.txt'), store.localPath!('data/leak.csv'));
});
afterEach(async () => {
  expect(files(outside)).toEqual(outsideBefore);
  await ws.close();
});

describe('symbolic links never lead a datastore outside its folder', () => {
  it('uploadFiles and uploadDirectory refuse a target folder linked out of the store, writing nothing', async () => {
    const local = writeTree(join(root, 'local'), { 'a.txt': 'a', 'b.txt': 'b', 'dir/c.txt': 'c' });
    const both = [join(local, 'a.txt'), join(local, 'b.txt')];
    for (const targetPath of ['linked', 'linked/sub', 'linked/sub/deeper']) {
      for (const overwrite of [false, true]) {
        await expect(store.uploadFiles(both, { targetPath, overwrite })).rejects.toMatchObject({
          code: 'DATASTORE_PATH_ESCAPE',
        });
        await expect(
          store.uploadDirectory(join(local, 'dir'), { targetPath: `${targetPath}/dir`, overwrite }),
        ).rejects.toMatchObject({ code: 'DATASTORE_PATH_ESCAPE' });
      }
    }
    // a link that stays inside the store is a folder like any other
    symlinkSync('data', store.localPath!('inside'));
    expect(await store.uploadFiles(both, { targetPath: 'inside' })).toEqual(['inside/a.txt', 'inside/b.txt']);
    expect(readFileSync(join(store.localPath!('data'), 'b.txt'), 'utf8')).toBe('b');
  });

  it('refuses, at submit, an input reached through a link that leads out, mounted or downloaded', async () => {
    for (const mode of ['mount', 'download'] as const) {
      const ref = new DataReference({
        datastore: store,
        pathOnDatastore: 'linked/secret.txt',
        name: 'secret',
      });
      const input = mode === 'mount' ? ref.asMount() : ref.asDownload();
      const step = script('read', 'read.js', { inputs: [input], arguments: [input] });
      await expect(new Experiment(ws, 'links').submit(new Pipeline({ steps: [step] }))).rejects.toMatchObject(
        {
          code: 'DATASTORE_PATH_ESCAPE',
        },
      );
    }
    expect(ws.store.listRuns()).toEqual([]);
  });

  it('fails a step, before it starts, whose input folder holds a link that leads out', async () => {
    for (const mode of ['mount', 'download'] as const) {
      const ref = new DataReference({ datastore: store, pathOnDatastore: 'data', name: 'data' });
      const input = mode === 'mount' ? ref.asMount() : ref.asDownload();
      const out = new PipelineData('out');
      const step = script('read', 'read.js', { inputs: [input], outputs: [out], arguments: [input, out] });
      const run = await new Experiment(ws, 'links').submit(new Pipeline({ steps: [step] }));
      expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
      const stepRun = run.findStepRun('read');
      expect(stepRun.record.error).toMatch(
        /^DATASTORE_PATH_ESCAPE: Datastore "workspaceblobstore": "data\/leak.csv" is a symbolic link that leads outside the datastore/,
      );
      expect(stepRun.record.startedAt).toBeNull();
      expect(stepRun.getOutputs()).toEqual([]);
    }
  });

  it('datasets neither hash, read nor download through a link that leads out', async () => {
    const tabular = Dataset.Tabular.fromDelimitedFiles([[store, 'data/leak.csv']]);
    await expect(tabular.toRecords(ws)).rejects.toMatchObject({ code: 'DATASTORE_PATH_ESCAPE' });
    await expect(tabular.contentIdentity(ws)).rejects.toMatchObject({ code: 'DATASTORE_PATH_ESCAPE' });
    const linked = Dataset.Tabular.fromDelimitedFiles([[store, 'linked/secret.txt']]);
    await expect(linked.toRecords(ws)).rejects.toMatchObject({ code: 'DATASTORE_PATH_ESCAPE' });
    const folder = Dataset.File.fromFiles([[store, 'data']]);
    await expect(folder.download(join(root, 'down'), { ws })).rejects.toMatchObject({
      code: 'DATASTORE_PATH_ESCAPE',
    });
    await expect(folder.register(ws, { name: 'leaky' })).rejects.toMatchObject({
      code: 'DATASTORE_PATH_ESCAPE',
    });
    expect(existsSync(join(root, 'down', 'leak.csv'))).toBe(false);
  });

  it('does not commit a step output holding a link that leads out of the output', async () => {
    const cases = [
      ['leak.txt', join(outside, 'secret.txt')],
      ['up', '../../../../../../../..'],
      ['store-file.csv', store.localPath!('data/ok.csv')],
    ] as const;
    for (const [name, target] of cases) {
      const out = new PipelineData('out');
      const step = script('link', 'link.js', { outputs: [out], arguments: [out, target, name] });
      const after = script('after', 'read.js', { inputs: [out], arguments: [out] });
      const run = await new Experiment(ws, 'links').submit(new Pipeline({ steps: [step, after] }));
      expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
      const stepRun = run.findStepRun('link');
      expect(stepRun.status).toBe('Failed');
      expect(stepRun.record.error).toMatch(
        new RegExp(
          `^DATASTORE_PATH_ESCAPE: "${name.replace('.', '\\.')}" in .* leads through a symbolic link`,
        ),
      );
      expect(stepRun.getOutputs()).toEqual([]);
      expect(run.findStepRun('after').status).toBe('Skipped');
      expect(existsSync(store.localPath!(`sluice/outputs/${stepRun.id}`))).toBe(false);
      expect(readdirSync(store.localPath!('.sluice-partial'))).toEqual([]);
    }
    // a link to a file of the output itself is kept
    const out = new PipelineData('out');
    const step = script('link', 'link.js', { outputs: [out], arguments: [out, 'ok.txt', 'alias.txt'] });
    const run = await new Experiment(ws, 'links').submit(new Pipeline({ steps: [step] }));
    expect(await run.waitForCompletion()).toBe('Finished');
    const [record] = run.findStepRun('link').getOutputs();
    expect(Object.keys((await store.contentIdentity(record!.pathOnDatastore)).files)).toEqual([
      'alias.txt',
      'ok.txt',
    ]);
    expect(lstatSync(join(store.localPath!(record!.pathOnDatastore), 'alias.txt')).isSymbolicLink()).toBe(
      true,
    );
  });

  it('does not commit an output to a destination whose folder became a link out of the store while the step ran', async () => {
    const folder = store.localPath!('results');
    const out = new OutputFileDatasetConfig({ name: 'out', destination: [store, 'results/{run-id}'] });
    const step = script('swap', 'swap.js', { outputs: [out], arguments: [out, folder, outside] });
    const run = await new Experiment(ws, 'links').submit(new Pipeline({ steps: [step] }));
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    const stepRun = run.findStepRun('swap');
    expect(stepRun.record.error).toMatch(
      /^DATASTORE_PATH_ESCAPE: .*"results", a symbolic link that leads outside the datastore/,
    );
    expect(stepRun.getOutputs()).toEqual([]);
    expect(lstatSync(folder).isSymbolicLink()).toBe(true);
  });
});
