import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  DEFAULT_ENVIRONMENT_NAME,
  Environment,
  PluginRegistry,
  SluiceError,
  type AnyPlugin,
  type ComputeConfiguration,
  type ComputeProviderPlugin,
  type DatastoreProviderPlugin,
  type PluginContext,
  type ComputeTarget,
  type EnvironmentReference,
  type StatCache,
} from '@sluice/core';
import { WORKSPACE_SCHEMA, checkOptions, configInvalid, schemaProblems } from './config-schema.js';
import { localCompute, localComputeProvider } from './local-compute.js';
import { localDatastoreProvider } from './local-datastore.js';
import { WorkspaceDatastore } from './datastore.js';
import { secretVariable } from './secrets.js';
import { RunStore } from './store.js';

/** The file that marks a workspace folder. */
export const WORKSPACE_CONFIG_FILE = 'sluice.workspace.json';
/** Where a workspace keeps its run store, snapshots, logs and local datastores. */
export const WORKSPACE_DATA_DIR = '.sluice';

export const DEFAULT_DATASTORE = 'workspaceblobstore';
export const DEFAULT_COMPUTE = 'local';

export interface DatastoreConfiguration {
  provider: string;
  options: Record<string, unknown>;
}

export interface WorkspaceConfig {
  /** Where editors find the config's JSON Schema (kept as written). */
  $schema?: string;
  name: string;
  /** Plugin packages loaded by `ws.ready()`; each exports `sluicePlugins()` returning its plugins. */
  plugins: string[];
  defaultDatastore: string;
  datastores: Record<string, DatastoreConfiguration>;
  computeTargets: Record<string, ComputeConfiguration>;
}

export interface CreateWorkspaceOptions {
  name?: string;
  /** Open the workspace if one already exists there instead of failing. */
  existOk?: boolean;
}

function defaultConfig(name: string): WorkspaceConfig {
  return {
    name,
    plugins: [],
    defaultDatastore: DEFAULT_DATASTORE,
    datastores: {
      workspaceblobstore: {
        provider: 'local',
        options: { path: `${WORKSPACE_DATA_DIR}/datastores/workspaceblobstore` },
      },
      workspacefilestore: {
        provider: 'local',
        options: { path: `${WORKSPACE_DATA_DIR}/datastores/workspacefilestore` },
      },
    },
    computeTargets: {
      [DEFAULT_COMPUTE]: localCompute(),
    },
  };
}

/**
 * A workspace: a folder with a `sluice.workspace.json` and a `.sluice/` data folder holding the run store
 * (SQLite), snapshots, step logs and the local datastores.
 */
export class Workspace {
  readonly dir: string;
  readonly dataDir: string;
  readonly store: RunStore;
  readonly registry: PluginRegistry;
  #config: WorkspaceConfig;
  readonly #datastores = new Map<string, WorkspaceDatastore>();
  readonly #computeTargets = new Map<string, Promise<ComputeTarget>>();
  #statCache: StatCache | undefined;
  readonly #loadedPlugins = new Set<string>();

  private constructor(dir: string, config: WorkspaceConfig) {
    this.dir = dir;
    this.dataDir = join(dir, WORKSPACE_DATA_DIR);
    this.#config = config;
    makeFolder(this.dataDir);
    this.store = new RunStore(join(this.dataDir, 'runs.db'));
    this.store.recoverAbandonedRuns();
    this.registry = new PluginRegistry();
    this.registry.use(localComputeProvider());
    this.registry.use(localDatastoreProvider(() => this.statCache));
  }

  get name(): string {
    return this.#config.name;
  }

  get config(): Readonly<WorkspaceConfig> {
    return this.#config;
  }

  /** The file-hash cache kept in the run store (makes re-hashing unchanged trees nearly free). */
  get statCache(): StatCache {
    this.#statCache ??= this.store.statCache();
    return this.#statCache;
  }

