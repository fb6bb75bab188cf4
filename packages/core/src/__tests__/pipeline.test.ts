import { describe, expect, it } from 'vitest';
import {
  DataReference,
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  PipelineParameter,
  type StepList,
} from '../index.js';
import { sluiceErrorOf, step } from './helpers.js';

const raw = () => new DataReference({ datastore: 'store', pathOnDatastore: 'raw/iris.csv', name: 'raw' });

describe('Pipeline validation', () => {
  it('rejects a pipeline without steps (PIPELINE_EMPTY), also when only empty nested arrays are given', () => {
    const empty = sluiceErrorOf(() => new Pipeline({ name: 'nothing', steps: [] }));
    expect(empty.code).toBe('PIPELINE_EMPTY');
    expect(empty.message).toContain('"nothing"');

    const nestedEmpty = sluiceErrorOf(() => new Pipeline({ steps: [[], [[]]] }));
    expect(nestedEmpty.code).toBe('PIPELINE_EMPTY');
  });

  it('rejects a missing steps array and non-step entries (PIPELINE_INVALID)', () => {
    expect(sluiceErrorOf(() => new Pipeline({} as never)).code).toBe('PIPELINE_INVALID');
    expect(sluiceErrorOf(() => new Pipeline({ steps: 'a' } as never)).code).toBe('PIPELINE_INVALID');
    expect(sluiceErrorOf(() => new Pipeline({ steps: [step('a'), { name: 'b' }] } as never)).code).toBe(
      'PIPELINE_INVALID',
    );
    expect(sluiceErrorOf(() => new Pipeline({ steps: [null] } as never)).code).toBe('PIPELINE_INVALID');
  });

  it('rejects two different steps with the same name (STEP_NAME_DUPLICATE)', () => {
    const error = sluiceErrorOf(() => new Pipeline({ steps: [step('train'), step('prep'), step('train')] }));
    expect(error.code).toBe('STEP_NAME_DUPLICATE');
    expect(error.message).toContain('"train"');
    expect(error.details).toEqual({ step: 'train' });
  });

  it('accepts the same step object listed twice, keeping it once', () => {
    const a = step('a');
    const pipeline = new Pipeline({ steps: [a, [a], a] });
    expect(pipeline.steps).toEqual([a]);
    expect(pipeline.order).toEqual(['a']);
  });

  it('detects a two-step cycle through data and names both steps (CYCLE_DETECTED)', () => {
    const x = new PipelineData('x');
    const y = new PipelineData('y');
    const a = step('a', { inputs: [y], outputs: [x] });
    const b = step('b', { inputs: [x], outputs: [y] });
    const error = sluiceErrorOf(() => new Pipeline({ steps: [a, b] }));
    expect(error.code).toBe('CYCLE_DETECTED');
    expect(error.message).toContain('"a"');
    expect(error.message).toContain('"b"');
    expect([...(error.details.steps as string[])].sort()).toEqual(['a', 'b']);
  });

  it('detects a three-step cycle through data, naming exactly the steps in the cycle', () => {
    const ab = new PipelineData('ab');
    const bc = new PipelineData('bc');
    const ca = new PipelineData('ca');
    const a = step('a', { inputs: [ca], outputs: [ab] });
    const b = step('b', { inputs: [ab], outputs: [bc] });
    const c = step('c', { inputs: [bc], outputs: [ca] });
    // 'after' depends on the cycle but is not part of it; 'free' is unrelated
    const after = step('after', { inputs: [bc] });
    const free = step('free');
    const error = sluiceErrorOf(() => new Pipeline({ steps: [free, a, b, c, after] }));
    expect(error.code).toBe('CYCLE_DETECTED');
    const steps = error.details.steps as string[];
    expect([...steps].sort()).toEqual(['a', 'b', 'c']);
    for (const name of ['a', 'b', 'c']) expect(error.message).toContain(`"${name}"`);
    expect(error.message).not.toContain('"after"');
    expect(error.message).not.toContain('"free"');
    // the message walks the cycle and returns to where it started
    expect(error.message).toContain(`${steps.map((name) => `"${name}"`).join(' → ')} → "${steps[0]}"`);
    // each consecutive pair in the reported cycle is a real dependency a → b → c → a
    const next: Record<string, string> = { a: 'b', b: 'c', c: 'a' };
    steps.forEach((name, i) => expect(steps[(i + 1) % steps.length]).toBe(next[name]));
  });

  it('detects a cycle that goes through runAfter', () => {
    // b consumes a's output (a → b); a must run after b (b → a)
    const out = new PipelineData('out');
    const b = step('b', { inputs: [out] });
    const a = step('a', { outputs: [out], runAfter: [b] });
    const error = sluiceErrorOf(() => new Pipeline({ steps: [a, b] }));
    expect(error.code).toBe('CYCLE_DETECTED');
    expect([...(error.details.steps as string[])].sort()).toEqual(['a', 'b']);
  });

  it('orders a 10,000-step chain, and finds a cycle closing one, without running out of stack', () => {
    const steps: ReturnType<typeof step>[] = [];
    const outputs: PipelineData[] = [];
    for (let i = 0; i < 10_000; i++) {
      outputs.push(new PipelineData(`d${i}`));
      steps.push(step(`s${i}`, { inputs: i > 0 ? [outputs[i - 1]!] : [], outputs: [outputs[i]!] }));
    }
    const pipeline = new Pipeline({ steps: [...steps].reverse() });
    expect(pipeline.order[0]).toBe('s0');
    expect(pipeline.order[9_999]).toBe('s9999');

    // the same chain with its first step after its last: every step is in the cycle
    const first = step('s0', { outputs: [outputs[0]!], runAfter: [steps[9_999]!] });
    const error = sluiceErrorOf(() => new Pipeline({ steps: [first, ...steps.slice(1)] }));
    expect(error.code).toBe('CYCLE_DETECTED');
    expect((error.details.steps as string[]).length).toBe(10_000);
  });

  it('rejects a step consuming its own output', () => {
    const d = new PipelineData('d');
    // same name for the input and the output is already refused by defineStep
    expect(sluiceErrorOf(() => step('loop', { inputs: [d], outputs: [d] })).code).toBe('STEP_INVALID');
    // renamed, it reaches the pipeline, which sees the self-dependency
    const loop = step('loop', { inputs: [d.asDownload().asNamedInput('d_in')], outputs: [d] });
    const error = sluiceErrorOf(() => new Pipeline({ steps: [loop] }));
    expect(error.code).toBe('CYCLE_DETECTED');
    expect(error.message).toContain('"loop"');
    expect(error.message).toContain('"d"');
    expect(error.details).toEqual({ steps: ['loop'] });
  });

  it('rejects the same PipelineData produced by two steps (OUTPUT_PRODUCED_TWICE)', () => {
    const model = new PipelineData('model');
    const error = sluiceErrorOf(
      () =>
        new Pipeline({
          steps: [step('train_a', { outputs: [model] }), step('train_b', { outputs: [model] })],
        }),
    );
    expect(error.code).toBe('OUTPUT_PRODUCED_TWICE');
    expect(error.message).toContain('"model"');
    expect(error.message).toContain('"train_a"');
    expect(error.message).toContain('"train_b"');
    expect(error.details).toEqual({ output: 'model', steps: ['train_a', 'train_b'] });
  });

  it('rejects two different bindings with the same output name (OUTPUT_PRODUCED_TWICE)', () => {
    const first = new PipelineData('model');
    const second = new PipelineData('model');
    const error = sluiceErrorOf(
      () => new Pipeline({ steps: [step('a', { outputs: [first] }), step('b', { outputs: [second] })] }),
    );
    expect(error.code).toBe('OUTPUT_PRODUCED_TWICE');
    expect(error.message).toContain('"a"');
    expect(error.message).toContain('"b"');
    expect(error.message).toContain('"model"');

    // a PipelineData whose outputName collides with an OutputFileDatasetConfig
    const renamed = new PipelineData('metrics', { outputName: 'report' });
    const dataset = new OutputFileDatasetConfig({ name: 'report' });
    const mixed = sluiceErrorOf(
      () => new Pipeline({ steps: [step('x', { outputs: [renamed] }), step('y', { outputs: [dataset] })] }),
    );
    expect(mixed.code).toBe('OUTPUT_PRODUCED_TWICE');
    expect(mixed.details).toEqual({ output: 'report', steps: ['x', 'y'] });
  });

  it('rejects a parameter name reused with a different default (PARAMETER_CONFLICT)', () => {
    const lr1 = new PipelineParameter({ name: 'learning_rate', defaultValue: 0.1 });
    const lr2 = new PipelineParameter({ name: 'learning_rate', defaultValue: 0.2 });
    const error = sluiceErrorOf(
      () =>
        new Pipeline({ steps: [step('a', { arguments: [lr1] }), step('b', { arguments: ['--lr', lr2] })] }),
    );
    expect(error.code).toBe('PARAMETER_CONFLICT');
    expect(error.message).toContain('"learning_rate"');
    expect(error.message).toContain('0.1');
    expect(error.message).toContain('0.2');
    expect(error.details).toEqual({ parameter: 'learning_rate' });

    // same value but a different type is a different default
    const n = new PipelineParameter({ name: 'n', defaultValue: 1 });
    const s = new PipelineParameter({ name: 'n', defaultValue: '1' });
    expect(
      sluiceErrorOf(
        () => new Pipeline({ steps: [step('a', { arguments: [n] }), step('b', { arguments: [s] })] }),
      ).code,
    ).toBe('PARAMETER_CONFLICT');
  });

  it('allows a parameter name reused with the same default, and collects parameters by name', () => {
    const lr1 = new PipelineParameter({ name: 'learning_rate', defaultValue: 0.1 });
    const lr2 = new PipelineParameter({ name: 'learning_rate', defaultValue: 0.1 });
    const epochs = new PipelineParameter({ name: 'epochs', defaultValue: 3 });
    const pipeline = new Pipeline({
      steps: [
        step('a', { arguments: [lr1] }),
        step('b', { arguments: [lr2], parameterValues: [{ epochs }] }),
      ],
    });
    expect([...pipeline.parameters.keys()].sort()).toEqual(['epochs', 'learning_rate']);
    expect(pipeline.parameters.get('learning_rate')).toBe(lr1);
    expect(pipeline.parameters.get('epochs')).toBe(epochs);
  });

  it('rejects an input that no step produces (INPUT_NOT_PRODUCED)', () => {
    const orphan = new PipelineData('prepped_data');
    const error = sluiceErrorOf(() => new Pipeline({ steps: [step('train', { inputs: [orphan] })] }));
    expect(error.code).toBe('INPUT_NOT_PRODUCED');
    expect(error.message).toContain('"train"');
    expect(error.message).toContain('"prepped_data"');
    expect(error.details).toEqual({ step: 'train', input: 'prepped_data' });

    const dataset = new OutputFileDatasetConfig({ name: 'features' });
    const viaAsInput = sluiceErrorOf(
      () => new Pipeline({ steps: [step('train', { inputs: [dataset.asInput('feats')] })] }),
    );
    expect(viaAsInput.code).toBe('INPUT_NOT_PRODUCED');
    expect(viaAsInput.details).toEqual({ step: 'train', input: 'features' });
  });

  it('accepts a DataReference input, which needs no producer', () => {
    const pipeline = new Pipeline({ steps: [step('prep', { inputs: [raw()] })] });
    expect(pipeline.order).toEqual(['prep']);
    expect(pipeline.edges).toEqual([]);
  });

  it('rejects an input of an unknown kind that slipped past defineStep', () => {
    const a = step('a');
    const forged = { ...a, inputs: [{ name: 'x', mode: 'mount', source: { name: 'x' } }] };
    const error = sluiceErrorOf(() => new Pipeline({ steps: [forged as never] }));
    expect(error.code).toBe('STEP_INVALID');
    expect(error.message).toContain('"a"');
  });

  it('rejects runAfter naming a step that is not in the pipeline', () => {
    const outside = step('outside');
    const inside = step('inside', { runAfter: [outside] });
    const error = sluiceErrorOf(() => new Pipeline({ steps: [inside] }));
    expect(error.code).toBe('STEP_INVALID');
    expect(error.message).toContain('"inside"');
    expect(error.message).toContain('"outside"');
    expect(error.details).toEqual({ step: 'inside', runAfter: 'outside' });

    // a different step object that merely has the same name does not count either
    const impostor = step('outside');
    const error2 = sluiceErrorOf(() => new Pipeline({ steps: [impostor, inside] }));
    expect(error2.code).toBe('STEP_INVALID');
  });
});

