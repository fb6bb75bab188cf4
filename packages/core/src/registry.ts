import semver from 'semver';
import { SluiceError } from './errors.js';
import type { AnyPlugin, ComputeProviderPlugin, DatastoreProviderPlugin, StepKindPlugin } from './plugins.js';
import { CORE_VERSION } from './version.js';

type PluginType = AnyPlugin['type'];

const TYPE_WORDS: Record<PluginType, string> = {
  step: 'step kind',
  compute: 'compute provider',
  datastore: 'datastore provider',
};

/** The plugins a workspace knows: step kinds, compute providers and datastore providers. */
export class PluginRegistry {
  readonly #plugins = new Map<string, AnyPlugin>();
  readonly #coreVersion: string;

  constructor(options: { coreVersion?: string } = {}) {
    this.#coreVersion = options.coreVersion ?? CORE_VERSION;
  }

  /** Register a plugin; fails when its kind is already registered or its core range excludes this core. */
  use(plugin: AnyPlugin): this {
    validateShape(plugin);
    const key = `${plugin.type}:${plugin.kind}`;
    const existing = this.#plugins.get(key);
    if (existing) {
      throw new SluiceError(
        'PLUGIN_KIND_DUPLICATE',
        `The ${TYPE_WORDS[plugin.type]} "${plugin.kind}" is already registered (by ${existing.name}@${existing.version}); register each kind once.`,
        { details: { kind: plugin.kind, type: plugin.type } },
      );
    }
    if (!semver.satisfies(this.#coreVersion, plugin.coreRange, { includePrerelease: true })) {
      throw new SluiceError(
        'PLUGIN_CORE_MISMATCH',
        `${plugin.name}@${plugin.version} supports @sluice/core ${plugin.coreRange}, but this is @sluice/core ${this.#coreVersion}. Install a version of ${plugin.name} made for this core.`,
        { details: { plugin: plugin.name, coreRange: plugin.coreRange, coreVersion: this.#coreVersion } },
      );
    }
    this.#plugins.set(key, plugin);
    return this;
  }

  /** Register the plugin unless its kind is already registered (used for plugins attached to steps). */
  ensure(plugin: AnyPlugin): this {
    validateShape(plugin);
    if (!this.#plugins.has(`${plugin.type}:${plugin.kind}`)) this.use(plugin);
    return this;
  }

  has(type: PluginType, kind: string): boolean {
    return this.#plugins.has(`${type}:${kind}`);
  }

  step(kind: string): StepKindPlugin<unknown> {
    return this.#get('step', kind) as StepKindPlugin<unknown>;
  }

  compute(kind: string): ComputeProviderPlugin<unknown> {
    return this.#get('compute', kind) as ComputeProviderPlugin<unknown>;
  }

  datastore(kind: string): DatastoreProviderPlugin<unknown> {
    return this.#get('datastore', kind) as DatastoreProviderPlugin<unknown>;
  }

  list(): Array<{ type: PluginType; kind: string; name: string; version: string }> {
    return [...this.#plugins.values()].map(({ type, kind, name, version }) => ({
      type,
      kind,
      name,
      version,
    }));
  }

  #get(type: PluginType, kind: string): AnyPlugin {
    const plugin = this.#plugins.get(`${type}:${kind}`);
    if (!plugin) {
      const known = this.list()
        .filter((entry) => entry.type === type)
        .map((entry) => entry.kind);
      throw new SluiceError(
        'PLUGIN_NOT_REGISTERED',
        `No ${TYPE_WORDS[type]} "${kind}" is registered. Install its package and register it with registry.use(...)${known.length ? `; registered: ${known.join(', ')}` : ''}.`,
        { details: { type, kind, known } },
      );
    }
    return plugin;
  }
}

function validateShape(plugin: AnyPlugin): void {
  const problems: string[] = [];
  if (!plugin || typeof plugin !== 'object') {
    throw new SluiceError('PLUGIN_INVALID', 'registry.use() needs a plugin object.');
  }
  if (plugin.type !== 'step' && plugin.type !== 'compute' && plugin.type !== 'datastore') {
    problems.push(`type must be 'step', 'compute' or 'datastore'`);
  }
  if (typeof plugin.kind !== 'string' || plugin.kind === '') problems.push('kind must be a non-empty string');
  if (typeof plugin.name !== 'string' || plugin.name === '') problems.push('name must be a non-empty string');
  if (typeof plugin.version !== 'string' || !semver.valid(plugin.version))
    problems.push('version must be semver');
  if (typeof plugin.coreRange !== 'string' || !semver.validRange(plugin.coreRange)) {
    problems.push('coreRange must be a semver range');
  }
  if (plugin.type === 'step') {
    if (typeof plugin.execute !== 'function') problems.push('a step kind needs execute()');
    if (typeof plugin.fingerprint !== 'function') problems.push('a step kind needs fingerprint()');
    if (typeof plugin.reuseVersion !== 'string') problems.push('a step kind needs a reuseVersion string');
  }
  if (plugin.type === 'compute' && typeof plugin.createTarget !== 'function') {
    problems.push('a compute provider needs createTarget()');
  }
  if (plugin.type === 'datastore' && typeof plugin.createDatastore !== 'function') {
    problems.push('a datastore provider needs createDatastore()');
  }
  if (plugin.type !== 'step' && plugin.optionsSchema !== undefined) {
    const schema: unknown = plugin.optionsSchema;
    if (!schema || typeof schema !== 'object' || Array.isArray(schema)) {
      problems.push('optionsSchema must be a JSON Schema object');
    }
  }
  if (problems.length) {
    throw new SluiceError(
      'PLUGIN_INVALID',
      `Plugin ${String((plugin as { name?: unknown }).name ?? '(unnamed)')} is not valid: ${problems.join('; ')}.`,
    );
  }
}
