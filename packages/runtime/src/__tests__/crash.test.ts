import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pipeline, PipelineData } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { Experiment, Workspace } from '../index.js';
import { isRunning, startRunner, tempDir, waitFor, writeRunner, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

const SOURCES = {
  'first.js': `
const fs = require('fs'), path = require('path');
fs.writeFileSync(path.join(process.argv[2], 'a.txt'), 'first');
fs.appendFileSync(process.argv[3], 'first\\n');`,
  'second.js': `
const fs = require('fs'), path = require('path');
const [input, out, counter, fast, marker] = process.argv.slice(2);
fs.appendFileSync(counter, 'second\\n');
fs.writeFileSync(path.join(out, 'partial.txt'), 'started');
if (fs.existsSync(fast)) { fs.writeFileSync(path.join(out, 'b.txt'), 'done'); process.exit(0); }
fs.writeFileSync(marker, String(process.pid));
setTimeout(() => {}, 60000);`,
};

function pipelineFor(src: string, dir: string): Pipeline {
  const a = new PipelineData('a');
  const b = new PipelineData('b');
  const counter = join(dir, 'counter.txt');
  return new Pipeline({
    name: 'crash',
    steps: [
      nodeStep({
        name: 'first',
        script: 'first.js',
        sourceDirectory: src,
        arguments: [a, counter],
        outputs: [a],
      }),
      nodeStep({
        name: 'second',
        script: 'second.js',
        sourceDirectory: src,
        arguments: [a, b, counter, join(dir, 'fast'), join(dir, 'marker')],
        inputs: [a],
        outputs: [b],
      }),
    ],
  });
}

describe('crash safety', () => {
  it('after kill -9 of the runner, the next submit reuses what finished and re-runs the rest', async () => {
    const dir = tempDir();
    const src = writeTree(join(dir, 'src'), SOURCES);
    Workspace.create(join(dir, 'ws')).store.close();
    // The runner: a separate Node process that builds the same pipeline with the same step kind.
    const runner = writeRunner(
      join(dir, 'runner.mjs'),
      `
const dir = ${JSON.stringify(dir)};
const src = ${JSON.stringify(src)};
const a = new PipelineData('a'); const b = new PipelineData('b');
const counter = dir + '/counter.txt';
const pipeline = new Pipeline({ name: 'crash', steps: [
  step({ name: 'first', script: 'first.js', sourceDirectory: src, arguments: [a, counter], outputs: [a] }),
  step({ name: 'second', script: 'second.js', sourceDirectory: src, arguments: [a, b, counter, dir + '/fast', dir + '/marker'], inputs: [a], outputs: [b] }),
]});
const ws = Workspace.open(dir + '/ws');
const run = await new Experiment(ws, 'crash').submit(pipeline);
await run.waitForCompletion({ raiseOnError: false });
`,
    );
    const { child, exited } = startRunner(runner);
    const marker = join(dir, 'marker');
    expect(await waitFor(() => existsSync(marker))).toBe(true);
    child.kill('SIGKILL');
    await exited;
    const orphan = Number(readFileSync(marker, 'utf8'));

    const ws = Workspace.open(join(dir, 'ws'));
    try {
      // the step process the killed runner left running was stopped when the workspace opened
      expect(isRunning(orphan)).toBe(false);
      const [killed] = ws.store.listRuns();
      expect(killed!.status).toBe('Failed');
      expect(killed!.error).toMatch(/runner process ended/);
      const killedSteps = ws.store.getStepRuns(killed!.id);
      expect(killedSteps.map((s) => s.status)).toEqual(['Finished', 'Canceled']);
      expect(ws.store.getOutputs(killedSteps[1]!.id)).toEqual([]);

      writeFileSync(join(dir, 'fast'), '');
      const run = await new Experiment(ws, 'crash').submit(pipelineFor(src, dir));
      expect(await run.waitForCompletion()).toBe('Finished');
      expect(run.getSteps().map((s) => s.status)).toEqual(['Reused', 'Finished']);
      expect(run.findStepRun('first').reusedFrom).toBe(killedSteps[0]!.id);
      expect(run.findStepRun('second').explain().reasons).toEqual([
        'nothing changed, but the earlier run of this step was canceled and is not reusable',
      ]);
      expect(readFileSync(join(dir, 'counter.txt'), 'utf8').split('\n').filter(Boolean)).toEqual([
        'first',
        'second',
        'second',
      ]);
      const files = await run.findStepRun('second').getOutputData('b').download(tempDir());
      expect(readFileSync(join(files, 'b.txt'), 'utf8')).toBe('done');
    } finally {
      await ws.close();
    }
  });
});
