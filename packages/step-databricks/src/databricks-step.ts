import path from 'node:path';
import {
  SluiceError,
  defineStep,
  isPipelineParameter,
  type PipelineParameter,
  type StepArgument,
  type StepBaseOptions,
  Step,
} from '@sluice/core';
import type { DatabricksLibrary } from './client.js';
import { databricksStep } from './plugin.js';

/** A notebook parameter: a value, or a pipeline parameter resolved when the step runs. */
export type NotebookParamValue = string | number | boolean | PipelineParameter;

/** The code a Databricks step runs: exactly one of these. */
export type DatabricksCode =
  | {
      readonly type: 'notebook';
      readonly notebookPath: string;
      readonly notebookParams: Readonly<Record<string, NotebookParamValue>>;
    }
  | {
      readonly type: 'python-file';
      readonly pythonScriptPath: string;
      readonly parameters: readonly StepArgument[];
    }
  | {
      readonly type: 'python-snapshot';
      readonly pythonScriptName: string;
      readonly parameters: readonly StepArgument[];
    }
  | { readonly type: 'jar'; readonly mainClassName: string; readonly parameters: readonly StepArgument[] };

/** Where the run executes: an existing cluster, or a new one made for the run. */
export type DatabricksCluster =
  | { readonly existingClusterId: string }
  | {
      readonly sparkVersion: string;
      readonly nodeType: string;
      readonly numWorkers?: number;
      readonly autoscale?: { readonly minWorkers: number; readonly maxWorkers: number };
    };

/** The settings a Databricks step keeps in its definition (JSON-serialisable). */
export interface DatabricksStepConfig {
  readonly code: DatabricksCode;
  readonly cluster: DatabricksCluster;
  readonly libraries: readonly DatabricksLibrary[];
  readonly runName: string | undefined;
  readonly timeoutSeconds: number | undefined;
  readonly pollIntervalSeconds: number;
}

export interface DatabricksStepOptions extends Omit<StepBaseOptions, 'runConfig' | 'sourceDirectory'> {
  /** The compute target: a Databricks workspace attached with `attachDatabricksCompute`. Required. */
  computeTarget: StepBaseOptions['computeTarget'];

  /** A new cluster with this many workers (0 or more). */
  numWorkers?: number;
  /** A new autoscaling cluster: at least this many workers (with `maxWorkers`). */
  minWorkers?: number;
  /** A new autoscaling cluster: at most this many workers (with `minWorkers`). */
  maxWorkers?: number;
  /** The new cluster's Databricks Runtime version (default `15.4.x-scala2.12`). */
  sparkVersion?: string;
  /** The new cluster's node type (default `Standard_DS3_v2`). */
  nodeType?: string;
  /** Run on this running cluster instead of a new one. */
  existingClusterId?: string;

  /** A notebook in the Databricks workspace, e.g. `/Users/me@example.com/prepare`. */
  notebookPath?: string;
  /** The notebook's widgets: `dbutils.widgets.get(name)`. */
  notebookParams?: Record<string, NotebookParamValue>;
  /** A Python file already reachable by Databricks (`dbfs:/…`, `/Workspace/…`). */
  pythonScriptPath?: string;
  /** A Python file in `sourceDirectory`: the folder is uploaded to DBFS and the file run from there. */
  pythonScriptName?: string;
  /** The folder holding `pythonScriptName`; snapshotted, hashed for reuse and uploaded to DBFS. */
  sourceDirectory?: string;
  /** The Python script's command line. */
  pythonScriptParams?: readonly StepArgument[];
  /** The main class of a JAR task. */
  mainClassName?: string;
  /** The main class's arguments. */
  jarParams?: readonly StepArgument[];
  /** JARs to install (`dbfs:/…`); added to `libraries` as `{ jar }`. */
  jarLibraries?: readonly string[];

