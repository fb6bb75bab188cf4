import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { ComputeProviderPlugin } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import {
  ComputeTarget,
  LocalComputeTarget,
  WORKSPACE_CONFIG_FILE,
  WORKSPACE_SCHEMA,
  Workspace,
  localCompute,
} from '../index.js';
import { tempDir, writeTree } from './fixtures.js';

/** A folder holding only a workspace config with this content. */
function configured(config: unknown): string {
  const dir = tempDir();
  writeFileSync(join(dir, WORKSPACE_CONFIG_FILE), JSON.stringify(config, null, 2));
  return dir;
}

const local = (options: unknown) => ({ provider: 'local', options });

describe('workspace config', () => {
  it.each([
    [
      'a compute limit of 0',
      { name: 'w', computeTargets: { local: local({ maxConcurrency: 0 }) } },
      'computeTargets.local.options.maxConcurrency must be an integer ≥ 1 (got 0)',
    ],
    [
      'a fractional limit and a negative grace',
      { name: 'w', computeTargets: { cpu: local({ maxConcurrency: 1.5, killGraceMs: -1 }) } },
      'computeTargets.cpu.options.maxConcurrency must be an integer ≥ 1 (got 1.5); computeTargets.cpu.options.killGraceMs must be an integer ≥ 0 (got -1)',
    ],
    ['datastores that are a number', { name: 'w', datastores: 5 }, 'datastores must be an object (got 5)'],
    [
      'a local datastore path that is a number',
      { name: 'w', datastores: { data: local({ path: 5 }) } },
      'datastores.data.options.path must be a non-empty string (got 5)',
    ],
    [
      'a misspelt option',
      { name: 'w', computeTargets: { local: local({ maxConcurency: 2 }) } },
      'computeTargets.local.options.maxConcurency is not a known key (known: maxConcurrency, killGraceMs)',
    ],
    [
      'an unknown top-level key',
      { name: 'w', computeTarget: {} },
      'computeTarget is not a known key (known: $schema, name, plugins, defaultDatastore, datastores, computeTargets)',
    ],
    [
      'a default datastore that does not exist',
      { name: 'w', defaultDatastore: 'nope' },
      'defaultDatastore must name one of the datastores (workspaceblobstore, workspacefilestore) (got "nope")',
    ],
    [
      'plugins that are a string',
      { name: 'w', plugins: '@sluice/step-python' },
      'plugins must be a list of non-empty strings without repeats (got "@sluice/step-python")',
    ],
    [
      'a plugin that is a number',
      { name: 'w', plugins: ['a', 5] },
      'plugins[1] must be a non-empty string (got 5)',
    ],
    ['no name', { plugins: [] }, 'name is missing'],
    [
      'an entry without a provider',
      { name: 'w', datastores: { x: { options: {} } } },
      'datastores.x.provider is missing',
    ],
    [
      'a local datastore without options',
      { name: 'w', datastores: { raw: { provider: 'local' } } },
      'datastores.raw.options is missing',
    ],
    ['an array', [], 'the configuration must be an object (got [])'],
  ])('refuses %s, naming the key, before anything is written', (_, config, message) => {
    const dir = configured(config);
    let error: unknown;
    try {
      Workspace.open(dir);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toMatchObject({ code: 'WORKSPACE_CONFIG_INVALID' });
    expect((error as Error).message).toContain(`${join(dir, WORKSPACE_CONFIG_FILE)}: ${message}.`);
    expect(existsSync(join(dir, '.sluice')), 'no run store is created').toBe(false);
  });

  it('opens a valid config, keeps its $schema and fills in the defaults', async () => {
    const dir = configured({
      $schema: './node_modules/@sluice/runtime/workspace.schema.json',
      name: 'w',
      datastores: { raw: local({ path: 'data/raw' }) },
      computeTargets: { cpu: local({ maxConcurrency: 2, killGraceMs: 0 }), small: { provider: 'local' } },
    });
    const ws = Workspace.open(dir);
    expect(ws.listDatastores()).toEqual(['workspaceblobstore', 'workspacefilestore', 'raw']);
    expect(ws.config.computeTargets.local).toEqual(localCompute());
    expect(ws.config.computeTargets.small).toEqual(localCompute());
    // a datastore saved without options is checked against its provider when it is used

    await ComputeTarget.create(ws, 'gpu', localCompute({ maxConcurrency: 1 }));
    expect(JSON.parse(readFileSync(join(dir, WORKSPACE_CONFIG_FILE), 'utf8')).$schema).toBe(
      './node_modules/@sluice/runtime/workspace.schema.json',
    );
    await ws.close();
  });

  it('checks what Sluice writes with the same schema, and writes nothing wrong', async () => {
    const ws = Workspace.create(tempDir());
    const file = join(ws.dir, WORKSPACE_CONFIG_FILE);
    const before = readFileSync(file, 'utf8');
    expect(() => ws.registerDatastore('data', local({ path: 5 }) as never)).toThrow(
      expect.objectContaining({
        code: 'WORKSPACE_CONFIG_INVALID',
        message: expect.stringContaining('datastores.data.options.path must be a non-empty string (got 5)'),
      }),
    );
    await expect(
      ComputeTarget.create(ws, 'cpu', { provider: 'local', options: { maxConcurrency: 0 } }),
    ).rejects.toMatchObject({
      code: 'WORKSPACE_CONFIG_INVALID',
      message: expect.stringContaining('computeTargets.cpu.options.maxConcurrency must be an integer ≥ 1'),
    });
    expect(readFileSync(file, 'utf8')).toBe(before);
    await ws.close();
  });

  it('never builds a local target that could not start a step', () => {
    expect(() => new LocalComputeTarget('cpu', { maxConcurrency: 0 })).toThrow(
      expect.objectContaining({ code: 'WORKSPACE_CONFIG_INVALID' }),
    );
    expect(() => localCompute({ killGraceMs: Number.NaN })).toThrow(/killGraceMs must be an integer ≥ 0/);
  });

  it('checks the options of a provider from a plugin package once the package loads', async () => {
    const dir = configured({
      name: 'w',
      plugins: ['remote-compute'],
      computeTargets: { remote: { provider: 'remote', options: { url: 'http://example.com' } } },
    });
    writeTree(join(dir, 'node_modules', 'remote-compute'), {
      'package.json': JSON.stringify({ name: 'remote-compute', type: 'module', exports: './index.js' }),
      'index.js': `export function sluicePlugins() {
  return [{
    type: 'compute', kind: 'remote', name: 'remote-compute', version: '1.0.0', coreRange: '*',
    optionsSchema: {
      type: 'object', required: ['url'], additionalProperties: false,
      properties: { url: { type: 'string', pattern: '^https://' } },
    },
    createTarget: (name) => ({ name, kind: 'remote', describe: () => ({}) }),
  }];
}`,
    });
    const ws = Workspace.open(dir);
    await expect(ws.ready()).rejects.toMatchObject({
      code: 'WORKSPACE_CONFIG_INVALID',
      message: expect.stringContaining(
        'computeTargets.remote.options.url must be a string matching the pattern ^https:// (got "http://example.com")',
      ),
    });
    await ws.close();
  });

  it('checks the options of a provider registered in code before it creates anything', async () => {
    const dir = configured({
      name: 'w',
      computeTargets: { remote: { provider: 'remote', options: { retries: 'three' } } },
    });
    const created: string[] = [];
    const provider: ComputeProviderPlugin<{ retries?: number }> = {
      type: 'compute',
      kind: 'remote',
      name: 'remote-compute',
      version: '1.0.0',
      coreRange: '*',
      optionsSchema: { type: 'object', properties: { retries: { type: 'integer', minimum: 0 } } },
      createTarget: (name) => {
        created.push(name);
        return { name, kind: 'remote', describe: () => ({}) };
      },
    };
    const ws = Workspace.open(dir);
    ws.registry.use(provider);
    await expect(ws.getComputeTarget('remote')).rejects.toMatchObject({
      code: 'WORKSPACE_CONFIG_INVALID',
      message: expect.stringContaining(
        'computeTargets.remote.options.retries must be an integer ≥ 0 (got "three")',
      ),
    });
    expect(created).toEqual([]);
    await ws.close();
  });

  it('reports a plugin package that fails to load, returns no list, or has a broken schema', async () => {
    const dir = configured({ name: 'w', plugins: ['throws', 'no-list'] });
    writeTree(join(dir, 'node_modules'), {
      'throws/package.json': JSON.stringify({ name: 'throws', type: 'module', exports: './index.js' }),
      'throws/index.js': `throw new Error('boom at import');`,
      'no-list/package.json': JSON.stringify({ name: 'no-list', type: 'module', exports: './index.js' }),
      'no-list/index.js': `export const sluicePlugins = () => ({ type: 'compute' });`,
    });
    const ws = Workspace.open(dir);
    await expect(ws.ready()).rejects.toMatchObject({
      code: 'PLUGIN_INVALID',
      message: expect.stringContaining(
        'throws (listed in sluice.workspace.json) failed to load: boom at import',
      ),
    });
    await ws.close();
    writeFileSync(join(dir, WORKSPACE_CONFIG_FILE), JSON.stringify({ name: 'w', plugins: ['no-list'] }));
    const again = Workspace.open(dir);
    await expect(again.ready()).rejects.toMatchObject({
      code: 'PLUGIN_INVALID',
      message: expect.stringContaining('must return a list of plugins'),
    });
    again.registry.use({
      type: 'datastore',
      kind: 'odd',
      name: 'odd',
      version: '1.0.0',
      coreRange: '*',
      optionsSchema: { type: 'no-such-type' },
      createDatastore: () => {
        throw new Error('not reached');
      },
    });
    expect(() => again.registerDatastore('odd', { provider: 'odd', options: {} })).toThrow(
      expect.objectContaining({ code: 'PLUGIN_INVALID' }),
    );
    await again.close();
  });

  it('ships its schema as a valid JSON Schema for editors', () => {
    const shipped = JSON.parse(readFileSync(join(__dirname, '../../workspace.schema.json'), 'utf8'));
    expect(shipped).toEqual(WORKSPACE_SCHEMA);
    const ajv = new Ajv({ strict: true });
    expect(ajv.validateSchema(shipped), JSON.stringify(ajv.errors)).toBe(true);
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8'));
    expect(pkg.exports['./workspace.schema.json']).toBe('./workspace.schema.json');
    expect(pkg.files).toContain('workspace.schema.json');
  });

  it('validates with code compiled from the shipped schema, kept up to date', () => {
    const check = spawnSync(
      process.execPath,
      [join(__dirname, '../../scripts/compile-schema.mjs'), '--check'],
      {
        encoding: 'utf8',
      },
    );
    expect(check.status, check.stderr).toBe(0);
  });
});
