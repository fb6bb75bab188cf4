import { BRAND, hasBrand } from './brand.js';
import { SluiceError } from './errors.js';

/** Anything that names a datastore: a datastore object from the runtime, or its name. */
export type DatastoreLike = string | { readonly name: string };

/** How an input reaches a step: copied into the step's working folder, or used in place. */
export type DeliveryMode = 'download' | 'mount';

const DATA_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function checkDataName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !DATA_NAME.test(name)) {
    throw new SluiceError(
      'PIPELINE_INVALID',
      `${what} name ${JSON.stringify(name)} is not valid: use letters, digits, '_' and '-', starting with a letter or '_'.`,
    );
  }
  return name;
}

export function datastoreName(datastore: DatastoreLike | undefined): string | undefined {
  if (datastore === undefined) return undefined;
  return typeof datastore === 'string' ? datastore : datastore.name;
}

abstract class Deliverable {
  /** Consume this data copied into the step's working folder. */
  asDownload(): InputBinding {
    return new InputBinding(this as unknown as DataSource, 'download');
  }
  /** Consume this data in place (read-only where the datastore allows it). */
  asMount(): InputBinding {
    return new InputBinding(this as unknown as DataSource, 'mount');
  }
  /**
   * Use this data as a step's input (`as_input`), delivered in place unless `asDownload()` follows;
   * `name` is the input name the step sees (the data's name when omitted).
   */
  asInput(name?: string): InputBinding {
    return new InputBinding(this as unknown as DataSource, 'mount', name);
  }
}

export interface PipelineDataOptions {
  /** Where the data is written; the workspace's default datastore when omitted. */
  datastore?: DatastoreLike;
  /** The name of the output on the producing step; defaults to the data's name. */
  outputName?: string;
}

/** Intermediate data: produced by one step, consumed by others; it orders the steps. */
export class PipelineData extends Deliverable {
  readonly [BRAND] = 'PipelineData';
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'PipelineData');
  }
  readonly bindingKind = 'pipeline-data' as const;
  readonly name: string;
  readonly datastore: string | undefined;
  readonly outputName: string;

  constructor(name: string, options: PipelineDataOptions = {}) {
    super();
    this.name = checkDataName(name, 'PipelineData');
    checkOptionsObject(options, 'PipelineData', "new PipelineData('prepped', { datastore: ds })");
    this.datastore = datastoreName(options.datastore);
    this.outputName = checkDataName(options.outputName ?? name, 'PipelineData output');
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: this.bindingKind,
      name: this.name,
      datastore: this.datastore,
      outputName: this.outputName,
    };
  }
}

export interface OutputFileDatasetConfigOptions {
  /**
   * The output's name. When omitted, the step that produces it names it `<step>_output_<n>` (its n-th
   * unnamed output), so the name, and with it reuse, is the same on every submission.
   */
  name?: string;
  /**
   * Where the output is written: `[datastore, 'path/{run-id}']` (`{run-id}` and `{output-name}` are filled
   * in per run), or a datastore alone for `dataset/{run-id}/{output-name}` on it.
   */
  destination?: readonly [DatastoreLike, string] | DatastoreLike;
}

/** The path an output with a datastore-only destination is written to, as in the original SDK. */
export const DEFAULT_DESTINATION_PATH = 'dataset/{run-id}/{output-name}';

