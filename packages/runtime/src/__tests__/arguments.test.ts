// Arguments no process can be started with: found at submit (before any row is written) from the command
// line a step kind declares, and refused at spawn by local compute as a coded step failure.
import { Pipeline, PipelineParameter, defineStep, type StepKindPlugin } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { Experiment, LocalComputeTarget, Workspace } from '../index.js';
import { tempDir, writeTree } from './fixtures.js';
import { nodeStep, nodeStepPlugin, type NodeStepConfig } from './node-step.js';

function echoPipeline(argument: string | PipelineParameter, extra: string[] = []): Pipeline {
  const src = writeTree(tempDir(), { 'echo.js': 'console.log(process.argv.length)' });
  return new Pipeline({
    name: 'args',
    steps: [
      nodeStep({ name: 'echo', script: 'echo.js', sourceDirectory: src, arguments: [argument, ...extra] }),
    ],
  });
}

describe('step arguments', () => {
  const text = new PipelineParameter({ name: 'text', defaultValue: 'fine' });

  it.each([
    [
      'a NUL byte in a parameter value',
      { text: 'a\0b' },
      [],
      /argument 2 \(the value of parameter "text"\) holds a NUL byte/,
    ],
    [
      'a 1 MB parameter value',
      { text: 'x'.repeat(1_000_000) },
      [],
      /the value of parameter "text"\) is 1000000 bytes long, but one argument can be at most 131071 bytes/,
    ],
    [
      'arguments over 1 MiB in all',
      {},
      Array.from({ length: 9 }, () => 'y'.repeat(120_000)),
      /the arguments are \d+ bytes in all, but at most 1048576 fit on a command line/,
    ],
  ])('refuses %s at submit, writing nothing', async (_, parameters, extra, message) => {
    const ws = Workspace.create(tempDir());
    await expect(
      new Experiment(ws, 'args').submit(echoPipeline(text, extra), { parameters }),
    ).rejects.toMatchObject({ code: 'ARGUMENT_INVALID', message: expect.stringMatching(message) });
    expect(ws.store.listRuns()).toEqual([]);
    await ws.close();
  });

  it('refuses a literal argument with a NUL byte, and runs the longest argument Linux takes', async () => {
    const ws = Workspace.create(tempDir());
    await expect(new Experiment(ws, 'args').submit(echoPipeline('--name=a\0b'))).rejects.toMatchObject({
      code: 'ARGUMENT_INVALID',
      message: expect.stringContaining('Step "echo": argument 2 ("--name=a\\u0000b") holds a NUL byte'),
    });
    const run = await new Experiment(ws, 'args').submit(echoPipeline(text), {
      parameters: { text: 'z'.repeat(128 * 1024 - 1) },
    });
    expect(await run.waitForCompletion()).toBe('Finished');
    await ws.close();
  });

  it('fails the step with ARGUMENT_INVALID when a step kind without a declared command line passes one', async () => {
    // the same step kind, without `commandLine`: nothing is checked at submit, local compute refuses at spawn
    const { commandLine: _, ...rest } = nodeStepPlugin;
    const undeclared: StepKindPlugin<NodeStepConfig> = { ...rest, kind: 'undeclared-node-script' };
    const src = writeTree(tempDir(), { 'echo.js': 'console.log("ran")' });
    const step = defineStep<NodeStepConfig>({
      kind: undeclared.kind,
      plugin: undeclared,
      name: 'echo',
      sourceDirectory: src,
      arguments: [text],
      config: { script: 'echo.js', arguments: [text] },
    });
    const ws = Workspace.create(tempDir());
    const run = await new Experiment(ws, 'args').submit(new Pipeline({ name: 'u', steps: [step] }), {
      parameters: { text: 'x'.repeat(200_000) },
    });
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    expect(run.findStepRun('echo').record.error).toMatch(
      /^ARGUMENT_INVALID: Cannot start ".*": argument 2 is 200000 bytes long/,
    );
    await ws.close();
  });

  it('turns what spawn refuses into coded errors at local compute', async () => {
    const target = new LocalComputeTarget('cpu');
    const job = { command: process.execPath, args: ['-e', ''], cwd: tempDir(), env: {} };
    await expect(target.runProcess({ ...job, args: ['-e', '', 'a\0b'] })).rejects.toMatchObject({
      code: 'ARGUMENT_INVALID',
      message: expect.stringContaining('argument 3 holds a NUL byte'),
    });
    await expect(target.runProcess({ ...job, env: { BAD: 'a\0b' } })).rejects.toMatchObject({
      code: 'ARGUMENT_INVALID',
      message: expect.stringContaining('environment variable BAD holds a NUL byte'),
    });
    // one environment string over MAX_ARG_STRLEN: the system refuses it (E2BIG)
    await expect(target.runProcess({ ...job, env: { BIG: 'x'.repeat(200_000) } })).rejects.toMatchObject({
      code: 'ARGUMENT_INVALID',
      message: expect.stringContaining('too long for the system (E2BIG)'),
    });
    expect((await target.runProcess(job)).exitCode).toBe(0);
  });
});
