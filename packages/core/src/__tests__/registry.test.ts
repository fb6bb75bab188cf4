import { describe, expect, it } from 'vitest';
import {
  CORE_VERSION,
  PluginRegistry,
  type ComputeProviderPlugin,
  type DatastoreProviderPlugin,
  type StepKindPlugin,
} from '../index.js';
import pkg from '../../package.json' with { type: 'json' };
import { sluiceErrorOf } from './helpers.js';

function stepPlugin(kind: string, overrides: Partial<StepKindPlugin> = {}): StepKindPlugin {
  return {
    type: 'step',
    kind,
    name: `@test/step-${kind}`,
    version: '1.2.3',
    coreRange: `^${CORE_VERSION}`,
    reuseVersion: '1',
    fingerprint: () => [],
    execute: async () => ({ status: 'Finished' }),
    ...overrides,
  };
}

function computePlugin(kind: string, overrides: Partial<ComputeProviderPlugin> = {}): ComputeProviderPlugin {
  return {
    type: 'compute',
    kind,
    name: `@test/compute-${kind}`,
    version: '0.1.0',
    coreRange: '>=0.0.0',
    createTarget: (name) => ({ name, kind, describe: () => ({}) }),
    ...overrides,
  };
}

function datastorePlugin(
  kind: string,
  overrides: Partial<DatastoreProviderPlugin> = {},
): DatastoreProviderPlugin {
  return {
    type: 'datastore',
    kind,
    name: `@test/datastore-${kind}`,
    version: '0.1.0',
    coreRange: '*',
    createDatastore: () => {
      throw new Error('not used');
    },
    ...overrides,
  };
}

