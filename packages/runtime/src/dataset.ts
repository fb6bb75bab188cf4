import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
import {
  DataReference,
  InputBinding,
  SluiceError,
  digestValue,
  manifestDigest,
  sha256,
  type ContentIdentity,
  type Datastore,
  type DatastoreEntry,
  type DeliveryMode,
} from '@sluice/core';
import {
  COLUMN_TYPES,
  ENCODINGS,
  FILTER_OPERATORS,
  applyTransformation,
  buildTable,
  readDelimited,
  summarise,
  tableToCsv,
  tableToRecords,
  type ColumnSummary,
  type ColumnType,
  type DatasetEncoding,
  type DelimitedParsing,
  type FilterOperator,
  type FilterScalar,
  type FilterValue,
  type Table,
  type TabularRecord,
  type Transformation,
} from './dataset-table.js';
import { normaliseStorePath } from './local-datastore.js';
import type { ResolvableData } from './resolvable-data.js';
import type { DatasetRecord } from './store.js';
import type { Workspace } from './workspace.js';

export type {
  CellValue,
  ColumnSummary,
  ColumnType,
  DatasetEncoding,
  FilterOperator,
  FilterValue,
  TabularRecord,
  Transformation,
} from './dataset-table.js';
import { requireWorkspace } from './checks.js';

/** Bumped only if the way dataset identities are computed changes. */
export const DATASET_IDENTITY_FORMAT = 'sluice-dataset/1';

/** A datastore as a dataset path names it: a datastore object (remembered) or its name. */
export type DatasetDatastore = Datastore | string | { readonly name: string };
/** `[datastore, 'path/on/datastore']`: a file, a folder (every file under it) or a glob (`data/*.csv`). */
export type DatasetPathTuple = readonly [DatasetDatastore, string];
/** One path, or several. */
export type DatasetPaths = DatasetPathTuple | DataReference | ReadonlyArray<DatasetPathTuple | DataReference>;

/** One path of a dataset, as stored in its spec. */
export interface DatasetPath {
  readonly datastore: string;
  readonly path: string;
}

export interface DelimitedFilesOptions {
  /** The field separator (default ','). */
  separator?: string;
  /** Whether every file starts with a header row (default true); without one, columns are Column1, Column2, … */
  header?: boolean;
  /** Infer integer / number / boolean columns from the values (default true); else every column is a string. */
  inferColumnTypes?: boolean;
  /** Force column types (wins over inference). */
  setColumnTypes?: Record<string, ColumnType>;
  /** The files' text encoding (default 'utf8'; a UTF-8 BOM is skipped). */
  encoding?: DatasetEncoding;
}

export interface RegisterDatasetOptions {
  name: string;
  description?: string;
  tags?: Record<string, string>;
  /** Add a version when the name is already registered (refused otherwise). Default false. */
  createNewVersion?: boolean;
}

export interface DownloadDatasetOptions {
  /** The workspace, needed when the dataset names its datastores instead of holding them. */
  ws?: Workspace;
  /** Replace local files that are already there (refused with DATASTORE_FILE_EXISTS otherwise). */
  overwrite?: boolean;
}

export type DatasetKind = 'file' | 'tabular';

/** What a registered dataset object knows about its version. */
export interface DatasetRegistration {
  readonly name: string;
  readonly version: number;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly sourceStepRun: string | null;
}

/** The registered version a dataset is (or derives from): its data must still be what it was. */
interface Pin {
  readonly name: string;
  readonly version: number;
  readonly digest: string;
  readonly files: Readonly<Record<string, string>> | undefined;
  /** The dataset is the registered version itself, not derived from it by transformations. */
  readonly exact: boolean;
}

/** @internal */
export interface DatasetState {
  readonly paths: readonly DatasetPath[];
  readonly stores: ReadonlyMap<string, Datastore>;
  readonly workspace: Workspace | undefined;
  readonly registration: DatasetRegistration | undefined;
  readonly pin: Pin | undefined;
}

/** A file found under a dataset's paths. */
interface FoundFile {
  readonly store: Datastore;
  readonly datastore: string;
  readonly path: string;
  readonly size: number;
  /** The folder the file's dataset path stands for (its layout root when downloaded). */
  readonly root: string;
}

const REGISTERED_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const GLOB = /[*?]/;
/** Up to this many files matched by a glob are hashed one by one; more, through their common folder. */
const GLOB_FILE_BY_FILE = 64;

