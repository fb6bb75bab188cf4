import {
  DataReference,
  InputBinding,
  OutputFileDatasetConfig,
  PipelineData,
  isExternalData,
  isInputBinding,
  type DataSource,
  type DeliveryMode,
  type ExternalData,
} from './bindings.js';
import { Environment, RunConfiguration, type EnvironmentReference } from './environment.js';
import { SluiceError } from './errors.js';
import { PipelineParameter, isPipelineParameter, type ParameterValue } from './parameters.js';
import { Pipeline } from './pipeline.js';
import type { PluginRegistry } from './registry.js';
import { defineStep, type StepDefinition } from './step.js';

/** Data as a pipeline spec records it; `id` links steps to the same data. */
export type DataSpec =
  | { id: string; kind: 'pipeline-data'; name: string; datastore?: string; outputName: string }
  | {
      id: string;
      kind: 'output-dataset';
      name: string;
      destination?: { datastore: string; path: string };
      registerOnComplete?: { name: string; description?: string; tags?: Record<string, string> };
    }
  | { id: string; kind: 'data-reference'; name: string; datastore: string; pathOnDatastore: string }
  /** Other external data (datasets): their own JSON, rebuilt by the caller's `external` hook. */
  | { id: string; kind: 'external'; bindingKind: string; spec: Record<string, unknown> };

export interface StepSpec {
  /** The step's id. */
  name: string;
  /** The step's name as given, where it differs from its id. */
  displayName?: string;
  kind: string;
  inputs: Array<{ data: string; name: string; mode: DeliveryMode }>;
  outputs: string[];
  computeTarget?: string;
  environment?: ReturnType<Environment['toJSON']> | EnvironmentReference;
  /** The source directory's content digest, where the step has one (the snapshot it runs from). */
  source?: string;
  allowReuse: boolean;
  runAfter: string[];
  /** The step kind's config with data as `{ $data: id }` and parameters as `{ $parameter: name }`. */
  config: unknown;
}

/** A pipeline as plain JSON: enough to build the same pipeline again (published pipelines keep this). */
export interface PipelineSpec {
  format: 1;
  name: string;
  description: string;
  parameters: Array<{ name: string; type: string; defaultValue: ParameterValue }>;
  data: DataSpec[];
  steps: StepSpec[];
}

export interface ToSpecOptions {
  /** The content digest of each step's source directory (steps without one are left without). */
  sourceDigest?(step: StepDefinition): string | undefined;
}

/** Turn a pipeline into plain JSON. Fails with PIPELINE_INVALID for a step config that is not data. */
export function pipelineToSpec(pipeline: Pipeline, options: ToSpecOptions = {}): PipelineSpec {
  if (!(pipeline instanceof Pipeline)) {
    throw new SluiceError('PIPELINE_INVALID', 'pipelineToSpec takes a Pipeline: new Pipeline({ steps }).');
  }
  const ids = new Map<DataSource, string>();
  const data: DataSpec[] = [];
  const idOf = (source: DataSource): string => {
    let id = ids.get(source);
    if (id) return id;
    id = `d${ids.size + 1}`;
    ids.set(source, id);
    data.push(dataSpec(id, source));
    return id;
  };
  const encode = (step: StepDefinition, value: unknown, where: string): unknown => {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value;
    if (value === undefined) return undefined;
    if (isPipelineParameter(value)) return { $parameter: value.name };
    if (isInputBinding(value)) {
      const input = step.inputs.find((candidate) => candidate === value || candidate.source === value.source);
      return { $input: input?.name ?? value.name };
    }
    if (value instanceof PipelineData || value instanceof OutputFileDatasetConfig || isExternalData(value)) {
      return { $data: idOf(value as DataSource) };
    }
    if (Array.isArray(value)) return value.map((entry, index) => encode(step, entry, `${where}[${index}]`));
    if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([, entry]) => entry !== undefined)
          .map(([key, entry]) => [key, encode(step, entry, `${where}.${key}`)]),
      );
    }
    throw new SluiceError(
      'PIPELINE_INVALID',
      `Step "${step.name}" cannot be published: its setting ${where} holds a ${(value as object).constructor?.name ?? typeof value}, which is not plain data.`,
      { details: { step: step.name, setting: where } },
    );
  };
  const steps: StepSpec[] = pipeline.order.map((name) => {
    const step = pipeline.getStep(name)!;
    const environment = step.runConfig?.environment;
    const source = options.sourceDigest?.(step);
    return {
      name,
      ...(step.displayName !== undefined && step.displayName !== name
        ? { displayName: step.displayName }
        : {}),
      kind: step.kind,
      inputs: step.inputs.map((input) => ({ data: idOf(input.source), name: input.name, mode: input.mode })),
      outputs: step.outputs.map((output) => idOf(output)),
      ...(step.computeTarget ? { computeTarget: step.computeTarget } : {}),
      ...(environment
        ? { environment: environment instanceof Environment ? environment.toJSON() : { ...environment } }
        : {}),
      ...(source ? { source } : {}),
      allowReuse: step.allowReuse,
      runAfter: step.runAfter.map((other) => other.name),
      config: encode(step, step.config, 'config'),
    };
  });
  return {
    format: 1,
    name: pipeline.name,
    description: pipeline.description,
    parameters: [...pipeline.parameters.values()].map((parameter) => parameter.toJSON()),
    data,
    steps,
  };
}

