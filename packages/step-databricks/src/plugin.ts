import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { statSync } from 'node:fs';
import {
  SluiceError,
  canonicalArgument,
  canonicalJson,
  isPipelineParameter,
  type DataLocation,
  type StepArgument,
  type StepDefinition,
  type StepExecutionContext,
  type StepExecutionResult,
  type StepKindPlugin,
} from '@sluice/core';
import type {
  DatabricksClient,
  NewCluster,
  RunInfo,
  RunStatus,
  RunSubmitRequest,
  SubmitTask,
} from './client.js';
import type { DatabricksCluster, DatabricksStepConfig } from './databricks-step.js';
import { DATABRICKS_KIND, databricksTargetOf } from './target.js';
import { CORE_RANGE, PACKAGE_NAME, STEP_DATABRICKS_VERSION } from './version.js';

/** Where a step's source snapshot is uploaded: `dbfs:/sluice/snapshots/<run id>/<step>/`. */
export function snapshotDbfsFolder(runId: string, stepName: string): string {
  return `dbfs:/sluice/snapshots/${runId}/${stepName}`;
}

/** Legacy life-cycle states after which a run does not change any more. */
const TERMINAL = new Set(['TERMINATED', 'SKIPPED', 'INTERNAL_ERROR']);

/**
 * The address schemes Spark opens for data on Azure, most wanted first: ADLS Gen2 (`abfss://`) where the
 * datastore has a hierarchical namespace, else Blob Storage through hadoop-azure (`wasbs://`).
 */
const SPARK_SCHEMES = ['abfss', 'wasbs'] as const;

/** The step kind that runs Databricks jobs; `DatabricksStep` attaches it to every step it builds. */
export function databricksStep(): StepKindPlugin<DatabricksStepConfig> {
  return {
    type: 'step',
    kind: DATABRICKS_KIND,
    name: PACKAGE_NAME,
    version: STEP_DATABRICKS_VERSION,
    coreRange: CORE_RANGE,
    reuseVersion: '1',
    remoteData: true,
    uriSchemes: SPARK_SCHEMES,
    computeKinds: [DATABRICKS_KIND],
    fingerprint: (step) => [
      { name: 'code', value: codePart(step.config) },
      { name: 'parameters', value: parametersPart(step) },
      { name: 'cluster', value: clusterPart(step.config.cluster) },
      {
        name: 'libraries',
        value: step.config.libraries.map((library) => canonicalJson(library)).sort(),
      },
    ],
    validate(step, { sourceDirectory }) {
      const { code } = step.config;
      if (code.type !== 'python-snapshot' || sourceDirectory === undefined) return;
      if (!statSync(path.join(sourceDirectory, code.pythonScriptName), { throwIfNoEntry: false })?.isFile()) {
        throw new SluiceError(
          'SCRIPT_NOT_FOUND',
          `Step "${step.name}": the script "${code.pythonScriptName}" is not a file in the source directory ${step.sourceDirectory ?? sourceDirectory}. Fix pythonScriptName (it is relative to sourceDirectory) or point sourceDirectory at the folder holding it.`,
          { details: { step: step.name, pythonScriptName: code.pythonScriptName } },
        );
      }
    },
    execute,
  };
}

// -- fingerprint -------------------------------------------------------------------------------------------

function codePart(config: DatabricksStepConfig): unknown {
  const { code } = config;
  switch (code.type) {
    case 'notebook':
      return { notebook: code.notebookPath };
    case 'python-file':
      return { pythonFile: code.pythonScriptPath };
    case 'python-snapshot':
      return { pythonScript: code.pythonScriptName };
    default:
      return { mainClass: code.mainClassName };
  }
}

/** Parameters as the job sees them: literals as strings, pipeline parameters and data by name. */
function parametersPart(step: StepDefinition<DatabricksStepConfig>): unknown {
  const canonical = (argument: StepArgument): unknown => {
    const value = canonicalArgument(step, argument);
    return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
  };
  const { code } = step.config;
  if (code.type === 'notebook') {
    return Object.fromEntries(
      Object.entries(code.notebookParams).map(([key, value]) => [key, canonical(value)]),
    );
  }
  return code.parameters.map(canonical);
}

