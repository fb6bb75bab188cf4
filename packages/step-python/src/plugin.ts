import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SluiceError,
  canonicalArgument,
  type ComputeTarget,
  type ProcessResult,
  type StepArgument,
  type StepExecutionContext,
  type StepExecutionResult,
  type StepKindPlugin,
} from '@sluice/core';
import pkg from '../package.json' with { type: 'json' };

/** The settings a Python script step keeps in its definition. */
export interface PythonScriptConfig {
  /** The script, relative to the step's source directory. */
  readonly scriptName: string;
  /** The command line as given: parameters and data bindings are resolved when the step runs. */
  readonly arguments: readonly StepArgument[];
  readonly timeoutSeconds?: number;
}

/** The `@sluice/core` versions supported: this package's peer dependency range. */
const CORE_RANGE: string = pkg.peerDependencies['@sluice/core'];

/** The folder holding the `sluice` Python module (the same relative path from `src/` and `dist/`). */
const PYTHON_MODULE_DIR = fileURLToPath(new URL('../python', import.meta.url));

/** The step kind that runs Python scripts; `PythonScriptStep` attaches it to every step it builds. */
export function pythonScriptStep(): StepKindPlugin<PythonScriptConfig> {
  return {
    type: 'step',
    kind: 'python-script',
    name: '@sluice/step-python',
    version: pkg.version,
    coreRange: CORE_RANGE,
    reuseVersion: '1',
    // the runtime makes the step's environment ready (built once, or the interpreter as it is) and its
    // resolved lock part of the fingerprint
    pythonEnvironment: true,
    fingerprint: (step) => [
      { name: 'script', value: step.config.scriptName },
      {
        name: 'arguments',
        value: step.config.arguments.map((argument) => canonicalArgument(step, argument)),
      },
    ],
    commandLine: (step) => [step.config.scriptName, ...step.config.arguments],
    validate(step, { sourceDirectory, compute }) {
      if (compute && !compute.runProcess) throw cannotRunProcesses('STEP_INVALID', step.name, compute);
      // the user's folder: what the snapshot the step runs from is taken of
      const folder = step.sourceDirectory ?? sourceDirectory;
      if (sourceDirectory === undefined) {
        throw new SluiceError(
          'SOURCE_DIRECTORY_NOT_FOUND',
          `Step "${step.name}" has no source directory to run "${step.config.scriptName}" from; give it the folder holding the script.`,
          { details: { step: step.name } },
        );
      }
      const script = path.join(sourceDirectory, step.config.scriptName);
      if (!statSync(script, { throwIfNoEntry: false })?.isFile()) {
        throw new SluiceError(
          'SCRIPT_NOT_FOUND',
          `Step "${step.name}": the script "${step.config.scriptName}" is not a file in the source directory ${folder}. Fix scriptName (it is relative to sourceDirectory) or point sourceDirectory at the folder holding the script.`,
          { details: { step: step.name, scriptName: step.config.scriptName, sourceDirectory: folder } },
        );
      }
    },
    execute,
  };
}

async function execute(context: StepExecutionContext<PythonScriptConfig>): Promise<StepExecutionResult> {
  const { step, compute, logs, sourceDirectory } = context;
  if (!compute.runProcess) throw cannotRunProcesses('STEP_FAILED', step.name, compute);
  if (sourceDirectory === undefined) {
    throw new SluiceError(
      'SOURCE_DIRECTORY_NOT_FOUND',
      `Step "${step.name}" was given no source directory to run "${step.config.scriptName}" from.`,
      { details: { step: step.name } },
    );
  }
  const { scriptName, timeoutSeconds } = step.config;
  // the materialised environment's interpreter; without a runtime that gives one, the environment's as is
  const interpreter = context.python?.interpreter ?? context.environment?.python.interpreter ?? 'python3';
  const args = [scriptName, ...step.config.arguments.map((argument) => context.resolveArgument(argument))];
  logs.info(`Running ${[interpreter, ...args].map(quote).join(' ')}`);

  let result: ProcessResult;
  try {
    result = await compute.runProcess(
      {
        command: interpreter,
        args,
        cwd: sourceDirectory,
        env: processEnvironment(context),
        ...(timeoutSeconds === undefined ? {} : { timeoutMs: timeoutSeconds * 1000 }),
      },
      {
        signal: context.signal,
        onStdout: (chunk) => logs.stdout(chunk),
        onStderr: (chunk) => logs.stderr(chunk),
      },
    );
  } catch (error) {
    const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && cause?.code !== 'ENOENT') throw error;
    return { status: 'Failed', exitCode: null, error: notStarted(interpreter) };
  }

  const { exitCode, signal, timedOut, canceled } = result;
  if (canceled) return { status: 'Canceled', exitCode };
  if (timedOut) {
    const limit = timeoutSeconds === undefined ? '' : ` after ${timeoutSeconds}s`;
    return { status: 'Failed', exitCode, error: `timed out${limit}` };
  }
  if (exitCode === 0) return { status: 'Finished', exitCode };
  if (exitCode !== null) return { status: 'Failed', exitCode, error: `python exited with code ${exitCode}` };
  if (signal !== null) return { status: 'Failed', exitCode, error: `killed by signal ${signal}` };
  return { status: 'Failed', exitCode, error: notStarted(interpreter) };
}

/**
 * The script's environment: the one the runtime gives the step (the runner's variables without its secrets,
 * the step environment's variables and secrets), and what the `sluice` module needs.
 */
function processEnvironment(context: StepExecutionContext<PythonScriptConfig>): Record<string, string> {
  const env = context.env;
  const pythonPath = env.PYTHONPATH
    ? `${PYTHON_MODULE_DIR}${path.delimiter}${env.PYTHONPATH}`
    : PYTHON_MODULE_DIR;
  return {
    ...env,
    PYTHONPATH: pythonPath,
    SLUICE_CONTEXT: context.contextFile,
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

/** STEP_INVALID when found at submit, STEP_FAILED when a step gets that far. */
function cannotRunProcesses(
  code: 'STEP_INVALID' | 'STEP_FAILED',
  step: string,
  compute: ComputeTarget,
): SluiceError {
  return new SluiceError(
    code,
    `Step "${step}" runs a Python script, but compute target "${compute.name}" (${compute.kind}) cannot run processes; give the step a compute target that can, such as a local one.`,
    { details: { step, computeTarget: compute.name } },
  );
}

function notStarted(interpreter: string): string {
  return `could not start the Python interpreter "${interpreter}": check that it is installed, or set the step environment's python.interpreter to its full path (new Environment({ name, python: { interpreter: '/path/to/python3' } })).`;
}

/** Quote a command-line word for the log when it holds anything but plain characters. */
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : JSON.stringify(word);
}

/** The plugins of this package, for workspaces that list `@sluice/step-python` in their `plugins`. */
export function sluicePlugins(): [StepKindPlugin<PythonScriptConfig>] {
  return [pythonScriptStep()];
}
