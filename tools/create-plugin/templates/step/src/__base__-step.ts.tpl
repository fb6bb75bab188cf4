import path from 'node:path';
import {
  SluiceError,
  Step,
  canonicalArgument,
  defineStep,
  type StepArgument,
  type StepBaseOptions,
  type StepExecutionContext,
  type StepExecutionResult,
  type StepKindPlugin,
} from '@sluice/core';
import pkg from '../package.json' with { type: 'json' };

/** What a {{Pascal}}Step keeps in its definition: plain, JSON-serialisable settings. */
export interface {{Pascal}}StepConfig {
  /** The program to run: a name found on PATH, or a path. */
  readonly command: string;
  /** Its command line as given; parameters and data are resolved when the step runs. */
  readonly arguments: readonly StepArgument[];
}

export interface {{Pascal}}StepOptions extends StepBaseOptions {
  /** The program to run: a name found on PATH, or a path. */
  command: string;
  /** Its command line: strings, numbers, booleans, pipeline parameters and data. */
  arguments?: readonly StepArgument[];
}

/** The step kind's id: the `kind` of every step it runs. */
export const {{CONSTANT}}_KIND = '{{kind}}';

/** The step kind that runs a command on the step's compute target. */
export function {{camel}}Step(): StepKindPlugin<{{Pascal}}StepConfig> {
  return {
    type: 'step',
    kind: {{CONSTANT}}_KIND,
    name: pkg.name,
    version: pkg.version,
    coreRange: pkg.peerDependencies['@sluice/core'],
    // bump when a change to this plugin changes what steps produce: earlier runs then stop being reused
    reuseVersion: '1',
    // the kind's own parts; the runtime adds the source directory, inputs, parameters and environment
    fingerprint: (step) => [
      { name: 'command', value: step.config.command },
      {
        name: 'arguments',
        value: step.config.arguments.map((argument) => canonicalArgument(step, argument)),
      },
    ],
    // the command line, checked at submit for arguments no process can take
    commandLine: (step) => [step.config.command, ...step.config.arguments],
    execute,
  };
}

async function execute(context: StepExecutionContext<{{Pascal}}StepConfig>): Promise<StepExecutionResult> {
  const { step, compute, logs } = context;
  if (!compute.runProcess) {
    throw new SluiceError(
      'STEP_FAILED',
      `Step "${step.name}" runs a command, but compute target "${compute.name}" (${compute.kind}) cannot run processes; give the step one that can, such as "local".`,
      { details: { step: step.name, computeTarget: compute.name } },
    );
  }
  const { command } = step.config;
  const args = step.config.arguments.map((argument) => context.resolveArgument(argument));
  logs.info(`Running ${[command, ...args].join(' ')}`);
  const result = await compute.runProcess(
    {
      command,
      args,
      cwd: context.sourceDirectory ?? context.workDir,
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
        ? `${command} was killed by signal ${result.signal ?? 'unknown'}`
        : `${command} exited with code ${result.exitCode}`,
  };
}

const plugin = {{camel}}Step();

/** A pipeline step that runs a command, from `sourceDirectory` when it has one. */
export class {{Pascal}}Step extends Step<{{Pascal}}StepConfig> {
  constructor(options: {{Pascal}}StepOptions) {
    if (typeof options.command !== 'string' || options.command.trim() === '') {
      throw new SluiceError(
        'STEP_INVALID',
        `Step "${options.name}" needs a command: the program to run, e.g. 'wc'.`,
      );
    }
    const args = Object.freeze([...(options.arguments ?? [])]);
    // defineStep checks the name, inputs, outputs and arguments, and finds the parameters used
    const step = defineStep<{{Pascal}}StepConfig>({
      ...options,
      kind: plugin.kind,
      plugin,
      ...(options.sourceDirectory === undefined
        ? {}
        : { sourceDirectory: path.resolve(options.sourceDirectory) }),
      arguments: args,
      config: Object.freeze({ command: options.command, arguments: args }),
    });
    super(step);
  }
}
