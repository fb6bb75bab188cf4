import { describe, expect, it } from 'vitest';
import {
  PipelineParameter,
  coerceParameterValue,
  isPipelineParameter,
  resolveParameterValues,
  type ParameterValue,
} from '../index.js';
import { sluiceErrorOf } from './helpers.js';

function definitions(...parameters: PipelineParameter[]): Map<string, PipelineParameter> {
  return new Map(parameters.map((parameter) => [parameter.name, parameter]));
}

describe('PipelineParameter', () => {
  it('records its name, default and type', () => {
    const cases: Array<[ParameterValue, string]> = [
      ['adam', 'string'],
      [0.1, 'number'],
      [0, 'number'],
      [false, 'boolean'],
      ['', 'string'],
    ];
    for (const [defaultValue, type] of cases) {
      const parameter = new PipelineParameter({ name: 'p', defaultValue });
      expect(parameter.type).toBe(type);
      expect(parameter.defaultValue).toBe(defaultValue);
      expect(parameter.toJSON()).toEqual({ name: 'p', type, defaultValue });
    }
    expect(isPipelineParameter(new PipelineParameter({ name: 'p', defaultValue: 1 }))).toBe(true);
    expect(isPipelineParameter({ name: 'p', defaultValue: 1, type: 'number' })).toBe(false);
  });

  it.each([['learning_rate'], ['_x'], ['a.b-c'], ['A9']])('accepts the name %j', (name) => {
    expect(new PipelineParameter({ name, defaultValue: 1 }).name).toBe(name);
  });

  it.each([[''], ['1abc'], ['a b'], ['-x'], ['a/b'], [3], [undefined]])('rejects the name %j', (name) => {
    const error = sluiceErrorOf(() => new PipelineParameter({ name: name as string, defaultValue: 1 }));
    expect(error.code).toBe('PARAMETER_INVALID');
    expect(error.message).toContain(String(JSON.stringify(name)));
  });

  it.each([
    [null, 'object'],
    [undefined, 'undefined'],
    [{}, 'object'],
    [[1], 'object'],
    [10n, 'bigint'],
  ])('rejects the default %s', (defaultValue, type) => {
    const error = sluiceErrorOf(
      () => new PipelineParameter({ name: 'p', defaultValue: defaultValue as never }),
    );
    expect(error.code).toBe('PARAMETER_INVALID');
    expect(error.message).toContain('"p"');
    expect(error.message).toContain(`got ${type}`);
  });

  it.each([[NaN], [Infinity], [-Infinity]])('rejects the non-finite default %s', (defaultValue) => {
    const error = sluiceErrorOf(() => new PipelineParameter({ name: 'p', defaultValue }));
    expect(error.code).toBe('PARAMETER_INVALID');
    expect(error.message).toContain('finite');
  });
});

