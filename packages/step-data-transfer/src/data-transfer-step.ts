import {
  OutputFileDatasetConfig,
  PipelineData,
  SluiceError,
  defineStep,
  isExternalData,
  isInputBinding,
  isProducedData,
  toInputBinding,
  type ComputeTargetLike,
  type InputBinding,
  type InputLike,
  type ProducedData,
  type StepDefinition,
  Step,
} from '@sluice/core';
import { dataTransferStep, type DataTransferConfig, type ReferenceType } from './plugin.js';
import { normalisePath } from './paths.js';

export interface DataTransferStepOptions {
  /** The step's name, unique within the pipeline. */
  name: string;
  /**
   * What to copy: a DataReference (`ws.datastore('raw').path('iris.csv')`), a file dataset with one path,
   * the PipelineData or OutputFileDatasetConfig of an upstream step, or an input binding of one of them.
   */
  sourceDataReference: InputLike;
  /**
   * Where the copy goes: a PipelineData, or an OutputFileDatasetConfig with a destination
   * (`[datastore, 'copies/{run-id}']`). Default: a PipelineData named `<name>_output` on the default datastore.
   */
  destinationDataReference?: ProducedData;
  /** Whether the source is a file or a folder; found out when the step runs when not given. */
  sourceReferenceType?: ReferenceType;
  /** Whether the destination is the copied file itself or a folder; default 'directory'. */
  destinationReferenceType?: ReferenceType;
  /** Where the step runs; it needs no processes, so any compute target does (default: local). */
  computeTarget?: ComputeTargetLike;
  /** Reuse an earlier copy of the same source content (default true). */
  allowReuse?: boolean;
  /** Steps that must finish before this one, beyond those implied by data. */
  runAfter?: StepDefinition[];
}

const plugin = dataTransferStep();

/** Step names as `defineStep` accepts them. */
/** Wildcards in a dataset path. */
const GLOB = /[*?]/;

/**
 * A step that copies a file or folder from one datastore to another (or within one), like Azure ML's
 * `DataTransferStep`. Its output is produced data (`getOutput()`), so downstream steps consume the copy and
 * the step is reused while the source content is unchanged.
 */
export class DataTransferStep extends Step<DataTransferConfig> {
  constructor(options: DataTransferStepOptions) {
    if (!options || typeof options !== 'object') {
      throw new SluiceError(
        'STEP_INVALID',
        'DataTransferStep needs options: { name, sourceDataReference, destinationDataReference? }.',
      );
    }
    const { name } = options;
    // any name core takes ("Copy raw data" too): core keeps it for display and derives the step's id
    if (typeof name !== 'string' || name.trim() === '') {
      throw new SluiceError(
        'STEP_INVALID',
        `Step name ${JSON.stringify(name)} is not valid: give a non-empty name, e.g. 'copy_raw'.`,
      );
    }
    const sourceType = checkReferenceType(name, 'sourceReferenceType', options.sourceReferenceType);
    const destinationType =
      checkReferenceType(name, 'destinationReferenceType', options.destinationReferenceType) ?? 'directory';
    if (sourceType === 'directory' && destinationType === 'file') {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}": a directory source cannot be copied into a file; set destinationReferenceType: 'directory' (the default), or point sourceDataReference at a file.`,
        { details: { step: name } },
      );
    }
    const input = sourceBinding(name, options.sourceDataReference);
    const output = destination(name, options.destinationDataReference);
    checkPaths(name, input, output, sourceType, destinationType);

    const step = defineStep<DataTransferConfig>({
      kind: plugin.kind,
      plugin,
      name,
      inputs: [input],
      outputs: [output],
      ...(options.computeTarget !== undefined ? { computeTarget: options.computeTarget } : {}),
      ...(options.allowReuse !== undefined ? { allowReuse: options.allowReuse } : {}),
      ...(options.runAfter !== undefined ? { runAfter: options.runAfter } : {}),
      config: Object.freeze({
        source: input.name,
        destination: output.outputName,
        ...(sourceType ? { sourceReferenceType: sourceType } : {}),
        destinationReferenceType: destinationType,
      }),
    });
    super(step);
  }

  /** The copy, for downstream steps: `inputs: [transfer.getOutput()]` (or `.asDownload()`, `.asMount()`). */
  getOutput(): ProducedData {
    return this.outputs[0]!;
  }
}

function checkReferenceType(step: string, option: string, value: unknown): ReferenceType | undefined {
  if (value === undefined || value === 'file' || value === 'directory') return value;
  throw new SluiceError(
    'STEP_INVALID',
    `Step "${step}": ${option} must be 'file' or 'directory'; got ${JSON.stringify(value)}.`,
    { details: { step, option } },
  );
}

