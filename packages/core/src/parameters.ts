import { BRAND, hasBrand } from './brand.js';
import { SluiceError } from './errors.js';

export type ParameterValue = string | number | boolean;
export type ParameterType = 'string' | 'number' | 'boolean';

const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export interface PipelineParameterOptions<T extends ParameterValue> {
  name: string;
  defaultValue: T;
}

/** A typed pipeline parameter with a default, overridable per submit. */
export class PipelineParameter<T extends ParameterValue = ParameterValue> {
  readonly [BRAND] = 'PipelineParameter';
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'PipelineParameter');
  }
  readonly name: string;
  readonly defaultValue: T;
  readonly type: ParameterType;

  constructor(options: PipelineParameterOptions<T>) {
    if (typeof options !== 'object' || options === null) {
      throw new SluiceError(
        'PARAMETER_INVALID',
        `PipelineParameter takes { name, defaultValue }, e.g. new PipelineParameter({ name: 'pipeline_arg', defaultValue: 'default_val' }); got ${JSON.stringify(options) ?? String(options)}.`,
      );
    }
    const { name, defaultValue } = options;
    if (typeof name !== 'string' || !PARAMETER_NAME.test(name)) {
      throw new SluiceError(
        'PARAMETER_INVALID',
        `Pipeline parameter name ${JSON.stringify(name)} is not valid: use letters, digits, '_', '.', '-', starting with a letter or '_'.`,
      );
    }
    const type = typeof defaultValue;
    if (type !== 'string' && type !== 'number' && type !== 'boolean') {
      throw new SluiceError(
        'PARAMETER_INVALID',
        `Pipeline parameter "${name}" needs a default value that is a string, number or boolean (got ${type}).`,
      );
    }
    if (type === 'number' && !Number.isFinite(defaultValue)) {
      throw new SluiceError(
        'PARAMETER_INVALID',
        `Pipeline parameter "${name}" needs a finite number default.`,
      );
    }
    this.name = name;
    this.defaultValue = defaultValue;
    this.type = type;
  }

  toJSON(): { name: string; type: ParameterType; defaultValue: T } {
    return { name: this.name, type: this.type, defaultValue: this.defaultValue };
  }
}

export function isPipelineParameter(value: unknown): value is PipelineParameter {
  return value instanceof PipelineParameter;
}

/**
 * Coerce one supplied value to a parameter's type. Strings (from a command line or a query string) are
 * parsed; anything else must already have the parameter's type.
 */
export function coerceParameterValue(parameter: PipelineParameter, value: unknown): ParameterValue {
  if (!isPipelineParameter(parameter)) {
    throw new SluiceError('PARAMETER_INVALID', 'coerceParameterValue takes a PipelineParameter first.');
  }
  const fail = (): never => {
    throw new SluiceError(
      'PARAMETER_TYPE',
      `Parameter "${parameter.name}" is a ${parameter.type}; ${JSON.stringify(value)} is not. Pass a ${parameter.type} value.`,
      { details: { parameter: parameter.name, expected: parameter.type } },
    );
  };
  switch (parameter.type) {
    case 'string':
      return typeof value === 'string' ? value : fail();
    case 'number': {
      if (typeof value === 'number') return Number.isFinite(value) ? value : fail();
      if (typeof value === 'string' && value.trim() !== '') {
        const parsed = Number(value);
        return Number.isFinite(parsed) ? parsed : fail();
      }
      return fail();
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true') return true;
      if (value === 'false') return false;
      return fail();
  }
}

/** Resolve supplied values against parameter definitions: unknown names and wrong types are errors. */
export function resolveParameterValues(
  definitions: ReadonlyMap<string, PipelineParameter>,
  supplied: Readonly<Record<string, unknown>> = {},
): Record<string, ParameterValue> {
  if (!(definitions instanceof Map)) {
    throw new SluiceError(
      'PARAMETER_INVALID',
      "resolveParameterValues takes the pipeline's parameters: pipeline.parameters.",
    );
  }
  if (typeof supplied !== 'object' || supplied === null || Array.isArray(supplied)) {
    throw new SluiceError(
      'PARAMETER_INVALID',
      `Parameter values are an object of name → value, e.g. { learning_rate: 0.5 }; got ${JSON.stringify(supplied)}.`,
    );
  }
  for (const name of Object.keys(supplied)) {
    if (!definitions.has(name)) {
      const known = [...definitions.keys()];
      throw new SluiceError(
        'PARAMETER_UNKNOWN',
        `The pipeline has no parameter "${name}". ${known.length ? `Known parameters: ${known.join(', ')}.` : 'It takes no parameters.'}`,
        { details: { parameter: name, known } },
      );
    }
  }
  const resolved: Array<[string, ParameterValue]> = [];
  for (const [name, parameter] of definitions) {
    // own properties only: a parameter named e.g. "constructor" must not pick up Object.prototype's member
    const value = Object.hasOwn(supplied, name) ? supplied[name] : undefined;
    resolved.push([
      name,
      value === undefined ? parameter.defaultValue : coerceParameterValue(parameter, value),
    ]);
  }
  // fromEntries defines own properties, so even a parameter named "__proto__" is kept
  return Object.fromEntries(resolved);
}