function dataSpec(id: string, source: DataSource): DataSpec {
  if (source instanceof PipelineData) {
    return {
      id,
      kind: 'pipeline-data',
      name: source.name,
      outputName: source.outputName,
      ...(source.datastore ? { datastore: source.datastore } : {}),
    };
  }
  if (source instanceof OutputFileDatasetConfig) {
    return {
      id,
      kind: 'output-dataset',
      name: source.name,
      ...(source.destination ? { destination: { ...source.destination } } : {}),
      ...(source.registration ? { registerOnComplete: { ...source.registration } } : {}),
    };
  }
  if (source instanceof DataReference) {
    return {
      id,
      kind: 'data-reference',
      name: source.name,
      datastore: source.datastore,
      pathOnDatastore: source.pathOnDatastore,
    };
  }
  return { id, kind: 'external', bindingKind: source.bindingKind, spec: source.toJSON() };
}

export interface FromSpecOptions {
  /** Where step kinds are found: the plugin of each step's kind must be registered. */
  registry: PluginRegistry;
  /** The folder a step runs from, given its source digest (the published snapshot). */
  sourceDirectory?(digest: string, step: StepSpec): string;
  /** Rebuild external data other than DataReference (datasets) from its JSON. */
  external?(spec: Extract<DataSpec, { kind: 'external' }>): ExternalData;
}

/** Build a pipeline from its spec: the same steps, data, parameters and order. */
export function pipelineFromSpec(spec: PipelineSpec, options: FromSpecOptions): Pipeline {
  if (!spec || spec.format !== 1 || !Array.isArray(spec.steps)) {
    throw new SluiceError(
      'PIPELINE_INVALID',
      'This is not a pipeline spec of a format this Sluice reads (format 1).',
    );
  }
  const parameters = new Map(
    spec.parameters.map((parameter) => [
      parameter.name,
      new PipelineParameter({ name: parameter.name, defaultValue: parameter.defaultValue }),
    ]),
  );
  const data = new Map<string, DataSource>();
  for (const entry of spec.data) data.set(entry.id, dataFromSpec(entry, options));
  const dataOf = (id: string): DataSource => {
    const found = data.get(id);
    if (!found)
      throw new SluiceError('PIPELINE_INVALID', `The pipeline spec names data "${id}" it does not define.`);
    return found;
  };
  const built = new Map<string, StepDefinition>();
  for (const step of spec.steps) {
    const inputs = step.inputs.map((input) => new InputBinding(dataOf(input.data), input.mode, input.name));
    const decode = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(decode);
      if (value && typeof value === 'object') {
        const record = value as Record<string, unknown>;
        if (typeof record.$parameter === 'string') {
          const parameter = parameters.get(record.$parameter);
          if (!parameter) {
            throw new SluiceError(
              'PIPELINE_INVALID',
              `Step "${step.name}" uses parameter "${record.$parameter}", which the spec does not define.`,
            );
          }
          return parameter;
        }
        if (typeof record.$data === 'string') return dataOf(record.$data);
        if (typeof record.$input === 'string') {
          const input = inputs.find((candidate) => candidate.name === record.$input);
          if (!input)
            throw new SluiceError('PIPELINE_INVALID', `Step "${step.name}" has no input "${record.$input}".`);
          return input;
        }
        return Object.fromEntries(Object.entries(record).map(([key, entry]) => [key, decode(entry)]));
      }
      return value;
    };
    const config = decode(step.config);
    const plugin = options.registry.step(step.kind);
    const runAfter = step.runAfter.map((name) => {
      const before = built.get(name);
      if (!before)
        throw new SluiceError(
          'PIPELINE_INVALID',
          `Step "${step.name}" runs after "${name}", which comes later in the spec.`,
        );
      return before;
    });
    const environment = step.environment
      ? 'python' in step.environment
        ? new Environment(step.environment as ConstructorParameters<typeof Environment>[0])
        : (step.environment as EnvironmentReference)
      : undefined;
    built.set(
      step.name,
      defineStep({
        kind: step.kind,
        plugin,
        name: step.displayName ?? step.name,
        id: step.name,
        inputs,
        outputs: step.outputs.map((id) => dataOf(id) as PipelineData | OutputFileDatasetConfig),
        ...(step.computeTarget ? { computeTarget: step.computeTarget } : {}),
        ...(environment ? { runConfig: new RunConfiguration({ environment }) } : {}),
        ...(step.source && options.sourceDirectory
          ? { sourceDirectory: options.sourceDirectory(step.source, step) }
          : {}),
        allowReuse: step.allowReuse,
        runAfter,
        // parameters used anywhere in the config stay parameters of the step
        parameterValues: [config],
        config,
      }),
    );
  }
  return new Pipeline({ name: spec.name, description: spec.description, steps: [...built.values()] });
}

function dataFromSpec(entry: DataSpec, options: FromSpecOptions): DataSource {
  switch (entry.kind) {
    case 'pipeline-data':
      return new PipelineData(entry.name, {
        outputName: entry.outputName,
        ...(entry.datastore ? { datastore: entry.datastore } : {}),
      });
    case 'output-dataset': {
      const output = new OutputFileDatasetConfig({
        name: entry.name,
        ...(entry.destination
          ? { destination: [entry.destination.datastore, entry.destination.path] as const }
          : {}),
      });
      if (entry.registerOnComplete) output.registerOnComplete(entry.registerOnComplete);
      return output;
    }
    case 'data-reference':
      return new DataReference({
        datastore: entry.datastore,
        pathOnDatastore: entry.pathOnDatastore,
        name: entry.name,
      });
    case 'external':
      if (!options.external) {
        throw new SluiceError(
          'PIPELINE_INVALID',
          `The pipeline spec holds ${entry.bindingKind} data; rebuilding it needs the runtime (pass an external hook).`,
        );
      }
      return options.external(entry);
  }
}
