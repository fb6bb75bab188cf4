import {
  DataReference,
  PipelineData,
  PipelineParameter,
  SluiceError,
  combineFingerprint,
  valuePart,
} from '@sluice/core';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_NODE_TYPE,
  DEFAULT_SPARK_VERSION,
  DatabricksStep,
  databricksStep,
  type DatabricksStepOptions,
} from '../index.js';
import { tempDir, writeTree } from './helpers.js';

const input = new DataReference({
  datastore: 'workspaceblobstore',
  dataReferenceName: 'input',
  pathOnDatastore: 'dbtest',
});
const output = new PipelineData('output', { datastore: 'workspaceblobstore' });

const base: DatabricksStepOptions = {
  name: 'databricksmodule',
  inputs: [input],
  outputs: [output],
  numWorkers: 1,
  notebookPath: '/Users/me@example.com/notebook',
  notebookParams: { myparam: 'testparam' },
  runName: 'demo run name',
  computeTarget: 'databricks_compute',
};

function invalid(options: Partial<DatabricksStepOptions> & Record<string, unknown>, pattern: RegExp): void {
  let caught: unknown;
  try {
    new DatabricksStep({ ...base, ...options } as DatabricksStepOptions);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SluiceError);
  expect((caught as SluiceError).code).toBe('STEP_INVALID');
  expect((caught as SluiceError).message).toMatch(pattern);
}

function fingerprint(step: DatabricksStep): string {
  return combineFingerprint(
    databricksStep()
      .fingerprint(step)
      .map((part) => valuePart(part.name, part.value)),
  );
}

