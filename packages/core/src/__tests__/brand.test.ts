import { describe, expect, it } from 'vitest';
import {
  DataReference,
  Environment,
  InputBinding,
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  PipelineParameter,
  RunConfiguration,
  isExternalData,
  isInputBinding,
  isPipelineParameter,
  isProducedData,
  resolveParameterValues,
} from '../index.js';
import type * as Bindings from '../bindings.js';
import type * as Environments from '../environment.js';
import type * as Parameters from '../parameters.js';
import { step } from './helpers.js';

/**
 * A second, separately evaluated copy of a core module, as when a pipeline file loads another installed
 * copy of @sluice/core: its classes are different objects from ours.
 */
async function secondCopy<T>(module: string): Promise<T> {
  const specifier = `../${module}?second-copy`;
  return (await import(/* @vite-ignore */ specifier)) as T;
}

describe('instanceof across copies of core', () => {
  it('recognises data, bindings and parameters made by another copy', async () => {
    const bindings = await secondCopy<typeof Bindings>('bindings.js');
    const parameters = await secondCopy<typeof Parameters>('parameters.js');
    const environment = await secondCopy<typeof Environments>('environment.js');
    expect(bindings.PipelineData).not.toBe(PipelineData);
    expect(parameters.PipelineParameter).not.toBe(PipelineParameter);

    const d = new bindings.PipelineData('d');
    const o = new bindings.OutputFileDatasetConfig({ name: 'o' });
    const r = new bindings.DataReference({ datastore: 's', pathOnDatastore: 'p', name: 'r' });
    const p = new parameters.PipelineParameter({ name: 'lr', defaultValue: 0.1 });
    expect(d).toBeInstanceOf(PipelineData);
    expect(o).toBeInstanceOf(OutputFileDatasetConfig);
    expect(r).toBeInstanceOf(DataReference);
    expect(d.asDownload()).toBeInstanceOf(InputBinding);
    expect(p).toBeInstanceOf(PipelineParameter);
    expect(new environment.Environment({ name: 'e' })).toBeInstanceOf(Environment);
    expect(new environment.RunConfiguration()).toBeInstanceOf(RunConfiguration);
    expect([isProducedData(d), isProducedData(o), isExternalData(r), isInputBinding(r.asMount())]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(isPipelineParameter(p)).toBe(true);

    // and they work in a pipeline built with this copy
    const pipeline = new Pipeline({
      steps: [
        step('a', { inputs: [r], outputs: [d] }),
        step('b', { inputs: [d.asDownload()], arguments: [p] }),
      ],
    });
    expect(pipeline.order).toEqual(['a', 'b']);
    expect(resolveParameterValues(pipeline.parameters, { lr: '0.2' })).toEqual({ lr: 0.2 });
  });

  it('still tells the classes apart', () => {
    const d = new PipelineData('d');
    expect(d).not.toBeInstanceOf(OutputFileDatasetConfig);
    expect(d).not.toBeInstanceOf(DataReference);
    expect(d).not.toBeInstanceOf(InputBinding);
    expect(d.asMount()).not.toBeInstanceOf(PipelineData);
    expect({ name: 'd', outputName: 'd' }).not.toBeInstanceOf(PipelineData);
    expect(null).not.toBeInstanceOf(PipelineData);
    expect(new Environment({ name: 'e' })).not.toBeInstanceOf(RunConfiguration);
  });
});
