import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DataReference,
  Pipeline,
  PipelineData,
  SluiceError,
  defineStep,
  type DatastoreProviderPlugin,
  type StepKindPlugin,
} from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Experiment, LocalDatastore, Workspace } from '../index.js';
import { tempDir, writeTree } from './fixtures.js';

// A step kind that reaches data where it lives, as a cloud step or a data transfer would.
const copier: StepKindPlugin<{ write: boolean }> = {
  type: 'step',
  kind: 'test-remote-copy',
  name: 'runtime-tests',
  version: '1.0.0',
  coreRange: '^0.1.0',
  reuseVersion: '1',
  remoteData: true,
  fingerprint: (step) => [{ name: 'write', value: step.config.write }],
  async execute(ctx) {
    ctx.logs.stdout(
      `${ctx.resolveArgument(ctx.step.inputs[0]!)} -> ${ctx.resolveArgument(ctx.step.outputs[0]!)}\n`,
    );
    if (ctx.step.config.write) {
      const from = ctx.locations.inputs.raw!;
      const to = ctx.locations.outputs.copy!;
      const staging = join(ctx.workDir, 'copy');
      await ctx.datastore(from.datastore).download(from.path, staging);
      await ctx.datastore(to.datastore).upload(staging, to.path);
    }
    return { status: 'Finished' };
  },
};

let ws: Workspace;
beforeEach(async () => {
  ws = Workspace.create(tempDir());
  const data = writeTree(tempDir(), { 'raw/a.txt': 'a', 'raw/b.txt': 'b' });
  await ws.getDefaultDatastore().uploadDirectory(join(data, 'raw'), { targetPath: 'raw' });
});
afterEach(async () => {
  await ws.close();
});

function pipeline(write: boolean): Pipeline {
  const raw = new DataReference({ datastore: 'workspaceblobstore', pathOnDatastore: 'raw', name: 'raw' });
  const copy = new PipelineData('copy', { datastore: 'workspacefilestore' });
  return new Pipeline({
    name: 'remote',
    steps: [
      defineStep({
        kind: copier.kind,
        plugin: copier,
        name: 'copy',
        inputs: [raw],
        outputs: [copy],
        config: { write },
      }),
    ],
  });
}

describe('steps with remoteData', () => {
  it('get data locations, write outputs in place, and are recorded and reused like any step', async () => {
    const experiment = new Experiment(ws, 'remote');
    const run = await experiment.submit(pipeline(true));
    expect(await run.waitForCompletion()).toBe('Finished');
    const step = run.findStepRun('copy');
    const output = step.getOutputData('copy');
    expect(output.datastoreName).toBe('workspacefilestore');
    expect(
      readFileSync(
        join(ws.datastore('workspacefilestore').localPath!(output.pathOnDatastore), 'b.txt'),
        'utf8',
      ),
    ).toBe('b');
    const [from, to] = (await step.getStdout()).trim().split(' -> ');
    expect(from).toBe(ws.getDefaultDatastore().uri!('raw'));
    expect(to).toBe(ws.datastore('workspacefilestore').uri!(output.pathOnDatastore));
    // nothing was downloaded for it by the runtime
    expect(step.record.logDir && readFileSync(join(step.record.logDir, 'sluice.txt'), 'utf8')).not.toMatch(
      /downloading input/,
    );
    const again = await experiment.submit(pipeline(true));
    await again.waitForCompletion();
    expect(again.findStepRun('copy').status).toBe('Reused');
  });

  it('fail when they finish without writing an output', async () => {
    const run = await new Experiment(ws, 'remote').submit(pipeline(false));
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    expect(run.findStepRun('copy').record.error).toMatch(
      /finished without writing output copy to workspacefilestore:sluice\/outputs\//,
    );
  });
});

