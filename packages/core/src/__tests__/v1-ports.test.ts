import { describe, expect, it } from 'vitest';
import {
  CondaDependencies,
  DEFAULT_DESTINATION_PATH,
  DEFAULT_ENVIRONMENT_NAME,
  DataReference,
  Environment,
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  RunConfiguration,
  defineStep,
  pipelineFromSpec,
  pipelineToSpec,
  PluginRegistry,
  stepId,
  type StepArgument,
} from '../index.js';
import { sluiceErrorOf } from './helpers.js';

/** The options the original SDK's code gives, line by line, as a test kind's step. */
const make = (options: {
  name?: string;
  defaultName?: string;
  arguments?: StepArgument[];
  runConfig?: RunConfiguration;
  computeTarget?: string;
  runAfter?: ReturnType<typeof defineStep>[];
}) => defineStep({ kind: 'test', config: {}, ...options });

describe('step names as given, with a safe id', () => {
  it('accepts a display name with spaces and derives its id deterministically', () => {
    const hello = make({ name: 'Hello World' });
    expect(hello.name).toBe('Hello_World');
    expect(hello.displayName).toBe('Hello World');
    expect(make({ name: 'Hello World' }).name).toBe(hello.name);
    expect(stepId('Prepare (v2) — data')).toBe('Prepare_v2_data');
    expect(stepId('  ')).toBe('step');
    // a name that is already an id is used as it is, with no separate display name
    const train = make({ name: 'train' });
    expect(train.name).toBe('train');
    expect(train.displayName).toBeUndefined();
  });

  it('defaults the name when the step kind gives one, and needs one otherwise', () => {
    expect(make({ defaultName: 'train.py' }).name).toBe('train.py');
    expect(sluiceErrorOf(() => make({})).message).toMatch(/needs a name/);
    expect(sluiceErrorOf(() => make({ name: 'a\u0000b' })).code).toBe('STEP_INVALID');
  });

  it('keeps ids unique within a pipeline: a later step whose name gives a taken id gets a suffix', () => {
    const first = make({ name: 'Hello_World' });
    const second = make({ name: 'Hello World' });
    const third = make({ name: 'Hello  World', runAfter: [second] });
    const pipeline = new Pipeline({ steps: [second, first, third] });
    // the id given as it is keeps it, wherever it comes
    expect(pipeline.steps.map((step) => [step.name, step.displayName])).toEqual([
      ['Hello_World_2', 'Hello World'],
      ['Hello_World', undefined],
      ['Hello_World_3', 'Hello  World'],
    ]);
    expect(pipeline.edges).toEqual([{ from: 'Hello_World_2', to: 'Hello_World_3' }]);
    expect(
      Object.fromEntries(pipeline.toGraphJson().nodes.map((node) => [node.name, node.displayName])),
    ).toEqual({ Hello_World_2: 'Hello World', Hello_World: undefined, Hello_World_3: 'Hello  World' });
    // the same steps give the same ids every time
    expect(new Pipeline({ steps: [second, first, third] }).order).toEqual(pipeline.order);
    // the same name twice is still a mistake
    expect(sluiceErrorOf(() => new Pipeline({ steps: [second, make({ name: 'Hello World' })] })).code).toBe(
      'STEP_NAME_DUPLICATE',
    );
  });

  it('survives a round trip through a pipeline spec', () => {
    const registry = new PluginRegistry().use({
      type: 'step',
      kind: 'test',
      name: 'v1-ports',
      version: '1.0.0',
      coreRange: '*',
      reuseVersion: '1',
      fingerprint: () => [],
      execute: async () => ({ status: 'Finished' }),
    });
    const pipeline = new Pipeline({ steps: [make({ name: 'Hello World' }), make({ name: 'Hello_World' })] });
    const spec = pipelineToSpec(pipeline);
    expect(spec.steps.map((step) => [step.name, step.displayName])).toEqual([
      ['Hello_World_2', 'Hello World'],
      ['Hello_World', undefined],
    ]);
    const again = pipelineFromSpec(spec, { registry });
    expect(again.steps.map((step) => [step.name, step.displayName])).toEqual([
      ['Hello_World_2', 'Hello World'],
      ['Hello_World', undefined],
    ]);
  });
});