function sourceBinding(step: string, value: unknown): InputBinding {
  if (!isInputBinding(value) && !isProducedData(value) && !isExternalData(value)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}" needs a sourceDataReference: a DataReference (ws.datastore('name').path('folder')), a file dataset, or the PipelineData / OutputFileDatasetConfig of an upstream step; got ${describe(value)}.`,
      { details: { step } },
    );
  }
  const binding = toInputBinding(value);
  const source = binding.source as { bindingKind: string; paths?: unknown };
  if (source.bindingKind === 'tabular-dataset') {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": a tabular dataset is a table read from files, not files to copy; use Dataset.File.fromFiles() over the same paths as the source.`,
      { details: { step } },
    );
  }
  if (Array.isArray(source.paths)) {
    const paths = source.paths as ReadonlyArray<{ path: string }>;
    if (paths.length !== 1 || GLOB.test(paths[0]!.path)) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${step}": the source dataset has ${paths.length === 1 ? 'a wildcard path' : `${paths.length} paths`}; a data transfer copies one file or folder. Give a dataset of one file or folder, or one DataTransferStep per path.`,
        { details: { step } },
      );
    }
  }
  return binding;
}

function destination(step: string, value: unknown): ProducedData {
  if (value === undefined) return new PipelineData(outputName(step));
  if (isProducedData(value)) return value;
  if (isExternalData(value)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": destinationDataReference "${value.name}" is a reference to existing data, but a step's output must be data the step produces, so that the run can commit and record it. Use new OutputFileDatasetConfig({ name: '${value.name}', destination: [datastore, 'path/{run-id}'] }) to choose where the copy goes, or a PipelineData.`,
      { details: { step } },
    );
  }
  if (isInputBinding(value)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": destinationDataReference is an input binding; pass the PipelineData or OutputFileDatasetConfig itself.`,
      { details: { step } },
    );
  }
  throw new SluiceError(
    'STEP_INVALID',
    `Step "${step}": destinationDataReference must be a PipelineData or an OutputFileDatasetConfig; got ${describe(value)}.`,
    { details: { step } },
  );
}

/** `<step>_output`, made a valid data name ('.' is allowed in step names, not in data names). */
function outputName(step: string): string {
  const base = step.replace(/[^A-Za-z0-9_-]/g, '_');
  return `${/^[A-Za-z_]/.test(base) ? '' : '_'}${base}_output`;
}

/** What can be told from the paths before anything runs. */
function checkPaths(
  step: string,
  input: InputBinding,
  output: ProducedData,
  sourceType: ReferenceType | undefined,
  destinationType: ReferenceType,
): void {
  const source = isExternalData(input.source) ? input.source : undefined;
  const sourcePath = source ? normalisePath(source.pathOnDatastore) : undefined;
  if (sourceType === 'file' && source && (sourcePath === '' || /\/\s*$/.test(source.pathOnDatastore))) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": sourceReferenceType is 'file' but the source path ${JSON.stringify(source.pathOnDatastore)} names a folder; give the file's path, or set sourceReferenceType: 'directory'.`,
      { details: { step } },
    );
  }
  const target = output instanceof OutputFileDatasetConfig ? output.destination : undefined;
  if (destinationType === 'file' && target && /\/\s*$/.test(target.path)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": destinationReferenceType is 'file' but the destination path ${JSON.stringify(target.path)} names a folder; give the file's path (e.g. 'copies/{run-id}/data.csv'), or set destinationReferenceType: 'directory'.`,
      { details: { step } },
    );
  }
  // a fixed destination on the source's own datastore must not be the source or hold it, nor lie inside it
  if (source && sourcePath !== undefined && target && !target.path.includes('{')) {
    if (source.datastore !== undefined && source.datastore === target.datastore) {
      const targetPath = normalisePath(target.path);
      const overlaps =
        targetPath === sourcePath ||
        sourcePath === '' ||
        targetPath === '' ||
        targetPath.startsWith(`${sourcePath}/`) ||
        sourcePath.startsWith(`${targetPath}/`);
      if (overlaps) {
        throw new SluiceError(
          'STEP_INVALID',
          `Step "${step}": the destination ${target.datastore}:${target.path} overlaps the source ${source.datastore}:${source.pathOnDatastore}; copy to a path outside the source, e.g. 'copies/{run-id}'.`,
          { details: { step } },
        );
      }
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}