  /** Libraries to install on the cluster, as the Jobs API spells them (`{ pypi: { package } }`, `{ jar }`, …). */
  libraries?: readonly DatabricksLibrary[];
  /** The run's name in Databricks (default: the step name). */
  runName?: string;
  /** Databricks stops the run after this many seconds (default: no limit). */
  timeoutSeconds?: number;
  /** The longest wait between status checks, in seconds (default 30); checks start at 1 s and back off. */
  pollIntervalSeconds?: number;
}

/** A new cluster's Databricks Runtime when the step names none (a long-term-support release). */
export const DEFAULT_SPARK_VERSION = '15.4.x-scala2.12';
/** A new cluster's node type when the step names none (an Azure general-purpose VM). */
export const DEFAULT_NODE_TYPE = 'Standard_DS3_v2';
const DEFAULT_POLL_INTERVAL_SECONDS = 30;

const plugin = databricksStep();

/**
 * A step that runs a Databricks notebook, Python script or JAR as a one-time run of the Jobs API 2.1, like
 * Azure ML's `DatabricksStep`. Inputs and outputs reach the job as parameters named after them: their URIs
 * (`abfss://…`, `https://…`, `file://…`), or `datastore:path` where the store has none.
 */
export class DatabricksStep extends Step<DatabricksStepConfig> {
  constructor(options: DatabricksStepOptions) {
    const name = options?.name;
    const fail = (message: string): never => {
      throw new SluiceError('STEP_INVALID', `DatabricksStep "${String(name)}": ${message}`, {
        details: { step: name },
      });
    };
    if (!options || typeof options !== 'object') fail('options are missing.');
    if (options.computeTarget === undefined) {
      fail(
        `needs computeTarget: a Databricks compute target, e.g. await attachDatabricksCompute(ws, 'databricks', { workspaceUrl, accessToken }).`,
      );
    }
    const code = codeOf(options, fail);
    const cluster = clusterOf(options, fail);
    const libraries = librariesOf(options, fail);
    const runName = optionalText(options.runName, 'runName', fail);
    const timeoutSeconds = options.timeoutSeconds;
    if (timeoutSeconds !== undefined && (!Number.isInteger(timeoutSeconds) || timeoutSeconds <= 0)) {
      fail(`timeoutSeconds must be a whole number of seconds > 0; got ${JSON.stringify(timeoutSeconds)}.`);
    }
    const pollIntervalSeconds = options.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS;
    if (
      typeof pollIntervalSeconds !== 'number' ||
      !Number.isFinite(pollIntervalSeconds) ||
      pollIntervalSeconds <= 0
    ) {
      fail(
        `pollIntervalSeconds must be a number of seconds > 0; got ${JSON.stringify(options.pollIntervalSeconds)}.`,
      );
    }
    const sourceDirectory =
      code.type === 'python-snapshot' ? path.resolve(options.sourceDirectory as string) : undefined;
    const parameterArguments = code.type === 'notebook' ? [] : code.parameters;

    const step = defineStep<DatabricksStepConfig>({
      kind: plugin.kind,
      plugin,
      name,
      inputs: options.inputs,
      outputs: options.outputs,
      computeTarget: options.computeTarget,
      sourceDirectory,
      allowReuse: options.allowReuse,
      runAfter: options.runAfter,
      arguments: parameterArguments,
      parameterValues: code.type === 'notebook' ? [code.notebookParams] : [],
      config: Object.freeze({ code, cluster, libraries, runName, timeoutSeconds, pollIntervalSeconds }),
    });
    if (code.type === 'notebook') {
      for (const key of Object.keys(code.notebookParams)) {
        const clash =
          step.inputs.some((input) => input.name === key) ||
          step.outputs.some((output) => output.outputName === key);
        if (clash) {
          fail(
            `notebookParams has "${key}", which is also an input or output name (inputs and outputs reach the notebook as parameters of their names); rename one of them.`,
          );
        }
      }
    }
    super(step);
  }
}

type Fail = (message: string) => never;

