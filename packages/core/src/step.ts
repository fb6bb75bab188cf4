import {
  OutputFileDatasetConfig,
  describeValue,
  isExternalData,
  isInputBinding,
  isProducedData,
  toInputBinding,
  type InputBinding,
  type InputLike,
  type OutputLike,
  type ProducedData,
} from './bindings.js';
import { RunConfiguration } from './environment.js';
import { SluiceError } from './errors.js';
import { isPipelineParameter, type PipelineParameter } from './parameters.js';
import type { StepKindPlugin } from './plugins.js';

/** One argument of a step's command line. */
export type StepArgument = string | number | boolean | PipelineParameter | InputLike | ProducedData;

/** A reference to a named compute target. */
export type ComputeTargetLike = string | { readonly name: string };

/** The options every step kind shares. */
export interface StepBaseOptions {
  /**
   * The step's name as people read it (`"Hello World"` is fine). Records, logs and the CLI address the
   * step by a safe id derived from it. Step kinds may make it optional (a Python step defaults it to its
   * script name).
   */
  name: string;
  inputs?: InputLike[];
  outputs?: OutputLike[];
  computeTarget?: ComputeTargetLike;
  runConfig?: RunConfiguration;
  sourceDirectory?: string;
  allowReuse?: boolean;
  /** Steps that must finish before this one, beyond those implied by data. */
  runAfter?: StepDefinition[];
}

/**
 * A step as the pipeline sees it. Step kinds (plugins) create these; the `config` is the kind's own,
 * JSON-serialisable settings.
 */
export interface StepDefinition<Config = unknown> {
  /** The step's id: letters, digits, '_', '.', '-'; unique within a pipeline. */
  readonly name: string;
  /** The name as given (it may hold spaces); the id when omitted. */
  readonly displayName?: string;
  readonly kind: string;
  /** The plugin that runs this kind; registered automatically on first submit when not yet registered. */
  readonly plugin: StepKindPlugin<Config> | undefined;
  readonly inputs: readonly InputBinding[];
  readonly outputs: readonly ProducedData[];
  /** Every pipeline parameter the step uses (in arguments or config). */
  readonly parameters: readonly PipelineParameter[];
  readonly computeTarget: string | undefined;
  readonly runConfig: RunConfiguration | undefined;
  readonly sourceDirectory: string | undefined;
  readonly allowReuse: boolean;
  readonly runAfter: readonly StepDefinition[];
  readonly config: Config;
}

export interface DefineStepOptions<Config> extends Omit<StepBaseOptions, 'name'> {
  /** The step's name as people read it; `defaultName` when omitted. */
  name?: string;
  kind: string;
  /** The name to use when `name` is not given (a script's name, …). */
  defaultName?: string;
  /** The step's id; derived from the name when omitted (`"Hello World"` → `Hello_World`). */
  id?: string;
  plugin?: StepKindPlugin<Config>;
  /**
   * Arguments: parameters found here are tracked; data found here and not in inputs/outputs is added to
   * them (bindings and external data as inputs, produced data as an output).
   */
  arguments?: readonly StepArgument[];
  /** Extra values that may hold parameters (e.g. a notebook's parameters). */
  parameterValues?: readonly unknown[];
  config: Config;
}

const STEP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * The safe id of a step name: the name itself when it is one, else its runs of other characters become
 * '_' (`"Hello World"` → `Hello_World`, `"Prepare (v2)"` → `Prepare_v2`). The same name always gives the
 * same id.
 */
export function stepId(displayName: string): string {
  if (STEP_NAME.test(displayName)) return displayName;
  const id = displayName
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .replace(/^[_.-]+|_+$/g, '');
  return id === '' ? 'step' : id;
}

/** A step's name as people read it. */
export function stepDisplayName(step: Pick<StepDefinition, 'name' | 'displayName'>): string {
  return step.displayName ?? step.name;
}

