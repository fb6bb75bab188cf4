import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Environment, PipelineParameter, isSluiceError } from '@sluice/core';
import { PythonScriptStep, type pythonScriptStep } from '../index.js';
import { PYTHON_MODULE_DIR, executionContext, harnessCompute, tempDir } from './helpers.js';

/** A step running `script` (written to a fresh source directory) with the given arguments. */
async function scriptStep(
  script: string,
  options: { arguments?: PythonScriptStep['config']['arguments']; timeoutSeconds?: number } = {},
): Promise<PythonScriptStep> {
  const sourceDirectory = await tempDir();
  await writeFile(path.join(sourceDirectory, 'main.py'), script);
  return new PythonScriptStep({ name: 'step', scriptName: 'main.py', sourceDirectory, ...options });
}

describe('execute()', () => {
  it('runs the script with resolved arguments in the source directory and streams its output', async () => {
    const rate = new PipelineParameter({ name: 'rate', defaultValue: 0.1 });
    const step = await scriptStep(
      `
import json, os, sys
print(json.dumps({
    "argv": sys.argv,
    "cwd": os.getcwd(),
    "data": open("data.txt").read(),
    "env": {key: os.environ.get(key) for key in ["SLUICE_CONTEXT", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "GREETING"]},
}))
print("to stderr", file=sys.stderr)
`,
      { arguments: ['--rate', rate, '--epochs', 3, true] },
    );
    await writeFile(path.join(step.sourceDirectory, 'data.txt'), 'local file');
    const environment = new Environment({
      name: 'env',
      environmentVariables: { GREETING: 'hello', PYTHONPATH: '/opt/lib' },
    });
    const { context, logs } = executionContext(step, { parameters: { rate: 0.5 }, environment });

    const result = await step.plugin!.execute(context);

    expect(result).toEqual({ status: 'Finished', exitCode: 0 });
    expect(JSON.parse(logs.stdout.join(''))).toEqual({
      argv: ['main.py', '--rate', '0.5', '--epochs', '3', 'true'],
      cwd: step.sourceDirectory,
      data: 'local file',
      env: {
        SLUICE_CONTEXT: context.contextFile,
        PYTHONPATH: `${PYTHON_MODULE_DIR}${path.delimiter}/opt/lib`,
        PYTHONUNBUFFERED: '1',
        PYTHONDONTWRITEBYTECODE: '1',
        GREETING: 'hello',
      },
    });
    expect(logs.stderr.join('')).toBe('to stderr\n');
    expect(logs.info).toEqual(['Running python3 main.py --rate 0.5 --epochs 3 true']);
  });

  it('gives the script the run context through the sluice module', async () => {
    const step = await scriptStep(`
from sluice import Run
run = Run.get_context()
run.log("step", run.name)
`);
    const { context } = executionContext(step);
    const metricsFile = path.join(step.sourceDirectory, 'metrics.jsonl');
    await writeFile(
      context.contextFile,
      JSON.stringify({
        format: 1,
        runId: context.runId,
        stepRunId: context.stepRunId,
        stepName: step.name,
        experimentName: context.experimentName,
        workspaceName: context.workspaceName,
        parameters: {},
        inputs: {},
        outputs: {},
        metricsFile,
      }),
    );

    expect(await step.plugin!.execute(context)).toEqual({ status: 'Finished', exitCode: 0 });
    expect(JSON.parse(await readFile(metricsFile, 'utf8'))).toMatchObject({ name: 'step', value: 'step' });
  });

  it('fails with the exit code', async () => {
    const step = await scriptStep('import sys\nprint("bad input", file=sys.stderr)\nsys.exit(3)\n');
    const { context, logs } = executionContext(step);

    expect(await step.plugin!.execute(context)).toEqual({
      status: 'Failed',
      exitCode: 3,
      error: 'python exited with code 3',
    });
    expect(logs.stderr.join('')).toBe('bad input\n');
  });

  it.skipIf(process.platform === 'win32')('fails with the signal that killed the script', async () => {
    const step = await scriptStep('import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n');
    const { context } = executionContext(step);

    expect(await step.plugin!.execute(context)).toEqual({
      status: 'Failed',
      exitCode: null,
      error: 'killed by signal SIGKILL',
    });
  });

  it('fails when the script runs past timeoutSeconds', async () => {
    const step = await scriptStep('import time\ntime.sleep(30)\n', { timeoutSeconds: 0.5 });
    const { context } = executionContext(step);

    const result = await step.plugin!.execute(context);

    expect(result).toMatchObject({ status: 'Failed', error: 'timed out after 0.5s' });
  });

  it("runs the interpreter of the step's materialised environment", async () => {
    const venv = path.join(await tempDir(), 'venv');
    execFileSync('python3', ['-m', 'venv', '--without-pip', venv]);
    const step = await scriptStep('import sys\nprint(sys.prefix)\n');
    const interpreter = path.join(venv, 'bin', 'python');
    const { context, logs } = executionContext(step, {
      environment: new Environment({ name: 'built', pip: ['tinypkg'] }),
      python: { interpreter, version: '3', packages: [] },
    });
    expect(await step.plugin!.execute(context)).toMatchObject({ status: 'Finished' });
    expect(logs.stdout.join('')).toBe(`${venv}\n`);
    expect(logs.info[0]).toContain(interpreter);
  });

  it('is canceled through the signal', async () => {
    const step = await scriptStep('import time\nprint("started")\ntime.sleep(30)\n');
    const controller = new AbortController();
    const { context } = executionContext(step, {
      signal: controller.signal,
      logs: { stdout: () => controller.abort(), stderr: () => {}, info: () => {} },
    });

    expect(await step.plugin!.execute(context)).toMatchObject({ status: 'Canceled' });
  });

  it.each(['reject', 'resolve'] as const)(
    'explains an interpreter that cannot start (compute reports it by %s)',
    async (spawnErrors) => {
      const step = await scriptStep('print("never")\n');
      const environment = new Environment({ name: 'broken', python: { interpreter: '/no/such/python3' } });
      const { context } = executionContext(step, { environment, compute: harnessCompute(spawnErrors) });

      const result = await step.plugin!.execute(context);

      expect(result).toMatchObject({ status: 'Failed', exitCode: null });
      expect(result.error).toMatch(/could not start the Python interpreter "\/no\/such\/python3"/);
      expect(result.error).toMatch(/set the step environment's python\.interpreter/);
    },
  );

  it('needs a compute target that runs processes', async () => {
    const step = await scriptStep('print("never")\n');
    const { context } = executionContext(step, {
      compute: { name: 'remote', kind: 'api', describe: () => ({}) },
    });

    const error = await step.plugin!.execute(context).catch((caught: unknown) => caught);

    expect(isSluiceError(error, 'STEP_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/compute target "remote" \(api\) cannot run processes/);
  });

  const built = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
  it.skipIf(!existsSync(built))(
    'puts the shipped sluice module on PYTHONPATH from the built package',
    async () => {
      const { pythonScriptStep: builtPlugin } = (await import(pathToFileURL(built).href)) as {
        pythonScriptStep: typeof pythonScriptStep;
      };
      const step = await scriptStep('import sluice\nprint(sluice.__file__)\n');
      const { context, logs } = executionContext(step);

      expect(await builtPlugin().execute(context)).toEqual({ status: 'Finished', exitCode: 0 });
      expect(logs.stdout.join('').trim()).toBe(path.join(PYTHON_MODULE_DIR, 'sluice', '__init__.py'));
    },
  );
});
