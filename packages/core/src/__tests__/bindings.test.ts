import { describe, expect, it } from 'vitest';
import {
  DataReference,
  InputBinding,
  OutputFileDatasetConfig,
  PipelineData,
  datastoreName,
  isExternalData,
  isInputBinding,
  isProducedData,
  toInputBinding,
} from '../index.js';
import { describeValue } from '../bindings.js';
import { sluiceErrorOf } from './helpers.js';

const BAD_DATA_NAMES = ['', '1abc', 'a.b', 'a b', 'a/b', '-x', 'é'];

describe('PipelineData', () => {
  it('defaults its output name to its name and has no datastore unless given', () => {
    const d = new PipelineData('prepped_data');
    expect(d.name).toBe('prepped_data');
    expect(d.outputName).toBe('prepped_data');
    expect(d.datastore).toBeUndefined();
    expect(d.bindingKind).toBe('pipeline-data');
    expect(d.toJSON()).toEqual({
      kind: 'pipeline-data',
      name: 'prepped_data',
      datastore: undefined,
      outputName: 'prepped_data',
    });
  });

  it('takes the datastore as an object or its name, and an output name', () => {
    expect(new PipelineData('d', { datastore: 'blob' }).datastore).toBe('blob');
    const store = { name: 'local', kind: 'folder', extra: 1 };
    const d = new PipelineData('d', { datastore: store, outputName: 'out-1' });
    expect(d.datastore).toBe('local');
    expect(d.outputName).toBe('out-1');
    expect(JSON.parse(JSON.stringify(d))).toEqual({
      kind: 'pipeline-data',
      name: 'd',
      datastore: 'local',
      outputName: 'out-1',
    });
  });

  it.each(BAD_DATA_NAMES)('rejects the name %j', (name) => {
    const error = sluiceErrorOf(() => new PipelineData(name));
    expect(error.code).toBe('PIPELINE_INVALID');
    expect(error.message).toContain(JSON.stringify(name));
    expect(error.message).toContain('PipelineData');
  });

  it('rejects a bad output name', () => {
    const error = sluiceErrorOf(() => new PipelineData('ok', { outputName: 'not ok' }));
    expect(error.code).toBe('PIPELINE_INVALID');
    expect(error.message).toContain('"not ok"');
    expect(sluiceErrorOf(() => new PipelineData(42 as never)).code).toBe('PIPELINE_INVALID');
  });

  it.each(['a', '_a', 'A-1_b', 'x9'])('accepts the name %j', (name) => {
    expect(new PipelineData(name).name).toBe(name);
  });
});