  /** Create a workspace in `dir` (created if needed). */
  static create(dir: string, options: CreateWorkspaceOptions = {}): Workspace {
    const root = resolve(folderArgument(dir, 'Workspace.create'));
    if (typeof options !== 'object' || options === null) {
      throw new SluiceError(
        'OPTION_INVALID',
        "Workspace.create takes (dir, options?), e.g. Workspace.create('./ws', { name: 'ml' }).",
      );
    }
    const file = join(root, WORKSPACE_CONFIG_FILE);
    if (existsSync(file)) {
      if (options.existOk) return Workspace.open(root);
      throw new SluiceError(
        'WORKSPACE_EXISTS',
        `${root} is already a Sluice workspace; open it with Workspace.fromConfig() or pass existOk: true.`,
        { details: { dir: root } },
      );
    }
    const config = checkConfig(defaultConfig(options.name ?? basename(root)), file);
    makeFolder(root);
    try {
      writeConfigAtomically(file, config);
      writeIgnoreFile(root);
    } catch (error) {
      throw folderError(root, error);
    }
    return new Workspace(root, config);
  }

  /** Open the workspace in `dir`. */
  static open(dir: string): Workspace {
    const root = resolve(folderArgument(dir, 'Workspace.open'));
    const file = join(root, WORKSPACE_CONFIG_FILE);
    if (!existsSync(file)) {
      throw new SluiceError(
        'WORKSPACE_NOT_FOUND',
        `${root} has no ${WORKSPACE_CONFIG_FILE}; create a workspace there with \`sluice init\` or Workspace.create().`,
        { details: { dir: root } },
      );
    }
    return new Workspace(root, readConfig(file));
  }