describe('DatabricksStep', () => {
  it('builds the seed step: a notebook on a new one-worker cluster, remote data, reuse on by default', () => {
    const step = new DatabricksStep(base);
    expect(step.kind).toBe('databricks');
    expect(step.plugin?.remoteData).toBe(true);
    expect(step.computeTarget).toBe('databricks_compute');
    expect(step.allowReuse).toBe(true);
    expect(step.inputs.map((binding) => binding.name)).toEqual(['input']);
    expect(step.outputs).toEqual([output]);
    expect(step.config).toEqual({
      code: {
        type: 'notebook',
        notebookPath: '/Users/me@example.com/notebook',
        notebookParams: { myparam: 'testparam' },
      },
      cluster: { sparkVersion: DEFAULT_SPARK_VERSION, nodeType: DEFAULT_NODE_TYPE, numWorkers: 1 },
      libraries: [],
      runName: 'demo run name',
      timeoutSeconds: undefined,
      pollIntervalSeconds: 30,
    });
    expect(Object.isFrozen(step)).toBe(true);
    expect(JSON.parse(JSON.stringify(step.config))).toMatchObject({ code: { type: 'notebook' } });
  });

  it('needs exactly one thing to run', () => {
    invalid(
      { notebookPath: undefined, notebookParams: undefined },
      /say what to run: notebookPath, pythonScriptPath/,
    );
    invalid(
      { pythonScriptPath: 'dbfs:/x.py', notebookParams: undefined },
      /give one thing to run, not notebookPath and pythonScriptPath/,
    );
    invalid({ notebookPath: '  ' }, /notebookPath must be a non-empty string/);
  });

  it('keeps each code source’s parameters with it', () => {
    invalid(
      { notebookPath: undefined, pythonScriptPath: 'dbfs:/x.py' },
      /notebookParams goes with notebookPath, not with pythonScriptPath/,
    );
    invalid({ jarParams: ['a'] }, /jarParams goes with mainClassName/);
    invalid(
      { pythonScriptParams: ['a'] },
      /pythonScriptParams goes with pythonScriptPath or pythonScriptName/,
    );
    invalid({ sourceDirectory: '.' }, /sourceDirectory goes with pythonScriptName/);
    const python = { notebookPath: undefined, notebookParams: undefined };
    invalid({ ...python, pythonScriptName: 'train.py' }, /pythonScriptName needs sourceDirectory/);
    invalid(
      { ...python, pythonScriptName: '/abs/train.py', sourceDirectory: '.' },
      /must be relative to sourceDirectory/,
    );
    invalid({ ...python, pythonScriptName: '../train.py', sourceDirectory: '.' }, /without '\.\.'/);
  });

  it('needs a cluster: an existing one, or a new one with workers', () => {
    invalid(
      { numWorkers: undefined },
      /say where to run: existingClusterId .* or numWorkers \(or minWorkers and maxWorkers\)/,
    );
    invalid(
      { existingClusterId: '0123-abc' },
      /existingClusterId runs on a cluster that exists; numWorkers describe a new one/,
    );
    invalid(
      { numWorkers: undefined, existingClusterId: 'c', sparkVersion: '14.3.x-scala2.12' },
      /sparkVersion describe a new one/,
    );
    invalid({ minWorkers: 1, maxWorkers: 2 }, /numWorkers .* or minWorkers and maxWorkers .* not both/);
    invalid({ numWorkers: undefined, minWorkers: 1 }, /needs both minWorkers and maxWorkers/);
    invalid(
      { numWorkers: undefined, minWorkers: 3, maxWorkers: 2 },
      /maxWorkers \(2\) is less than minWorkers \(3\)/,
    );
    invalid({ numWorkers: -1 }, /numWorkers must be a whole number ≥ 0/);
    invalid({ numWorkers: 1.5 }, /numWorkers must be a whole number/);

    const existing = new DatabricksStep({
      ...base,
      numWorkers: undefined,
      existingClusterId: '0123-456789-abc',
    });
    expect(existing.config.cluster).toEqual({ existingClusterId: '0123-456789-abc' });
    const scaling = new DatabricksStep({
      ...base,
      numWorkers: undefined,
      minWorkers: 1,
      maxWorkers: 4,
      sparkVersion: '14.3.x-scala2.12',
      nodeType: 'Standard_D4s_v3',
    });
    expect(scaling.config.cluster).toEqual({
      sparkVersion: '14.3.x-scala2.12',
      nodeType: 'Standard_D4s_v3',
      autoscale: { minWorkers: 1, maxWorkers: 4 },
    });
  });

  it('needs a compute target', () => {
    invalid({ computeTarget: undefined }, /needs computeTarget: a Databricks compute target/);
  });

  it('checks libraries, timeouts and poll intervals', () => {
    invalid({ libraries: [{ npm: 'left-pad' } as never] }, /is not one the Jobs API knows/);
    invalid({ libraries: [{ pypi: {} } as never] }, /is not one the Jobs API knows/);
    invalid({ timeoutSeconds: 0 }, /timeoutSeconds must be a whole number of seconds > 0/);
    invalid({ pollIntervalSeconds: -1 }, /pollIntervalSeconds must be a number of seconds > 0/);
    const jar = new DatabricksStep({
      ...base,
      notebookPath: undefined,
      notebookParams: undefined,
      mainClassName: 'com.example.Main',
      jarParams: ['--n', 3],
      jarLibraries: ['dbfs:/jars/main.jar'],
      libraries: [{ maven: { coordinates: 'org.jsoup:jsoup:1.7.2' } }],
    });
    expect(jar.config.libraries).toEqual([
      { maven: { coordinates: 'org.jsoup:jsoup:1.7.2' } },
      { jar: 'dbfs:/jars/main.jar' },
    ]);
    expect(jar.config.code).toEqual({
      type: 'jar',
      mainClassName: 'com.example.Main',
      parameters: ['--n', 3],
    });
  });

  it('refuses a notebook parameter named like an input or output', () => {
    invalid(
      { notebookParams: { output: 'x' } },
      /notebookParams has "output", which is also an input or output name/,
    );
    invalid(
      { notebookParams: { bad: { nested: true } as never } },
      /notebookParams\.bad must be a string, number, boolean or PipelineParameter/,
    );
  });

  it('tracks pipeline parameters in notebook and script parameters, and adds data in script parameters to the inputs', () => {
    const rate = new PipelineParameter({ name: 'rate', defaultValue: 0.1 });
    const notebook = new DatabricksStep({ ...base, notebookParams: { myparam: 'x', rate } });
    expect(notebook.parameters).toEqual([rate]);
    const dir = writeTree(tempDir(), { 'train.py': 'print(1)' });
    const script = new DatabricksStep({
      ...base,
      notebookPath: undefined,
      notebookParams: undefined,
      pythonScriptName: 'train.py',
      sourceDirectory: dir,
      pythonScriptParams: ['--rate', rate, '--data', input],
    });
    expect(script.parameters).toEqual([rate]);
    expect(script.sourceDirectory).toBe(dir);
    // data given only in the script's parameters is an input, as in the original SDK
    const stray = new DataReference({ datastore: 'workspaceblobstore', name: 'stray', pathOnDatastore: 'x' });
    const onlyInParams = new DatabricksStep({
      ...base,
      inputs: [],
      notebookPath: undefined,
      notebookParams: undefined,
      pythonScriptPath: 'dbfs:/x.py',
      pythonScriptParams: [stray],
    });
    expect(onlyInParams.inputs.map((input) => input.name)).toEqual(['stray']);
  });
});

