// A minimal step kind that runs Python code in the step's materialised environment, for the runtime's own
// tests (in the test process and in runner processes alike). `@sluice/step-python` is the real one.
export const pythonCodePlugin = {
  type: 'step',
  kind: 'test-python-code',
  name: 'runtime-tests',
  version: '1.0.0',
  coreRange: '^0.1.0',
  reuseVersion: '1',
  pythonEnvironment: true,
  fingerprint: (step) => [{ name: 'code', value: step.config.code }],
  async execute(ctx) {
    const result = await ctx.compute.runProcess(
      { command: ctx.python.interpreter, args: ['-c', ctx.step.config.code], cwd: ctx.workDir, env: ctx.env },
      { signal: ctx.signal, onStdout: ctx.logs.stdout, onStderr: ctx.logs.stderr },
    );
    if (result.exitCode === 0) return { status: 'Finished', exitCode: 0 };
    return {
      status: 'Failed',
      exitCode: result.exitCode,
      error: `python exited with code ${result.exitCode}`,
    };
  },
};

/** A step of that kind, built with core's defineStep. */
export function pythonCodeStep(defineStep, { name, code, environment, runConfiguration }) {
  return defineStep({
    kind: pythonCodePlugin.kind,
    plugin: pythonCodePlugin,
    name,
    config: { code },
    ...(environment ? { runConfig: new runConfiguration({ environment }) } : {}),
  });
}