describe('OutputFileDatasetConfig', () => {
  it('has its name as output name and no destination by default', () => {
    const o = new OutputFileDatasetConfig({ name: 'model' });
    expect(o.outputName).toBe('model');
    expect(o.destination).toBeUndefined();
    expect(o.toJSON()).toEqual({ kind: 'output-dataset', name: 'model', destination: undefined });
  });

  it('takes a destination with a datastore object or name', () => {
    const a = new OutputFileDatasetConfig({ name: 'm', destination: [{ name: 'blob' }, 'models/{run-id}'] });
    expect(a.destination).toEqual({ datastore: 'blob', path: 'models/{run-id}' });
    const b = new OutputFileDatasetConfig({ name: 'm', destination: ['local', 'out/{output-name}'] });
    expect(b.destination).toEqual({ datastore: 'local', path: 'out/{output-name}' });
    expect(b.toJSON()).toEqual({
      kind: 'output-dataset',
      name: 'm',
      destination: { datastore: 'local', path: 'out/{output-name}' },
    });
  });

  it.each([[''], ['   '], [undefined], [7]])('rejects the destination path %j', (path) => {
    const error = sluiceErrorOf(
      () => new OutputFileDatasetConfig({ name: 'model', destination: ['blob', path] as never }),
    );
    expect(error.code).toBe('PIPELINE_INVALID');
    expect(error.message).toContain('"model"');
    expect(error.message).toContain('destination');
  });

  it.each(BAD_DATA_NAMES)('rejects the name %j', (name) => {
    const error = sluiceErrorOf(() => new OutputFileDatasetConfig({ name }));
    expect(error.code).toBe('PIPELINE_INVALID');
    expect(error.message).toContain('OutputFileDatasetConfig');
  });

  it('checks registerOnComplete options when given, not when the step has finished', () => {
    const o = new OutputFileDatasetConfig({ name: 'model' });
    for (const options of [
      { name: 'has space' },
      { name: 'ds', tags: { stage: 3 } },
      { name: 'ds', tags: ['a'] },
      { name: 'ds', tags: 'stage' },
      { name: 'ds', description: 7 },
    ]) {
      expect(sluiceErrorOf(() => o.registerOnComplete(options as never)).code).toBe('PIPELINE_INVALID');
    }
    expect(o.registration).toBeUndefined();
    o.registerOnComplete({ name: 'ds', description: 'the model', tags: { stage: 'train' } });
    expect(o.registration).toEqual({ name: 'ds', description: 'the model', tags: { stage: 'train' } });
  });

  it('is consumed in place by asInput(), optionally under another name', () => {
    const o = new OutputFileDatasetConfig({ name: 'model' });
    const input = o.asInput();
    expect(input).toBeInstanceOf(InputBinding);
    expect([input.name, input.mode, input.source]).toEqual(['model', 'mount', o]);
    const named = o.asInput('trained_model');
    expect([named.name, named.mode]).toEqual(['trained_model', 'mount']);
    expect(sluiceErrorOf(() => o.asInput('bad name')).code).toBe('PIPELINE_INVALID');
    expect(o.asDownload().mode).toBe('download');
  });
});

describe('DataReference', () => {
  it('takes name or dataReferenceName, and a datastore object or name', () => {
    const a = new DataReference({
      datastore: { name: 'blob' },
      pathOnDatastore: 'raw/iris.csv',
      name: 'raw',
    });
    expect([a.name, a.datastore, a.pathOnDatastore, a.external]).toEqual([
      'raw',
      'blob',
      'raw/iris.csv',
      true,
    ]);
    const b = new DataReference({ datastore: 'local', pathOnDatastore: '', dataReferenceName: 'root' });
    expect([b.name, b.datastore, b.pathOnDatastore]).toEqual(['root', 'local', '']);
    // name wins over dataReferenceName
    expect(
      new DataReference({ datastore: 's', pathOnDatastore: 'p', name: 'first', dataReferenceName: 'second' })
        .name,
    ).toBe('first');
    expect(a.toJSON()).toEqual({
      kind: 'data-reference',
      name: 'raw',
      datastore: 'blob',
      pathOnDatastore: 'raw/iris.csv',
    });
  });

  it('needs a valid name, a datastore and a path', () => {
    expect(sluiceErrorOf(() => new DataReference({ datastore: 's', pathOnDatastore: 'p' })).code).toBe(
      'PIPELINE_INVALID',
    );
    expect(
      sluiceErrorOf(() => new DataReference({ datastore: 's', pathOnDatastore: 'p', name: 'a.b' })).code,
    ).toBe('PIPELINE_INVALID');
    const noStore = sluiceErrorOf(
      () => new DataReference({ datastore: '', pathOnDatastore: 'p', name: 'raw' }),
    );
    expect(noStore.code).toBe('PIPELINE_INVALID');
    expect(noStore.message).toContain('"raw" needs a datastore');
    expect(
      sluiceErrorOf(
        () => new DataReference({ datastore: undefined as never, pathOnDatastore: 'p', name: 'raw' }),
      ).code,
    ).toBe('PIPELINE_INVALID');
    const noPath = sluiceErrorOf(
      () => new DataReference({ datastore: 's', pathOnDatastore: undefined as never, name: 'raw' }),
    );
    expect(noPath.code).toBe('PIPELINE_INVALID');
    expect(noPath.message).toContain('pathOnDatastore');
  });
});