describe('PluginRegistry', () => {
  it('CORE_VERSION is the package version', () => {
    expect(CORE_VERSION).toBe(pkg.version);
  });

  it('registers step, compute and datastore plugins and finds each by type and kind', () => {
    const python = stepPlugin('python');
    const local = computePlugin('local');
    const folder = datastorePlugin('folder');
    const registry = new PluginRegistry();
    expect(registry.use(python).use(local).use(folder)).toBe(registry);
    expect(registry.step('python')).toBe(python);
    expect(registry.compute('local')).toBe(local);
    expect(registry.datastore('folder')).toBe(folder);
    expect(registry.has('step', 'python')).toBe(true);
    expect(registry.has('compute', 'python')).toBe(false);
    expect(registry.list()).toEqual([
      { type: 'step', kind: 'python', name: '@test/step-python', version: '1.2.3' },
      { type: 'compute', kind: 'local', name: '@test/compute-local', version: '0.1.0' },
      { type: 'datastore', kind: 'folder', name: '@test/datastore-folder', version: '0.1.0' },
    ]);
  });

  it('lets plugins of different types share a kind', () => {
    const registry = new PluginRegistry().use(stepPlugin('local')).use(computePlugin('local'));
    expect(registry.step('local').type).toBe('step');
    expect(registry.compute('local').type).toBe('compute');
  });

  it('refuses a kind registered twice (PLUGIN_KIND_DUPLICATE), naming the first plugin', () => {
    const registry = new PluginRegistry().use(stepPlugin('python'));
    const error = sluiceErrorOf(() =>
      registry.use(stepPlugin('python', { name: '@other/python', version: '2.0.0' })),
    );
    expect(error.code).toBe('PLUGIN_KIND_DUPLICATE');
    expect(error.message).toContain('step kind "python"');
    expect(error.message).toContain('@test/step-python@1.2.3');
    expect(error.details).toEqual({ kind: 'python', type: 'step' });
    // the same object twice is also a duplicate for use()
    const again = sluiceErrorOf(() => new PluginRegistry().use(computePlugin('x')).use(computePlugin('x')));
    expect(again.message).toContain('compute provider "x"');
  });

  it('refuses a plugin made for another core (PLUGIN_CORE_MISMATCH)', () => {
    const error = sluiceErrorOf(() =>
      new PluginRegistry().use(stepPlugin('python', { coreRange: '^9.0.0' })),
    );
    expect(error.code).toBe('PLUGIN_CORE_MISMATCH');
    expect(error.message).toContain('^9.0.0');
    expect(error.message).toContain(CORE_VERSION);
    expect(error.message).toContain('@test/step-python@1.2.3');
    expect(error.details).toEqual({
      plugin: '@test/step-python',
      coreRange: '^9.0.0',
      coreVersion: CORE_VERSION,
    });
    expect(new PluginRegistry().has('step', 'python')).toBe(false);
  });

  it('applies caret semantics on 0.x: ^0.1.0 excludes core 0.2.0', () => {
    const zeroTwo = new PluginRegistry({ coreVersion: '0.2.0' });
    const error = sluiceErrorOf(() => zeroTwo.use(stepPlugin('python', { coreRange: '^0.1.0' })));
    expect(error.code).toBe('PLUGIN_CORE_MISMATCH');
    expect(error.details).toMatchObject({ coreVersion: '0.2.0', coreRange: '^0.1.0' });
    expect(zeroTwo.has('step', 'python')).toBe(false);
    // ^0.2.0 and a patch release are fine
    expect(zeroTwo.use(stepPlugin('python', { coreRange: '^0.2.0' })).has('step', 'python')).toBe(true);
    expect(
      new PluginRegistry({ coreVersion: '0.1.7' })
        .use(stepPlugin('p', { coreRange: '^0.1.0' }))
        .has('step', 'p'),
    ).toBe(true);
    // prereleases of the core count
    expect(
      new PluginRegistry({ coreVersion: '0.2.0-rc.1' })
        .use(stepPlugin('p', { coreRange: '>=0.1.0' }))
        .has('step', 'p'),
    ).toBe(true);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no type', { type: 'widget' }, "type must be 'step', 'compute' or 'datastore'"],
    ['empty kind', { kind: '' }, 'kind must be a non-empty string'],
    ['no name', { name: undefined }, 'name must be a non-empty string'],
    ['bad version', { version: '1.2' }, 'version must be semver'],
    ['bad range', { coreRange: 'not a range!' }, 'coreRange must be a semver range'],
    ['missing range', { coreRange: undefined }, 'coreRange must be a semver range'],
    ['no execute', { execute: undefined }, 'a step kind needs execute()'],
    ['no fingerprint', { fingerprint: 'x' }, 'a step kind needs fingerprint()'],
    ['no reuseVersion', { reuseVersion: 1 }, 'a step kind needs a reuseVersion string'],
  ])('refuses a step plugin with %s (PLUGIN_INVALID)', (_label, overrides, words) => {
    const registry = new PluginRegistry();
    const error = sluiceErrorOf(() => registry.use(stepPlugin('python', overrides as never)));
    expect(error.code).toBe('PLUGIN_INVALID');
    expect(error.message).toContain(words);
    expect(registry.list()).toEqual([]);
  });

  it('refuses compute and datastore plugins without their factory, listing every problem', () => {
    const compute = sluiceErrorOf(() =>
      new PluginRegistry().use(computePlugin('c', { createTarget: undefined as never })),
    );
    expect(compute.code).toBe('PLUGIN_INVALID');
    expect(compute.message).toContain('a compute provider needs createTarget()');
    expect(compute.message).toContain('@test/compute-c');

    const datastore = sluiceErrorOf(() =>
      new PluginRegistry().use(datastorePlugin('d', { createDatastore: undefined as never, version: 'x' })),
    );
    expect(datastore.message).toContain('a datastore provider needs createDatastore()');
    expect(datastore.message).toContain('version must be semver');

    const schema = sluiceErrorOf(() =>
      new PluginRegistry().use(computePlugin('s', { optionsSchema: 'integer' as never })),
    );
    expect(schema.message).toContain('optionsSchema must be a JSON Schema object');
    expect(
      new PluginRegistry().use(computePlugin('t', { optionsSchema: { type: 'object' } })).has('compute', 't'),
    ).toBe(true);

    expect(sluiceErrorOf(() => new PluginRegistry().use(null as never)).code).toBe('PLUGIN_INVALID');
    expect(sluiceErrorOf(() => new PluginRegistry().ensure('python' as never)).code).toBe('PLUGIN_INVALID');
  });

  it('says which kinds are registered when one is missing (PLUGIN_NOT_REGISTERED)', () => {
    const registry = new PluginRegistry()
      .use(stepPlugin('python'))
      .use(stepPlugin('notebook'))
      .use(computePlugin('local'));
    const error = sluiceErrorOf(() => registry.step('r'));
    expect(error.code).toBe('PLUGIN_NOT_REGISTERED');
    expect(error.message).toContain('step kind "r"');
    expect(error.message).toContain('registered: python, notebook');
    expect(error.message).not.toContain('local');
    expect(error.details).toEqual({ type: 'step', kind: 'r', known: ['python', 'notebook'] });

    const none = sluiceErrorOf(() => registry.datastore('blob'));
    expect(none.code).toBe('PLUGIN_NOT_REGISTERED');
    expect(none.message).toContain('datastore provider "blob"');
    expect(none.message).not.toContain('registered:');
    expect(none.details).toEqual({ type: 'datastore', kind: 'blob', known: [] });
    expect(sluiceErrorOf(() => registry.compute('python')).code).toBe('PLUGIN_NOT_REGISTERED');
  });

  it('ensure() registers once and is idempotent, keeping the first plugin', () => {
    const first = stepPlugin('python');
    const second = stepPlugin('python', { name: '@other/python' });
    const registry = new PluginRegistry();
    expect(registry.ensure(first)).toBe(registry);
    registry.ensure(first);
    registry.ensure(second);
    expect(registry.step('python')).toBe(first);
    expect(registry.list()).toHaveLength(1);
    // ensure() still checks what it registers
    expect(sluiceErrorOf(() => registry.ensure(stepPlugin('r', { coreRange: '^9.0.0' }))).code).toBe(
      'PLUGIN_CORE_MISMATCH',
    );
    expect(
      sluiceErrorOf(() => registry.ensure(stepPlugin('python', { execute: undefined as never }))).code,
    ).toBe('PLUGIN_INVALID');
  });
});
