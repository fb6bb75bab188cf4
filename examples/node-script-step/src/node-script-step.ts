import { statSync } from 'node:fs';
import path from 'node:path';
import {
  SluiceError,
  canonicalArgument,
  defineStep,
  type StepArgument,
  type StepBaseOptions,
  type StepExecutionContext,
  type StepExecutionResult,
  type StepKindPlugin,
  Step,
} from '@sluice/core';
import pkg from '../package.json' with { type: 'json' };

/** What a Node.js script step keeps in its definition: plain, JSON-serialisable settings. */
export interface NodeScriptConfig {
  /** The script, relative to the step's source directory. */
  readonly scriptName: string;
  /** The command line as given; parameters and data are resolved when the step runs. */
  readonly arguments: readonly StepArgument[];
}

export interface NodeScriptStepOptions extends StepBaseOptions {
  /** The JavaScript file to run (`.js`, `.mjs` or `.cjs`), relative to `sourceDirectory`. */
  scriptName: string;
  /** The folder holding the script and everything it imports; snapshotted and hashed for reuse. */
  sourceDirectory: string;
  /** The script's command line: strings, numbers, booleans, pipeline parameters and data. */
  arguments?: readonly StepArgument[];
}

/** The step kind's id: the `kind` of every step it runs. */
export const NODE_SCRIPT_KIND = 'node-script';

const RUNNABLE = new Set(['.js', '.mjs', '.cjs']);

/** The step kind that runs JavaScript files with the Node.js that runs Sluice. */
export function nodeScriptStep(): StepKindPlugin<NodeScriptConfig> {
  return {
    type: 'step',
    kind: NODE_SCRIPT_KIND,
    name: pkg.name,
    version: pkg.version,
    // the core versions this plugin supports: its peer dependency range, kept in one place
    coreRange: pkg.peerDependencies['@sluice/core'],
    // bump when a change here changes what steps produce: earlier runs then stop being reused
    reuseVersion: '1',
    // the kind's own parts; the runtime adds the source directory's content, inputs, parameters, …
    fingerprint: (step) => [
      { name: 'script', value: step.config.scriptName },
      {
        name: 'arguments',
        value: step.config.arguments.map((argument) => canonicalArgument(step, argument)),
      },
    ],
    commandLine: (step) => [step.config.scriptName, ...step.config.arguments],
    validate(step, { sourceDirectory }) {
      if (sourceDirectory === undefined) return;
      // checked in the user's folder at submit and in its snapshot before the step runs: name the user's
      const folder = step.sourceDirectory ?? sourceDirectory;
      if (
        !statSync(path.join(sourceDirectory, step.config.scriptName), { throwIfNoEntry: false })?.isFile()
      ) {
        throw new SluiceError(
          'SCRIPT_NOT_FOUND',
          `Step "${step.name}": "${step.config.scriptName}" is not a file in the source directory ${folder}. Fix scriptName (it is relative to sourceDirectory).`,
          { details: { step: step.name, scriptName: step.config.scriptName, sourceDirectory: folder } },
        );
      }
    },
    execute,
  };
}

async function execute(context: StepExecutionContext<NodeScriptConfig>): Promise<StepExecutionResult> {
  const { step, compute, logs, sourceDirectory } = context;
  if (!compute.runProcess) {
    throw new SluiceError(
      'STEP_FAILED',
      `Step "${step.name}" runs a Node.js script, but compute target "${compute.name}" (${compute.kind}) cannot run processes; give the step a compute target that can, such as "local".`,
      { details: { step: step.name, computeTarget: compute.name } },
    );
  }
  if (sourceDirectory === undefined) {
    throw new SluiceError(
      'SOURCE_DIRECTORY_NOT_FOUND',
      `Step "${step.name}" was given no source directory to run "${step.config.scriptName}" from.`,
      { details: { step: step.name } },
    );
  }
  const args = [
    step.config.scriptName,
    ...step.config.arguments.map((argument) => context.resolveArgument(argument)),
  ];
  logs.info(`Running node ${args.join(' ')}`);
  const result = await compute.runProcess(
    {
      command: process.execPath,
      args,
      cwd: sourceDirectory,
      env: {
        // the runner's variables (without its secrets) and the step environment's, as the runtime gives them
        ...context.env,
        // the run context: inputs, outputs, parameters and the metrics file, as JSON
        SLUICE_CONTEXT: context.contextFile,
      },
    },
    {
      signal: context.signal,
      onStdout: (chunk) => logs.stdout(chunk),
      onStderr: (chunk) => logs.stderr(chunk),
    },
  );
  if (result.canceled) return { status: 'Canceled', exitCode: result.exitCode };
  if (result.timedOut) return { status: 'Failed', exitCode: result.exitCode, error: 'timed out' };
  if (result.exitCode === 0) return { status: 'Finished', exitCode: 0 };
  return {
    status: 'Failed',
    exitCode: result.exitCode,
    error:
      result.exitCode === null
        ? `node was killed by signal ${result.signal ?? 'unknown'}`
        : `node exited with code ${result.exitCode}`,
  };
}

const plugin = nodeScriptStep();

/**
 * A step that runs a JavaScript file from a source directory with Node.js, the way `PythonScriptStep`
 * runs a Python script. TypeScript must be compiled first: point `scriptName` at the emitted `.js` file.
 */
export class NodeScriptStep extends Step<NodeScriptConfig> {
  declare readonly sourceDirectory: string;

  constructor(options: NodeScriptStepOptions) {
    const { name, scriptName, sourceDirectory } = options;
    checkScriptName(name, scriptName);
    if (typeof sourceDirectory !== 'string' || sourceDirectory.trim() === '') {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${name}" needs a sourceDirectory: the folder holding ${JSON.stringify(scriptName)}.`,
      );
    }
    const args = Object.freeze([...(options.arguments ?? [])]);
    // defineStep checks the name, inputs, outputs and arguments, and finds the parameters used
    const step = defineStep<NodeScriptConfig>({
      ...options,
      kind: plugin.kind,
      plugin,
      sourceDirectory: path.resolve(sourceDirectory),
      arguments: args,
      config: Object.freeze({ scriptName, arguments: args }),
    });
    super(step);
  }
}

function checkScriptName(step: string, scriptName: unknown): asserts scriptName is string {
  if (typeof scriptName !== 'string' || scriptName.trim() === '') {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}" needs a scriptName: the script's path relative to sourceDirectory, e.g. 'summarise.mjs'.`,
    );
  }
  if (path.isAbsolute(scriptName) || scriptName.split(/[\\/]/).includes('..')) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step}": scriptName ${JSON.stringify(scriptName)} must be relative to sourceDirectory and stay inside it.`,
    );
  }
  const extension = path.extname(scriptName);
  if (!RUNNABLE.has(extension)) {
    throw new SluiceError(
      'STEP_INVALID',
      ['.ts', '.mts', '.cts'].includes(extension)
        ? `Step "${step}": ${scriptName} is TypeScript; compile it first (tsc) and give the emitted .js file as scriptName.`
        : `Step "${step}": ${scriptName} is not a JavaScript file; give a .js, .mjs or .cjs file.`,
    );
  }
}
