import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DataReference,
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  PipelineParameter,
  type SluiceError,
} from '@sluice/core';
import { PythonScriptStep, type PythonScriptStepOptions } from '../index.js';

const base = { name: 'train', scriptName: 'train.py', sourceDirectory: 'scripts' };

function buildError(options: Partial<PythonScriptStepOptions>): SluiceError {
  try {
    new PythonScriptStep({ ...base, ...options } as PythonScriptStepOptions);
  } catch (error) {
    return error as SluiceError;
  }
  throw new Error('expected the step to be refused');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('PythonScriptStep', () => {
  it('is a step definition a Pipeline accepts', () => {
    const rate = new PipelineParameter({ name: 'learning_rate', defaultValue: 0.1 });
    const prepped = new PipelineData('prepped');
    const prepare = new PythonScriptStep({
      name: 'prepare',
      scriptName: 'prep.py',
      sourceDirectory: 'scripts',
      outputs: [prepped],
      arguments: ['--out', prepped],
    });
    const train = new PythonScriptStep({
      ...base,
      inputs: [prepped],
      arguments: ['--data', prepped, '--lr', rate, 3, true],
      computeTarget: { name: 'cpu' },
      allowReuse: false,
      timeoutSeconds: 60,
    });

    const pipeline = new Pipeline({ steps: [train, prepare] });

    expect(pipeline.order).toEqual(['prepare', 'train']);
    expect([...pipeline.parameters.keys()]).toEqual(['learning_rate']);
    expect(train).toMatchObject({
      name: 'train',
      kind: 'python-script',
      computeTarget: 'cpu',
      allowReuse: false,
      sourceDirectory: path.resolve('scripts'),
      config: { scriptName: 'train.py', timeoutSeconds: 60 },
    });
    expect(train.config.arguments).toEqual(['--data', prepped, '--lr', rate, 3, true]);
    expect(train.config.arguments[3]).toBe(rate);
    expect(train.plugin?.kind).toBe('python-script');
    expect(train.plugin).toBe(prepare.plugin);
    expect(prepare.allowReuse).toBe(true);
    expect(Object.isFrozen(train)).toBe(true);
  });

  it('resolves sourceDirectory against the working directory', () => {
    const step = new PythonScriptStep({ ...base, sourceDirectory: '../elsewhere/src' });
    expect(step.sourceDirectory).toBe(path.join(process.cwd(), '..', 'elsewhere', 'src'));
  });

  it.each([
    ['missing', undefined, /needs a scriptName/],
    ['empty', ' ', /needs a scriptName/],
    ['absolute (POSIX)', '/opt/train.py', /is absolute/],
    ['absolute (Windows)', 'C:\\scripts\\train.py', /is absolute/],
    ['leaving the folder', '../train.py', /leaves sourceDirectory/],
    ['leaving the folder midway', 'a/../../train.py', /leaves sourceDirectory/],
    ['leaving the folder (backslashes)', 'a\\..\\..\\train.py', /leaves sourceDirectory/],
  ])('refuses a scriptName that is %s', (_case, scriptName, message) => {
    const error = buildError({ scriptName });
    expect(error.code).toBe('STEP_INVALID');
    expect(error.message).toMatch(message);
  });

  it('accepts a scriptName in a subfolder', () => {
    expect(new PythonScriptStep({ ...base, scriptName: 'jobs/train.py' }).config.scriptName).toBe(
      'jobs/train.py',
    );
  });

  it.each([undefined, ''])('refuses a missing sourceDirectory (%j)', (sourceDirectory) => {
    const error = buildError({ sourceDirectory });
    expect(error.code).toBe('STEP_INVALID');
    expect(error.message).toMatch(/needs a sourceDirectory/);
  });

  it.each([0, -1, Number.NaN, '60'])('refuses timeoutSeconds %j', (timeoutSeconds) => {
    const error = buildError({ timeoutSeconds: timeoutSeconds as number });
    expect(error.code).toBe('STEP_INVALID');
    expect(error.message).toMatch(/timeoutSeconds must be a positive number/);
  });

  it("passes core's checks through: step names and arguments' data", () => {
    expect(buildError({ name: ' ' }).code).toBe('STEP_INVALID');
    const raw = new DataReference({ name: 'raw', datastore: 'store', pathOnDatastore: 'raw.csv' });
    expect(buildError({ arguments: ['--data', raw, { not: 'an argument' }] as never }).code).toBe(
      'STEP_INVALID',
    );
  });

  it("takes data given only in the arguments as inputs and outputs (the seed's data preparation step)", () => {
    const ds = new DataReference({ name: 'raw', datastore: 'store', pathOnDatastore: 'raw.csv' });
    const dsInput = ds.asInput('input1');
    const output = new OutputFileDatasetConfig({ name: 'output_data1' });
    const step = new PythonScriptStep({
      ...base,
      arguments: ['--input', dsInput.asDownload(), '--output', output],
    });
    expect(step.inputs.map((input) => [input.name, input.mode])).toEqual([['input1', 'download']]);
    expect(step.outputs).toEqual([output]);
  });

  it('is named after its script when it has no name, and keeps a name with spaces for people', () => {
    const unnamed = new PythonScriptStep({ scriptName: 'hello_world.py', sourceDirectory: 'scripts' });
    expect([unnamed.name, unnamed.displayName]).toEqual(['hello_world.py', undefined]);
    const hello = new PythonScriptStep({
      name: 'Hello World',
      scriptName: 'hello_world.py',
      sourceDirectory: 'scripts',
      allowReuse: false,
    });
    expect([hello.name, hello.displayName]).toEqual(['Hello_World', 'Hello World']);
  });

  it('warns once per process that hashPaths is deprecated', () => {
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    new PythonScriptStep({ ...base, hashPaths: ['train.py'] });
    new PythonScriptStep({ ...base, name: 'again', hashPaths: ['train.py'] });

    expect(emitWarning).toHaveBeenCalledTimes(1);
    expect(emitWarning).toHaveBeenCalledWith(
      expect.stringMatching(/hashPaths .*every file in the source directory/),
      {
        type: 'DeprecationWarning',
        code: 'SLUICE_HASH_PATHS',
      },
    );
  });
});
