import { readFileSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  SluiceError,
  isPipelineParameter,
  type DataLocation,
  type PipelineParameter,
  type StepDefinition,
  type StepExecutionContext,
  type StepExecutionResult,
  type StepKindPlugin,
} from '@sluice/core';
import { ADLA_COMPUTE_KIND, adlaTargetOf, type AdlaComputeTarget } from './compute.js';
import { adlaJobId, type AdlaJobErrorDetails, type AdlaJobInformation } from './job-client.js';
import { checkPlaceholders, substitutePlaceholders } from './script.js';
import { CORE_RANGE, PACKAGE_NAME, STEP_ADLA_VERSION } from './version.js';

/** The step kind of AdlaSteps. */
export const ADLA_STEP_KIND = 'adla';

/** The address schemes U-SQL opens, most wanted first. */
const USQL_SCHEMES = ['adl', 'wasb'] as const;

/** The largest script the service accepts. */
const MAX_SCRIPT_BYTES = 3 * 1024 * 1024;

/** A value for a `@@name@@` placeholder of the script. */
export type AdlaParamValue = string | number | boolean | PipelineParameter;

/** The settings an AdlaStep keeps in its definition. */
export interface AdlaStepConfig {
  /** The U-SQL script, relative to the step's source directory. */
  readonly scriptName: string;
  readonly params: Readonly<Record<string, AdlaParamValue>>;
  readonly degreeOfParallelism: number;
  readonly priority: number;
  readonly runtimeVersion?: string;
}

/** The step kind that runs U-SQL scripts on Data Lake Analytics; `AdlaStep` attaches it to every step. */
export function adlaStep(): StepKindPlugin<AdlaStepConfig> {
  return {
    type: 'step',
    kind: ADLA_STEP_KIND,
    name: PACKAGE_NAME,
    version: STEP_ADLA_VERSION,
    coreRange: CORE_RANGE,
    reuseVersion: '1',
    remoteData: true,
    // U-SQL opens Data Lake Storage (adl://) and Blob Storage (wasb://) paths; the job reads no https URL
    uriSchemes: USQL_SCHEMES,
    computeKinds: [ADLA_COMPUTE_KIND],
    fingerprint: (step) => [
      { name: 'script', value: step.config.scriptName },
      { name: 'params', value: canonicalParams(step.config.params) },
      { name: 'degreeOfParallelism', value: step.config.degreeOfParallelism },
      { name: 'priority', value: step.config.priority },
      { name: 'runtimeVersion', value: step.config.runtimeVersion ?? null },
    ],
    validate(step, { sourceDirectory }) {
      if (sourceDirectory === undefined) return;
      const file = path.join(sourceDirectory, step.config.scriptName);
      if (!statSync(file, { throwIfNoEntry: false })?.isFile()) throw scriptNotFound(step, sourceDirectory);
      checkPlaceholders(readFileSync(file, 'utf8'), placeholderNames(step), {
        step: step.name,
        scriptName: step.config.scriptName,
      });
    },
    execute,
  };
}

/** Params in a location-free, order-free form: parameters become `{ parameter: name }`. */
function canonicalParams(params: Readonly<Record<string, AdlaParamValue>>): Record<string, unknown> {
  const canonical: Record<string, unknown> = {};
  for (const name of Object.keys(params).sort()) {
    const value = params[name]!;
    canonical[name] = isPipelineParameter(value) ? { parameter: value.name } : value;
  }
  return canonical;
}

/** Every name a placeholder may use: inputs, outputs and params. */
function placeholderNames(step: StepDefinition<AdlaStepConfig>): string[] {
  return [
    ...step.inputs.map((input) => input.name),
    ...step.outputs.map((output) => output.outputName),
    ...Object.keys(step.config.params),
  ];
}

function scriptNotFound(step: StepDefinition<AdlaStepConfig>, checked: string): SluiceError {
  // name the user's folder, not the copy of it the step runs from
  const sourceDirectory = step.sourceDirectory ?? checked;
  return new SluiceError(
    'SCRIPT_NOT_FOUND',
    `Step "${step.name}": the U-SQL script "${step.config.scriptName}" is not a file in the source directory ${sourceDirectory}. Fix scriptName (it is relative to sourceDirectory) or point sourceDirectory at the folder holding the script.`,
    { details: { step: step.name, scriptName: step.config.scriptName, sourceDirectory } },
  );
}