function invalid(message: string, details: Record<string, unknown> = {}): SluiceError {
  return new SluiceError('DATASET_INVALID', message, { details });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Paths

function isGlob(path: string): boolean {
  return GLOB.test(path);
}

/** The folder a glob starts from: the segments before the first one with a wildcard. */
function globBase(path: string): string {
  const parts = path.split('/');
  const first = parts.findIndex((part) => GLOB.test(part));
  return parts.slice(0, first).join('/');
}

/** `*` matches within a segment, `**` across segments, `?` one character. */
function globRegex(path: string): RegExp {
  let source = '';
  for (let i = 0; i < path.length; i++) {
    const char = path[i]!;
    if (char === '*' && path[i + 1] === '*') {
      if (path[i + 2] === '/') {
        source += '(?:.*/)?';
        i += 2;
      } else {
        source += '.*';
        i += 1;
      }
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function joinStorePath(base: string, rel: string): string {
  return base ? `${base}/${rel}` : rel;
}

function parentFolder(path: string): string {
  const at = path.lastIndexOf('/');
  return at < 0 ? '' : path.slice(0, at);
}

/** The deepest folder every given folder is in ('' for the store root). */
function commonFolder(folders: readonly string[]): string {
  if (folders.length === 0) return '';
  let common = folders[0]!.split('/').filter(Boolean);
  for (const folder of folders.slice(1)) {
    const parts = folder.split('/').filter(Boolean);
    let n = 0;
    while (n < common.length && n < parts.length && common[n] === parts[n]) n++;
    common = common.slice(0, n);
  }
  return common.join('/');
}

function isDatastoreObject(value: unknown): value is Datastore {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { list?: unknown }).list === 'function' &&
    typeof (value as { read?: unknown }).read === 'function' &&
    typeof (value as { contentIdentity?: unknown }).contentIdentity === 'function'
  );
}

function isSingleTuple(value: unknown): value is DatasetPathTuple {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[1] === 'string' &&
    !Array.isArray(value[0]) &&
    !(value[0] instanceof DataReference)
  );
}

function parsePaths(paths: unknown, what: string): { paths: DatasetPath[]; stores: Map<string, Datastore> } {
  const hint = `e.g. [[ws.getDefaultDatastore(), 'data/iris.csv']] or [ws.datastore('name'), 'data/folder/']`;
  let list: unknown[];
  if (isSingleTuple(paths) || paths instanceof DataReference) list = [paths];
  else if (Array.isArray(paths)) list = paths;
  else {
    throw invalid(
      `${what} needs datastore paths, ${hint}; got ${describe(paths)}${typeof paths === 'string' ? ' (a bare path does not say which datastore it is on)' : ''}.`,
    );
  }
  if (list.length === 0) throw invalid(`${what} needs at least one path, ${hint}.`);
  const result: DatasetPath[] = [];
  const stores = new Map<string, Datastore>();
  for (const item of list) {
    if (item instanceof DataReference) {
      result.push({
        datastore: item.datastore,
        path: normaliseStorePath(item.datastore, item.pathOnDatastore),
      });
      continue;
    }
    if (!Array.isArray(item) || item.length !== 2 || typeof item[1] !== 'string') {
      throw invalid(
        `${what}: each path must be a [datastore, 'path/on/datastore'] pair or a DataReference, ${hint}; got ${describe(item)}.`,
      );
    }
    const [store, path] = item as [unknown, string];
    let name: string | undefined;
    if (typeof store === 'string') name = store;
    else if (
      typeof store === 'object' &&
      store !== null &&
      typeof (store as { name?: unknown }).name === 'string'
    ) {
      name = (store as { name: string }).name;
      if (isDatastoreObject(store) && !stores.has(name)) stores.set(name, store);
    }
    if (!name) {
      throw invalid(
        `${what}: the datastore of path ${JSON.stringify(path)} must be a datastore (ws.datastore('name')) or its name; got ${describe(store)}.`,
      );
    }
    result.push({ datastore: name, path: normaliseStorePath(name, path) });
  }
  return { paths: result, stores };
}

function normaliseParsing(options: unknown, what: string): DelimitedParsing {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalid(`${what}: options must be an object; got ${describe(options)}.`);
  }
  const given = options as Record<string, unknown>;
  const known = ['separator', 'header', 'inferColumnTypes', 'setColumnTypes', 'encoding'];
  for (const key of Object.keys(given)) {
    if (!known.includes(key) && given[key] !== undefined) {
      throw invalid(`${what}: unknown option "${key}"; the options are ${known.join(', ')}.`);
    }
  }
  const separator = given.separator ?? ',';
  if (typeof separator !== 'string' || separator === '' || /["\r\n]/.test(separator)) {
    throw invalid(
      `${what}: separator must be a non-empty string without quotes or line breaks (e.g. ',', '\\t', ';'); got ${describe(separator)}.`,
    );
  }
  for (const flag of ['header', 'inferColumnTypes'] as const) {
    if (given[flag] !== undefined && typeof given[flag] !== 'boolean') {
      throw invalid(`${what}: ${flag} must be true or false; got ${describe(given[flag])}.`);
    }
  }
  const encoding = given.encoding === 'utf-8' ? 'utf8' : (given.encoding ?? 'utf8');
  if (!ENCODINGS.includes(encoding as DatasetEncoding)) {
    throw invalid(
      `${what}: encoding must be one of ${ENCODINGS.join(', ')}; got ${describe(given.encoding)}.`,
    );
  }
  const types = given.setColumnTypes ?? {};
  if (typeof types !== 'object' || types === null || Array.isArray(types)) {
    throw invalid(`${what}: setColumnTypes must map column names to types; got ${describe(types)}.`);
  }
  const setColumnTypes: Record<string, ColumnType> = {};
  for (const [column, type] of Object.entries(types as Record<string, unknown>)) {
    if (!COLUMN_TYPES.includes(type as ColumnType)) {
      throw invalid(
        `${what}: setColumnTypes.${column} must be one of ${COLUMN_TYPES.map((t) => `'${t}'`).join(', ')}; got ${describe(type)}.`,
        { column },
      );
    }
    setColumnTypes[column] = type as ColumnType;
  }
  return {
    separator,
    header: (given.header as boolean | undefined) ?? true,
    inferColumnTypes: (given.inferColumnTypes as boolean | undefined) ?? true,
    setColumnTypes,
    encoding: encoding as DatasetEncoding,
  };
}

function checkRegisteredName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !REGISTERED_NAME.test(name)) {
    throw invalid(
      `${what} needs a dataset name of letters, digits, '_', '.' and '-' (starting with a letter, digit or '_'); got ${describe(name)}.`,
    );
  }
  return name;
}

function checkTags(tags: unknown, what: string): Record<string, string> {
  if (tags === undefined) return {};
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
    throw invalid(`${what}: tags must be an object of strings; got ${describe(tags)}.`);
  }
  for (const [key, value] of Object.entries(tags)) {
    if (typeof value !== 'string')
      throw invalid(`${what}: tag "${key}" must be a string; got ${describe(value)}.`);
  }
  return { ...(tags as Record<string, string>) };
}