  /** Find the workspace by searching from `path` (default: the current folder) up to the root. */
  static fromConfig(options: { path?: string } = {}): Workspace {
    if (typeof options !== 'object' || options === null) {
      throw new SluiceError(
        'OPTION_INVALID',
        "Workspace.fromConfig takes { path? }, e.g. Workspace.fromConfig({ path: './ws' }).",
      );
    }
    const start = resolve(
      options.path === undefined ? process.cwd() : folderArgument(options.path, 'Workspace.fromConfig'),
    );
    let dir = start;
    for (;;) {
      if (existsSync(join(dir, WORKSPACE_CONFIG_FILE))) return Workspace.open(dir);
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
    throw new SluiceError(
      'WORKSPACE_NOT_FOUND',
      `No ${WORKSPACE_CONFIG_FILE} in ${start} or any folder above it; run \`sluice init\` to create a workspace.`,
      { details: { dir: start } },
    );
  }

  // -- plugins -----------------------------------------------------------------------------------------------

  /**
   * Load the plugin packages named in the workspace config (`plugins`), resolved from the workspace folder.
   * Each package exports `sluicePlugins()` returning its plugins. Idempotent; `Experiment.submit` and the
   * CLI call it.
   */
  async ready(): Promise<this> {
    for (const name of this.#config.plugins) {
      if (this.#loadedPlugins.has(name)) continue;
      for (const plugin of await loadPluginPackage(name, this.dir)) this.registry.ensure(plugin);
      this.#loadedPlugins.add(name);
    }
    // the options of providers that just became known are checked now, not when first used
    for (const [section, entries] of [
      ['datastores', this.#config.datastores],
      ['computeTargets', this.#config.computeTargets],
    ] as const) {
      const type = section === 'datastores' ? 'datastore' : 'compute';
      for (const [name, entry] of Object.entries(entries)) {
        if (!this.registry.has(type, entry.provider)) continue;
        const provider =
          type === 'datastore'
            ? this.registry.datastore(entry.provider)
            : this.registry.compute(entry.provider);
        this.#checkOptions(provider, `${section}.${name}.options`, entry.options);
      }
    }
    return this;
  }

  /** Check a saved configuration's options against its provider's `optionsSchema`. */
  #checkOptions(
    provider: DatastoreProviderPlugin<unknown> | ComputeProviderPlugin<unknown>,
    key: string,
    options: unknown,
  ): void {
    if (!provider.optionsSchema) return;
    try {
      checkOptions(provider.optionsSchema, options ?? {}, key, join(this.dir, WORKSPACE_CONFIG_FILE));
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      throw new SluiceError(
        'PLUGIN_INVALID',
        `${provider.name}@${provider.version}: its optionsSchema is not a valid JSON Schema (${(error as Error).message}).`,
        { cause: error, details: { plugin: provider.name } },
      );
    }
  }

  /** Name a plugin package in the workspace config so that `ready()` loads it from now on. */
  addPluginPackage(name: string): void {
    if (this.#config.plugins.includes(name)) return;
    this.#updateConfig((config) => {
      config.plugins = [...config.plugins, name];
    });
    this.#loadedPlugins.add(name);
  }

  // -- datastores ------------------------------------------------------------------------------------------

  getDefaultDatastore(): WorkspaceDatastore {
    return this.datastore(this.#config.defaultDatastore);
  }

  /** A registered datastore by name. */
  datastore(name: string): WorkspaceDatastore {
    if (typeof name !== 'string' || name === '') {
      throw new SluiceError(
        'DATASTORE_NOT_FOUND',
        `A datastore is named by a string, e.g. ws.datastore('workspaceblobstore'); got ${JSON.stringify(name) ?? String(name)}.`,
      );
    }
    const cached = this.#datastores.get(name);
    if (cached) return cached;
    const entry = this.#config.datastores[name];
    if (!entry) {
      throw new SluiceError(
        'DATASTORE_NOT_FOUND',
        `The workspace has no datastore "${name}"; registered: ${Object.keys(this.#config.datastores).join(', ')}.`,
        { details: { datastore: name } },
      );
    }
    const store = this.#createDatastore(name, entry);
    this.#datastores.set(name, store);
    return store;
  }

  listDatastores(): string[] {
    return Object.keys(this.#config.datastores);
  }

  /**
   * The datastores by name (`ws.datastores` of the original SDK): `'name' in ws.datastores`,
   * `ws.datastores[name]`. Each is opened when first read.
   */
  get datastores(): Readonly<Record<string, WorkspaceDatastore>> {
    const record = Object.create(null) as Record<string, WorkspaceDatastore>;
    for (const name of this.listDatastores()) {
      Object.defineProperty(record, name, { enumerable: true, get: () => this.datastore(name) });
    }
    return Object.freeze(record);
  }

  /** Register (or replace) a datastore under a name, saved in the workspace config. */
  registerDatastore(
    name: string,
    configuration: DatastoreConfiguration,
    options: { setDefault?: boolean } = {},
  ): WorkspaceDatastore {
    if (typeof name !== 'string' || name === '') {
      throw new SluiceError(
        'OPTION_INVALID',
        `registerDatastore needs the datastore's name as a string, e.g. ws.registerDatastore('images', { provider: 'local', options: { path: './images' } }); got ${JSON.stringify(name) ?? String(name)}.`,
      );
    }
    if (
      typeof configuration !== 'object' ||
      configuration === null ||
      typeof (configuration as { provider?: unknown }).provider !== 'string'
    ) {
      throw new SluiceError(
        'OPTION_INVALID',
        `registerDatastore('${name}', configuration): the configuration names its provider, e.g. { provider: 'local', options: { path: './images' } }.`,
      );
    }
    // the store is created first, so a configuration it refuses is never saved
    const store = this.#createDatastore(name, configuration);
    this.#updateConfig((config) => {
      config.datastores[name] = configuration;
      if (options.setDefault) config.defaultDatastore = name;
    });
    this.#datastores.set(name, store);
    return store;
  }

  #createDatastore(name: string, configuration: DatastoreConfiguration): WorkspaceDatastore {
    const provider = this.registry.datastore(configuration.provider);
    this.#checkOptions(provider, `datastores.${name}.options`, configuration.options);
    return new WorkspaceDatastore(
      provider.createDatastore(name, configuration.options as never, this.#pluginContext()),
    );
  }

  // -- secrets ---------------------------------------------------------------------------------------------

  /**
   * Keep a secret (an account key, a token) with the workspace: in `.sluice/secrets.json`, readable only by
   * its owner and never committed, logged or written to the run store. Plugins refer to it by name.
   */
  setSecret(name: string, value: string): void {
    const secrets = this.#readSecrets();
    secrets[name] = value;
    writeSecrets(join(this.dataDir, SECRETS_FILE), secrets);
  }

  deleteSecret(name: string): void {
    const secrets = this.#readSecrets();
    if (!(name in secrets)) return;
    delete secrets[name];
    writeSecrets(join(this.dataDir, SECRETS_FILE), secrets);
  }

  #pluginContext(): PluginContext {
    return { workspaceDir: this.dir, secret: (name) => this.getSecret(name) };
  }

  /**
   * A secret by name (undefined when it is not set): the runner's environment variable `SLUICE_SECRET_<NAME>`
   * wins over the stored value. For plugins and steps' secret environment variables; never log it.
   */
  getSecret(name: string): string | undefined {
    return process.env[secretVariable(name)] ?? this.#readSecrets()[name];
  }

  #readSecrets(): Record<string, string> {
    const file = join(this.dataDir, SECRETS_FILE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `Cannot read the workspace secrets in ${file}: ${(error as Error).message}. Make it a file readable by you.`,
        { cause: error, details: { file } },
      );
    }
    let secrets: unknown;
    try {
      secrets = JSON.parse(text);
    } catch {
      // the parser's message may quote the file, and so a secret: it is not passed on
    }
    if (
      !secrets ||
      typeof secrets !== 'object' ||
      Array.isArray(secrets) ||
      Object.values(secrets).some((value) => typeof value !== 'string')
    ) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `${file} must be a JSON object of secret names and string values; fix it, or delete it and set the secrets again with ws.setSecret().`,
        { details: { file } },
      );
    }
    return secrets as Record<string, string>;
  }

  // -- compute -----------------------------------------------------------------------------------------------

  /** Save a compute target configuration under a name (replacing one of the same name). */
  saveComputeTarget(name: string, configuration: ComputeConfiguration): Promise<ComputeTarget> {
    // the target is created first, so a configuration its provider refuses is never saved
    const saved = { provider: configuration.provider, options: { ...configuration.options } };
    const created = Promise.resolve().then(() => this.#createTarget(name, saved));
    return created.then((target) => {
      this.#updateConfig((config) => {
        config.computeTargets[name] = saved;
      });
      this.#computeTargets.set(name, created);
      return target;
    });
  }

  #createTarget(name: string, configuration: ComputeConfiguration): ComputeTarget | Promise<ComputeTarget> {
    const provider = this.registry.compute(configuration.provider);
    this.#checkOptions(provider, `computeTargets.${name}.options`, configuration.options);
    return provider.createTarget(name, configuration.options as never, this.#pluginContext());
  }

  hasComputeTarget(name: string): boolean {
    return name in this.#config.computeTargets;
  }

  listComputeTargets(): Array<{ name: string; provider: string }> {
    return Object.entries(this.#config.computeTargets).map(([name, entry]) => ({
      name,
      provider: entry.provider,
    }));
  }

  /**
   * The compute targets by name (`ws.compute_targets` of the original SDK): `name in ws.computeTargets`,
   * then `ws.computeTargets[name]`, which a step's `computeTarget` takes.
   */
  get computeTargets(): Readonly<Record<string, { readonly name: string; readonly provider: string }>> {
    const record = Object.create(null) as Record<string, { name: string; provider: string }>;
    for (const target of this.listComputeTargets()) record[target.name] = Object.freeze(target);
    return Object.freeze(record);
  }

  /** The live compute target of a name (one instance per workspace, so its limits are shared). */
  getComputeTarget(name: string): Promise<ComputeTarget> {
    if (typeof name !== 'string' || name === '') {
      return Promise.reject(
        new SluiceError(
          'COMPUTE_NOT_FOUND',
          `A compute target is named by a string, e.g. ComputeTarget.get(ws, 'cpu-cluster'); got ${JSON.stringify(name) ?? String(name)}.`,
        ),
      );
    }
    const cached = this.#computeTargets.get(name);
    if (cached) return cached;
    const entry = this.#config.computeTargets[name];
    if (!entry) {
      return Promise.reject(
        new SluiceError(
          'COMPUTE_NOT_FOUND',
          `No compute target "${name}" in this workspace; create it with ComputeTarget.create(ws, '${name}', …). Known: ${Object.keys(this.#config.computeTargets).join(', ')}.`,
          { details: { computeTarget: name } },
        ),
      );
    }
    const created = Promise.resolve().then(() => this.#createTarget(name, entry));
    this.#computeTargets.set(name, created);
    created.catch(() => this.#computeTargets.delete(name));
    return created;
  }

  // -- environments ------------------------------------------------------------------------------------------

  /** Register an environment (name + version) in the workspace. Same name and version must mean the same. */
  registerEnvironment(environment: Environment): Environment {
    this.store.saveEnvironment(environment.name, environment.version, environment.toJSON());
    return environment;
  }

  /** A registered environment by name (latest version unless given). */
  getEnvironment(name: string, version?: string): Environment {
    const found = this.store.getEnvironment(name, version);
    if (!found) {
      throw new SluiceError(
        'ENVIRONMENT_NOT_FOUND',
        `No environment "${name}"${version ? ` version ${version}` : ''} is registered; register it with ws.registerEnvironment(new Environment({...})).`,
        { details: { name, version } },
      );
    }
    return new Environment(found.definition as ConstructorParameters<typeof Environment>[0]);
  }

  /**
   * Resolve a run configuration's environment: an object is used (and registered, unless it is a new
   * RunConfiguration's unnamed default, which each step keeps as its own), a reference looked up.
   */
  resolveEnvironment(environment: Environment | EnvironmentReference | undefined): Environment | undefined {
    if (environment === undefined) return undefined;
    if (environment instanceof Environment) {
      return environment.name === DEFAULT_ENVIRONMENT_NAME
        ? environment
        : this.registerEnvironment(environment);
    }
    return this.getEnvironment(environment.name, environment.version);
  }

  // -- lifecycle -----------------------------------------------------------------------------------------------

  /** Change the config file: the changed config is checked against the same schema before it is written. */
  #updateConfig(change: (config: WorkspaceConfig) => void): void {
    const file = join(this.dir, WORKSPACE_CONFIG_FILE);
    const config = readConfig(file);
    change(config);
    const checked = checkConfig(JSON.parse(JSON.stringify(config)), file);
    writeConfigAtomically(file, config);
    this.#config = checked;
  }

  async close(): Promise<void> {
    for (const pending of this.#computeTargets.values()) {
      const target = await pending.catch(() => undefined);
      await target?.close?.();
    }
    this.#computeTargets.clear();
    this.store.close();
  }
}