describe('resolveParameterValues', () => {
  const lr = new PipelineParameter({ name: 'learning_rate', defaultValue: 0.1 });
  const epochs = new PipelineParameter({ name: 'epochs', defaultValue: 10 });
  const shuffle = new PipelineParameter({ name: 'shuffle', defaultValue: true });
  const optimizer = new PipelineParameter({ name: 'optimizer', defaultValue: 'adam' });
  const all = definitions(lr, epochs, shuffle, optimizer);

  it('uses defaults for what is not supplied (or supplied as undefined)', () => {
    expect(resolveParameterValues(all)).toEqual({
      learning_rate: 0.1,
      epochs: 10,
      shuffle: true,
      optimizer: 'adam',
    });
    expect(resolveParameterValues(all, { epochs: undefined, optimizer: 'sgd' })).toEqual({
      learning_rate: 0.1,
      epochs: 10,
      shuffle: true,
      optimizer: 'sgd',
    });
    expect(resolveParameterValues(new Map())).toEqual({});
  });

  it('takes typed overrides', () => {
    expect(
      resolveParameterValues(all, { learning_rate: 0.2, epochs: 0, shuffle: false, optimizer: '' }),
    ).toEqual({
      learning_rate: 0.2,
      epochs: 0,
      shuffle: false,
      optimizer: '',
    });
  });

  it('parses numbers and booleans given as strings (from a command line)', () => {
    const resolved = resolveParameterValues(all, {
      learning_rate: '0.2',
      epochs: ' 20 ',
      shuffle: 'false',
      optimizer: '42',
    });
    expect(resolved).toEqual({ learning_rate: 0.2, epochs: 20, shuffle: false, optimizer: '42' });
    expect(typeof resolved.learning_rate).toBe('number');
    expect(resolveParameterValues(all, { shuffle: 'true', learning_rate: '-1e-3' })).toMatchObject({
      shuffle: true,
      learning_rate: -0.001,
    });
  });

  it('rejects unknown parameter names, listing the known ones (PARAMETER_UNKNOWN)', () => {
    const error = sluiceErrorOf(() => resolveParameterValues(all, { learningrate: 0.3 }));
    expect(error.code).toBe('PARAMETER_UNKNOWN');
    expect(error.message).toContain('"learningrate"');
    expect(error.message).toContain('learning_rate, epochs, shuffle, optimizer');
    expect(error.details).toEqual({
      parameter: 'learningrate',
      known: ['learning_rate', 'epochs', 'shuffle', 'optimizer'],
    });

    const none = sluiceErrorOf(() => resolveParameterValues(new Map(), { x: 1 }));
    expect(none.code).toBe('PARAMETER_UNKNOWN');
    expect(none.message).toContain('takes no parameters');
    expect(none.details).toEqual({ parameter: 'x', known: [] });
  });

  it.each([
    ['learning_rate', 'abc'],
    ['learning_rate', ''],
    ['learning_rate', '   '],
    ['learning_rate', 'Infinity'],
    ['learning_rate', NaN],
    ['learning_rate', Infinity],
    ['learning_rate', true],
    ['learning_rate', null],
    ['epochs', [1]],
    ['shuffle', 'yes'],
    ['shuffle', 'TRUE'],
    ['shuffle', '1'],
    ['shuffle', 1],
    ['optimizer', 5],
    ['optimizer', false],
    ['optimizer', { name: 'sgd' }],
  ])('rejects %s = %s (PARAMETER_TYPE)', (name, value) => {
    const error = sluiceErrorOf(() => resolveParameterValues(all, { [name]: value }));
    expect(error.code).toBe('PARAMETER_TYPE');
    expect(error.message).toContain(`"${name}"`);
    expect(error.message).toContain(all.get(name)!.type);
    expect(error.details).toEqual({ parameter: name, expected: all.get(name)!.type });
  });

  it('checks names before types', () => {
    expect(sluiceErrorOf(() => resolveParameterValues(all, { epochs: 'x', nope: 1 })).code).toBe(
      'PARAMETER_UNKNOWN',
    );
  });

  it('is not confused by parameter names that exist on Object.prototype', () => {
    const tricky = definitions(
      new PipelineParameter({ name: 'constructor', defaultValue: 'c' }),
      new PipelineParameter({ name: 'toString', defaultValue: 2 }),
    );
    expect(resolveParameterValues(tricky)).toEqual({ constructor: 'c', toString: 2 });
    expect(resolveParameterValues(tricky, { toString: '3' })).toEqual({ constructor: 'c', toString: 3 });
    const proto = new PipelineParameter({ name: '__proto__', defaultValue: 'p' });
    const resolved = resolveParameterValues(definitions(proto), JSON.parse('{"__proto__": "q"}'));
    expect(Object.keys(resolved)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(resolved, '__proto__')?.value).toBe('q');
    expect(
      Object.getOwnPropertyDescriptor(resolveParameterValues(definitions(proto)), '__proto__')?.value,
    ).toBe('p');
  });

  it('coerceParameterValue works on one parameter', () => {
    expect(coerceParameterValue(epochs, '7')).toBe(7);
    expect(coerceParameterValue(shuffle, false)).toBe(false);
    expect(sluiceErrorOf(() => coerceParameterValue(optimizer, undefined)).code).toBe('PARAMETER_TYPE');
  });
});
