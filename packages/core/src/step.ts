import {
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
import type { RunConfiguration } from './environment.js';
import { SluiceError } from './errors.js';
import { isPipelineParameter, type PipelineParameter } from './parameters.js';
import type { StepKindPlugin } from './plugins.js';

/** One argument of a step's command line. */
export type StepArgument = string | number | boolean | PipelineParameter | InputLike | ProducedData;

/** A reference to a named compute target. */
export type ComputeTargetLike = string | { readonly name: string };

/** The options every step kind shares. */
export interface StepBaseOptions {
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
  readonly name: string;
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

export interface DefineStepOptions<Config> extends StepBaseOptions {
  kind: string;
  plugin?: StepKindPlugin<Config>;
  /** Arguments: data and parameters found here are tracked; data must also be listed in inputs/outputs. */
  arguments?: readonly StepArgument[];
  /** Extra values that may hold parameters (e.g. a notebook's parameters). */
  parameterValues?: readonly unknown[];
  config: Config;
}

const STEP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Build a validated StepDefinition; step kinds call this from their constructors. */
export function defineStep<Config>(options: DefineStepOptions<Config>): StepDefinition<Config> {
  const { name } = options;
  if (typeof name !== 'string' || !STEP_NAME.test(name)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step name ${JSON.stringify(name)} is not valid: use letters, digits, '_', '.', '-'.`,
    );
  }
  if (typeof options.kind !== 'string' || options.kind === '') {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${name}" needs a kind: the id of the step kind that runs it.`,
    );
  }
  const inputs = (options.inputs ?? []).map((input) => {
    try {
      return toInputBinding(input);
    } catch (error) {
      throw new SluiceError('STEP_INVALID', `Step "${name}": ${(error as Error).message}`, { cause: error });
    }
  });
  const outputs = [...(options.outputs ?? [])];
  for (const output of outputs) {
    if (!isProducedData(output)) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}": an output must be PipelineData or an OutputFileDatasetConfig; got ${describeValue(output)}.`,
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

  const parameters = new Map<PipelineParameter, true>();
  const collect = (value: unknown): void => {
    if (isPipelineParameter(value)) parameters.set(value, true);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      Object.values(value).forEach(collect);
    }
  };
  for (const argument of options.arguments ?? []) {
    collect(argument);
    if (isInputBinding(argument) || isProducedData(argument) || isExternalData(argument)) {
      const listed =
        (isProducedData(argument) && outputs.includes(argument)) ||
        inputs.some((input) =>
          isInputBinding(argument) ? input.source === argument.source : input.source === argument,
        );
      if (!listed) {
        throw new SluiceError(
          'STEP_INVALID',
          `Step "${name}": argument data "${argument.name}" is not among the step's inputs or outputs; list it there too.`,
        );
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
  (options.parameterValues ?? []).forEach(collect);

  const runAfter = [...(options.runAfter ?? [])];
  for (const other of runAfter) {
    if (!other || typeof other.name !== 'string' || typeof other.kind !== 'string') {
      throw new SluiceError('STEP_INVALID', `Step "${name}": runAfter must list steps.`);
    }
  }
  const computeTarget =
    options.computeTarget === undefined
      ? undefined
      : typeof options.computeTarget === 'string'
        ? options.computeTarget
        : options.computeTarget.name;

  return Object.freeze({
    name,
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
