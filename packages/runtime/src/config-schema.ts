import { createRequire } from 'node:module';
import type { Ajv as AjvType, ErrorObject, ValidateFunction } from 'ajv';
import { SluiceError, type JsonSchema } from '@sluice/core';
import schema from '../workspace.schema.json' with { type: 'json' };
import {
  validateLocalComputeOptions,
  validateLocalDatastoreOptions,
  validateWorkspace,
} from './generated/workspace-schema.js';

/** The JSON Schema of `sluice.workspace.json`, shipped as `@sluice/runtime/workspace.schema.json` for editors. */
export const WORKSPACE_SCHEMA: JsonSchema = schema;
/** The options of the built-in local compute provider. */
export const LOCAL_COMPUTE_OPTIONS_SCHEMA: JsonSchema = schema.definitions.localComputeOptions;
/** The options of the built-in local datastore provider. */
export const LOCAL_DATASTORE_OPTIONS_SCHEMA: JsonSchema = schema.definitions.localDatastoreOptions;

/**
 * Validators by schema. The workspace schema and the built-in providers' option schemas are compiled when the
 * package is built (scripts/compile-schema.mjs), so opening a workspace loads no schema compiler; a plugin's
 * schema is compiled the first time it is used.
 */
const compiled = new WeakMap<object, ValidateFunction>([
  [WORKSPACE_SCHEMA, validateWorkspace as ValidateFunction],
  [LOCAL_COMPUTE_OPTIONS_SCHEMA, validateLocalComputeOptions as ValidateFunction],
  [LOCAL_DATASTORE_OPTIONS_SCHEMA, validateLocalDatastoreOptions as ValidateFunction],
]);

let ajv: AjvType | undefined;
/** The compiler for plugins' schemas: any draft-07 schema, not Ajv's strict subset. */
function compiler(): AjvType {
  if (!ajv) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: new (options: object) => AjvType };
    ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
  }
  return ajv;
}

/** One thing wrong in a configuration: the key (a JSON path such as `datastores.x.options.path`) and why. */
export interface ConfigProblem {
  readonly key: string;
  /** What the key must be, in words. */
  readonly message: string;
}

/**
 * Check a value against a JSON Schema; every problem found, at most one per key, keys written from `base`.
 * Throws (the schema's own compile error) when the schema is not a valid JSON Schema.
 */
export function schemaProblems(schema: JsonSchema, value: unknown, base = ''): ConfigProblem[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = compiler().compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return [];
  const problems = new Map<string, string>();
  for (const error of validate.errors ?? []) {
    const problem = describe(error, base);
    if (problem && !problems.has(problem.key)) problems.set(problem.key, problem.message);
  }
  return [...problems].map(([key, message]) => ({ key, message }));
}

/** A WORKSPACE_CONFIG_INVALID error listing problems, e.g. `… maxConcurrency must be an integer ≥ 1 (got 0)`. */
export function configInvalid(where: string, problems: readonly ConfigProblem[], fix: string): SluiceError {
  const first = problems[0];
  return new SluiceError(
    'WORKSPACE_CONFIG_INVALID',
    `${where}: ${problems.map((problem) => problem.message).join('; ')}. ${fix}`,
    { details: { where, key: first?.key, problems } },
  );
}

/** Check options against a schema, throwing WORKSPACE_CONFIG_INVALID naming each wrong key. */
export function checkOptions(schema: JsonSchema, options: unknown, key: string, where: string): void {
  const problems = schemaProblems(schema, options, key);
  if (problems.length > 0) throw configInvalid(where, problems, 'Fix the options and try again.');
}

function describe(error: ErrorObject, base: string): ConfigProblem | undefined {
  const at = join(base, error.instancePath);
  const label = at || 'the configuration';
  switch (error.keyword) {
    case 'if':
      // the failing `then` branch reports its own errors
      return undefined;
    case 'required': {
      const key = join(at, `/${escape(String(error.params.missingProperty))}`);
      return { key, message: `${key} is missing` };
    }
    case 'additionalProperties': {
      const key = join(at, `/${escape(String(error.params.additionalProperty))}`);
      const known = Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
      return {
        key,
        message: `${key} is not a known key${known.length ? ` (known: ${known.join(', ')})` : ''}`,
      };
    }
    case 'propertyNames':
      return {
        key: label,
        message: `${label} has a key ${show(error.params.propertyName)} that is not a valid name`,
      };
  }
  // an error about a property name is reported by propertyNames above
  if (error.propertyName !== undefined) return undefined;
  const expected = expectation(error.parentSchema ?? {});
  return {
    key: label,
    message: `${label} ${expected ? `must be ${expected}` : (error.message ?? 'is not valid')} (got ${show(error.data)})`,
  };
}

/** What a schema asks for, in words: `an integer ≥ 1`, `a non-empty string`, `a list of strings`. */
function expectation(schema: Record<string, unknown>): string | undefined {
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((value) => show(value)).join(', ')}`;
  const type = Array.isArray(schema.type) ? (schema.type as string[]).join(' or ') : schema.type;
  switch (type) {
    case 'integer':
      return `an integer${bounds(schema)}`;
    case 'number':
      return `a number${bounds(schema)}`;
    case 'string':
      return `${Number(schema.minLength) >= 1 ? 'a non-empty string' : 'a string'}${
        typeof schema.pattern === 'string' ? ` matching the pattern ${schema.pattern}` : ''
      }`;
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'an object';
    case 'array': {
      const items =
        schema.items && typeof schema.items === 'object'
          ? plural(schema.items as Record<string, unknown>)
          : undefined;
      return `a list${items ? ` of ${items}` : ''}${schema.uniqueItems ? ' without repeats' : ''}`;
    }
    default:
      return undefined;
  }
}

function bounds(schema: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof schema.minimum === 'number') parts.push(`≥ ${schema.minimum}`);
  if (typeof schema.exclusiveMinimum === 'number') parts.push(`> ${schema.exclusiveMinimum}`);
  if (typeof schema.maximum === 'number') parts.push(`≤ ${schema.maximum}`);
  if (typeof schema.exclusiveMaximum === 'number') parts.push(`< ${schema.exclusiveMaximum}`);
  return parts.length ? ` ${parts.join(' and ')}` : '';
}

function plural(items: Record<string, unknown>): string | undefined {
  switch (items.type) {
    case 'string':
      return Number(items.minLength) >= 1 ? 'non-empty strings' : 'strings';
    case 'integer':
      return 'integers';
    case 'number':
      return 'numbers';
    case 'object':
      return 'objects';
    default:
      return undefined;
  }
}

/** `base` followed by a JSON Pointer, as a path a reader knows: `computeTargets.local.options`, `plugins[0]`. */
function join(base: string, pointer: string): string {
  let path = base;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^\d+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) path += path ? `.${segment}` : segment;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

function escape(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