async function execute(context: StepExecutionContext<AdlaStepConfig>): Promise<StepExecutionResult> {
  const { step, logs, signal } = context;
  const { scriptName, degreeOfParallelism, priority, runtimeVersion } = step.config;
  const target = adlaTargetOf(context.compute);
  if (!target) {
    throw new SluiceError(
      'STEP_FAILED',
      `Step "${step.name}" is an AdlaStep, but compute target "${context.compute.name}" (${context.compute.kind}) is not a Data Lake Analytics account. Attach one with attachAdlaCompute(ws, '<name>', { accountName, resourceGroup, credential }) and name it in the step's computeTarget.`,
      { details: { step: step.name, computeTarget: context.compute.name } },
    );
  }
  if (context.sourceDirectory === undefined) {
    throw new SluiceError(
      'SOURCE_DIRECTORY_NOT_FOUND',
      `Step "${step.name}" was given no source directory to read "${scriptName}" from.`,
      { details: { step: step.name } },
    );
  }
  const file = path.join(context.sourceDirectory, scriptName);
  const text = await readFile(file, 'utf8').catch(() => {
    throw scriptNotFound(step, context.sourceDirectory!);
  });
  const script = substitutePlaceholders(text, placeholderValues(context), { step: step.name, scriptName });
  if (Buffer.byteLength(script) > MAX_SCRIPT_BYTES) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step.name}": ${scriptName} is ${Buffer.byteLength(script)} bytes once its placeholders are filled in; Data Lake Analytics takes scripts up to 3 MB. Move logic into a U-SQL assembly or split the step.`,
      { details: { step: step.name, scriptName } },
    );
  }
  // what was submitted, for reading beside the step's logs
  await writeFile(path.join(context.workDir, 'script.usql'), script);

  const jobId = adlaJobId(context.stepRunId);
  const jobName = `${context.experimentName}/${step.name} (${context.runId})`;
  logs.info(
    `submitting U-SQL job ${jobId} "${jobName}" to Data Lake Analytics account ${target.accountName} (degreeOfParallelism ${degreeOfParallelism}, priority ${priority}${runtimeVersion ? `, runtime ${runtimeVersion}` : ''})`,
  );
  let submitted = false;
  let job: AdlaJobInformation;
  try {
    signal.throwIfAborted();
    submitted = true;
    const created = await target.jobs.createJob(
      jobId,
      { name: jobName, script, degreeOfParallelism, priority, ...(runtimeVersion ? { runtimeVersion } : {}) },
      { signal },
    );
    logs.info(`job ${jobId} accepted (${created.state})`);
    job = await target.jobs.waitForJob(jobId, {
      signal,
      pollIntervalMs: target.pollIntervalMs,
      onState: (state) => logs.info(`job ${jobId}: ${state}`),
    });
  } catch (error) {
    if (!signal.aborted) throw error;
    if (submitted) await cancelJob(target, jobId, logs);
    return { status: 'Canceled' };
  }
  return jobResult(job, logs);
}

/** Where each placeholder points: data locations (their URI, else `datastore:path`) and param values. */
function placeholderValues(context: StepExecutionContext<AdlaStepConfig>): Map<string, string> {
  const { step, locations } = context;
  const address = (kind: string, name: string, location: DataLocation | undefined): string => {
    if (!location) {
      throw new SluiceError(
        'STEP_FAILED',
        `Step "${step.name}": the runtime gave no location for ${kind} "${name}"; AdlaSteps need a runtime that supports remoteData step kinds.`,
      );
    }
    return location.uri ? usqlAddress(location.uri) : `${location.datastore}:${location.path}`;
  };
  const values = new Map<string, string>();
  for (const input of step.inputs)
    values.set(input.name, address('input', input.name, locations.inputs[input.name]));
  for (const output of step.outputs) {
    values.set(output.outputName, address('output', output.outputName, locations.outputs[output.outputName]));
  }
  for (const [name, value] of Object.entries(step.config.params))
    values.set(name, context.resolveArgument(value));
  return values;
}

/**
 * A U-SQL file path URI: an `adl://` or `wasb://` address (which datastores give as Hadoop takes it, the path
 * as written) with its path percent-encoded, as U-SQL requires (`a b.csv` → `a%20b.csv`); others as given.
 */
export function usqlAddress(uri: string): string {
  const match = /^((?:adl|wasb):\/\/[^/]+)(\/.*)?$/i.exec(uri);
  if (!match) return uri;
  const path = (match[2] ?? '/').split('/').map(encodeURIComponent).join('/');
  return `${match[1]}${path}`;
}

async function cancelJob(
  target: AdlaComputeTarget,
  jobId: string,
  logs: StepExecutionContext['logs'],
): Promise<void> {
  logs.info(`canceling job ${jobId}`);
  try {
    await target.jobs.cancelJob(jobId, { signal: AbortSignal.timeout(60_000) });
    logs.info(`job ${jobId}: cancel requested`);
  } catch (error) {
    logs.info(
      `could not cancel job ${jobId}: ${(error as Error)?.message ?? String(error)} Cancel it in the Azure portal or with \`az dla job cancel --job-identity ${jobId}\`.`,
    );
  }
}

function jobResult(job: AdlaJobInformation, logs: StepExecutionContext['logs']): StepExecutionResult {
  switch (job.result) {
    case 'Succeeded':
      logs.info(`job ${job.jobId} succeeded`);
      return { status: 'Finished' };
    case 'Cancelled':
      logs.info(`job ${job.jobId} was cancelled in Data Lake Analytics`);
      return { status: 'Canceled', error: `the U-SQL job ${job.jobId} was cancelled in Data Lake Analytics` };
    case 'Failed': {
      const errors = job.errorMessage ?? [];
      for (const entry of errors) logs.stderr(`${describeJobError(entry)}\n`);
      const first = errors[0];
      const summary = first
        ? `: ${first.errorId ? `${first.errorId}: ` : ''}${first.message ?? first.description ?? 'no message'}`
        : '';
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more; see the step's stderr)` : '';
      return { status: 'Failed', error: `the U-SQL job ${job.jobId} failed${summary}${more}` };
    }
    default:
      return { status: 'Failed', error: `the U-SQL job ${job.jobId} ended without a result (${job.result})` };
  }
}

/** One job error, in the lines a person reads. */
function describeJobError(entry: AdlaJobErrorDetails): string {
  const head = [
    entry.severity ? `[${entry.severity}]` : '[Error]',
    entry.errorId,
    entry.lineNumber !== undefined && entry.lineNumber > 0 ? `(line ${entry.lineNumber})` : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  const lines = [`${head}: ${entry.message ?? entry.description ?? 'no message'}`];
  if (entry.description && entry.description !== entry.message)
    lines.push(`  description: ${entry.description}`);
  if (entry.details) lines.push(`  details: ${entry.details}`);
  if (entry.resolution) lines.push(`  resolution: ${entry.resolution}`);
  if (entry.innerError) lines.push(`  inner: ${describeJobError(entry.innerError).replace(/\n/g, '\n  ')}`);
  return lines.join('\n');
}