function clusterPart(cluster: DatabricksCluster): unknown {
  return 'existingClusterId' in cluster ? { existingClusterId: cluster.existingClusterId } : { ...cluster };
}

// -- execution ---------------------------------------------------------------------------------------------

/** A Jobs API idempotency token (≤ 64 characters) that is the same for every submit of one step run. */
function idempotencyToken(stepRunId: string): string {
  return createHash('sha256').update(`sluice-step-run:${stepRunId}`).digest('hex');
}

async function execute(ctx: StepExecutionContext<DatabricksStepConfig>): Promise<StepExecutionResult> {
  const { step, logs, signal } = ctx;
  const target = databricksTargetOf(ctx.compute);
  if (!target && ctx.compute.kind === DATABRICKS_KIND) {
    throw new SluiceError(
      'STEP_FAILED',
      `Step "${step.name}": compute target "${ctx.compute.name}" is a Databricks target, but its connection cannot be found behind the runtime's compute wrapper; install versions of @sluice/runtime and @sluice/step-databricks made for each other.`,
      { details: { step: step.name, computeTarget: ctx.compute.name } },
    );
  }
  if (!target) {
    throw new SluiceError(
      'STEP_INVALID',
      `Step "${step.name}" runs on Databricks, but compute target "${ctx.compute.name}" is a ${ctx.compute.kind} target. Attach a Databricks workspace with attachDatabricksCompute(ws, '<name>', { workspaceUrl, accessToken }) and set the step's computeTarget to it.`,
      { details: { step: step.name, computeTarget: ctx.compute.name, kind: ctx.compute.kind } },
    );
  }
  const { client } = target;
  if (signal.aborted) return { status: 'Canceled', error: 'canceled before the run was submitted' };

  let request: RunSubmitRequest;
  try {
    request = await submitRequest(ctx, client);
  } catch (error) {
    if (signal.aborted) return { status: 'Canceled', error: 'canceled while uploading the source snapshot' };
    throw error;
  }
  logs.info(
    `submitting a one-time run to Databricks ${target.workspaceUrl}: ${describeTask(request.tasks[0]!)}`,
  );
  // Submitting is not interrupted: a run that was started must be known so that it can be canceled. The
  // idempotency token makes repeated submits of this step run return the same Databricks run.
  const { run_id: runId } = await client.submitRun(request);
  logs.info(`Databricks run ${runId} submitted`);
  return watch(ctx, client, runId);
}

async function submitRequest(
  ctx: StepExecutionContext<DatabricksStepConfig>,
  client: DatabricksClient,
): Promise<RunSubmitRequest> {
  const { step } = ctx;
  const { code, cluster, libraries, timeoutSeconds } = step.config;
  const address = (kind: 'input' | 'output', name: string, location: DataLocation | undefined): string => {
    if (!location) {
      throw new SluiceError(
        'STEP_FAILED',
        `Step "${step.name}": the runtime gave no location for ${kind} "${name}"; this runtime may not support remote-data steps, so update @sluice/runtime.`,
      );
    }
    return location.uri ?? `${location.datastore}:${location.path}`;
  };
  const data: Array<[string, string]> = [
    ...step.inputs.map((input): [string, string] => [
      input.name,
      address('input', input.name, ctx.locations.inputs[input.name]),
    ]),
    ...step.outputs.map((output): [string, string] => [
      output.outputName,
      address('output', output.outputName, ctx.locations.outputs[output.outputName]),
    ]),
  ];
  const commandLine = (parameters: readonly StepArgument[]): string[] => [
    ...parameters.map((argument) => ctx.resolveArgument(argument)),
    ...data.flatMap(([name, uri]) => [`--${name}`, uri]),
  ];

  const task: SubmitTask = { task_key: taskKey(step.name) };
  if ('existingClusterId' in cluster) task.existing_cluster_id = cluster.existingClusterId;
  else task.new_cluster = newCluster(cluster);
  switch (code.type) {
    case 'notebook': {
      const baseParameters: Record<string, string> = {};
      for (const [key, value] of Object.entries(code.notebookParams)) {
        baseParameters[key] = isPipelineParameter(value) ? ctx.resolveArgument(value) : String(value);
      }
      for (const [name, uri] of data) baseParameters[name] = uri;
      task.notebook_task = { notebook_path: code.notebookPath, base_parameters: baseParameters };
      break;
    }
    case 'python-file':
      task.spark_python_task = {
        python_file: code.pythonScriptPath,
        parameters: commandLine(code.parameters),
      };
      break;
    case 'python-snapshot': {
      const folder = await uploadSnapshot(ctx, client);
      task.spark_python_task = {
        python_file: `${folder}/${code.pythonScriptName}`,
        parameters: commandLine(code.parameters),
      };
      break;
    }
    default:
      task.spark_jar_task = { main_class_name: code.mainClassName, parameters: commandLine(code.parameters) };
  }
  if (libraries.length > 0) task.libraries = libraries.map((library) => JSON.parse(JSON.stringify(library)));
  return {
    run_name: step.config.runName ?? step.name,
    tasks: [task],
    ...(timeoutSeconds === undefined ? {} : { timeout_seconds: timeoutSeconds }),
    idempotency_token: idempotencyToken(ctx.stepRunId),
  };
}

