import path from 'node:path';
import {
  SluiceError,
  defineStep,
  isPipelineParameter,
  type ComputeTargetLike,
  type StepBaseOptions,
  Step,
} from '@sluice/core';
import { adlaStep, type AdlaParamValue, type AdlaStepConfig } from './plugin.js';
import { PLACEHOLDER_NAME } from './script.js';

export interface AdlaStepOptions extends Omit<
  StepBaseOptions,
  'name' | 'runConfig' | 'computeTarget' | 'sourceDirectory'
> {
  /** The step's name as people read it; the script's name when omitted. */
  name?: string;
  /** The U-SQL script (`.usql`), relative to `sourceDirectory`. */
  scriptName: string;
  /** The folder holding the script; snapshotted and hashed for reuse. */
  sourceDirectory: string;
  /** Values for `@@name@@` placeholders of the script besides the inputs and outputs. */
  params?: Record<string, AdlaParamValue>;
  /** Analytics units for the job (default 1). */
  degreeOfParallelism?: number;
  /** Lower runs sooner; the service's default is 1000. */
  priority?: number;
  /** The U-SQL runtime version; the account's default when not given. */
  runtimeVersion?: string;
  /** The Data Lake Analytics compute target (see `attachAdlaCompute`). */
  computeTarget: ComputeTargetLike;
}

const plugin = adlaStep();

/**
 * A step that runs a U-SQL script as an Azure Data Lake Analytics job, like Azure ML's `AdlaStep`. In the
 * script, `@@name@@` stands for the location of an input or output of that name, or the value of a param.
 */
export class AdlaStep extends Step<AdlaStepConfig> {
  declare readonly sourceDirectory: string;

  constructor(options: AdlaStepOptions) {
    const { scriptName, sourceDirectory, runtimeVersion } = options;
    // named after its script when no name is given, as in the original SDK
    const name = options.name ?? (typeof scriptName === 'string' ? scriptName : 'AdlaStep');
    checkScriptName(name, scriptName);
    if (typeof sourceDirectory !== 'string' || sourceDirectory.trim() === '') {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}" needs a sourceDirectory: the folder holding ${JSON.stringify(scriptName)}.`,
      );
    }
    if (options.computeTarget === undefined || options.computeTarget === null) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}" needs a computeTarget: the name of a Data Lake Analytics compute target (see attachAdlaCompute).`,
      );
    }
    const degreeOfParallelism = positiveInteger(name, 'degreeOfParallelism', options.degreeOfParallelism, 1);
    const priority = positiveInteger(name, 'priority', options.priority, 1000);
    if (
      runtimeVersion !== undefined &&
      (typeof runtimeVersion !== 'string' || runtimeVersion.trim() === '')
    ) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}": runtimeVersion, when given, must be a runtime name such as 'release_20190318'.`,
      );
    }
    const params = checkParams(name, options.params ?? {});

    const resolvedSourceDirectory = path.resolve(sourceDirectory);
    const step = defineStep<AdlaStepConfig>({
      kind: plugin.kind,
      plugin,
      name,
      inputs: options.inputs,
      outputs: options.outputs,
      computeTarget: options.computeTarget,
      sourceDirectory: resolvedSourceDirectory,
      allowReuse: options.allowReuse,
      runAfter: options.runAfter,
      parameterValues: [params],
      config: Object.freeze({
        scriptName,
        params,
        degreeOfParallelism,
        priority,
        ...(runtimeVersion === undefined ? {} : { runtimeVersion }),
      }),
    });
    const dataNames = new Set([
      ...step.inputs.map((input) => input.name),
      ...step.outputs.map((output) => output.outputName),
    ]);
    for (const param of Object.keys(params)) {
      if (dataNames.has(param)) {
        throw new SluiceError(
          'STEP_INVALID',
          `Step "${name}": "${param}" names both a param and an input or output, so @@${param}@@ would be ambiguous; rename one of them.`,
        );
      }
    }
    super(step);
  }
}

function checkScriptName(step: string, scriptName: unknown): asserts scriptName is string {
  if (typeof scriptName !== 'string' || scriptName.trim() === '') {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}" needs a scriptName: the U-SQL script's path relative to sourceDirectory, e.g. 'process.usql'.`,
    );
  }
  if (path.posix.isAbsolute(scriptName) || path.win32.isAbsolute(scriptName)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": scriptName ${JSON.stringify(scriptName)} is absolute; give it relative to sourceDirectory and set sourceDirectory to the script's folder.`,
    );
  }
  if (scriptName.split(/[\\/]/).includes('..')) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": scriptName ${JSON.stringify(scriptName)} leaves sourceDirectory with '..'; move the script into sourceDirectory or widen sourceDirectory.`,
    );
  }
  if (!/\.usql$/i.test(scriptName)) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": scriptName ${JSON.stringify(scriptName)} is not a U-SQL script; an AdlaStep runs a .usql file.`,
    );
  }
}

function positiveInteger(step: string, option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": ${option} must be a whole number ≥ 1; got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

function checkParams(step: string, params: unknown): Readonly<Record<string, AdlaParamValue>> {
  if (!params || typeof params !== 'object' || Array.isArray(params)) {
    throw new SluiceError('STEP_INVALID', `Step "${step}": params must be an object of name → value.`);
  }
  const checked: Record<string, AdlaParamValue> = {};
  for (const [name, value] of Object.entries(params)) {
    if (!PLACEHOLDER_NAME.test(name)) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${step}": param name ${JSON.stringify(name)} cannot be written as @@name@@; use letters, digits, '_', '.', '-'.`,
      );
    }
    const ok =
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      isPipelineParameter(value);
    if (!ok) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${step}": param "${name}" must be a string, a finite number, a boolean or a PipelineParameter.`,
      );
    }
    checked[name] = value as AdlaParamValue;
  }
  return Object.freeze(checked);
}