/** Read and check a workspace config: WORKSPACE_CONFIG_INVALID naming each wrong key, before anything is written. */
function readConfig(file: string): WorkspaceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      `Cannot read ${file}: ${(error as Error).message}. Make it a readable file.`,
      { cause: error, details: { file } },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      `${file} is not valid JSON: ${(error as Error).message}`,
      { cause: error, details: { file } },
    );
  }
  return checkConfig(raw, file);
}

/** The config with the default datastores and compute target added, once it matches the schema. */
function checkConfig(raw: unknown, file: string): WorkspaceConfig {
  const fix = `Fix ${WORKSPACE_CONFIG_FILE} (its schema: @sluice/runtime/workspace.schema.json).`;
  const problems = schemaProblems(WORKSPACE_SCHEMA, raw);
  if (problems.length > 0) throw configInvalid(file, problems, fix);
  const config = raw as Partial<WorkspaceConfig> & { name: string; $schema?: string };
  const defaults = defaultConfig(config.name);
  const checked: WorkspaceConfig = {
    ...(config.$schema === undefined ? {} : { $schema: config.$schema }),
    name: config.name,
    plugins: config.plugins ?? [],
    defaultDatastore: config.defaultDatastore ?? defaults.defaultDatastore,
    datastores: { ...defaults.datastores, ...normalise(config.datastores) },
    computeTargets: { ...defaults.computeTargets, ...normalise(config.computeTargets) },
  };
  if (!(checked.defaultDatastore in checked.datastores)) {
    throw configInvalid(
      file,
      [
        {
          key: 'defaultDatastore',
          message: `defaultDatastore must name one of the datastores (${Object.keys(checked.datastores).join(', ')}) (got ${JSON.stringify(checked.defaultDatastore)})`,
        },
      ],
      fix,
    );
  }
  return checked;
}