/** A name usable as a step input name (letters, digits, '_', '-'). */
function inputName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_-]/g, '_');
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

function changedFiles(
  before: Readonly<Record<string, string>>,
  after: Readonly<Record<string, string>>,
): string[] {
  const changed: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[key] !== after[key]) changed.push(key);
  }
  return changed.sort();
}

// ---------------------------------------------------------------------------------------------------------
// Datasets

/**
 * What file and tabular datasets share: paths on datastores, read lazily; a name and version once registered.
 * A dataset is external data for a pipeline (use `asNamedInput('name')`, `asDownload()` or `asMount()`).
 */
export abstract class AbstractDataset implements ResolvableData {
  readonly external = true as const;
  abstract readonly bindingKind: 'file-dataset' | 'tabular-dataset';
  abstract readonly kind: DatasetKind;
  /** @internal */
  protected readonly state: DatasetState;

  /** @internal Build datasets with `Dataset.File.fromFiles`, `Dataset.Tabular.fromDelimitedFiles` or `Dataset.get`. */
  protected constructor(state: DatasetState) {
    this.state = state;
  }

  /** The registered name; 'dataset' when the dataset is not registered. */
  get name(): string {
    return this.state.registration?.name ?? 'dataset';
  }
  /** The registered version (undefined when not registered). */
  get version(): number | undefined {
    return this.state.registration?.version;
  }
  /** `name:version` when registered. */
  get id(): string | undefined {
    const registration = this.state.registration;
    return registration ? `${registration.name}:${registration.version}` : undefined;
  }
  get description(): string | undefined {
    return this.state.registration?.description;
  }
  get tags(): Readonly<Record<string, string>> {
    return this.state.registration?.tags ?? {};
  }
  /** Everything the registration recorded (undefined when not registered). */
  get registration(): DatasetRegistration | undefined {
    return this.state.registration;
  }
  /** The datastore of the first path. */
  get datastore(): string {
    return this.state.paths[0]!.datastore;
  }
  /** The first path. */
  get pathOnDatastore(): string {
    return this.state.paths[0]!.path;
  }
  /** Every path of the dataset. */
  get paths(): readonly DatasetPath[] {
    return this.state.paths;
  }

  /** Use the dataset as a step input under `name` (`run.input_datasets[name]` in the step). */
  asNamedInput(name: string): InputBinding {
    return new InputBinding(this, 'mount', name);
  }
  /** Copy the data into the step's working folder. */
  asDownload(): InputBinding {
    return new InputBinding(this, 'download', inputName(this.name));
  }
  /** Use the data in place where the datastore allows it (tabular datasets are always materialised). */
  asMount(): InputBinding {
    return new InputBinding(this, 'mount', inputName(this.name));
  }

  /** What the dataset is (paths, parsing options, transformations) without its name and version: what a registration stores. */
  abstract toSpec(): Record<string, unknown>;
  /** The digest of the dataset's content from its files' identity. */
  protected abstract digestOf(files: Readonly<Record<string, string>>, type: 'file' | 'directory'): string;
  /** The delivered type for a files identity. */
  protected abstract identityType(type: 'file' | 'directory'): 'file' | 'directory';
  /** A dataset of the same kind and spec with another state. */
  protected abstract withState(state: DatasetState): this;

  toJSON(): Record<string, unknown> {
    const registration = this.state.registration;
    return {
      ...this.toSpec(),
      name: this.name,
      ...(registration ? { version: registration.version } : {}),
    };
  }

  /** How messages name the dataset. */
  protected get label(): string {
    const registration = this.state.registration;
    if (registration) return `Dataset "${registration.name}" (version ${registration.version})`;
    const first = this.state.paths[0]!;
    const more = this.state.paths.length > 1 ? ` and ${this.state.paths.length - 1} more` : '';
    return `The ${this.kind} dataset on ${first.datastore}:${first.path || '/'}${more}`;
  }

  /** The datastore of a path: the workspace's when given, else the one the dataset was built from. */
  protected resolveStore(name: string, ws: Workspace | undefined, method: string): Datastore {
    if (ws) return ws.datastore(name);
    const remembered = this.state.stores.get(name);
    if (remembered) return remembered;
    if (this.state.workspace) return this.state.workspace.datastore(name);
    throw invalid(
      `${this.label} names datastore "${name}" without a workspace to find it in: pass the workspace (dataset.${method}(ws)), get the dataset with Dataset.get(ws, …), or build it from ws.datastore('${name}').`,
      { datastore: name },
    );
  }

