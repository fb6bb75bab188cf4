// A minimal step kind for the runtime's own tests: runs a Node.js script as a subprocess through the
// compute target. It is a real plugin (same contract as PythonScriptStep), kept here so the runtime is
// tested without depending on a step package.
import {
  canonicalArgument,
  defineStep,
  type InputLike,
  type OutputLike,
  type RunConfiguration,
  type StepArgument,
  type StepDefinition,
  type StepKindPlugin,
} from '@sluice/core';

export interface NodeStepConfig {
  script: string;
  arguments: StepArgument[];
  timeoutSeconds?: number;
}

export const nodeStepPlugin: StepKindPlugin<NodeStepConfig> = {
  type: 'step',
  kind: 'test-node-script',
  name: 'runtime-tests',
  version: '1.0.0',
  coreRange: '^0.1.0',
  reuseVersion: '1',
  fingerprint: (step) => [
    { name: 'script', value: step.config.script },
    { name: 'arguments', value: step.config.arguments.map((a) => canonicalArgument(step, a)) },
  ],
  commandLine: (step) => [step.config.script, ...step.config.arguments],
  async execute(ctx) {
    const result = await ctx.compute.runProcess!(
      {
        command: process.execPath,
        args: [ctx.step.config.script, ...ctx.step.config.arguments.map(ctx.resolveArgument)],
        cwd: ctx.sourceDirectory!,
        env: { PATH: process.env.PATH ?? '', SLUICE_CONTEXT: ctx.contextFile },
        ...(ctx.step.config.timeoutSeconds ? { timeoutMs: ctx.step.config.timeoutSeconds * 1000 } : {}),
      },
      { signal: ctx.signal, onStdout: ctx.logs.stdout, onStderr: ctx.logs.stderr },
    );
    if (result.exitCode === 0) return { status: 'Finished', exitCode: 0 };
    if (result.canceled) return { status: 'Canceled' };
    return {
      status: 'Failed',
      exitCode: result.exitCode,
      error: result.timedOut ? 'timed out' : `exited with code ${result.exitCode}`,
    };
  },
};

export function nodeStep(options: {
  name: string;
  script: string;
  sourceDirectory: string;
  arguments?: StepArgument[];
  inputs?: InputLike[];
  outputs?: OutputLike[];
  allowReuse?: boolean;
  runAfter?: StepDefinition[];
  computeTarget?: string;
  runConfig?: RunConfiguration;
  timeoutSeconds?: number;
}): StepDefinition<NodeStepConfig> {
  return defineStep({
    kind: nodeStepPlugin.kind,
    plugin: nodeStepPlugin,
    name: options.name,
    sourceDirectory: options.sourceDirectory,
    arguments: options.arguments ?? [],
    ...(options.inputs ? { inputs: options.inputs } : {}),
    ...(options.outputs ? { outputs: options.outputs } : {}),
    ...(options.allowReuse !== undefined ? { allowReuse: options.allowReuse } : {}),
    ...(options.runAfter ? { runAfter: options.runAfter } : {}),
    ...(options.computeTarget ? { computeTarget: options.computeTarget } : {}),
    ...(options.runConfig ? { runConfig: options.runConfig } : {}),
    config: {
      script: options.script,
      arguments: options.arguments ?? [],
      ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}),
    },
  });
}