describe('the databricks step kind: fingerprint', () => {
  it('has parts for the code, the parameters (as the job sees them), the cluster and the libraries', () => {
    const rate = new PipelineParameter({ name: 'rate', defaultValue: 1 });
    const step = new DatabricksStep({ ...base, notebookParams: { myparam: 'testparam', n: 1, rate } });
    expect(databricksStep().fingerprint(step)).toEqual([
      { name: 'code', value: { notebook: '/Users/me@example.com/notebook' } },
      { name: 'parameters', value: { myparam: 'testparam', n: '1', rate: { parameter: 'rate' } } },
      {
        name: 'cluster',
        value: { sparkVersion: DEFAULT_SPARK_VERSION, nodeType: DEFAULT_NODE_TYPE, numWorkers: 1 },
      },
      { name: 'libraries', value: [] },
    ]);
  });

  it('changes with what changes results, not with names, timeouts or polling', () => {
    const reference = fingerprint(new DatabricksStep(base));
    const same = [
      {
        notebookParams: { myparam: 'testparam' },
        runName: 'another name',
        timeoutSeconds: 600,
        pollIntervalSeconds: 5,
      },
    ];
    for (const options of same)
      expect(fingerprint(new DatabricksStep({ ...base, ...options }))).toBe(reference);
    expect(fingerprint(new DatabricksStep({ ...base, notebookParams: { myparam: 1 } }))).toBe(
      fingerprint(new DatabricksStep({ ...base, notebookParams: { myparam: '1' } })),
    );
    const different: Array<Partial<DatabricksStepOptions>> = [
      { notebookPath: '/Users/me@example.com/other' },
      { notebookParams: { myparam: 'other' } },
      { numWorkers: 2 },
      { sparkVersion: '14.3.x-scala2.12' },
      { libraries: [{ pypi: { package: 'pandas' } }] },
    ];
    for (const options of different) {
      expect(fingerprint(new DatabricksStep({ ...base, ...options }))).not.toBe(reference);
    }
    const libraries = [{ pypi: { package: 'pandas' } }, { jar: 'dbfs:/a.jar' }] as const;
    expect(fingerprint(new DatabricksStep({ ...base, libraries: [...libraries] }))).toBe(
      fingerprint(new DatabricksStep({ ...base, libraries: [...libraries].reverse() })),
    );
  });

  it('checks at submit time that pythonScriptName is in the snapshot', () => {
    const dir = writeTree(tempDir(), { 'train.py': 'print(1)' });
    const step = new DatabricksStep({
      ...base,
      notebookPath: undefined,
      notebookParams: undefined,
      pythonScriptName: 'missing.py',
      sourceDirectory: dir,
    });
    let caught: unknown;
    try {
      databricksStep().validate!(step, { sourceDirectory: dir });
    } catch (error) {
      caught = error;
    }
    expect((caught as SluiceError).code).toBe('SCRIPT_NOT_FOUND');
  });
});