describe('Pipeline structure', () => {
  function chain() {
    const prepped = new PipelineData('prepped_data');
    const model = new OutputFileDatasetConfig({ name: 'model' });
    const prep = step('prep', { inputs: [raw()], outputs: [prepped] });
    const train = step('train', {
      inputs: [prepped.asDownload().asNamedInput('training_data')],
      outputs: [model],
    });
    const report = step('report', { inputs: [model.asInput()], runAfter: [prep] });
    const audit = step('audit', { runAfter: [train], computeTarget: 'cpu' });
    return { prepped, model, prep, train, report, audit };
  }

  it('flattens nested step arrays, keeping the given order in steps', () => {
    const { prep, train, report, audit } = chain();
    const steps: StepList = [report, [train, [audit, [prep]]]];
    const pipeline = new Pipeline({ name: 'nested', description: 'd', steps });
    expect(pipeline.steps.map((s) => s.name)).toEqual(['report', 'train', 'audit', 'prep']);
    expect(pipeline.name).toBe('nested');
    expect(pipeline.description).toBe('d');
    expect(pipeline.getStep('audit')).toBe(audit);
    expect(pipeline.getStep('nope')).toBeUndefined();
  });

  it('defaults the name and description', () => {
    const pipeline = new Pipeline({ steps: [step('a')] });
    expect(pipeline.name).toBe('pipeline');
    expect(pipeline.description).toBe('');
  });

  it('orders steps after their data producers and runAfter steps, whatever order they are given in', () => {
    const { prep, train, report, audit } = chain();
    const pipeline = new Pipeline({ steps: [audit, report, train, prep] });
    const order = [...pipeline.order];
    expect([...order].sort()).toEqual(['audit', 'prep', 'report', 'train']);
    const at = (name: string) => order.indexOf(name);
    expect(at('prep')).toBeLessThan(at('train')); // data
    expect(at('train')).toBeLessThan(at('report')); // data (model)
    expect(at('prep')).toBeLessThan(at('report')); // runAfter
    expect(at('train')).toBeLessThan(at('audit')); // runAfter

    // a pure chain has only one valid order
    const d1 = new PipelineData('d1');
    const d2 = new PipelineData('d2');
    const c = step('c', { inputs: [d2] });
    const b = step('b', { inputs: [d1], outputs: [d2] });
    const a = step('a', { outputs: [d1] });
    expect(new Pipeline({ steps: [c, b, a] }).order).toEqual(['a', 'b', 'c']);
    const r3 = step('r3');
    const r2 = step('r2', { runAfter: [r3] });
    const r1 = step('r1', { runAfter: [r2] });
    expect(new Pipeline({ steps: [r1, r2, r3] }).order).toEqual(['r3', 'r2', 'r1']);
  });

  it('answers dependenciesOf / dependantsOf / producerOf', () => {
    const { prepped, model, prep, train, report, audit } = chain();
    const pipeline = new Pipeline({ steps: [prep, train, report, audit] });
    expect(pipeline.dependenciesOf('prep')).toEqual([]);
    expect(pipeline.dependenciesOf('train')).toEqual(['prep']);
    expect([...pipeline.dependenciesOf('report')].sort()).toEqual(['prep', 'train']);
    expect(pipeline.dependenciesOf('audit')).toEqual(['train']);
    expect([...pipeline.dependantsOf('prep')].sort()).toEqual(['report', 'train']);
    expect([...pipeline.dependantsOf('train')].sort()).toEqual(['audit', 'report']);
    expect(pipeline.dependantsOf('report')).toEqual([]);
    expect(pipeline.dependenciesOf('unknown')).toEqual([]);
    expect(pipeline.dependantsOf('unknown')).toEqual([]);
    expect(pipeline.producerOf(prepped)).toBe(prep);
    expect(pipeline.producerOf(model)).toBe(train);
    expect(pipeline.producerOf(new PipelineData('prepped_data'))).toBeUndefined();
  });

  it('describes the graph as JSON, edges carrying the data name (none for runAfter)', () => {
    const { prep, train, report, audit } = chain();
    const pipeline = new Pipeline({ steps: [audit, report, train, prep] });
    const json = pipeline.toGraphJson();
    expect(json.nodes.map((node) => node.name)).toEqual(pipeline.order);
    const byName = Object.fromEntries(json.nodes.map((node) => [node.name, node]));
    expect(byName.prep).toEqual({ name: 'prep', kind: 'test', inputs: ['raw'], outputs: ['prepped_data'] });
    expect(byName.train).toEqual({
      name: 'train',
      kind: 'test',
      inputs: ['training_data'],
      outputs: ['model'],
    });
    expect(byName.audit).toEqual({
      name: 'audit',
      kind: 'test',
      inputs: [],
      outputs: [],
      computeTarget: 'cpu',
    });
    const edgeKey = (edge: { from: string; to: string; data?: string }) =>
      `${edge.from}->${edge.to}:${edge.data ?? '-'}`;
    expect(json.edges.map(edgeKey).sort()).toEqual(
      ['prep->train:prepped_data', 'train->report:model', 'prep->report:-', 'train->audit:-'].sort(),
    );
    // runAfter edges have no data key at all
    const runAfterEdge = json.edges.find((edge) => edge.from === 'train' && edge.to === 'audit');
    expect(runAfterEdge).toEqual({ from: 'train', to: 'audit' });
    expect(pipeline.edges).toEqual(json.edges);
    // the JSON is a copy: changing it does not change the pipeline
    json.edges.pop();
    expect(pipeline.edges).toHaveLength(4);
  });

  it('keeps one edge per consumed data when a step consumes two outputs of another', () => {
    const x = new PipelineData('x');
    const y = new PipelineData('y');
    const pipeline = new Pipeline({
      steps: [step('a', { outputs: [x, y] }), step('b', { inputs: [x, y] })],
    });
    expect(pipeline.edges.map((edge) => edge.data).sort()).toEqual(['x', 'y']);
    expect(pipeline.dependenciesOf('b')).toEqual(['a']);
  });
});
