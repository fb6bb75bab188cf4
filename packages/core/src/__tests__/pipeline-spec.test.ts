import { describe, expect, it } from 'vitest';
import {
  DataReference,
  Environment,
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  PipelineParameter,
  PluginRegistry,
  RunConfiguration,
  defineStep,
  pipelineFromSpec,
  pipelineToSpec,
  type StepKindPlugin,
} from '../index.js';

const plugin: StepKindPlugin<unknown> = {
  type: 'step',
  kind: 'script',
  name: 'spec-tests',
  version: '1.0.0',
  coreRange: '*',
  reuseVersion: '1',
  fingerprint: () => [],
  execute: async () => ({ status: 'Finished' }),
};

function buildPipeline(): Pipeline {
  const raw = new DataReference({
    datastore: 'workspaceblobstore',
    pathOnDatastore: 'iris/iris.csv',
    name: 'raw',
  });
  const prepped = new OutputFileDatasetConfig({
    name: 'prepped',
    destination: ['workspaceblobstore', 'out/{run-id}'],
  }).registerOnComplete({ name: 'prepped_ds' });
  const model = new PipelineData('model', { datastore: 'workspacefilestore' });
  const rate = new PipelineParameter({ name: 'rate', defaultValue: 0.1 });
  const prepare = defineStep({
    kind: 'script',
    name: 'prepare',
    inputs: [raw.asDownload()],
    outputs: [prepped],
    sourceDirectory: '/somewhere/src',
    arguments: ['--out', prepped],
    config: { script: 'prepare.py', arguments: ['--out', prepped], nested: { seed: 42 } },
  });
  const train = defineStep({
    kind: 'script',
    name: 'train',
    inputs: [prepped.asInput()],
    outputs: [model],
    computeTarget: 'cpu',
    runConfig: new RunConfiguration({ environment: new Environment({ name: 'py', version: '2' }) }),
    arguments: ['--rate', rate, prepped, model],
    config: { script: 'train.py', arguments: ['--rate', rate, prepped, model] },
  });
  const report = defineStep({
    kind: 'script',
    name: 'report',
    runAfter: [train],
    allowReuse: false,
    runConfig: new RunConfiguration({ environment: { name: 'py', version: '1' } }),
    config: { script: 'report.py', arguments: [] },
  });
  return new Pipeline({ name: 'spec', description: 'round trip', steps: [prepare, train, report] });
}

describe('pipeline specs', () => {
  it('round-trip through JSON to the same pipeline', () => {
    const pipeline = buildPipeline();
    const spec = pipelineToSpec(pipeline, {
      sourceDigest: (step) => (step.sourceDirectory ? 'abc123' : undefined),
    });
    const registry = new PluginRegistry().use(plugin);
    const rebuilt = pipelineFromSpec(JSON.parse(JSON.stringify(spec)), {
      registry,
      sourceDirectory: (digest) => `/snapshots/${digest}`,
    });
    expect(rebuilt.toGraphJson()).toEqual(pipeline.toGraphJson());
    expect([...rebuilt.parameters.keys()]).toEqual(['rate']);
    expect(rebuilt.getStep('prepare')!.sourceDirectory).toBe('/snapshots/abc123');
    expect(
      pipelineToSpec(rebuilt, { sourceDigest: (step) => (step.sourceDirectory ? 'abc123' : undefined) }),
    ).toEqual(spec);
    const train = rebuilt.getStep('train')!;
    const args = (train.config as { arguments: unknown[] }).arguments;
    expect(args[1]).toBe(rebuilt.parameters.get('rate'));
    // the consumer's data is the producer's very object, so the graph links them
    expect(args[2]).toBe(rebuilt.getStep('prepare')!.outputs[0]);
    expect((rebuilt.getStep('prepare')!.outputs[0] as OutputFileDatasetConfig).registration).toEqual({
      name: 'prepped_ds',
    });
    expect(rebuilt.getStep('report')!.allowReuse).toBe(false);
    expect(rebuilt.getStep('report')!.runConfig!.environment).toEqual({ name: 'py', version: '1' });
    expect(rebuilt.getStep('train')!.runConfig!.environment).toBeInstanceOf(Environment);
    expect(rebuilt.getStep('prepare')!.inputs[0]!.mode).toBe('download');
  });

  it('refuses step settings that are not plain data, and unknown step kinds when rebuilding', () => {
    const odd = defineStep({ kind: 'script', name: 'odd', config: { when: new Date(0) } });
    expect(() => pipelineToSpec(new Pipeline({ steps: [odd] }))).toThrow(
      expect.objectContaining({
        code: 'PIPELINE_INVALID',
        message: expect.stringMatching(/config\.when holds a Date/),
      }),
    );
    const spec = pipelineToSpec(buildPipeline());
    expect(() => pipelineFromSpec(spec, { registry: new PluginRegistry() })).toThrow(
      expect.objectContaining({ code: 'PLUGIN_NOT_REGISTERED' }),
    );
  });
});