/** Entries saved without options get empty ones. */
function normalise(
  entries: Record<string, { provider: string; options?: object }> | undefined,
): Record<string, { provider: string; options: Record<string, unknown> }> {
  return Object.fromEntries(
    Object.entries(entries ?? {}).map(([name, entry]) => [
      name,
      { provider: entry.provider, options: { ...(entry.options as Record<string, unknown>) } },
    ]),
  );
}

function writeConfigAtomically(file: string, config: WorkspaceConfig): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(config, null, 2)}\n`);
  renameSync(temp, file);
}

const SECRETS_FILE = 'secrets.json';

/** The plugins of a package named in the config: its `sluicePlugins()`, with coded errors for what goes wrong. */
async function loadPluginPackage(name: string, workspaceDir: string): Promise<AnyPlugin[]> {
  let resolved: string | undefined;
  for (const base of [join(workspaceDir, 'package.json'), fileURLToPath(import.meta.url)]) {
    try {
      resolved = createRequire(base).resolve(name);
      break;
    } catch {
      // try the next place
    }
  }
  if (!resolved) {
    throw new SluiceError(
      'PLUGIN_NOT_REGISTERED',
      `Plugin package ${name} is listed in ${WORKSPACE_CONFIG_FILE} but is not installed; run \`npm install ${name}\`.`,
      { details: { package: name } },
    );
  }
  const invalid = (problem: string, cause?: unknown): SluiceError =>
    new SluiceError(
      'PLUGIN_INVALID',
      `Plugin package ${name} (listed in ${WORKSPACE_CONFIG_FILE}) ${problem}; fix or update the package, or remove it from plugins.`,
      { cause, details: { package: name } },
    );
  let module: { sluicePlugins?: unknown };
  try {
    module = (await import(pathToFileURL(resolved).href)) as { sluicePlugins?: unknown };
  } catch (error) {
    throw invalid(`failed to load: ${(error as Error)?.message ?? String(error)}`, error);
  }
  if (typeof module.sluicePlugins !== 'function') throw invalid('does not export sluicePlugins()');
  let plugins: unknown;
  try {
    plugins = (module.sluicePlugins as () => unknown)();
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw invalid(`threw from sluicePlugins(): ${(error as Error)?.message ?? String(error)}`, error);
  }
  if (!Array.isArray(plugins)) throw invalid('must return a list of plugins from sluicePlugins()');
  return plugins as AnyPlugin[];
}