describe('OutputFileDatasetConfig as the original SDK writes it', () => {
  it('takes a datastore alone as its destination', () => {
    const ds = { name: 'workspaceblobstore' };
    const results = new OutputFileDatasetConfig({ name: 'training_results', destination: ds });
    expect(results.destination).toEqual({ datastore: 'workspaceblobstore', path: DEFAULT_DESTINATION_PATH });
    expect(new OutputFileDatasetConfig({ name: 'r', destination: 'workspacefilestore' }).destination).toEqual(
      {
        datastore: 'workspacefilestore',
        path: DEFAULT_DESTINATION_PATH,
      },
    );
  });

  it('is named by its producing step when it has no name, the same on every build', () => {
    const build = () => {
      const output = new OutputFileDatasetConfig({ destination: [{ name: 'ds' }, 'outputdataset/{run-id}'] });
      const other = new OutputFileDatasetConfig();
      const prep = make({ name: 'Data prep', arguments: ['--output', output, '--other', other] });
      const train = make({ name: 'train', arguments: ['--prepped', output.asInput()] });
      return { output, other, prep, train };
    };
    const first = build();
    expect(first.output.name).toBe('Data_prep_output_1');
    expect(first.other.name).toBe('Data_prep_output_2');
    expect(first.train.inputs.map((input) => input.name)).toEqual(['Data_prep_output_1']);
    const pipeline = new Pipeline({ steps: [first.prep, first.train] });
    expect(pipeline.edges).toEqual([{ from: 'Data_prep', to: 'train', data: 'Data_prep_output_1' }]);
    expect(build().output.name).toBe(first.output.name);
    // consumed before any step produces it: a clear error, not a name made up on the spot
    const orphan = new OutputFileDatasetConfig();
    expect(sluiceErrorOf(() => make({ name: 'x', arguments: [orphan.asInput()] })).message).toMatch(
      /no name and no producing step yet/,
    );
  });

  it('PipelineData and DataReference have asInput() too', () => {
    const prepped = new PipelineData('prepped');
    const binding = prepped.asInput('training');
    expect([binding.name, binding.mode, binding.source]).toEqual(['training', 'mount', prepped]);
    const raw = new DataReference({ datastore: 'ds', pathOnDatastore: 'raw.csv', name: 'raw' });
    expect(raw.asInput().name).toBe('raw');
  });
});

describe('RunConfiguration as the original SDK uses it', () => {
  it('holds an environment to adjust in place', () => {
    const runConfig = new RunConfiguration();
    expect(runConfig.environment.name).toBe(DEFAULT_ENVIRONMENT_NAME);
    runConfig.environment.name = 'MyEnvironment';
    runConfig.environment.version = '1.0';
    expect(runConfig.environment).toBeInstanceOf(Environment);
    const environment = runConfig.environment as Environment;
    environment.python.userManagedDependencies = false;
    environment.python.condaDependencies = CondaDependencies.create({
      condaPackages: ['pandas', 'scikit-learn'],
      pipPackages: ['azureml-dataprep[fuse,pandas]'],
      pinSdkVersion: false,
    });
    expect(environment.toJSON()).toMatchObject({
      name: 'MyEnvironment',
      version: '1.0',
      packages: ['pandas', 'scikit-learn', 'azureml-dataprep[fuse,pandas]'],
    });
  });

  it('selects the compute target of steps that name none', () => {
    const runConfig = new RunConfiguration();
    runConfig.target = { name: 'aml-compute' };
    expect(make({ name: 'a', runConfig }).computeTarget).toBe('aml-compute');
    expect(make({ name: 'b', runConfig, computeTarget: 'local' }).computeTarget).toBe('local');
    expect(make({ name: 'c', runConfig: new RunConfiguration({ target: 'gpu' }) }).computeTarget).toBe('gpu');
  });
});
