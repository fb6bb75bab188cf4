import { existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  SluiceError,
  type StepDefinition,
  type StepKindPlugin,
} from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Experiment, Workspace } from '../index.js';
import { tempDir, writeTree } from './fixtures.js';
import { nodeStep, nodeStepPlugin, type NodeStepConfig } from './node-step.js';

let root: string;
let ws: Workspace;
let src: string;
let marker: string;
let outside: string;

beforeEach(async () => {
  root = tempDir();
  ws = Workspace.create(join(root, 'ws'));
  src = writeTree(join(root, 'src'), {
    'mark.js': `require('fs').writeFileSync(process.argv[2], 'ran');`,
    'emit.js': `require('fs').writeFileSync(require('path').join(process.argv[2], 'x.txt'), 'x');`,
  });
  marker = join(root, 'upstream-ran');
  outside = writeTree(join(root, 'outside'), { 'keep.txt': 'keep' });
  // the default datastore's folder exists, so links can be made in it
  await ws.getDefaultDatastore().write('placeholder.txt', new Uint8Array([1]));
});
afterEach(async () => {
  await ws.close();
});

/** Every file under the workspace folder but the run store's own. */
function workspaceFiles(): string[] {
  return readdirSync(ws.dir, { recursive: true, withFileTypes: true })
    .filter((entry) => !entry.isDirectory() && !entry.name.startsWith('runs.db'))
    .map((entry) => relative(ws.dir, join(entry.parentPath, entry.name)))
    .sort();
}

/**
 * Submit `second` after an upstream step: the submit must be refused with `code`, with no run recorded,
 * nothing written (no run folder, no snapshot) and the upstream step never started.
 */
async function expectRefusedAtSubmit(second: StepDefinition, code: string): Promise<SluiceError> {
  const first = nodeStep({ name: 'first', script: 'mark.js', sourceDirectory: src, arguments: [marker] });
  const files = workspaceFiles();
  const outsideBefore = readdirSync(outside);
  const pipeline = new Pipeline({ steps: [first, { ...second, runAfter: [first] } as StepDefinition] });
  let error: unknown;
  await new Experiment(ws, 'checks').submit(pipeline).then(
    (run) => run.waitForCompletion(),
    (thrown: unknown) => (error = thrown),
  );
  expect(error, `expected ${code}`).toBeInstanceOf(SluiceError);
  expect((error as SluiceError).code, (error as Error).message).toBe(code);
  expect(ws.store.listRuns()).toEqual([]);
  expect(workspaceFiles()).toEqual(files);
  expect(existsSync(join(ws.dataDir, 'runs'))).toBe(false);
  expect(existsSync(join(ws.dataDir, 'snapshots'))).toBe(false);
  expect(existsSync(marker)).toBe(false);
  expect(readdirSync(outside)).toEqual(outsideBefore);
  return error as SluiceError;
}

const writer = (output: PipelineData | OutputFileDatasetConfig): StepDefinition =>
  nodeStep({
    name: 'second',
    script: 'emit.js',
    sourceDirectory: src,
    arguments: [output],
    outputs: [output],
  });

describe('submit checks everything checkable before a row is written', () => {
  it('refuses a source directory that is missing or not a folder', async () => {
    const missing = await expectRefusedAtSubmit(
      nodeStep({ name: 'second', script: 'emit.js', sourceDirectory: join(root, 'nope') }),
      'SOURCE_DIRECTORY_NOT_FOUND',
    );
    expect(missing.message).toContain(`Step "second": source directory ${join(root, 'nope')} does not exist`);
    const file = join(src, 'mark.js');
    const notFolder = await expectRefusedAtSubmit(
      nodeStep({ name: 'second', script: 'emit.js', sourceDirectory: file }),
      'SOURCE_DIRECTORY_NOT_FOUND',
    );
    expect(notFolder.message).toContain('is not a folder');
  });

  it("runs the step kind's own checks against the user's source directory", async () => {
    const seen: Array<string | undefined> = [];
    const computes: Array<string | undefined> = [];
    const checking: StepKindPlugin<NodeStepConfig> = {
      ...nodeStepPlugin,
      kind: 'checked-node-script',
      validate(step, { sourceDirectory, compute }) {
        seen.push(sourceDirectory);
        computes.push(compute?.name);
        if (!existsSync(join(sourceDirectory!, step.config.script))) {
          throw new SluiceError(
            'SCRIPT_NOT_FOUND',
            `${step.config.script} is not in ${step.sourceDirectory}`,
          );
        }
      },
    };
    const step = (script: string): StepDefinition => ({
      ...nodeStep({ name: 'second', script, sourceDirectory: src, arguments: [join(root, 'second-ran')] }),
      kind: checking.kind,
      plugin: checking,
    });
    const error = await expectRefusedAtSubmit(step('missing.js'), 'SCRIPT_NOT_FOUND');
    expect(error.message).toBe(`missing.js is not in ${src}`);
    expect(seen).toEqual([src]);
    expect(computes).toEqual(['local']);

    // a script that is there passes at submit, and is checked again against the snapshot it runs from
    const run = await new Experiment(ws, 'checks').submit(new Pipeline({ steps: [step('mark.js')] }));
    expect(await run.waitForCompletion()).toBe('Finished');
    expect(seen[1]).toBe(src);
    expect(seen[2]).toBe(join(ws.dataDir, 'snapshots', run.findStepRun('second').record.snapshot!));
  });

  it('refuses an output destination that leaves or is the datastore, or names no datastore of the workspace', async () => {
    const store = ws.getDefaultDatastore();
    symlinkSync(outside, store.localPath!('linked'));
    for (const path of ['../escape/{run-id}', 'out/../../{run-id}', join(outside, '{run-id}'), '.', './']) {
      const output = new OutputFileDatasetConfig({ name: 'out', destination: [store, path] });
      const error = await expectRefusedAtSubmit(writer(output), 'DATASTORE_PATH_ESCAPE');
      expect(error.message).toMatch(/^Step "second": output "out" cannot be written to workspaceblobstore:/);
    }
    const linked = new OutputFileDatasetConfig({ name: 'out', destination: [store, 'linked/{run-id}'] });
    const error = await expectRefusedAtSubmit(writer(linked), 'DATASTORE_PATH_ESCAPE');
    expect(error.message).toContain('"linked", a symbolic link that leads outside the datastore');

    const unknown = new OutputFileDatasetConfig({ name: 'out', destination: ['nope', 'out/{run-id}'] });
    await expectRefusedAtSubmit(writer(unknown), 'DATASTORE_NOT_FOUND');
    await expectRefusedAtSubmit(
      writer(new PipelineData('out', { datastore: 'nope' })),
      'DATASTORE_NOT_FOUND',
    );
  });

  it("refuses a PipelineData output when the store's output or staging folder is linked out of it", async () => {
    const store = ws.getDefaultDatastore();
    for (const folder of ['sluice', '.sluice-partial']) {
      symlinkSync(outside, store.localPath!(folder));
      const error = await expectRefusedAtSubmit(writer(new PipelineData('out')), 'DATASTORE_PATH_ESCAPE');
      expect(error.message).toContain(`"${folder}", a symbolic link that leads outside the datastore`);
      await store.delete(folder);
    }
    // with the links gone the same pipeline runs
    const run = await new Experiment(ws, 'checks').submit(
      new Pipeline({ steps: [writer(new PipelineData('out'))] }),
    );
    expect(await run.waitForCompletion()).toBe('Finished');
  });
});