describe('input bindings', () => {
  const sources = () => [
    new PipelineData('d'),
    new OutputFileDatasetConfig({ name: 'd' }),
    new DataReference({ datastore: 's', pathOnDatastore: 'p', name: 'd' }),
  ];

  it('asDownload / asMount choose the delivery and keep the data name', () => {
    for (const source of sources()) {
      const down = source.asDownload();
      const mount = source.asMount();
      expect([down.mode, down.name, down.source]).toEqual(['download', 'd', source]);
      expect([mount.mode, mount.name, mount.source]).toEqual(['mount', 'd', source]);
    }
  });

  it('asNamedInput renames and keeps the mode; asDownload/asMount on a binding keep the name', () => {
    const d = new PipelineData('d');
    const named = d.asDownload().asNamedInput('training');
    expect([named.name, named.mode, named.source]).toEqual(['training', 'download', d]);
    const remounted = named.asMount();
    expect([remounted.name, remounted.mode]).toEqual(['training', 'mount']);
    const redownloaded = d.asMount().asNamedInput('x').asDownload();
    expect([redownloaded.name, redownloaded.mode]).toEqual(['x', 'download']);
    expect(sluiceErrorOf(() => d.asMount().asNamedInput('1bad')).code).toBe('PIPELINE_INVALID');
    expect(named.toJSON()).toEqual({ name: 'training', mode: 'download', source: d.toJSON() });
  });

  it('toInputBinding mounts bare data by default and refuses other values', () => {
    for (const source of sources()) {
      const binding = toInputBinding(source);
      expect([binding.mode, binding.name, binding.source]).toEqual(['mount', 'd', source]);
    }
    const existing = new PipelineData('d').asDownload();
    expect(toInputBinding(existing)).toBe(existing);
    const error = sluiceErrorOf(() => toInputBinding({ name: 'x' } as never));
    expect(error.code).toBe('STEP_INVALID');
    expect(error.message).toContain('got Object');
  });

  it('accepts any external data shaped like a DataReference (e.g. a dataset)', () => {
    const dataset = {
      external: true as const,
      bindingKind: 'dataset',
      name: 'iris',
      datastore: undefined,
      pathOnDatastore: 'datasets/iris',
      asDownload: () => new InputBinding(dataset, 'download'),
      asMount: () => new InputBinding(dataset, 'mount'),
      toJSON: () => ({ kind: 'dataset', name: 'iris' }),
    };
    expect(isExternalData(dataset)).toBe(true);
    expect(toInputBinding(dataset).name).toBe('iris');
  });
});

describe('type guards and helpers', () => {
  it('isProducedData / isExternalData / isInputBinding', () => {
    const d = new PipelineData('d');
    const o = new OutputFileDatasetConfig({ name: 'o' });
    const r = new DataReference({ datastore: 's', pathOnDatastore: 'p', name: 'r' });
    expect([d, o, r, d.asMount(), {}, null].map(isProducedData)).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
    expect([d, o, r, d.asMount(), { external: true }, null].map(isExternalData)).toEqual([
      false,
      false,
      true,
      false,
      false,
      false,
    ]);
    expect([d, r.asMount(), { bindingKind: 'input' }].map(isInputBinding)).toEqual([false, true, false]);
  });

  it('datastoreName', () => {
    expect(datastoreName(undefined)).toBeUndefined();
    expect(datastoreName('blob')).toBe('blob');
    expect(datastoreName({ name: 'local' })).toBe('local');
  });

  it('describeValue names what it got', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue('x')).toBe('string "x"');
    expect(describeValue(3)).toBe('number 3');
    expect(describeValue(new PipelineData('d'))).toBe('PipelineData');
    expect(describeValue(Object.create(null))).toBe('object');
  });
});