/** Build a validated StepDefinition; step kinds call this from their constructors. */
export function defineStep<Config>(options: DefineStepOptions<Config>): StepDefinition<Config> {
  if (typeof options !== 'object' || options === null) {
    throw new SluiceError('STEP_INVALID', `A step takes an options object; got ${describeValue(options)}.`);
  }
  const displayName = options.name ?? options.defaultName;
  if (typeof displayName !== 'string' || displayName.trim() === '' || hasControlCharacter(displayName)) {
    throw new SluiceError(
      'STEP_INVALID',
      displayName === undefined
        ? 'A step needs a name, e.g. { name: "train" } (names may hold spaces: "Train model").'
        : `Step name ${JSON.stringify(displayName)} is not valid: give a non-empty name without control characters.`,
    );
  }
  const name = options.id ?? stepId(displayName);
  if (typeof name !== 'string' || !STEP_NAME.test(name)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step id ${JSON.stringify(name)} is not valid: use letters, digits, '_', '.', '-'.`,
    );
  }
  if (typeof options.kind !== 'string' || options.kind === '') {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${name}" needs a kind: the id of the step kind that runs it.`,
    );
  }
  const inputs = listOf<InputLike>(options.inputs, 'inputs', name).map((input) => {
    try {
      return toInputBinding(input);
    } catch (error) {
      throw new SluiceError('STEP_INVALID', `Step "${name}": ${(error as Error).message}`, { cause: error });
    }
  });
  const outputs = [...listOf<OutputLike>(options.outputs, 'outputs', name)];
  for (const output of outputs) {
    if (!isProducedData(output)) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}": an output must be PipelineData or an OutputFileDatasetConfig; got ${describeValue(output)}.`,
      );
    }
  }

  const parameters = new Map<PipelineParameter, true>();
  const collect = (value: unknown): void => {
    if (isPipelineParameter(value)) parameters.set(value, true);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      Object.values(value).forEach(collect);
    }
  };
  const args: unknown = options.arguments ?? [];
  if (!Array.isArray(args)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${name}": arguments must be an array, e.g. ['--input', data, '--rate', rate]; got ${describeValue(args)}.`,
    );
  }
  // Data given only in the arguments is an input or output too, as in the original SDK: bindings
  // (`asDownload()`, `asInput()`, `asNamedInput()`) and external data are inputs, produced data an output.
  for (const argument of args as StepArgument[]) {
    collect(argument);
    if (isInputBinding(argument) || isExternalData(argument)) {
      const source = isInputBinding(argument) ? argument.source : argument;
      if (isProducedData(source) && outputs.includes(source)) {
        throw new SluiceError(
          'STEP_INVALID',
          `Step "${name}": "${source.name}" is an output of this step; pass it as an argument as it is, not as an input binding.`,
        );
      }
      if (!inputs.some((input) => input.source === source)) inputs.push(toInputBinding(argument));
    } else if (isProducedData(argument)) {
      if (!outputs.includes(argument) && !inputs.some((input) => input.source === argument)) {
        outputs.push(argument);
      }
    } else if (
      typeof argument !== 'string' &&
      typeof argument !== 'number' &&
      typeof argument !== 'boolean' &&
      !isPipelineParameter(argument)
    ) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}": argument ${describeValue(argument)} is not a string, number, boolean, parameter or data binding.`,
      );
    }
  }

  // an output without a name is named after the step, the same on every submission
  let unnamed = 0;
  for (const output of outputs) {
    if (output instanceof OutputFileDatasetConfig && !output.named) {
      unnamed += 1;
      output._nameOnce(
        `${name.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^(?=[0-9-])/, '_')}_output_${unnamed}`,
      );
    }
  }
  for (const input of inputs) {
    if (input.source instanceof OutputFileDatasetConfig && !input.source.named) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}" consumes an OutputFileDatasetConfig that has no name and no producing step yet; build the producing step first, or give the output a name.`,
      );
    }
  }
  const inputNames = new Set<string>();
  for (const input of inputs) {
    if (inputNames.has(input.name)) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}" has two inputs named "${input.name}"; give one another name with asNamedInput().`,
      );
    }
    inputNames.add(input.name);
  }
  const outputNames = new Set<string>();
  for (const output of outputs) {
    if (outputNames.has(output.outputName) || inputNames.has(output.outputName)) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}" uses the name "${output.outputName}" for more than one input or output.`,
      );
    }
    outputNames.add(output.outputName);
  }
  (options.parameterValues ?? []).forEach(collect);

  const runAfter = [...listOf<StepDefinition>(options.runAfter, 'runAfter', name)];
  for (const other of runAfter) {
    if (!other || typeof other.name !== 'string' || typeof other.kind !== 'string') {
      throw new SluiceError('STEP_INVALID', `Step "${name}": runAfter must list steps.`);
    }
  }
  const runConfig: unknown = options.runConfig;
  if (runConfig !== undefined && !(runConfig instanceof RunConfiguration)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${name}": runConfig must be a RunConfiguration, e.g. new RunConfiguration({ environment }); got ${describeValue(runConfig)}.`,
    );
  }
  // the step's own compute target wins; else the run configuration's `target`, as in the original SDK
  const computeTarget = computeTargetName(options.computeTarget ?? options.runConfig?.target, name);

  return Object.freeze({
    name,
    ...(displayName !== name ? { displayName } : {}),
    kind: options.kind,
    plugin: options.plugin,
    inputs: Object.freeze(inputs),
    outputs: Object.freeze(outputs),
    parameters: Object.freeze([...parameters.keys()]),
    computeTarget,
    runConfig: options.runConfig,
    sourceDirectory: options.sourceDirectory,
    allowReuse: options.allowReuse ?? true,
    runAfter: Object.freeze(runAfter),
    config: options.config,
  });
}