const CODE_SOURCES = ['notebookPath', 'pythonScriptPath', 'pythonScriptName', 'mainClassName'] as const;

function codeOf(options: DatabricksStepOptions, fail: Fail): DatabricksCode {
  const given = CODE_SOURCES.filter((field) => options[field] !== undefined);
  if (given.length !== 1) {
    fail(
      given.length === 0
        ? 'say what to run: notebookPath, pythonScriptPath, pythonScriptName (with sourceDirectory) or mainClassName.'
        : `give one thing to run, not ${given.join(' and ')}.`,
    );
  }
  const source = given[0]!;
  const text = requiredText(options[source], source, fail);
  const notFor = (field: keyof DatabricksStepOptions, belongsTo: string): void => {
    if (options[field] !== undefined) fail(`${field} goes with ${belongsTo}, not with ${source}.`);
  };
  if (source !== 'notebookPath') notFor('notebookParams', 'notebookPath');
  if (source !== 'pythonScriptPath' && source !== 'pythonScriptName') {
    notFor('pythonScriptParams', 'pythonScriptPath or pythonScriptName');
  }
  if (source !== 'mainClassName') notFor('jarParams', 'mainClassName');
  if (source !== 'pythonScriptName') notFor('sourceDirectory', 'pythonScriptName');

  const argumentsOf = (field: 'pythonScriptParams' | 'jarParams'): readonly StepArgument[] => {
    const value = options[field];
    if (value === undefined) return Object.freeze([]);
    if (!Array.isArray(value)) fail(`${field} must be an array.`);
    return Object.freeze([...(value as StepArgument[])]);
  };
  switch (source) {
    case 'notebookPath': {
      const params = options.notebookParams ?? {};
      if (!params || typeof params !== 'object' || Array.isArray(params)) {
        fail('notebookParams must be an object of name → value.');
      }
      for (const [key, value] of Object.entries(params)) {
        if (
          typeof value !== 'string' &&
          typeof value !== 'boolean' &&
          !(typeof value === 'number' && Number.isFinite(value)) &&
          !isPipelineParameter(value)
        ) {
          fail(`notebookParams.${key} must be a string, number, boolean or PipelineParameter.`);
        }
      }
      return Object.freeze({
        type: 'notebook',
        notebookPath: text,
        notebookParams: Object.freeze({ ...params }),
      });
    }
    case 'pythonScriptPath':
      return Object.freeze({
        type: 'python-file',
        pythonScriptPath: text,
        parameters: argumentsOf('pythonScriptParams'),
      });
    case 'pythonScriptName': {
      if (path.posix.isAbsolute(text) || path.win32.isAbsolute(text) || text.split(/[\\/]/).includes('..')) {
        fail(
          `pythonScriptName ${JSON.stringify(text)} must be relative to sourceDirectory, without '..'; for a file already on Databricks use pythonScriptPath.`,
        );
      }
      requiredText(options.sourceDirectory, 'sourceDirectory', () =>
        fail(`pythonScriptName needs sourceDirectory: the folder holding ${JSON.stringify(text)}.`),
      );
      return Object.freeze({
        type: 'python-snapshot',
        pythonScriptName: text.replaceAll('\\', '/'),
        parameters: argumentsOf('pythonScriptParams'),
      });
    }
    default:
      return Object.freeze({ type: 'jar', mainClassName: text, parameters: argumentsOf('jarParams') });
  }
}

