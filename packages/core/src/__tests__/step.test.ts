import { describe, expect, it } from 'vitest';
import {
  DataReference,
  Environment,
  OutputFileDatasetConfig,
  PipelineData,
  PipelineParameter,
  RunConfiguration,
  canonicalArgument,
  defineStep,
} from '../index.js';
import { sluiceErrorOf, step } from './helpers.js';

const raw = () => new DataReference({ datastore: 'store', pathOnDatastore: 'raw', name: 'raw' });

describe('defineStep', () => {
  it('builds a frozen definition with defaults', () => {
    const s = step('prep');
    expect(s).toMatchObject({
      name: 'prep',
      kind: 'test',
      plugin: undefined,
      inputs: [],
      outputs: [],
      parameters: [],
      computeTarget: undefined,
      runConfig: undefined,
      sourceDirectory: undefined,
      allowReuse: true,
      runAfter: [],
      config: {},
    });
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.inputs)).toBe(true);
    expect(Object.isFrozen(s.outputs)).toBe(true);
    expect(Object.isFrozen(s.parameters)).toBe(true);
  });

  it('keeps the options it is given', () => {
    const runConfig = new RunConfiguration({ environment: new Environment({ name: 'sk' }) });
    const s = defineStep({
      kind: 'k',
      name: 'train',
      config: { script: 'train.py' },
      computeTarget: { name: 'gpu' },
      runConfig,
      sourceDirectory: './src',
      allowReuse: false,
    });
    expect(s.computeTarget).toBe('gpu');
    expect(s.runConfig).toBe(runConfig);
    expect(s.sourceDirectory).toBe('./src');
    expect(s.allowReuse).toBe(false);
    expect(s.config).toEqual({ script: 'train.py' });
    expect(defineStep({ kind: 'k', name: 'x', config: null, computeTarget: 'cpu' }).computeTarget).toBe(
      'cpu',
    );
  });

  it.each([[''], ['   '], ['tab\there'], [42], [undefined]])('rejects the step name %j', (name) => {
    const error = sluiceErrorOf(() => defineStep({ kind: 'test', name: name as string, config: {} }));
    expect(error.code).toBe('STEP_INVALID');
    if (name !== undefined) expect(error.message).toContain(String(JSON.stringify(name)));
    else expect(error.message).toMatch(/needs a name/);
  });

  it.each([
    ['has space', 'has_space'],
    ['-leading-dash', 'leading-dash'],
    ['.leading-dot', 'leading-dot'],
    ['a/b', 'a_b'],
    ['ünïcode', 'unicode'],
  ])('keeps the name %j for people and gives the step the id %j', (name, id) => {
    const defined = defineStep({ kind: 'test', name, config: {} });
    expect([defined.name, defined.displayName]).toEqual([id, name]);
  });

  it('refuses an id that is not safe', () => {
    expect(sluiceErrorOf(() => defineStep({ kind: 'test', name: 'x', id: 'a b', config: {} })).code).toBe(
      'STEP_INVALID',
    );
  });

  it.each([['a'], ['A1'], ['_x'], ['0lead'], ['prep.v2-final_3']])('accepts the step name %j', (name) => {
    expect(step(name).name).toBe(name);
  });

  it('turns inputs into bindings: data is mounted by default, bindings are kept', () => {
    const d = new PipelineData('d');
    const r = raw();
    const downloaded = d.asDownload();
    const s = step('s', { inputs: [r, downloaded] });
    expect(s.inputs.map((input) => [input.name, input.mode])).toEqual([
      ['raw', 'mount'],
      ['d', 'download'],
    ]);
    expect(s.inputs[0]!.source).toBe(r);
    expect(s.inputs[1]).toBe(downloaded);
  });

  it('rejects inputs and outputs of the wrong kind', () => {
    const badInput = sluiceErrorOf(() => step('s', { inputs: ['data.csv' as never] }));
    expect(badInput.code).toBe('STEP_INVALID');
    expect(badInput.message).toContain('Step "s"');
    expect(badInput.message).toContain('string "data.csv"');
    expect(badInput.cause).toBeInstanceOf(Error);

    const badOutput = sluiceErrorOf(() => step('s', { outputs: [raw() as never] }));
    expect(badOutput.code).toBe('STEP_INVALID');
    expect(badOutput.message).toContain('DataReference');
  });

  it('rejects two inputs with the same name and suggests asNamedInput', () => {
    const d = new PipelineData('d');
    const error = sluiceErrorOf(() => step('s', { inputs: [d, d.asDownload()] }));
    expect(error.code).toBe('STEP_INVALID');
    expect(error.message).toContain('"d"');
    expect(error.message).toContain('asNamedInput');

    // different sources with the same name collide too
    const clash = sluiceErrorOf(() =>
      step('s', {
        inputs: [
          new PipelineData('x'),
          new DataReference({ datastore: 'st', pathOnDatastore: 'p', name: 'x' }),
        ],
      }),
    );
    expect(clash.code).toBe('STEP_INVALID');

    // renaming one resolves it
    expect(step('s', { inputs: [d, d.asDownload().asNamedInput('d2')] }).inputs.map((i) => i.name)).toEqual([
      'd',
      'd2',
    ]);
  });

  it('rejects an output name used twice, or shared with an input', () => {
    const twice = sluiceErrorOf(() =>
      step('s', { outputs: [new PipelineData('o'), new OutputFileDatasetConfig({ name: 'o' })] }),
    );
    expect(twice.code).toBe('STEP_INVALID');
    expect(twice.message).toContain('"o"');

    const shared = sluiceErrorOf(() => step('s', { inputs: [raw()], outputs: [new PipelineData('raw')] }));
    expect(shared.code).toBe('STEP_INVALID');
    expect(shared.message).toContain('"raw"');

    // the output name, not the data name, is what must be unique
    const renamed = step('s', {
      outputs: [new PipelineData('o'), new PipelineData('o', { outputName: 'o2' })],
    });
    expect(renamed.outputs.map((o) => o.outputName)).toEqual(['o', 'o2']);
  });

  it('adds data given only in the arguments to the inputs and outputs, as the original SDK does', () => {
    const prepped = new PipelineData('prepped');
    const results = new OutputFileDatasetConfig({ name: 'results' });
    const r = raw();
    const s = step('s', {
      arguments: ['--in', prepped.asDownload(), '--raw', r, '--out', results, '--again', results],
    });
    expect(s.inputs.map((input) => [input.name, input.mode, input.source])).toEqual([
      ['prepped', 'download', prepped],
      ['raw', 'mount', r],
    ]);
    expect(s.outputs).toEqual([results]);
    // data already listed is not added twice; a binding matches a listed input by its source
    const named = r.asInput('input1');
    const listed = step('t', { inputs: [named], arguments: ['--raw', named.asDownload()] });
    expect(listed.inputs).toEqual([named]);
    // bare produced data that is listed as an input stays an input
    const consumer = step('u', { inputs: [prepped], arguments: [prepped] });
    expect(consumer.outputs).toEqual([]);
    // a step's own output may not be passed as an input binding
    const out = new PipelineData('model');
    expect(sluiceErrorOf(() => step('s', { arguments: [out.asDownload()], outputs: [out] })).code).toBe(
      'STEP_INVALID',
    );
    // added data still obeys the name rules
    expect(
      sluiceErrorOf(() => step('s', { inputs: [raw()], arguments: [new PipelineData('raw')] })).code,
    ).toBe('STEP_INVALID');
  });

  it('accepts argument data listed among the inputs (by source) or outputs', () => {
    const d = new PipelineData('prepped');
    const out = new PipelineData('model');
    const r = raw();
    const s = step('s', {
      inputs: [d.asDownload().asNamedInput('training'), r],
      outputs: [out],
      // a different binding of the same source still counts as listed
      arguments: [d, d.asMount(), r, r.asDownload(), out, '--flag', 3, true],
    });
    expect(s.inputs).toHaveLength(2);
  });

  it.each([
    [null, 'null'],
    [undefined, 'undefined'],
    [{ a: 1 }, 'Object'],
    [['x'], 'Array'],
    [new Date(0), 'Date'],
    [() => 1, 'function'],
  ])('rejects the argument %s', (argument, words) => {
    const error = sluiceErrorOf(() => step('s', { arguments: [argument as never] }));
    expect(error.code).toBe('STEP_INVALID');
    expect(error.message).toContain(words);
  });

  it('collects parameters from arguments and parameterValues, nested, once each', () => {
    const lr = new PipelineParameter({ name: 'lr', defaultValue: 0.1 });
    const epochs = new PipelineParameter({ name: 'epochs', defaultValue: 10 });
    const tag = new PipelineParameter({ name: 'tag', defaultValue: 'v1' });
    const deep = new PipelineParameter({ name: 'deep', defaultValue: true });
    const inClass = new PipelineParameter({ name: 'in_class', defaultValue: 1 });
    class Holder {
      constructor(readonly p: PipelineParameter) {}
    }
    const s = step('s', {
      arguments: ['--lr', lr, '--lr-again', lr],
      parameterValues: [
        { epochs, nested: { list: [tag, { deep }] } },
        [lr],
        'plain',
        5,
        null,
        new Holder(inClass),
      ],
    });
    expect(s.parameters.map((p) => p.name)).toEqual(['lr', 'epochs', 'tag', 'deep']);
    expect(s.parameters[0]).toBe(lr);
  });

  it('rejects runAfter entries that are not steps', () => {
    const error = sluiceErrorOf(() => step('s', { runAfter: [{ name: 'x' } as never] }));
    expect(error.code).toBe('STEP_INVALID');
    expect(error.message).toContain('runAfter');
    expect(sluiceErrorOf(() => step('s', { runAfter: [null as never] })).code).toBe('STEP_INVALID');
    const before = step('before');
    expect(step('s', { runAfter: [before] }).runAfter).toEqual([before]);
  });
});