/** A step output written to a chosen datastore path. */
export class OutputFileDatasetConfig extends Deliverable {
  readonly [BRAND] = 'OutputFileDatasetConfig';
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'OutputFileDatasetConfig');
  }
  readonly bindingKind = 'output-dataset' as const;
  #name: string | undefined;
  readonly destination: { datastore: string; path: string } | undefined;
  /** Set by `registerOnComplete`: the dataset the output becomes when its step finishes. */
  registration: { name: string; description?: string; tags?: Record<string, string> } | undefined;

  constructor(options: OutputFileDatasetConfigOptions = {}) {
    super();
    checkOptionsObject(
      options,
      'OutputFileDatasetConfig',
      "new OutputFileDatasetConfig({ name: 'prepped', destination: [ds, 'prepped/{run-id}'] })",
    );
    const { name, destination } = options;
    this.#name = name === undefined ? undefined : checkDataName(name, 'OutputFileDatasetConfig');
    const label = name === undefined ? 'An OutputFileDatasetConfig' : `OutputFileDatasetConfig "${name}"`;
    if (destination === undefined || destination === null) {
      this.destination = undefined;
    } else {
      const [store, path] = Array.isArray(destination)
        ? (destination as readonly unknown[])
        : [destination, DEFAULT_DESTINATION_PATH];
      if (typeof path !== 'string' || path.trim() === '') {
        throw new SluiceError(
          'PIPELINE_INVALID',
          `${label} needs a destination path, e.g. [datastore, 'outputs/{run-id}'].`,
        );
      }
      const storeName = isDatastoreLike(store) ? datastoreName(store) : undefined;
      if (!storeName) {
        throw new SluiceError(
          'PIPELINE_INVALID',
          `${label} needs a datastore as its destination: a datastore (ws.getDefaultDatastore()), its name, or [datastore, 'outputs/{run-id}']; got ${describeValue(store)}.`,
        );
      }
      this.destination = { datastore: storeName, path };
    }
  }

  /** The output's name; an unnamed output gets its name from the step that produces it. */
  get name(): string {
    if (this.#name === undefined) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        'An OutputFileDatasetConfig without a name is used before a step produces it: build the producing step first (it names the output), or give the output a name.',
      );
    }
    return this.#name;
  }
  get outputName(): string {
    return this.name;
  }
  /** Whether the output has a name yet. */
  get named(): boolean {
    return this.#name !== undefined;
  }
  /** @internal the producing step names an unnamed output, once. */
  _nameOnce(name: string): void {
    this.#name ??= checkDataName(name, 'OutputFileDatasetConfig');
  }

  /**
   * Register the output as a file dataset version when its step finishes (`register_on_complete`). The
   * first registration under a name is version 1; each later one adds a version.
   */
  registerOnComplete(options: { name: string; description?: string; tags?: Record<string, string> }): this {
    if (!options || typeof options.name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(options.name)) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `OutputFileDatasetConfig "${this.name}": registerOnComplete needs a dataset name (letters, digits, '_', '.', '-').`,
      );
    }
    // checked now, not when the step has finished and its output is registered
    if (options.description !== undefined && typeof options.description !== 'string') {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `OutputFileDatasetConfig "${this.name}": registerOnComplete's description must be a string.`,
      );
    }
    const tags: unknown = options.tags;
    if (
      tags !== undefined &&
      (typeof tags !== 'object' ||
        tags === null ||
        Array.isArray(tags) ||
        Object.values(tags).some((value) => typeof value !== 'string'))
    ) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `OutputFileDatasetConfig "${this.name}": registerOnComplete's tags must be an object of strings, e.g. { stage: 'train' }.`,
      );
    }
    this.registration = { ...options };
    return this;
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: this.bindingKind,
      name: this.name,
      destination: this.destination,
      ...(this.registration ? { registerOnComplete: this.registration } : {}),
    };
  }
}

export interface DataReferenceOptions {
  datastore: DatastoreLike;
  pathOnDatastore: string;
  /** The input name the step sees (`dataReferenceName` in the original SDK). */
  name?: string;
  dataReferenceName?: string;
}

/**
 * Data that exists outside the pipeline: a path on a datastore. Implementations of other external sources
 * (datasets) follow the same shape: `external: true`, a datastore and a path.
 */
export interface ExternalData {
  readonly external: true;
  readonly bindingKind: string;
  readonly name: string;
  readonly datastore: string | undefined;
  readonly pathOnDatastore: string;
  asDownload(): InputBinding;
  asMount(): InputBinding;
  toJSON(): Record<string, unknown>;
}

/** A path on a datastore, usable as a step input. */
export class DataReference extends Deliverable implements ExternalData {
  readonly [BRAND] = 'DataReference';
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'DataReference');
  }
  readonly external = true as const;
  readonly bindingKind = 'data-reference' as const;
  readonly name: string;
  readonly datastore: string;
  readonly pathOnDatastore: string;

  constructor(options: DataReferenceOptions) {
    super();
    checkOptionsObject(
      options,
      'DataReference',
      "new DataReference({ datastore: ds, pathOnDatastore: 'raw/data.csv', name: 'raw' })",
    );
    const name = options.name ?? options.dataReferenceName;
    this.name = checkDataName(name, 'DataReference');
    const store = isDatastoreLike(options.datastore) ? datastoreName(options.datastore) : undefined;
    if (!store) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `DataReference "${name}" needs a datastore: a datastore object (ws.getDefaultDatastore()) or its name.`,
      );
    }
    this.datastore = store;
    if (typeof options.pathOnDatastore !== 'string') {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `DataReference "${name}" needs pathOnDatastore: the path of the file or folder on the datastore, e.g. 'raw/data.csv'.`,
      );
    }
    this.pathOnDatastore = options.pathOnDatastore;
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: this.bindingKind,
      name: this.name,
      datastore: this.datastore,
      pathOnDatastore: this.pathOnDatastore,
    };
  }
}