function clusterOf(options: DatabricksStepOptions, fail: Fail): DatabricksCluster {
  const { numWorkers, minWorkers, maxWorkers } = options;
  const sizing = (['numWorkers', 'minWorkers', 'maxWorkers'] as const).filter(
    (field) => options[field] !== undefined,
  );
  if (options.existingClusterId !== undefined) {
    const existingClusterId = requiredText(options.existingClusterId, 'existingClusterId', fail);
    const extra = [
      ...sizing,
      ...(['sparkVersion', 'nodeType'] as const).filter((f) => options[f] !== undefined),
    ];
    if (extra.length > 0) {
      fail(
        `existingClusterId runs on a cluster that exists; ${extra.join(', ')} describe a new one. Give one or the other.`,
      );
    }
    return Object.freeze({ existingClusterId });
  }
  const sparkVersion = optionalText(options.sparkVersion, 'sparkVersion', fail) ?? DEFAULT_SPARK_VERSION;
  const nodeType = optionalText(options.nodeType, 'nodeType', fail) ?? DEFAULT_NODE_TYPE;
  const count = (value: number | undefined, field: string, least: number): number => {
    if (!Number.isInteger(value) || (value as number) < least) {
      fail(`${field} must be a whole number ≥ ${least}; got ${JSON.stringify(value)}.`);
    }
    return value as number;
  };
  if (numWorkers !== undefined) {
    if (minWorkers !== undefined || maxWorkers !== undefined) {
      fail(
        'give numWorkers for a fixed-size cluster or minWorkers and maxWorkers for an autoscaling one, not both.',
      );
    }
    return Object.freeze({ sparkVersion, nodeType, numWorkers: count(numWorkers, 'numWorkers', 0) });
  }
  if (minWorkers !== undefined || maxWorkers !== undefined) {
    if (minWorkers === undefined || maxWorkers === undefined) {
      fail('an autoscaling cluster needs both minWorkers and maxWorkers.');
    }
    const min = count(minWorkers, 'minWorkers', 0);
    const max = count(maxWorkers, 'maxWorkers', 1);
    if (max < min) fail(`maxWorkers (${max}) is less than minWorkers (${min}).`);
    return Object.freeze({
      sparkVersion,
      nodeType,
      autoscale: Object.freeze({ minWorkers: min, maxWorkers: max }),
    });
  }
  return fail(
    'say where to run: existingClusterId for a running cluster, or numWorkers (or minWorkers and maxWorkers) for a new cluster made for the run.',
  );
}

const LIBRARY_KINDS: Record<string, (value: unknown) => boolean> = {
  jar: isText,
  egg: isText,
  whl: isText,
  pypi: (value) => isText((value as { package?: unknown } | null)?.package),
  cran: (value) => isText((value as { package?: unknown } | null)?.package),
  maven: (value) => isText((value as { coordinates?: unknown } | null)?.coordinates),
};

function librariesOf(options: DatabricksStepOptions, fail: Fail): readonly DatabricksLibrary[] {
  const libraries: DatabricksLibrary[] = [];
  if (options.libraries !== undefined) {
    if (!Array.isArray(options.libraries)) fail('libraries must be an array.');
    for (const library of options.libraries) {
      const keys = library && typeof library === 'object' ? Object.keys(library) : [];
      const kind = keys[0];
      if (keys.length !== 1 || !kind || !LIBRARY_KINDS[kind]?.((library as Record<string, unknown>)[kind])) {
        fail(
          `library ${JSON.stringify(library)} is not one the Jobs API knows: { jar }, { egg }, { whl }, { pypi: { package } }, { maven: { coordinates } } or { cran: { package } }.`,
        );
      }
      libraries.push(JSON.parse(JSON.stringify(library)) as DatabricksLibrary);
    }
  }
  if (options.jarLibraries !== undefined) {
    if (!Array.isArray(options.jarLibraries)) fail('jarLibraries must be an array of paths.');
    for (const jar of options.jarLibraries)
      libraries.push({ jar: requiredText(jar, 'jarLibraries[]', fail) });
  }
  return Object.freeze(libraries);
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function requiredText(value: unknown, field: string, fail: Fail): string {
  if (!isText(value)) fail(`${field} must be a non-empty string.`);
  return value as string;
}

function optionalText(value: unknown, field: string, fail: Fail): string | undefined {
  return value === undefined ? undefined : requiredText(value, field, fail);
}
