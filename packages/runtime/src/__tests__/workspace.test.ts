import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Environment, Pipeline, RunConfiguration, PipelineData } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import {
  ComputeTarget,
  Experiment,
  RunStore,
  WORKSPACE_CONFIG_FILE,
  Workspace,
  localCompute,
} from '../index.js';
import { SCRIPTS, tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

describe('workspace', () => {
  it('is created once, found from a subfolder and refuses to be created twice', async () => {
    const root = tempDir();
    const ws = Workspace.create(root, { name: 'team' });
    expect(ws.name).toBe('team');
    expect(existsSync(join(root, WORKSPACE_CONFIG_FILE))).toBe(true);
    expect(existsSync(join(root, '.sluice', 'runs.db'))).toBe(true);
    expect(() => Workspace.create(root)).toThrow(expect.objectContaining({ code: 'WORKSPACE_EXISTS' }));
    await ws.close();
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    const found = Workspace.fromConfig({ path: join(root, 'a', 'b') });
    expect(found.dir).toBe(root);
    expect(found.listDatastores()).toEqual(['workspaceblobstore', 'workspacefilestore']);
    expect(found.getDefaultDatastore().name).toBe('workspaceblobstore');
    await found.close();
    expect(() => Workspace.fromConfig({ path: tempDir() })).toThrow(
      expect.objectContaining({ code: 'WORKSPACE_NOT_FOUND' }),
    );
    writeFileSync(join(root, WORKSPACE_CONFIG_FILE), '{ not json');
    expect(() => Workspace.open(root)).toThrow(expect.objectContaining({ code: 'WORKSPACE_CONFIG_INVALID' }));
  });

  it('keeps compute targets in the config and reports unknown ones', async () => {
    const root = tempDir();
    const ws = Workspace.create(root);
    const target = await ComputeTarget.create(ws, 'cpu', localCompute({ maxConcurrency: 3 }));
    expect(target.describe()).toMatchObject({ kind: 'local', maxConcurrency: 3 });
    expect(JSON.parse(readFileSync(join(root, WORKSPACE_CONFIG_FILE), 'utf8')).computeTargets.cpu).toEqual({
      provider: 'local',
      options: { maxConcurrency: 3 },
    });
    await expect(ComputeTarget.get(ws, 'gpu')).rejects.toMatchObject({ code: 'COMPUTE_NOT_FOUND' });
    expect(() => localCompute({ maxConcurrency: 0 })).toThrow(
      expect.objectContaining({ code: 'WORKSPACE_CONFIG_INVALID' }),
    );
    await ws.close();
    const reopened = Workspace.open(root);
    expect(
      ComputeTarget.list(reopened)
        .map((t) => t.name)
        .sort(),
    ).toEqual(['cpu', 'local']);
    await reopened.close();
  });

  it('registers environments by name and version, refusing a changed definition under the same version', async () => {
    const ws = Workspace.create(tempDir());
    ws.registerEnvironment(new Environment({ name: 'py', version: '1', environmentVariables: { A: '1' } }));
    expect(ws.getEnvironment('py').environmentVariables).toEqual({ A: '1' });
    expect(() =>
      ws.registerEnvironment(new Environment({ name: 'py', version: '1', environmentVariables: { A: '2' } })),
    ).toThrow(expect.objectContaining({ code: 'ENVIRONMENT_CONFLICT' }));
    ws.registerEnvironment(new Environment({ name: 'py', version: '2', environmentVariables: { A: '2' } }));
    expect(ws.getEnvironment('py').version).toBe('2');
    expect(ws.getEnvironment('py', '1').environmentVariables).toEqual({ A: '1' });
    expect(() => ws.getEnvironment('missing')).toThrow(
      expect.objectContaining({ code: 'ENVIRONMENT_NOT_FOUND' }),
    );

    // a step referring to a version by name: changing the version re-runs it and explain names it
    const src = writeTree(join(ws.dir, 'src'), SCRIPTS);
    const out = new PipelineData('out');
    const make = (version: string) =>
      new Pipeline({
        name: 'env',
        steps: [
          {
            ...nodeStep({
              name: 'emit',
              script: 'upper.js',
              sourceDirectory: src,
              arguments: ['upper.js', out],
              outputs: [out],
            }),
            runConfig: new RunConfiguration({ environment: { name: 'py', version } }),
          },
        ],
      });
    const experiment = new Experiment(ws, 'env');
    await (await experiment.submit(make('1'))).waitForCompletion();
    const run = await experiment.submit(make('2'));
    expect(await run.waitForCompletion()).toBe('Finished');
    expect(run.findStepRun('emit').explain().reasons).toEqual(['environment py:1 → py:2']);
    await expect(experiment.submit(make('9'))).rejects.toMatchObject({ code: 'ENVIRONMENT_NOT_FOUND' });
    await ws.close();
  });
});

describe('local datastore', () => {
  it('uploads files, refuses to overwrite unless asked, and leaves nothing half-written on a conflict', async () => {
    const ws = Workspace.create(tempDir());
    const store = ws.getDefaultDatastore();
    const files = writeTree(tempDir(), { 'a.csv': '1,2', 'b.csv': '3,4' });
    const paths = await store.uploadFiles([join(files, 'a.csv')], { targetPath: 'data' });
    expect(paths).toEqual(['data/a.csv']);
    await expect(
      store.uploadFiles([join(files, 'b.csv'), join(files, 'a.csv')], { targetPath: 'data' }),
    ).rejects.toMatchObject({
      code: 'DATASTORE_FILE_EXISTS',
    });
    // b.csv was not written: every target is checked first
    expect(await store.exists('data/b.csv')).toBe(false);
    writeFileSync(join(files, 'a.csv'), '9,9');
    const progress: number[] = [];
    await store.uploadFiles([join(files, 'a.csv'), join(files, 'b.csv')], {
      targetPath: 'data',
      overwrite: true,
      onProgress: ({ files }) => progress.push(files),
    });
    expect(progress).toEqual([1, 2]);
    expect(readFileSync(store.localPath!('data/a.csv'), 'utf8')).toBe('9,9');
    const downloaded = join(tempDir(), 'copy');
    await store.download('data', downloaded);
    expect(readFileSync(join(downloaded, 'b.csv'), 'utf8')).toBe('3,4');
    await ws.close();
  });

  it('refuses paths that leave the datastore and reports missing ones', async () => {
    const ws = Workspace.create(tempDir());
    const store = ws.getDefaultDatastore();
    const file = join(writeTree(tempDir(), { 'x.txt': 'x' }), 'x.txt');
    for (const bad of ['../outside.txt', '/etc/passwd', 'a/../../b']) {
      await expect(store.upload(file, bad)).rejects.toMatchObject({ code: 'DATASTORE_PATH_ESCAPE' });
    }
    await expect(store.uploadFiles([file], { targetPath: '../up' })).rejects.toMatchObject({
      code: 'DATASTORE_PATH_ESCAPE',
    });
    await expect(store.contentIdentity('nope.csv')).rejects.toMatchObject({
      code: 'DATASTORE_PATH_NOT_FOUND',
    });
    await expect(store.uploadFiles([join(tempDir(), 'missing.txt')])).rejects.toMatchObject({
      code: 'DATASTORE_PATH_NOT_FOUND',
    });
    expect(() => ws.datastore('elsewhere')).toThrow(expect.objectContaining({ code: 'DATASTORE_NOT_FOUND' }));
    await ws.close();
  });

  it("leaves Sluice's staging folders out of listings, downloads and copies", async () => {
    const ws = Workspace.create(tempDir());
    const store = ws.getDefaultDatastore();
    await store.write('data/a.txt', Buffer.from('a'));
    mkdirSync(store.localPath!('data/.sluice-partial/x'), { recursive: true });
    writeFileSync(store.localPath!('data/.sluice-partial/x/half.txt'), 'half');
    expect((await store.list('data')).map((entry) => entry.path)).toEqual(['data/a.txt']);
    const copy = join(tempDir(), 'copy');
    await store.download('data', copy);
    expect(existsSync(join(copy, '.sluice-partial'))).toBe(false);
    await store.copy!('data', 'copied');
    expect(existsSync(store.localPath!('copied/.sluice-partial'))).toBe(false);
    expect(readFileSync(store.localPath!('copied/a.txt'), 'utf8')).toBe('a');
    await ws.close();
  });
});

describe('run store extensions', () => {
  it('applies a package’s migrations once each, in order, and refuses a newer schema', async () => {
    const ws = Workspace.create(tempDir());
    ws.store.extend('demo', { 1: 'CREATE TABLE demo_items (id TEXT PRIMARY KEY);' });
    ws.store.extend('demo', {
      1: 'CREATE TABLE demo_items (id TEXT PRIMARY KEY);',
      2: 'ALTER TABLE demo_items ADD COLUMN note TEXT;',
    });
    ws.store.prepare("INSERT INTO demo_items (id, note) VALUES ('a', 'b')").run();
    expect(() => ws.store.extend('demo', { 1: 'SELECT 1;' })).toThrow(
      expect.objectContaining({ code: 'RUN_STORE_ERROR' }),
    );
    await ws.close();
  });
});

describe('run store integrity', () => {
  it('finds no problem in an intact store and names the damage in a corrupted one', async () => {
    const dir = tempDir();
    const ws = Workspace.create(dir);
    expect(ws.store.checkIntegrity()).toEqual([]);
    // enough rows for an index spread over pages of its own
    ws.store.extend('damage', { 1: 'CREATE TABLE damage_items (id TEXT PRIMARY KEY, note TEXT);' });
    const insert = ws.store.prepare('INSERT INTO damage_items (id, note) VALUES (?, ?)');
    ws.store.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(`item-${i}`, 'x'.repeat(40));
    });
    await ws.close();
    const file = join(dir, '.sluice', 'runs.db');
    const bytes = readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    // scramble the last pages (the table's and its index's), leaving the schema on the first pages intact
    for (let at = bytes.length - 4 * pageSize; at < bytes.length; at += 7) bytes[at] = 0xa5;
    writeFileSync(file, bytes);
    const damaged = new RunStore(file);
    try {
      expect(damaged.checkIntegrity().length).toBeGreaterThan(0);
    } finally {
      damaged.close();
    }
  });
});