function writeSecrets(file: string, secrets: Record<string, string>): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}

/** Create a workspace folder, or say in a coded error why it cannot be. */
function makeFolder(path: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (error) {
    throw folderError(path, error);
  }
}

function folderError(path: string, error: unknown): SluiceError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    return new SluiceError(
      'WORKSPACE_NOT_FOUND',
      `Cannot use ${path} as a workspace folder: a file is in the way. Give the path of a folder.`,
      { cause: error, details: { dir: path } },
    );
  }
  return new SluiceError(
    'RUN_STORE_ERROR',
    `Cannot write in ${path}: ${(error as Error).message}. Check that the folder is writable and the disk is not full.`,
    { cause: error, details: { dir: path } },
  );
}

function writeIgnoreFile(root: string): void {
  const file = join(root, WORKSPACE_DATA_DIR, '.gitignore');
  mkdirSync(dirname(file), { recursive: true });
  if (!existsSync(file)) writeFileSync(file, '# run store, snapshots, logs and local datastores\n*\n');
}

function folderArgument(dir: unknown, caller: string): string {
  if (typeof dir !== 'string' || dir === '') {
    throw new SluiceError(
      'OPTION_INVALID',
      `${caller} needs the workspace folder as a string, e.g. ${caller}('./workspace'); got ${JSON.stringify(dir) ?? String(dir)}.`,
    );
  }
  return dir;
}