  #notFound(path: DatasetPath, glob: boolean): SluiceError {
    return new SluiceError(
      'DATASTORE_PATH_NOT_FOUND',
      glob
        ? `${this.label}: no file on datastore "${path.datastore}" matches "${path.path}"; upload the data first or fix the dataset's path.`
        : `${this.label}: datastore "${path.datastore}" has nothing at "${path.path}"; upload the data first or fix the dataset's path.`,
      { details: { datastore: path.datastore, path: path.path } },
    );
  }

  /** Every file under one path, sorted; DATASTORE_PATH_NOT_FOUND when there is nothing there. */
  protected async entries(path: DatasetPath, store: Datastore): Promise<DatastoreEntry[]> {
    if (isGlob(path.path)) {
      const pattern = globRegex(path.path);
      const entries = (await store.list(globBase(path.path))).filter((entry) => pattern.test(entry.path));
      if (entries.length === 0) throw this.#notFound(path, true);
      return entries;
    }
    const entries = await store.list(path.path);
    if (entries.length === 0 && !(await store.exists(path.path))) throw this.#notFound(path, false);
    return entries;
  }

  /** Every file of the dataset, path by path, each path's files sorted; a file listed twice counts once. */
  protected async files(ws: Workspace | undefined, method: string): Promise<FoundFile[]> {
    const limit = pLimit(4);
    const perPath = await Promise.all(
      this.state.paths.map((path) =>
        limit(async () => {
          const store = this.resolveStore(path.datastore, ws, method);
          const entries = await this.entries(path, store);
          const single = !isGlob(path.path) && entries.length === 1 && entries[0]!.path === path.path;
          const root = isGlob(path.path) ? globBase(path.path) : single ? parentFolder(path.path) : path.path;
          return entries.map((entry) => ({
            store,
            datastore: path.datastore,
            path: entry.path,
            size: entry.size,
            root,
          }));
        }),
      ),
    );
    const seen = new Set<string>();
    const files: FoundFile[] = [];
    for (const file of perPath.flat()) {
      const key = `${file.datastore}\0${file.path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      files.push(file);
    }
    return files;
  }

  /** Is there data at every path? */
  async exists(ws?: Workspace): Promise<boolean> {
    for (const path of this.state.paths) {
      const store = this.resolveStore(path.datastore, ws, 'exists');
      if (isGlob(path.path)) {
        const pattern = globRegex(path.path);
        if (!(await store.list(globBase(path.path))).some((entry) => pattern.test(entry.path))) return false;
      } else if (!(await store.exists(path.path))) {
        return false;
      }
    }
    return true;
  }

  /** The identity of one path's content: files keyed `datastore:path`. */
  async #pathIdentity(
    path: DatasetPath,
    ws: Workspace | undefined,
  ): Promise<{ files: Record<string, string>; bytes: number; type: 'file' | 'directory' }> {
    const store = this.resolveStore(path.datastore, ws, 'contentIdentity');
    const files: Record<string, string> = {};
    if (isGlob(path.path)) {
      const base = globBase(path.path);
      const entries = await this.entries(path, store);
      const bytes = entries.reduce((sum, entry) => sum + entry.size, 0);
      if (entries.length <= GLOB_FILE_BY_FILE) {
        // few matches: hash just them rather than the whole folder the glob starts from
        const limit = pLimit(8);
        await Promise.all(
          entries.map((entry) =>
            limit(async () => {
              const identity = await store.contentIdentity(entry.path);
              files[`${path.datastore}:${entry.path}`] = Object.values(identity.files)[0] ?? identity.digest;
            }),
          ),
        );
      } else {
        const identity = await store.contentIdentity(base);
        for (const entry of entries) {
          const rel = base ? entry.path.slice(base.length + 1) : entry.path;
          const hash = identity.files[rel];
          if (hash === undefined)
            throw this.#notFound({ datastore: path.datastore, path: entry.path }, false);
          files[`${path.datastore}:${entry.path}`] = hash;
        }
      }
      return { files, bytes, type: 'directory' };
    }
    let identity: ContentIdentity;
    try {
      identity = await store.contentIdentity(path.path);
    } catch (error) {
      if (error instanceof SluiceError && error.code === 'DATASTORE_PATH_NOT_FOUND') {
        throw this.#notFound(path, false);
      }
      throw error;
    }
    if (identity.type === 'file') {
      files[`${path.datastore}:${path.path}`] = Object.values(identity.files)[0] ?? identity.digest;
    } else {
      for (const [rel, hash] of Object.entries(identity.files)) {
        files[`${path.datastore}:${joinStorePath(path.path, rel)}`] = hash;
      }
    }
    return { files, bytes: identity.bytes, type: identity.type };
  }

  /**
   * The identity of what a step sees: the content of every file (keyed `datastore:path`, so stable across
   * machines) and, for tabular datasets, the parsing options and transformations. The registration does
   * not enter it: the same data registered again has the same identity. DATASET_CHANGED when the dataset
   * is (or derives from) a registered version whose data has changed since.
   */
  async contentIdentity(ws?: Workspace): Promise<ContentIdentity> {
    const limit = pLimit(4);
    const parts = await Promise.all(
      this.state.paths.map((path) => limit(() => this.#pathIdentity(path, ws))),
    );
    const files: Record<string, string> = {};
    let bytes = 0;
    for (const part of parts) {
      Object.assign(files, part.files);
      bytes += part.bytes;
    }
    const single = parts.length === 1 && parts[0]!.type === 'file';
    const type = this.identityType(single ? 'file' : 'directory');
    const digest = this.digestOf(files, single ? 'file' : 'directory');
    this.#checkPin(files, digest);
    return { type, digest, files, bytes };
  }

  #checkPin(files: Readonly<Record<string, string>>, digest: string): void {
    const pin = this.state.pin;
    if (!pin) return;
    if (pin.files) {
      if (manifestDigest(files) === manifestDigest(pin.files)) return;
    } else if (!pin.exact || digest === pin.digest) {
      return;
    }
    const changed = pin.files ? changedFiles(pin.files, files) : [];
    const shown =
      changed.slice(0, 5).join(', ') + (changed.length > 5 ? `, … (${changed.length} in all)` : '');
    throw new SluiceError(
      'DATASET_CHANGED',
      `Dataset "${pin.name}" changed since version ${pin.version} was registered${shown ? ` (changed: ${shown})` : ''}; register a new version (dataset.register(ws, { name: '${pin.name}', createNewVersion: true })) or restore the data.`,
      { details: { name: pin.name, version: pin.version, changed } },
    );
  }

  /** Check a registered (or derived) dataset's data is still what was registered. */
  protected async verify(ws: Workspace | undefined): Promise<void> {
    if (this.state.pin) await this.contentIdentity(ws);
  }

  /**
   * Register the dataset in the workspace: version 1 for a new name; another version only with
   * `createNewVersion: true`. Returns the dataset bound to the version (its identity is pinned from now on).
   */
  async register(ws: Workspace, options: RegisterDatasetOptions): Promise<this> {
    if (!options || typeof options !== 'object') {
      throw invalid(`register() needs options with a name, e.g. dataset.register(ws, { name: 'iris' }).`);
    }
    const name = checkRegisteredName(options.name, 'register()');
    const tags = checkTags(options.tags, 'register()');
    if (options.description !== undefined && typeof options.description !== 'string') {
      throw invalid(`register(): description must be a string; got ${describe(options.description)}.`);
    }
    const identity = await this.contentIdentity(ws);
    const record = ws.store.saveDatasetVersion(
      {
        name,
        kind: this.kind,
        spec: this.toSpec(),
        digest: identity.digest,
        bytes: identity.bytes,
        files: { ...identity.files },
        description: options.description ?? '',
        tags,
        sourceStepRun: null,
      },
      { createNewVersion: options.createNewVersion ?? false },
    );
    return this.withRecord(record, ws);
  }

  /** @internal This dataset bound to a registered version. */
  withRecord(record: DatasetRecord, ws: Workspace): this {
    return this.withState({
      ...this.state,
      workspace: ws,
      registration: {
        name: record.name,
        version: record.version,
        description: record.description,
        tags: record.tags,
        createdAt: record.createdAt,
        sourceStepRun: record.sourceStepRun,
      },
      pin: {
        name: record.name,
        version: record.version,
        digest: record.digest,
        files: record.files,
        exact: true,
      },
    });
  }

  abstract deliver(
    ws: Workspace,
    options: { mode: DeliveryMode; dir: string },
  ): Promise<{ path: string; type: 'file' | 'directory' }>;
}

/** Files on datastores (a file, folders, globs), delivered as they are. */
export class FileDataset extends AbstractDataset {
  readonly bindingKind = 'file-dataset' as const;
  readonly kind = 'file' as const;

  /** @internal */
  constructor(state: DatasetState) {
    super(state);
  }

  toSpec(): Record<string, unknown> {
    return { kind: this.bindingKind, paths: this.state.paths.map((path) => ({ ...path })) };
  }

  protected digestOf(files: Readonly<Record<string, string>>, type: 'file' | 'directory'): string {
    return sha256(`${DATASET_IDENTITY_FORMAT}\nfile\n${type}\n${manifestDigest(files)}`);
  }

  protected identityType(type: 'file' | 'directory'): 'file' | 'directory' {
    return type;
  }

  protected withState(state: DatasetState): this {
    return new FileDataset(state) as this;
  }

  /** The datastore paths of the dataset's files. */
  async toPathList(ws?: Workspace): Promise<string[]> {
    await this.verify(ws);
    return (await this.files(ws, 'toPathList')).map((file) => file.path);
  }

  /**
   * Copy the files under `dir`, laid out relative to the folder the dataset's paths share (with a folder per
   * datastore when they are on several). Returns the local file paths.
   */
  async download(dir: string, options: DownloadDatasetOptions = {}): Promise<string[]> {
    await this.verify(options.ws);
    return (await this.#download(dir, options.ws, options.overwrite ?? false)).local;
  }

  async #download(
    dir: string,
    ws: Workspace | undefined,
    overwrite: boolean,
  ): Promise<{ local: string[]; single: boolean }> {
    const files = await this.files(ws, 'download');
    const datastores = new Set(files.map((file) => file.datastore));
    const common = commonFolder(files.map((file) => file.root));
    const relative = (file: FoundFile): string =>
      datastores.size > 1
        ? `${file.datastore}/${file.path}`
        : common
          ? file.path.slice(common.length + 1)
          : file.path;
    const plan = files.map((file) => ({ file, local: join(dir, ...relative(file).split('/')) }));
    if (!overwrite) {
      for (const { local } of plan) {
        if (
          await access(local).then(
            () => true,
            () => false,
          )
        ) {
          throw new SluiceError(
            'DATASTORE_FILE_EXISTS',
            `${this.label}: ${local} already exists; pass overwrite: true or download into an empty folder.`,
            { details: { path: local } },
          );
        }
      }
    }
    await mkdir(dir, { recursive: true });
    const limit = pLimit(8);
    await Promise.all(
      plan.map(({ file, local }) =>
        limit(async () => {
          await mkdir(dirname(local), { recursive: true });
          await file.store.download(file.path, local);
        }),
      ),
    );
    const only = this.state.paths.length === 1 ? this.state.paths[0]! : undefined;
    const single = Boolean(only && !isGlob(only.path) && files.length === 1 && files[0]!.path === only.path);
    return { local: plan.map(({ local }) => local), single };
  }

  /**
   * Deliver the files to a step: in place when mounted from a local-folder datastore (one path), else
   * downloaded under `dir` (a single file is delivered as that file).
   */
  async deliver(
    ws: Workspace,
    options: { mode: DeliveryMode; dir: string },
  ): Promise<{ path: string; type: 'file' | 'directory' }> {
    await this.verify(ws);
    const paths = this.state.paths;
    const only = paths[0]!;
    if (options.mode === 'mount' && paths.length === 1 && !isGlob(only.path)) {
      const store = this.resolveStore(only.datastore, ws, 'deliver');
      if (store.localPath) {
        const entries = await this.entries(only, store);
        const file = entries.length === 1 && entries[0]!.path === only.path;
        return { path: store.localPath(only.path), type: file ? 'file' : 'directory' };
      }
    }
    const { local, single } = await this.#download(options.dir, ws, true);
    return single ? { path: local[0]!, type: 'file' } : { path: options.dir, type: 'directory' };
  }
}

/** Delimited files read as one typed table, with lazy transformations. */
export class TabularDataset extends AbstractDataset {
  readonly bindingKind = 'tabular-dataset' as const;
  readonly kind = 'tabular' as const;
  readonly #parsing: DelimitedParsing;
  readonly #transformations: readonly Transformation[];

  /** @internal */
  constructor(
    state: DatasetState,
    parsing: DelimitedParsing,
    transformations: readonly Transformation[] = [],
  ) {
    super(state);
    this.#parsing = parsing;
    this.#transformations = transformations;
  }

  /** The parsing options, defaults filled in. */
  get parsing(): Readonly<DelimitedParsing> {
    return this.#parsing;
  }
  get transformations(): readonly Transformation[] {
    return this.#transformations;
  }

  toSpec(): Record<string, unknown> {
    return {
      kind: this.bindingKind,
      paths: this.state.paths.map((path) => ({ ...path })),
      options: { ...this.#parsing, setColumnTypes: { ...this.#parsing.setColumnTypes } },
      transformations: this.#transformations.map((step) => ({ ...step })),
    };
  }

  protected digestOf(files: Readonly<Record<string, string>>): string {
    return sha256(
      `${DATASET_IDENTITY_FORMAT}\ntabular\n${manifestDigest(files)}\n${digestValue(this.toSpec())}`,
    );
  }

  protected identityType(): 'file' | 'directory' {
    return 'file';
  }

  protected withState(state: DatasetState): this {
    return new TabularDataset(state, this.#parsing, this.#transformations) as this;
  }

  /** A new (unregistered) dataset with one more transformation; still checked against a registered version. */
  #derive(step: Transformation): TabularDataset {
    const pin = this.state.pin;
    return new TabularDataset(
      { ...this.state, registration: undefined, pin: pin ? { ...pin, exact: false } : undefined },
      this.#parsing,
      [...this.#transformations, step],
    );
  }

  // -- transformations (lazy) -------------------------------------------------------------------------------

  /** The first `n` rows. */
  take(n: number): TabularDataset {
    return this.#derive({ op: 'take', n: checkCount(n, 'take') });
  }

  /** Every row after the first `n`. */
  skip(n: number): TabularDataset {
    return this.#derive({ op: 'skip', n: checkCount(n, 'skip') });
  }

  /**
   * The rows whose `column` satisfies `operator value`: `== != > >= < <=` compare typed values (empty cells
   * match only `== null` and `!= x`), `in` takes an array, `contains` and `startsWith` compare text.
   */
  filter(column: string, operator: FilterOperator, value: FilterValue): TabularDataset {
    if (typeof column !== 'string' || column === '') {
      throw invalid(`filter() needs a column name; got ${describe(column)}.`);
    }
    if (!FILTER_OPERATORS.includes(operator)) {
      throw invalid(
        `filter(): unknown operator ${describe(operator)}; use one of ${FILTER_OPERATORS.join(' ')}.`,
      );
    }
    const scalar = (v: unknown): v is FilterScalar =>
      v === null ||
      typeof v === 'string' ||
      typeof v === 'boolean' ||
      (typeof v === 'number' && Number.isFinite(v));
    if (operator === 'in') {
      if (!Array.isArray(value) || !value.every(scalar)) {
        throw invalid(`filter('${column}', 'in', …) needs an array of strings, numbers, booleans or null.`);
      }
      return this.#derive({ op: 'filter', column, operator, value: [...value] });
    }
    if (operator === 'contains' || operator === 'startsWith') {
      if (typeof value !== 'string') {
        throw invalid(`filter('${column}', '${operator}', …) needs a string; got ${describe(value)}.`);
      }
    } else if (!scalar(value) || (value === null && operator !== '==' && operator !== '!=')) {
      throw invalid(
        `filter('${column}', '${operator}', …) needs a string, a finite number${operator === '==' || operator === '!=' ? ', a boolean or null' : ' or a boolean'}; got ${describe(value)}.`,
      );
    }
    return this.#derive({ op: 'filter', column, operator, value: value as FilterScalar });
  }

  /** Only these columns, in this order. */
  keepColumns(columns: string | readonly string[]): TabularDataset {
    return this.#derive({ op: 'keepColumns', columns: checkColumns(columns, 'keepColumns') });
  }

  /** Every column but these. */
  dropColumns(columns: string | readonly string[]): TabularDataset {
    return this.#derive({ op: 'dropColumns', columns: checkColumns(columns, 'dropColumns') });
  }

  /**
   * Split the rows in two by a seeded hash of each row's index: about `fraction` of them in the first part,
   * the rest in the second. The same seed always gives the same split; the parts never overlap.
   */
  randomSplit(fraction: number, seed = 0): [TabularDataset, TabularDataset] {
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
      throw invalid(
        `randomSplit() needs a fraction between 0 and 1 (exclusive), e.g. 0.8; got ${describe(fraction)}.`,
      );
    }
    if (!Number.isSafeInteger(seed)) {
      throw invalid(`randomSplit() needs an integer seed; got ${describe(seed)}.`);
    }
    return [
      this.#derive({ op: 'randomSplit', fraction, seed, part: 'first' }),
      this.#derive({ op: 'randomSplit', fraction, seed, part: 'second' }),
    ];
  }

  // -- reading ----------------------------------------------------------------------------------------------

  async #table(ws: Workspace | undefined, method: string): Promise<Table> {
    await this.verify(ws);
    const files = await this.files(ws, method);
    const limit = pLimit(4);
    const raw = await Promise.all(
      files.map((file) =>
        limit(async () =>
          readDelimited(await file.store.read(file.path), `${file.datastore}:${file.path}`, this.#parsing),
        ),
      ),
    );
    let table = buildTable(raw, this.#parsing);
    for (const step of this.#transformations) table = applyTransformation(table, step);
    return table;
  }

  /** The rows, each an object keyed by column with typed values (null for empty cells). */
  async toRecords(ws?: Workspace): Promise<TabularRecord[]> {
    return tableToRecords(await this.#table(ws, 'toRecords'));
  }

  /** Column name → type, after the transformations. */
  async columnTypes(ws?: Workspace): Promise<Record<string, ColumnType>> {
    const table = await this.#table(ws, 'columnTypes');
    return Object.fromEntries(table.columns.map((column) => [column, table.types[column]!]));
  }

  /** Per-column statistics: count, missing, distinct, min/max/mean/std for numbers, mostCommon for text. */
  async summary(ws?: Workspace): Promise<ColumnSummary[]> {
    return summarise(await this.#table(ws, 'summary'));
  }

  /** The transformed table as CSV text (header row, ',' separated, quoted where needed). */
  async toCsv(ws?: Workspace): Promise<string> {
    return tableToCsv(await this.#table(ws, 'toCsv'));
  }

  /** Materialise the transformed table as `dir/<name>.csv` for a step. */
  async deliver(
    ws: Workspace,
    options: { mode: DeliveryMode; dir: string },
  ): Promise<{ path: string; type: 'file' | 'directory' }> {
    const csv = tableToCsv(await this.#table(ws, 'deliver'));
    await mkdir(options.dir, { recursive: true });
    const path = join(options.dir, `${this.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.csv`);
    await writeFile(path, csv);
    return { path, type: 'file' };
  }
}

function checkCount(n: unknown, method: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw invalid(`${method}() needs a whole number of rows (0 or more); got ${describe(n)}.`);
  }
  return n;
}

function checkColumns(columns: unknown, method: string): string[] {
  const list = typeof columns === 'string' ? [columns] : columns;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((column) => typeof column === 'string' && column !== '')
  ) {
    throw invalid(`${method}() needs one or more column names; got ${describe(columns)}.`);
  }
  if (new Set(list).size !== list.length) throw invalid(`${method}() names a column twice.`);
  return [...(list as string[])];
}

// ---------------------------------------------------------------------------------------------------------
// Factories, registry

function baseState(paths: unknown, what: string, workspace?: Workspace): DatasetState {
  const parsed = parsePaths(paths, what);
  return { paths: parsed.paths, stores: parsed.stores, workspace, registration: undefined, pin: undefined };
}

function fromFiles(paths: DatasetPaths): FileDataset {
  return new FileDataset(baseState(paths, 'Dataset.File.fromFiles()'));
}

function fromDelimitedFiles(paths: DatasetPaths, options: DelimitedFilesOptions = {}): TabularDataset {
  const what = 'Dataset.Tabular.fromDelimitedFiles()';
  return new TabularDataset(baseState(paths, what), normaliseParsing(options, what));
}

/** Rebuild a dataset from its spec (`toJSON()` or a registration's spec). */
function fromJSON(json: unknown, ws?: Workspace): FileDataset | TabularDataset {
  const what = 'Dataset.fromJSON()';
  if (typeof json !== 'object' || json === null)
    throw invalid(`${what} needs a dataset spec; got ${describe(json)}.`);
  const spec = json as Record<string, unknown>;
  const rawPaths = spec.paths;
  if (!Array.isArray(rawPaths)) throw invalid(`${what}: the spec has no paths.`);
  const paths = rawPaths.map((entry: unknown) => {
    const path = entry as { datastore?: unknown; path?: unknown };
    if (typeof path?.datastore !== 'string' || typeof path.path !== 'string') {
      throw invalid(`${what}: each path needs a datastore and a path; got ${JSON.stringify(entry)}.`);
    }
    return [path.datastore, path.path] as const;
  });
  const state = baseState(paths, what, ws);
  let dataset: FileDataset | TabularDataset;
  if (spec.kind === 'file-dataset') {
    dataset = new FileDataset(state);
  } else if (spec.kind === 'tabular-dataset') {
    let tabular = new TabularDataset(state, normaliseParsing(spec.options, what));
    const steps = spec.transformations ?? [];
    if (!Array.isArray(steps)) throw invalid(`${what}: transformations must be an array.`);
    for (const step of steps as Transformation[]) tabular = reapply(tabular, step);
    dataset = tabular;
  } else {
    throw invalid(
      `${what}: unknown dataset kind ${describe(spec.kind)}; expected 'file-dataset' or 'tabular-dataset'.`,
    );
  }
  if (ws && typeof spec.name === 'string' && typeof spec.version === 'number') {
    const record = ws.store.getDataset(spec.name, spec.version);
    if (record && digestValue(record.spec) === digestValue(dataset.toSpec())) {
      return dataset.withRecord(record, ws);
    }
  }
  return dataset;
}

function reapply(dataset: TabularDataset, step: Transformation): TabularDataset {
  switch (step?.op) {
    case 'take':
      return dataset.take(step.n);
    case 'skip':
      return dataset.skip(step.n);
    case 'filter':
      return dataset.filter(step.column, step.operator, step.value);
    case 'keepColumns':
      return dataset.keepColumns(step.columns);
    case 'dropColumns':
      return dataset.dropColumns(step.columns);
    case 'randomSplit': {
      if (step.part !== 'first' && step.part !== 'second') {
        throw invalid(`randomSplit transformation needs part 'first' or 'second'.`);
      }
      return dataset.randomSplit(step.fraction, step.seed)[step.part === 'first' ? 0 : 1];
    }
    default:
      throw invalid(`Unknown dataset transformation ${JSON.stringify(step)}.`);
  }
}

function fromRecord(record: DatasetRecord, ws: Workspace): FileDataset | TabularDataset {
  return fromJSON(record.spec, ws).withRecord(record, ws);
}

function getDataset(ws: Workspace, name: string, version?: number | 'latest'): FileDataset | TabularDataset {
  requireWorkspace(ws, 'Dataset.get', `Dataset.get(ws, 'iris')`);
  if (typeof name !== 'string' || name === '') {
    throw invalid(`Dataset.get() needs a dataset name; got ${describe(name)}.`);
  }
  if (version !== undefined && version !== 'latest' && !(Number.isSafeInteger(version) && version > 0)) {
    throw invalid(
      `Dataset.get(): version must be a whole number from 1 (or 'latest'); got ${describe(version)}.`,
    );
  }
  const record = ws.store.getDataset(name, version === 'latest' ? undefined : version);
  if (!record) {
    const all = ws.store.listDatasets();
    const versions = all.filter((entry) => entry.name === name).map((entry) => entry.version);
    if (versions.length > 0) {
      throw new SluiceError(
        'DATASET_NOT_FOUND',
        `Dataset "${name}" has no version ${version}; its versions are ${versions.join(', ')}.`,
        { details: { name, version, versions } },
      );
    }
    const names = [...new Set(all.map((entry) => entry.name))];
    throw new SluiceError(
      'DATASET_NOT_FOUND',
      `No dataset "${name}" is registered in this workspace; ${
        names.length ? `registered: ${names.join(', ')}` : 'none is registered yet'
      }. Register one with dataset.register(ws, { name: '${name}' }).`,
      { details: { name, registered: names } },
    );
  }
  return fromRecord(record, ws);
}

function getOfKind<K extends DatasetKind>(
  kind: K,
  ws: Workspace,
  name: string,
  version?: number | 'latest',
): K extends 'file' ? FileDataset : TabularDataset {
  const dataset = getDataset(ws, name, version);
  if (dataset.kind !== kind) {
    throw invalid(
      `Dataset "${name}" (version ${dataset.version}) is a ${dataset.kind} dataset; get it with Dataset.${dataset.kind === 'file' ? 'File' : 'Tabular'}.get() or Dataset.get().`,
      { name, kind: dataset.kind },
    );
  }
  return dataset as K extends 'file' ? FileDataset : TabularDataset;
}

/**
 * Datasets as in the Azure ML SDK v1: `Dataset.File.fromFiles(paths)`,
 * `Dataset.Tabular.fromDelimitedFiles(paths, options)`, `Dataset.get(ws, name, version?)`, `Dataset.list(ws)`.
 */
export const Dataset = {
  File: {
    /** Files on datastores: `[[datastore, 'path']]`; a folder (or 'folder/') includes every file under it. */
    fromFiles,
    /** A registered file dataset (latest version unless given). */
    get: (ws: Workspace, name: string, version?: number | 'latest'): FileDataset =>
      getOfKind('file', ws, name, version),
  },
  Tabular: {
    /** Delimited files read as one table; folders include every file under them, sorted. */
    fromDelimitedFiles,
    /** A registered tabular dataset (latest version unless given). */
    get: (ws: Workspace, name: string, version?: number | 'latest'): TabularDataset =>
      getOfKind('tabular', ws, name, version),
  },
  /** A registered dataset (latest version unless given); DATASET_NOT_FOUND names what is registered. */
  get: getDataset,
  /** Same as `get` (the SDK's `get_by_name`). */
  getByName: getDataset,
  /** Every registered dataset version, by name then version. */
  list: (ws: Workspace): DatasetRecord[] => ws.store.listDatasets(),
  /** Rebuild a dataset from `toJSON()` output or a registration's spec. */
  fromJSON,
} as const;
export type Dataset = FileDataset | TabularDataset;

export function isDataset(value: unknown): value is FileDataset | TabularDataset {
  return value instanceof FileDataset || value instanceof TabularDataset;
}

export interface RegisterOutputDatasetOptions {
  name: string;
  description?: string;
  tags?: Record<string, string>;
  /** The datastore holding the committed output (object or name). */
  datastore: Datastore | string;
  /** The output's path on the datastore. */
  path: string;
  /** The step run that produced it. */
  sourceStepRun?: string | null;
}

/**
 * Register a committed step output as a file dataset version (`OutputFileDatasetConfig.registerOnComplete`).
 * When the latest version of the name already has the same content identity (a reused step, an unchanged
 * output), no version is added and that version is returned.
 */
export async function registerOutputDataset(
  ws: Workspace,
  options: RegisterOutputDatasetOptions,
): Promise<FileDataset> {
  const name = checkRegisteredName(options?.name, 'registerOutputDataset()');
  const tags = checkTags(options.tags, 'registerOutputDataset()');
  const dataset = new FileDataset(
    baseState([[options.datastore, options.path]], 'registerOutputDataset()', ws),
  );
  const identity = await dataset.contentIdentity(ws);
  const record = ws.store.transaction(() => {
    const latest = ws.store.getDataset(name);
    if (latest && latest.kind === 'file' && latest.digest === identity.digest) return latest;
    return ws.store.saveDatasetVersion(
      {
        name,
        kind: dataset.kind,
        spec: dataset.toSpec(),
        digest: identity.digest,
        bytes: identity.bytes,
        files: { ...identity.files },
        description: options.description ?? '',
        tags,
        sourceStepRun: options.sourceStepRun ?? null,
      },
      { createNewVersion: true },
    );
  });
  return dataset.withRecord(record, ws);
}