function newCluster(cluster: Exclude<DatabricksCluster, { existingClusterId: string }>): NewCluster {
  return {
    spark_version: cluster.sparkVersion,
    node_type_id: cluster.nodeType,
    ...(cluster.autoscale
      ? {
          autoscale: { min_workers: cluster.autoscale.minWorkers, max_workers: cluster.autoscale.maxWorkers },
        }
      : { num_workers: cluster.numWorkers ?? 0 }),
  };
}

/** A task key from a step name: letters, digits, `_` and `-`, at most 100 characters. */
function taskKey(stepName: string): string {
  return stepName.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100);
}

function describeTask(task: SubmitTask): string {
  const where = task.existing_cluster_id
    ? `on cluster ${task.existing_cluster_id}`
    : task.new_cluster?.autoscale
      ? `on a new ${task.new_cluster.spark_version} cluster of ${task.new_cluster.autoscale.min_workers}–${task.new_cluster.autoscale.max_workers} ${task.new_cluster.node_type_id} workers`
      : `on a new ${task.new_cluster?.spark_version} cluster of ${task.new_cluster?.num_workers} ${task.new_cluster?.node_type_id} worker(s)`;
  const what = task.notebook_task
    ? `notebook ${task.notebook_task.notebook_path}`
    : task.spark_python_task
      ? `python ${task.spark_python_task.python_file}`
      : `main class ${task.spark_jar_task?.main_class_name}`;
  return `${what} ${where}`;
}

/** Upload the step's source snapshot to DBFS; returns the `dbfs:/` folder. */
async function uploadSnapshot(
  ctx: StepExecutionContext<DatabricksStepConfig>,
  client: DatabricksClient,
): Promise<string> {
  const { step, signal, logs } = ctx;
  if (ctx.sourceDirectory === undefined) {
    throw new SluiceError(
      'SOURCE_DIRECTORY_NOT_FOUND',
      `Step "${step.name}" was given no source directory to upload for pythonScriptName.`,
      { details: { step: step.name } },
    );
  }
  const folder = snapshotDbfsFolder(ctx.runId, step.name);
  const files = await listFiles(ctx.sourceDirectory);
  const folders = new Set<string>([folder]);
  for (const file of files) {
    const parent = path.posix.dirname(file);
    if (parent !== '.') folders.add(`${folder}/${parent}`);
  }
  // mkdirs makes parents too: only the deepest folders are needed
  const deepest = [...folders].filter(
    (candidate) => ![...folders].some((other) => other.startsWith(`${candidate}/`)),
  );
  for (const dir of deepest) await client.dbfsMkdirs(dir, { signal });
  let bytes = 0;
  for (const file of files) {
    const content = await readFile(path.join(ctx.sourceDirectory, ...file.split('/')));
    bytes += content.byteLength;
    await client.dbfsUpload(`${folder}/${file}`, content, { overwrite: true, signal });
  }
  logs.info(`uploaded the source snapshot (${files.length} files, ${bytes} bytes) to ${folder}/`);
  return folder;
}