function hasControlCharacter(text: string): boolean {
  return [...text].some((char) => char.charCodeAt(0) < 32 || char.charCodeAt(0) === 127);
}

function listOf<T>(value: unknown, field: string, step: string): readonly T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": ${field} must be an array; got ${describeValue(value)}.`,
    );
  }
  return value as T[];
}

function computeTargetName(target: unknown, step: string): string | undefined {
  if (target === undefined || target === null) return undefined;
  const name = typeof target === 'string' ? target : (target as { name?: unknown }).name;
  if (typeof name !== 'string' || name === '') {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": computeTarget must be a compute target or its name, e.g. 'cpu-cluster'; got ${describeValue(target)}.`,
    );
  }
  return name;
}

/**
 * The canonical, location-free form of an argument, used in fingerprints and records: data becomes
 * `{input: name}` / `{output: name}`, a parameter `{parameter: name}`.
 */
export function canonicalArgument(step: StepDefinition, argument: StepArgument): unknown {
  if (isPipelineParameter(argument)) return { parameter: argument.name };
  if (isInputBinding(argument)) {
    const input =
      step.inputs.find((candidate) => candidate === argument) ??
      step.inputs.find((candidate) => candidate.source === argument.source);
    return { input: input?.name ?? argument.name };
  }
  if (isProducedData(argument) && step.outputs.includes(argument)) return { output: argument.outputName };
  if (isProducedData(argument) || isExternalData(argument)) {
    const input = step.inputs.find((candidate) => candidate.source === argument);
    return { input: input?.name ?? argument.name };
  }
  return argument;
}

/**
 * A base for step classes: `class MyStep extends Step<MyConfig>` validates its options, builds a
 * definition with `defineStep`, and passes it to `super`. Instances are frozen StepDefinitions that
 * `new Pipeline({ steps })` accepts directly.
 */
export class Step<Config = unknown> implements StepDefinition<Config> {
  declare readonly name: string;
  declare readonly displayName?: string;
  declare readonly kind: string;
  declare readonly plugin: StepKindPlugin<Config> | undefined;
  declare readonly inputs: readonly InputBinding[];
  declare readonly outputs: readonly ProducedData[];
  declare readonly parameters: readonly PipelineParameter[];
  declare readonly computeTarget: string | undefined;
  declare readonly runConfig: RunConfiguration | undefined;
  declare readonly sourceDirectory: string | undefined;
  declare readonly allowReuse: boolean;
  declare readonly runAfter: readonly StepDefinition[];
  declare readonly config: Config;

  protected constructor(definition: StepDefinition<Config>) {
    Object.assign(this, definition);
    Object.freeze(this);
  }
}