/** Data produced by a step of the pipeline. */
export type ProducedData = PipelineData | OutputFileDatasetConfig;
/** Anything a step can consume. */
export type DataSource = ProducedData | ExternalData;

/** A data source as one step consumes it: under a name, downloaded or mounted. */
export class InputBinding {
  readonly [BRAND] = 'InputBinding';
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'InputBinding');
  }
  readonly bindingKind = 'input' as const;
  readonly source: DataSource;
  readonly mode: DeliveryMode;
  readonly #name: string | undefined;

  constructor(source: DataSource, mode: DeliveryMode, name?: string) {
    if (!isProducedData(source) && !isExternalData(source)) {
      throw new SluiceError(
        'STEP_INVALID',
        `An input binding needs data to bind: PipelineData, an OutputFileDatasetConfig, a DataReference or a dataset; got ${describeValue(source)}.`,
      );
    }
    if (mode !== 'download' && mode !== 'mount') {
      throw new SluiceError(
        'STEP_INVALID',
        `An input is delivered 'download' or 'mount'; got ${JSON.stringify(mode)}.`,
      );
    }
    this.source = source;
    this.mode = mode;
    // an unnamed output is named by its producing step; until then its binding takes the name later
    const unnamed = source instanceof OutputFileDatasetConfig && !source.named;
    this.#name = name === undefined && unnamed ? undefined : checkDataName(name ?? source.name, 'Input');
  }

  /** The input name the consuming step sees. */
  get name(): string {
    return this.#name ?? this.source.name;
  }

  asDownload(): InputBinding {
    return new InputBinding(this.source, 'download', this.name);
  }
  asMount(): InputBinding {
    return new InputBinding(this.source, 'mount', this.name);
  }
  /** Give the input another name in the consuming step (`as_named_input`). */
  asNamedInput(name: string): InputBinding {
    return new InputBinding(this.source, this.mode, name);
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, mode: this.mode, source: this.source.toJSON() };
  }
}

export function isProducedData(value: unknown): value is ProducedData {
  return value instanceof PipelineData || value instanceof OutputFileDatasetConfig;
}

export function isExternalData(value: unknown): value is ExternalData {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { external?: unknown }).external === true &&
    typeof (value as { pathOnDatastore?: unknown }).pathOnDatastore === 'string'
  );
}

export function isInputBinding(value: unknown): value is InputBinding {
  return value instanceof InputBinding;
}

/** What may be listed in a step's `inputs`. */
export type InputLike = InputBinding | DataSource;
/** What may be listed in a step's `outputs`. */
export type OutputLike = ProducedData;

export function toInputBinding(input: InputLike): InputBinding {
  if (input instanceof InputBinding) return input;
  if (isProducedData(input) || isExternalData(input)) {
    // In-place delivery is the default, as in the original SDK.
    return new InputBinding(input, 'mount');
  }
  throw new SluiceError(
    'STEP_INVALID',
    `A step input must be PipelineData, an OutputFileDatasetConfig, a DataReference, a dataset or an input binding; got ${describeValue(input)}.`,
  );
}

function isDatastoreLike(value: unknown): value is DatastoreLike {
  return (
    (typeof value === 'string' && value !== '') ||
    (typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      typeof (value as { name?: unknown }).name === 'string')
  );
}

/** Options must be a plain object; a string or array is a mistake of the caller (say what to pass). */
export function checkOptionsObject(options: unknown, what: string, example: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SluiceError(
      'PIPELINE_INVALID',
      `${what} takes an options object, e.g. ${example}; got ${describeValue(options)}.`,
    );
  }
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return `${typeof value} ${JSON.stringify(value)}`;
}