/** Every file below a folder, as sorted '/'-separated relative paths. */
async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** Poll the run until it ends, backing off from 1 s to the step's poll interval. */
async function watch(
  ctx: StepExecutionContext<DatabricksStepConfig>,
  client: DatabricksClient,
  runId: number,
): Promise<StepExecutionResult> {
  const { logs, signal, step } = ctx;
  const longest = step.config.pollIntervalSeconds * 1000;
  let wait = Math.min(1000, longest);
  let last = '';
  let pageShown = false;
  for (;;) {
    let run: RunInfo;
    try {
      run = await client.getRun(runId, { signal });
    } catch (error) {
      if (signal.aborted) return cancel(ctx, client, runId);
      logs.info(`lost track of Databricks run ${runId}: ${(error as Error).message}`);
      await cancelQuietly(ctx, client, runId);
      throw error;
    }
    if (run.run_page_url && !pageShown) {
      logs.info(`Databricks run page: ${run.run_page_url}`);
      pageShown = true;
    }
    const progress = progressOf(run);
    if (progress.label !== last) {
      logs.info(
        `Databricks run ${runId}: ${progress.label}${progress.message ? ` (${progress.message})` : ''}`,
      );
      last = progress.label;
    }
    if (progress.ended) {
      const error = await collectOutput(ctx, client, run);
      return result(ctx, runId, run, error);
    }
    try {
      await delay(wait, undefined, { signal });
    } catch {
      return cancel(ctx, client, runId);
    }
    wait = Math.min(wait * 2, longest);
  }
}

/** Put the run's output in the step's logs (and a notebook's result in its metrics); returns its error. */
async function collectOutput(
  ctx: StepExecutionContext<DatabricksStepConfig>,
  client: DatabricksClient,
  run: RunInfo,
): Promise<string | undefined> {
  const { logs } = ctx;
  // runs submitted with `tasks` have their output on the task run
  const taskRunId = run.tasks?.[0]?.run_id ?? run.run_id;
  try {
    const output = await client.getRunOutput(taskRunId, { signal: AbortSignal.timeout(120_000) });
    const result = output.notebook_output?.result;
    if (result !== undefined) {
      logs.stdout(`${result}\n`);
      ctx.logMetric('notebook_result', result);
      if (output.notebook_output?.truncated) logs.info('the notebook result was truncated by Databricks');
    }
    if (output.logs) logs.stdout(output.logs.endsWith('\n') ? output.logs : `${output.logs}\n`);
    if (output.logs_truncated) logs.info('the run output was truncated by Databricks');
    if (output.error) logs.stderr(`${output.error}\n`);
    if (output.error_trace) logs.stderr(`${output.error_trace}\n`);
    return output.error;
  } catch (error) {
    logs.info(`could not fetch the output of Databricks run ${taskRunId}: ${(error as Error).message}`);
    return undefined;
  }
}

/**
 * Where a run is: from its `status` where the workspace sends one, else from the deprecated `state`.
 * `label` is what is logged when it changes.
 */
function progressOf(run: RunInfo): { label: string; message: string | undefined; ended: boolean } {
  const status = run.status;
  if (status?.state) {
    const details = status.termination_details;
    return {
      label: `${status.state}${details?.code ? ` ${details.code}` : ''}`,
      message: details?.message || status.queue_details?.message || undefined,
      ended: status.state === 'TERMINATED',
    };
  }
  const state = run.state ?? { life_cycle_state: 'PENDING' };
  return {
    label: `${state.life_cycle_state}${state.result_state ? ` ${state.result_state}` : ''}`,
    message: state.state_message || undefined,
    ended: TERMINAL.has(state.life_cycle_state),
  };
}

