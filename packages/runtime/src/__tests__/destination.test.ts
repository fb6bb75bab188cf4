import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OutputFileDatasetConfig, Pipeline } from '@sluice/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Dataset, Experiment, PipelineRun, Workspace, collectGarbage } from '../index.js';
import { startRunner, tempDir, writeRunner, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

// write.js <tag> <out>: twenty parts and a file named after the tag; read.js <in> <out>: after a moment,
// copies what it was given.
const SOURCES = {
  'write.js': `
const fs = require('fs'), path = require('path');
const [tag, out] = process.argv.slice(2);
for (let k = 0; k < 20; k++) fs.writeFileSync(path.join(out, 'part-' + k + '.txt'), (tag + '.').repeat(5000));
fs.writeFileSync(path.join(out, 'only-' + tag + '.txt'), tag);`,
  'read.js': `
const fs = require('fs'), path = require('path');
const [input, out] = process.argv.slice(2);
setTimeout(() => {
  for (const name of fs.readdirSync(input)) fs.copyFileSync(path.join(input, name), path.join(out, name));
}, 300);`,
};

const DESTINATION = 'shared/latest';

let open: Workspace | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe('a fixed OutputFileDatasetConfig destination', () => {
  it('written by concurrent runs: records stay true, downstream steps read their upstream, one writer wins', async () => {
    const dir = tempDir();
    const src = writeTree(join(dir, 'src'), SOURCES);
    Workspace.create(join(dir, 'ws')).store.close();
    const runner = writeRunner(
      join(dir, 'runner.mjs'),
      `
const out = new OutputFileDatasetConfig({ name: 'out', destination: ['workspaceblobstore', ${JSON.stringify(DESTINATION)}] });
const echo = new PipelineData('echo');
const src = ${JSON.stringify(src)};
const pipeline = new Pipeline({ name: 'publish', steps: [
  step({ name: 'write', script: 'write.js', sourceDirectory: src, arguments: ['w' + arg, out], outputs: [out] }),
  step({ name: 'read', script: 'read.js', sourceDirectory: src, arguments: [out, echo], inputs: [out], outputs: [echo] }),
]});
const ws = Workspace.open(${JSON.stringify(join(dir, 'ws'))});
const run = await new Experiment(ws, 'publish').submit(pipeline);
process.stdout.write(JSON.stringify({ run: run.id, status: await run.waitForCompletion({ raiseOnError: false }) }));
await ws.close();`,
    );
    const runners = Array.from({ length: 4 }, (_, i) => startRunner(runner, String(i)));
    expect(await Promise.all(runners.map((r) => r.exited))).toEqual([0, 0, 0, 0]);
    const results = runners.map((r) => JSON.parse(r.output()) as { run: string; status: string });
    expect(results.map((r) => r.status)).toEqual(Array(4).fill('Finished'));

    const ws = (open = Workspace.open(join(dir, 'ws')));
    const store = ws.getDefaultDatastore();
    const writes = results.map((r) => PipelineRun.get(ws, r.run).findStepRun('write').getOutputData('out'));
    for (const r of results) {
      const run = PipelineRun.get(ws, r.run);
      // every Finished record's outputs are still what it committed
      for (const step of run.getSteps()) {
        for (const output of step.getOutputs()) {
          expect((await store.contentIdentity(output.pathOnDatastore)).digest).toBe(output.record.digest);
        }
      }
      // the downstream step read exactly its own upstream's bytes
      expect(run.findStepRun('read').getOutputData('echo').record.digest).toBe(
        run.findStepRun('write').getOutputData('out').record.digest,
      );
    }
    // the destination holds one writer's complete content, and the store says whose
    const held = await store.contentIdentity(DESTINATION);
    const winners = writes.filter((output) => output.record.digest === held.digest);
    expect(winners).toHaveLength(1);
    expect(
      readdirSync(store.localPath!(DESTINATION)).filter((name) => name.startsWith('only-')),
    ).toHaveLength(1);
    expect(winners[0]!.destination).toMatchObject({
      path: DESTINATION,
      current: true,
      heldBy: { stepRunId: winners[0]!.record.stepRunId, digest: held.digest },
    });
    for (const output of writes.filter((candidate) => candidate !== winners[0])) {
      expect(output.destination).toMatchObject({
        current: false,
        heldBy: { stepRunId: winners[0]!.record.stepRunId },
      });
    }
  });

  it('is published again by a reused step, is what gc leaves, and keeps registered versions valid', async () => {
    const dir = tempDir();
    const src = writeTree(join(dir, 'src'), SOURCES);
    const ws = (open = Workspace.create(join(dir, 'ws')));
    const pipeline = (tag: string): Pipeline => {
      const out = new OutputFileDatasetConfig({
        name: 'out',
        destination: [ws.getDefaultDatastore(), DESTINATION],
      }).registerOnComplete({ name: 'latest' });
      return new Pipeline({
        name: 'publish',
        steps: [
          nodeStep({
            name: 'write',
            script: 'write.js',
            sourceDirectory: src,
            arguments: [tag, out],
            outputs: [out],
          }),
        ],
      });
    };
    const destination = ws.getDefaultDatastore().localPath!(DESTINATION);
    const tagAtDestination = (): string[] =>
      readdirSync(destination).filter((name) => name.startsWith('only-'));
    const submit = async (tag: string): Promise<PipelineRun> => {
      const run = await new Experiment(ws, 'publish').submit(pipeline(tag));
      expect(await run.waitForCompletion()).toBe('Finished');
      return run;
    };

    const a = await submit('a');
    await submit('b');
    expect(tagAtDestination()).toEqual(['only-b.txt']);
    // the version registered from run a still holds a's bytes
    const first = await Dataset.File.get(ws, 'latest', 1).download(join(dir, 'v1'));
    expect(first.filter((file) => file.endsWith('.txt') && file.includes('only-'))).toHaveLength(1);
    expect(
      readFileSync(
        first.find((file) => file.endsWith('only-a.txt'))!,
        'utf8',
      ),
    ).toBe('a');

    const again = await submit('a');
    const step = again.findStepRun('write');
    expect(step.status).toBe('Reused');
    expect(step.reusedFrom).toBe(a.findStepRun('write').id);
    expect(tagAtDestination()).toEqual(['only-a.txt']);
    expect(step.getOutputData('out').destination).toMatchObject({
      current: true,
      heldBy: { stepRunId: step.id },
    });

    const report = await collectGarbage(ws, { keepLast: 0, olderThanMs: 0 });
    expect(report.deleted.some((item) => item.path.startsWith(DESTINATION))).toBe(false);
    expect(existsSync(join(destination, 'only-a.txt'))).toBe(true);
  });
});
