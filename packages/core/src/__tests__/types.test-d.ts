/**
 * Type-level tests, checked by `tsc -p tsconfig.json` (and by `vitest --typecheck`). A `@ts-expect-error`
 * that stops being an error fails the type check.
 */
import { describe, expectTypeOf, it } from 'vitest';
import {
  DataReference,
  PipelineData,
  PipelineParameter,
  PluginRegistry,
  SluiceError,
  defineStep,
  diffFingerprints,
  hashTree,
  isSluiceError,
  resolveParameterValues,
  type FingerprintChange,
  type ParameterValue,
  type SluiceErrorCode,
  type StepArgument,
  type StepDefinition,
  type StepKindPlugin,
  type StepList,
  type TreeHash,
} from '../index.js';

describe('types', () => {
  it('SluiceError codes are a closed set and isSluiceError narrows', () => {
    // @ts-expect-error not a Sluice error code
    void new SluiceError('NOT_A_CODE', 'x');
    const error: unknown = new SluiceError('CYCLE_DETECTED', 'x');
    if (isSluiceError(error, 'CYCLE_DETECTED')) {
      expectTypeOf(error).toEqualTypeOf<SluiceError>();
      expectTypeOf(error.code).toEqualTypeOf<SluiceErrorCode>();
      expectTypeOf(error.details).toEqualTypeOf<Record<string, unknown>>();
    }
    // @ts-expect-error the code filter only takes known codes
    isSluiceError(error, 'NOPE');
  });

  it('defineStep keeps the config type and requires one', () => {
    const step = defineStep({ kind: 'k', name: 'n', config: { script: 'train.py', retries: 2 } });
    expectTypeOf(step).toEqualTypeOf<StepDefinition<{ script: string; retries: number }>>();
    expectTypeOf(step.config.script).toBeString();
    // @ts-expect-error config is required
    defineStep({ kind: 'k', name: 'n' });
  });

  it('step arguments take literals, parameters and data, nothing else', () => {
    const lr = new PipelineParameter({ name: 'lr', defaultValue: 0.1 });
    const d = new PipelineData('d');
    const r = new DataReference({ datastore: 's', pathOnDatastore: 'p', name: 'r' });
    const args: StepArgument[] = ['--lr', lr, 1, true, d, d.asDownload(), r, r.asMount()];
    void args;
    // @ts-expect-error a plain object is not an argument
    const bad: StepArgument = { path: 'x' };
    void bad;
    // @ts-expect-error a DataReference is not an output
    defineStep({ kind: 'k', name: 'n', config: {}, outputs: [r] });
  });

  it('StepList nests', () => {
    const a = defineStep({ kind: 'k', name: 'a', config: {} });
    const list: StepList = [a, [a, [a, []]]];
    void list;
  });

  it('parameters and their resolution', () => {
    expectTypeOf(new PipelineParameter({ name: 'p', defaultValue: 'adam' }).defaultValue).toExtend<string>();
    expectTypeOf(new PipelineParameter({ name: 'p', defaultValue: 3 }).defaultValue).toExtend<number>();
    // @ts-expect-error only string, number or boolean defaults
    void new PipelineParameter({ name: 'p', defaultValue: null });
    expectTypeOf(resolveParameterValues(new Map())).toEqualTypeOf<Record<string, ParameterValue>>();
  });

  it('registry, tree hashes and explanations', () => {
    expectTypeOf(new PluginRegistry().step('python')).toEqualTypeOf<StepKindPlugin<unknown>>();
    expectTypeOf(hashTree('.')).resolves.toEqualTypeOf<TreeHash>();
    expectTypeOf<TreeHash['type']>().toEqualTypeOf<'file' | 'directory'>();
    expectTypeOf(diffFingerprints([], [])).toEqualTypeOf<FingerprintChange[]>();
    expectTypeOf<FingerprintChange['change']>().toEqualTypeOf<'added' | 'removed' | 'changed'>();
  });
});
