import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DataReference,
  OutputFileDatasetConfig,
  PipelineData,
  PipelineParameter,
  PluginRegistry,
  isSluiceError,
} from '@sluice/core';
import pkg from '../../package.json' with { type: 'json' };
import { PythonScriptStep, pythonScriptStep } from '../index.js';
import { tempDir } from './helpers.js';

describe('pythonScriptStep()', () => {
  it('is a step kind plugin the registry accepts', () => {
    const plugin = pythonScriptStep();
    expect(plugin).toMatchObject({
      type: 'step',
      kind: 'python-script',
      name: '@sluice/step-python',
      version: pkg.version,
      coreRange: '^0.1.0',
      reuseVersion: '1',
    });
    const registry = new PluginRegistry().use(plugin);
    expect(registry.step('python-script')).toBe(plugin);
  });

  it('fingerprints the script and the canonical arguments', () => {
    const rate = new PipelineParameter({ name: 'learning_rate', defaultValue: 0.1 });
    const prepped = new PipelineData('prepped');
    const raw = new DataReference({ name: 'raw', datastore: 'store', pathOnDatastore: 'iris.csv' });
    const model = new OutputFileDatasetConfig({ name: 'model' });
    const step = new PythonScriptStep({
      name: 'train',
      scriptName: 'train.py',
      sourceDirectory: 'scripts',
      inputs: [prepped.asDownload().asNamedInput('training'), raw],
      outputs: [model],
      arguments: ['--lr', rate, '--data', prepped, '--raw', raw, '--model', model, '--epochs', 5, true],
    });

    expect(pythonScriptStep().fingerprint(step)).toEqual([
      { name: 'script', value: 'train.py' },
      {
        name: 'arguments',
        value: [
          '--lr',
          { parameter: 'learning_rate' },
          '--data',
          { input: 'training' },
          '--raw',
          { input: 'raw' },
          '--model',
          { output: 'model' },
          '--epochs',
          5,
          true,
        ],
      },
    ]);
  });

  describe('validate()', () => {
    const step = new PythonScriptStep({ name: 'train', scriptName: 'jobs/train.py', sourceDirectory: '.' });
    /** What validate throws (undefined when it passes). */
    const refusal = (...args: Parameters<NonNullable<ReturnType<typeof pythonScriptStep>['validate']>>) => {
      try {
        pythonScriptStep().validate!(...args);
      } catch (error) {
        return error;
      }
      return undefined;
    };

    it('accepts a script that is a file in the source directory', async () => {
      const dir = await tempDir();
      await mkdir(path.join(dir, 'jobs'));
      await writeFile(path.join(dir, 'jobs', 'train.py'), 'print("hi")\n');
      expect(() => pythonScriptStep().validate!(step, { sourceDirectory: dir })).not.toThrow();
    });

    it.each([
      ['missing', async () => {}],
      ['a folder', (dir: string) => mkdir(path.join(dir, 'jobs', 'train.py'), { recursive: true })],
    ])('refuses a script that is %s', async (_case, arrange) => {
      const dir = await tempDir();
      await arrange(dir);
      const thrown = refusal(step, { sourceDirectory: dir });
      expect(isSluiceError(thrown, 'SCRIPT_NOT_FOUND')).toBe(true);
      expect((thrown as Error).message).toMatch(/"jobs\/train.py" is not a file .* Fix scriptName/);
    });

    it("names the user's source directory, not the snapshot copy it checked", async () => {
      const user = await tempDir();
      const snapshot = await tempDir();
      const ofUser = new PythonScriptStep({ name: 'train', scriptName: 'train.py', sourceDirectory: user });
      const thrown = refusal(ofUser, { sourceDirectory: snapshot });
      expect(isSluiceError(thrown, 'SCRIPT_NOT_FOUND')).toBe(true);
      expect((thrown as Error).message).toContain(`in the source directory ${user}.`);
      expect((thrown as Error).message).not.toContain(snapshot);
    });

    it('refuses a step with no source directory, or a compute target that cannot run processes', async () => {
      expect(isSluiceError(refusal(step, { sourceDirectory: undefined }), 'SOURCE_DIRECTORY_NOT_FOUND')).toBe(
        true,
      );

      const dir = await tempDir();
      await mkdir(path.join(dir, 'jobs'));
      await writeFile(path.join(dir, 'jobs', 'train.py'), 'print("hi")\n');
      const remote = { name: 'remote', kind: 'api', describe: () => ({}) };
      const thrown = refusal(step, { sourceDirectory: dir, compute: remote });
      expect(isSluiceError(thrown, 'STEP_INVALID')).toBe(true);
      expect((thrown as Error).message).toMatch(/compute target "remote" \(api\) cannot run processes/);
      const local = { ...remote, runProcess: () => Promise.reject(new Error('not run')) };
      expect(() =>
        pythonScriptStep().validate!(step, { sourceDirectory: dir, compute: local }),
      ).not.toThrow();
    });
  });
});
