import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Environment, Pipeline, PipelineData, PipelineParameter, RunConfiguration } from '@sluice/core';
import { Experiment, Workspace } from '@sluice/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NODE_SCRIPT_KIND, NodeScriptStep, sluicePlugins } from '../index.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-node-script-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('NodeScriptStep', () => {
  it('builds a step of its kind with the plugin attached and the parameters it uses', () => {
    const count = new PipelineParameter({ name: 'count', defaultValue: 3 });
    const out = new PipelineData('out');
    const step = new NodeScriptStep({
      name: 'count',
      scriptName: 'count.mjs',
      sourceDirectory: 'scripts',
      arguments: ['--count', count, out],
      outputs: [out],
    });
    expect(step.kind).toBe(NODE_SCRIPT_KIND);
    expect(step.plugin?.kind).toBe(NODE_SCRIPT_KIND);
    expect(step.sourceDirectory).toBe(join(process.cwd(), 'scripts'));
    expect(step.parameters).toEqual([count]);
    expect(step.allowReuse).toBe(true);
    expect(Object.isFrozen(step)).toBe(true);
    expect(step.plugin?.fingerprint(step)).toEqual([
      { name: 'script', value: 'count.mjs' },
      { name: 'arguments', value: ['--count', { parameter: 'count' }, { output: 'out' }] },
    ]);
    expect(sluicePlugins().map((plugin) => plugin.kind)).toEqual([NODE_SCRIPT_KIND]);
  });

  it('refuses TypeScript, other files and paths leaving the source directory', () => {
    const make = (scriptName: string) => () =>
      new NodeScriptStep({ name: 'x', scriptName, sourceDirectory: 'scripts' });
    expect(make('main.ts')).toThrow(
      expect.objectContaining({ code: 'STEP_INVALID', message: expect.stringContaining('compile it first') }),
    );
    expect(make('main.py')).toThrow(expect.objectContaining({ code: 'STEP_INVALID' }));
    expect(make('../main.js')).toThrow(expect.objectContaining({ code: 'STEP_INVALID' }));
    expect(make('')).toThrow(expect.objectContaining({ code: 'STEP_INVALID' }));
    expect(() => new NodeScriptStep({ name: 'x', scriptName: 'a.js', sourceDirectory: '' })).toThrow(
      expect.objectContaining({ code: 'STEP_INVALID' }),
    );
  });

  it('runs the script with the step environment, parameters and the run context; a missing script fails at submit', async () => {
    const source = join(root, 'src');
    await mkdir(source);
    await writeFile(
      join(source, 'env.mjs'),
      [
        "import { readFileSync, writeFileSync } from 'node:fs';",
        "import { join } from 'node:path';",
        'const [greeting, output] = process.argv.slice(2);',
        "const context = JSON.parse(readFileSync(process.env.SLUICE_CONTEXT, 'utf8'));",
        'const seen = { greeting, style: process.env.GREETING_STYLE, parameters: context.parameters };',
        "writeFileSync(join(output, 'seen.json'), JSON.stringify(seen));",
      ].join('\n'),
    );
    const ws = Workspace.create(join(root, 'ws'));
    try {
      const greeting = new PipelineParameter({ name: 'greeting', defaultValue: 'hello' });
      const out = new PipelineData('out');
      const step = new NodeScriptStep({
        name: 'env',
        scriptName: 'env.mjs',
        sourceDirectory: source,
        arguments: [greeting, out],
        outputs: [out],
        runConfig: new RunConfiguration({
          environment: new Environment({
            name: 'formal',
            environmentVariables: { GREETING_STYLE: 'formal' },
          }),
        }),
      });
      const run = await new Experiment(ws, 'node').submit(new Pipeline({ steps: [step] }), {
        parameters: { greeting: 'bonjour' },
      });
      expect(await run.waitForCompletion()).toBe('Finished');
      const folder = await run.findStepRun('env').getOutputData('out').download(join(root, 'down'));
      expect(JSON.parse(await readFile(join(folder, 'seen.json'), 'utf8'))).toEqual({
        greeting: 'bonjour',
        style: 'formal',
        parameters: { greeting: 'bonjour' },
      });

      const missing = new NodeScriptStep({
        name: 'missing',
        scriptName: 'nope.mjs',
        sourceDirectory: source,
      });
      // refused at submit, naming the user's folder; no run is recorded
      const runs = ws.store.listRuns().length;
      await expect(
        new Experiment(ws, 'node').submit(new Pipeline({ steps: [missing] })),
      ).rejects.toMatchObject({
        code: 'SCRIPT_NOT_FOUND',
        message: expect.stringContaining(`in the source directory ${source}.`),
      });
      expect(ws.store.listRuns()).toHaveLength(runs);
    } finally {
      await ws.close();
    }
  });
});