function result(
  ctx: StepExecutionContext<DatabricksStepConfig>,
  runId: number,
  run: RunInfo,
  outputError: string | undefined,
): StepExecutionResult {
  const because = (message: string | undefined): string => {
    const parts = [message, outputError && outputError !== message ? firstLine(outputError) : undefined];
    const text = parts.filter(Boolean).join(': ');
    return text ? `: ${text}` : '';
  };
  const timedOut = (suffix: string): StepExecutionResult => {
    const limit = ctx.step.config.timeoutSeconds;
    return {
      status: 'Failed',
      error: `timed out${limit === undefined ? '' : ` after ${limit}s`} (Databricks run ${runId})${suffix}`,
    };
  };
  if (run.status?.state) return statusResult(runId, run.status, run.state?.result_state, because, timedOut);
  const {
    life_cycle_state: lifeCycle,
    result_state: resultState,
    state_message: message,
  } = run.state ?? {
    life_cycle_state: 'INTERNAL_ERROR',
  };
  const suffix = because(message);
  if (lifeCycle === 'TERMINATED' && resultState === 'SUCCESS') return { status: 'Finished' };
  if (resultState === 'TIMEDOUT') return timedOut(suffix);
  if (resultState === 'CANCELED') {
    return { status: 'Canceled', error: `Databricks run ${runId} was canceled${suffix}` };
  }
  if (lifeCycle === 'SKIPPED') return { status: 'Failed', error: `Databricks skipped run ${runId}${suffix}` };
  if (lifeCycle === 'INTERNAL_ERROR') {
    return { status: 'Failed', error: `Databricks run ${runId} ended with an internal error${suffix}` };
  }
  return { status: 'Failed', error: `Databricks run ${runId} ${resultState ?? 'failed'}${suffix}` };
}

/** The outcome of a run that ended, from its `status.termination_details`. */
function statusResult(
  runId: number,
  status: RunStatus,
  legacyResult: string | undefined,
  because: (message: string | undefined) => string,
  timedOut: (suffix: string) => StepExecutionResult,
): StepExecutionResult {
  const { code, type, message } = status.termination_details ?? {};
  const suffix = because(message);
  switch (code) {
    case 'SUCCESS':
      return { status: 'Finished' };
    case 'USER_CANCELED':
      return { status: 'Canceled', error: `Databricks run ${runId} was canceled by a user${suffix}` };
    case 'CANCELED':
      // Databricks canceled it, e.g. when its timeout_seconds passed (the deprecated state says TIMEDOUT)
      if (legacyResult === 'TIMEDOUT') return timedOut(suffix);
      return { status: 'Failed', error: `Databricks canceled run ${runId} (CANCELED)${suffix}` };
    case 'SKIPPED':
      return { status: 'Failed', error: `Databricks skipped run ${runId}${suffix}` };
    case 'INTERNAL_ERROR':
      return { status: 'Failed', error: `Databricks run ${runId} ended with an internal error${suffix}` };
    case undefined:
      return { status: 'Failed', error: `Databricks run ${runId} ended without a termination code${suffix}` };
    default:
      return {
        status: 'Failed',
        error: `Databricks run ${runId} failed (${code}${type ? `, ${type}` : ''})${suffix}`,
      };
  }
}

async function cancel(
  ctx: StepExecutionContext<DatabricksStepConfig>,
  client: DatabricksClient,
  runId: number,
): Promise<StepExecutionResult> {
  await cancelQuietly(ctx, client, runId);
  return { status: 'Canceled', error: `canceled; Databricks was asked to cancel run ${runId}` };
}

async function cancelQuietly(
  ctx: StepExecutionContext<DatabricksStepConfig>,
  client: DatabricksClient,
  runId: number,
): Promise<void> {
  try {
    // the step's signal may be aborted already: the cancel request gets its own time limit
    await client.cancelRun(runId, { signal: AbortSignal.timeout(60_000) });
    ctx.logs.info(`asked Databricks to cancel run ${runId}`);
  } catch (error) {
    ctx.logs.info(`could not cancel Databricks run ${runId}: ${(error as Error).message}`);
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