// A local folder that also gives addresses in a scheme of its own, as a cloud store gives `wasbs://…`.
const lakeStore: DatastoreProviderPlugin<{ path: string }> = {
  type: 'datastore',
  kind: 'test-lake',
  name: 'runtime-tests',
  version: '1.0.0',
  coreRange: '^0.1.0',
  createDatastore(name, options) {
    const local = new LocalDatastore(name, options.path);
    return Object.assign(local, {
      uriSchemes: ['file', 'lake'] as const,
      uri(path: string, scheme = 'file'): string {
        if (scheme === 'lake') return `lake://${name}/${path}`;
        if (scheme === 'file') return LocalDatastore.prototype.uri.call(local, path);
        throw new SluiceError('OPTION_INVALID', `no ${scheme} addresses`);
      },
    });
  },
};

/** A remote step kind whose engine opens the given schemes; it prints the addresses it is given. */
function addressPrinter(uriSchemes?: readonly string[]): StepKindPlugin<Record<string, never>> {
  return {
    type: 'step',
    kind: `test-address-${(uriSchemes ?? ['default']).join('-')}`,
    name: 'runtime-tests',
    version: '1.0.0',
    coreRange: '^0.1.0',
    reuseVersion: '1',
    remoteData: true,
    ...(uriSchemes ? { uriSchemes } : {}),
    fingerprint: () => [],
    async execute(ctx) {
      const input = ctx.locations.inputs.raw!;
      const output = ctx.locations.outputs.copy!;
      ctx.logs.stdout(
        `${input.uri} ${output.uri} ${ctx.resolveArgument(ctx.step.inputs[0]!)} ${ctx.resolveArgument(ctx.step.outputs[0]!)}\n`,
      );
      const staging = join(ctx.workDir, 'copy');
      await ctx.datastore(input.datastore).download(input.path, staging);
      await ctx.datastore(output.datastore).upload(staging, output.path);
      return { status: 'Finished' };
    },
  };
}

describe('addresses of data for remote steps', () => {
  async function addresses(uriSchemes?: readonly string[]): Promise<{ lake: string; printed: string[] }> {
    ws.registry.ensure(lakeStore);
    const lake = tempDir();
    const store = ws.registerDatastore('lake', { provider: 'test-lake', options: { path: lake } });
    await store.uploadDirectory(join(writeTree(tempDir(), { 'raw/a.txt': 'a' }), 'raw'), {
      targetPath: 'raw',
    });
    const plugin = addressPrinter(uriSchemes);
    const raw = new DataReference({ datastore: 'lake', pathOnDatastore: 'raw', name: 'raw' });
    const copy = new PipelineData('copy', { datastore: 'lake' });
    const run = await new Experiment(ws, 'addresses').submit(
      new Pipeline({
        name: 'addresses',
        steps: [
          defineStep({
            kind: plugin.kind,
            plugin,
            name: 'copy',
            inputs: [raw],
            outputs: [copy],
            arguments: [raw, copy],
            config: {},
          }),
        ],
      }),
    );
    expect(await run.waitForCompletion()).toBe('Finished');
    const printed = (await run.findStepRun('copy').getStdout()).trim().split(' ');
    return { lake: run.findStepRun('copy').getOutputData('copy').pathOnDatastore, printed };
  }

  it('are in the first scheme the step kind wants that the datastore offers', async () => {
    const { lake: output, printed } = await addresses(['spark', 'lake', 'file']);
    expect(printed).toEqual([
      'lake://lake/raw',
      `lake://lake/${output}`,
      'lake://lake/raw',
      `lake://lake/${output}`,
    ]);
  });

  it("are the datastore's default when the step kind names no scheme, or none the store offers", async () => {
    for (const wanted of [undefined, ['spark']]) {
      const { lake: output, printed } = await addresses(wanted);
      const store = ws.datastore('lake');
      expect(printed).toEqual([store.uri!('raw'), store.uri!(output), store.uri!('raw'), store.uri!(output)]);
      expect(printed[0]).toMatch(/^file:\/\//);
    }
  });
});