describe('canonicalArgument', () => {
  it('turns data and parameters into location-free references', () => {
    const lr = new PipelineParameter({ name: 'lr', defaultValue: 0.1 });
    const d = new PipelineData('prepped');
    const r = raw();
    const out = new PipelineData('model_data', { outputName: 'model' });
    const s = step('s', {
      inputs: [d.asDownload().asNamedInput('training'), r],
      outputs: [out],
      arguments: [lr, d, d.asMount(), r, out, '--x', 2, false],
    });
    expect(s.inputs.map((i) => i.name)).toEqual(['training', 'raw']);
    expect(canonicalArgument(s, lr)).toEqual({ parameter: 'lr' });
    // the step's own name for the input wins over the binding's
    expect(canonicalArgument(s, d)).toEqual({ input: 'training' });
    expect(canonicalArgument(s, d.asMount())).toEqual({ input: 'training' });
    expect(canonicalArgument(s, r)).toEqual({ input: 'raw' });
    expect(canonicalArgument(s, out)).toEqual({ output: 'model' });
    expect(canonicalArgument(s, '--x')).toBe('--x');
    expect(canonicalArgument(s, 2)).toBe(2);
    expect(canonicalArgument(s, false)).toBe(false);
  });

  it('names the very binding passed as the argument when a source is consumed twice', () => {
    const d = new PipelineData('d');
    const copied = d.asDownload().asNamedInput('copied');
    const inPlace = d.asMount().asNamedInput('in_place');
    const s = step('s', { inputs: [copied, inPlace], arguments: [copied, inPlace] });
    expect(canonicalArgument(s, inPlace)).toEqual({ input: 'in_place' });
    expect(canonicalArgument(s, copied)).toEqual({ input: 'copied' });
    // bare data or another binding of the source falls back to the first input with that source
    expect(canonicalArgument(s, d)).toEqual({ input: 'copied' });
    expect(canonicalArgument(s, d.asMount())).toEqual({ input: 'copied' });
  });
});
