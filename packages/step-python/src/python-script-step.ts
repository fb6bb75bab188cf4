import path from 'node:path';
import { SluiceError, defineStep, type StepArgument, type StepBaseOptions, Step } from '@sluice/core';
import { pythonScriptStep, type PythonScriptConfig } from './plugin.js';

export interface PythonScriptStepOptions extends Omit<StepBaseOptions, 'name'> {
  /** The step's name as people read it (spaces are fine); the script's name when omitted. */
  name?: string;
  /** The script to run, relative to `sourceDirectory`. */
  scriptName: string;
  /** The folder holding the script and everything it imports; snapshotted and hashed for reuse. */
  sourceDirectory: string;
  /** The script's command line: strings, numbers, booleans, pipeline parameters and data bindings. */
  arguments?: readonly StepArgument[];
  /** Kill the script after this many seconds. */
  timeoutSeconds?: number;
  /** @deprecated Ignored: every file in `sourceDirectory` is hashed. */
  hashPaths?: readonly string[];
}

const plugin = pythonScriptStep();
let hashPathsWarned = false;

/** A step that runs a Python script from a source directory, like Azure ML's `PythonScriptStep`. */
export class PythonScriptStep extends Step<PythonScriptConfig> {
  declare readonly sourceDirectory: string;

  constructor(options: PythonScriptStepOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new SluiceError(
        'STEP_INVALID',
        "PythonScriptStep takes an options object, e.g. new PythonScriptStep({ scriptName: 'train.py', sourceDirectory: './src' }).",
      );
    }
    const { scriptName, sourceDirectory, timeoutSeconds } = options;
    // named after its script when no name is given, as in the original SDK
    const name = options.name ?? (typeof scriptName === 'string' ? scriptName : undefined);
    checkScriptName(name ?? 'PythonScriptStep', scriptName);
    if (typeof sourceDirectory !== 'string' || sourceDirectory.trim() === '') {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}" needs a sourceDirectory: the folder holding ${JSON.stringify(scriptName)}.`,
      );
    }
    if (
      timeoutSeconds !== undefined &&
      (typeof timeoutSeconds !== 'number' || !Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
    ) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}": timeoutSeconds must be a positive number of seconds; got ${JSON.stringify(timeoutSeconds)}.`,
      );
    }
    if (options.hashPaths !== undefined && !hashPathsWarned) {
      hashPathsWarned = true;
      process.emitWarning(
        'PythonScriptStep hashPaths is deprecated and ignored: every file in the source directory is hashed for reuse. Use a .amlignore or .gitignore file to leave files out.',
        { type: 'DeprecationWarning', code: 'SLUICE_HASH_PATHS' },
      );
    }

    if (options.arguments !== undefined && !Array.isArray(options.arguments)) {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}": arguments must be an array, e.g. ['--input', data, '--rate', rate].`,
      );
    }
    const args = Object.freeze([...(options.arguments ?? [])]);
    const resolvedSourceDirectory = path.resolve(sourceDirectory);
    const step = defineStep<PythonScriptConfig>({
      kind: plugin.kind,
      plugin,
      name,
      inputs: options.inputs,
      outputs: options.outputs,
      computeTarget: options.computeTarget,
      runConfig: options.runConfig,
      sourceDirectory: resolvedSourceDirectory,
      allowReuse: options.allowReuse,
      runAfter: options.runAfter,
      arguments: args,
      config: Object.freeze({ scriptName, arguments: args, timeoutSeconds }),
    });
    super(step);
  }
}

function checkScriptName(step: string, scriptName: unknown): void {
  if (typeof scriptName !== 'string' || scriptName.trim() === '') {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}" needs a scriptName: the script's path relative to sourceDirectory, e.g. 'train.py'.`,
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
}
