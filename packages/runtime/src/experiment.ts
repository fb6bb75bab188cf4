import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  SluiceError,
  diffFingerprints,
  resolveParameterValues,
  pipelineToSpec,
  type PipelineSpec,
  isExternalData,
  Pipeline,
  type PipelineGraphJson,
} from '@sluice/core';
import { checkStepArguments } from './arguments.js';
import { loadOptional } from './optional.js';
import { requireWorkspace } from './checks.js';
import { checkSecretReferences } from './secrets.js';
import { RunEvents, type RunEventListener } from './events.js';
import { isResolvableData } from './resolvable-data.js';
import { RunExecution, type CancelOptions, type StepPlan } from './executor.js';
import { checkStepBeforeSubmit } from './preflight.js';
import type {
  DestinationRecord,
  MetricRecord,
  OutputRecord,
  PipelineRunRecord,
  RunStatus,
  StepRunRecord,
  StepStatus,
} from './store.js';
import { DEFAULT_COMPUTE, type Workspace } from './workspace.js';

export interface SubmitOptions {
  /** Parameter values by name; strings are converted to the parameter's type. */
  parameters?: Record<string, unknown>;
  /** Re-run every step, ignoring earlier results. */
  regenerateOutputs?: boolean;
  /** Keep running steps that do not depend on a failed one. */
  continueOnStepFailure?: boolean;
  tags?: Record<string, string>;
  description?: string;
  /** Use this run id (allocated earlier, e.g. by a queue that answered a REST call); must be new. */
  runId?: string;
  /** How the run was started (default 'SDK'); shown in run records. */
  runSource?: string;
  /** Who or what submitted the run (a token's subject, `schedule:<name>`, a user name); shown in run records. */
  submittedBy?: string;
  /**
   * The compute target steps that name none run on (default `local`), e.g. a cluster: the same pipeline runs
   * there with no change to its code.
   */
  defaultComputeTarget?: string;
}

const EXPERIMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/** The pipeline as JSON for the run record, or null when a step's settings are not plain data. */
function recordableSpec(pipeline: Pipeline): PipelineSpec | null {
  try {
    return pipelineToSpec(pipeline);
  } catch {
    return null;
  }
}

function newRunId(experiment: string): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')
    .replace('T', '_');
  return `${experiment}_${stamp}_${randomBytes(3).toString('hex')}`;
}

/** A named group of runs; `submit` runs a pipeline in it. */
export class Experiment {
  readonly workspace: Workspace;
  readonly name: string;

  constructor(workspace: Workspace, name: string) {
    requireWorkspace(workspace, 'new Experiment', `new Experiment(ws, 'Compare_Models_Exp')`);
    if (typeof name !== 'string' || !EXPERIMENT_NAME.test(name)) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `Experiment name ${JSON.stringify(name)} is not valid: use letters, digits, '_', '.', '-' (up to 255), starting with a letter or digit.`,
      );
    }
    this.workspace = workspace;
    this.name = name;
  }

  /**
   * Start a run of the pipeline. Everything that can be checked before a step runs is checked here, before
   * the run is recorded (parameters, compute targets, step plugins and their own checks, source
   * directories, environments, external inputs, output datastores and paths); the run then goes on in the
   * background: `await run.waitForCompletion()`.
   */
  async submit(pipeline: Pipeline, options: SubmitOptions = {}): Promise<PipelineRun> {
    if (!(pipeline instanceof Pipeline)) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        'Experiment.submit takes a Pipeline, e.g. experiment.submit(new Pipeline({ steps: [train] })); build one from the steps first.',
      );
    }
    if (typeof options !== 'object' || options === null) {
      throw new SluiceError(
        'OPTION_INVALID',
        'Experiment.submit takes (pipeline, options?), e.g. { parameters: { learning_rate: 0.5 } }.',
      );
    }
    const ws = await this.workspace.ready();
    const parameters = resolveParameterValues(pipeline.parameters, options.parameters ?? {});
    const runId = options.runId ?? newRunId(this.name);
    if (
      options.runId !== undefined &&
      (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/.test(runId) || ws.store.getRun(runId))
    ) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `Run id ${JSON.stringify(runId)} is taken or not valid; give a new id of letters, digits, '_', '.', '-'.`,
      );
    }
    const plans = new Map<string, StepPlan>();
    for (const name of pipeline.order) {
      const step = pipeline.getStep(name)!;
      if (step.plugin) ws.registry.ensure(step.plugin);
      const plugin = ws.registry.step(step.kind);
      checkStepArguments(step, plugin, parameters);
      const compute = await ws.getComputeTarget(
        step.computeTarget ?? options.defaultComputeTarget ?? DEFAULT_COMPUTE,
      );
      if (plugin.computeKinds && !plugin.computeKinds.includes(compute.kind)) {
        throw new SluiceError(
          'STEP_INVALID',
          `Step "${name}" (${step.kind}) runs on ${plugin.computeKinds.join(' or ')} compute, but its compute target "${compute.name}" is ${compute.kind}; give it a ${plugin.computeKinds[0]} compute target.`,
          { details: { step: name, computeTarget: compute.name, computeKind: compute.kind } },
        );
      }
      const environment = ws.resolveEnvironment(step.runConfig?.environment);
      checkSecretReferences(name, environment, (secret) => ws.getSecret(secret));
      for (const input of step.inputs) {
        if (isResolvableData(input.source)) {
          if (!(await input.source.exists(ws))) {
            throw new SluiceError(
              'INPUT_NOT_AVAILABLE',
              `Step "${name}" reads ${input.source.bindingKind} "${input.source.name}", whose data cannot be found; upload it first or fix its paths.`,
              { details: { step: name, input: input.name } },
            );
          }
        } else if (isExternalData(input.source)) {
          const store = ws.datastore(input.source.datastore ?? ws.config.defaultDatastore);
          if (!(await store.exists(input.source.pathOnDatastore))) {
            throw new SluiceError(
              'INPUT_NOT_AVAILABLE',
              `Step "${name}" reads "${input.source.pathOnDatastore}" from datastore "${store.name}", which does not exist there; upload it first.`,
              { details: { step: name, datastore: store.name, path: input.source.pathOnDatastore } },
            );
          }
        }
      }
      const plan: StepPlan = { step, stepRunId: `${runId}.${name}`, plugin, compute, environment };
      await checkStepBeforeSubmit(ws, plan, runId);
      plans.set(name, plan);
    }
    ws.store.createRun(
      {
        id: runId,
        experiment: this.name,
        pipelineName: pipeline.name,
        description: options.description ?? pipeline.description,
        status: 'NotStarted',
        parameters,
        options: {
          regenerateOutputs: options.regenerateOutputs ?? false,
          continueOnStepFailure: options.continueOnStepFailure ?? false,
        },
        tags: options.tags ?? {},
        graph: pipeline.toGraphJson(),
        spec: recordableSpec(pipeline),
        runSource: options.runSource ?? 'SDK',
        submittedBy: options.submittedBy ?? null,
      },
      pipeline.order.map((name, seq) => ({
        id: plans.get(name)!.stepRunId,
        stepName: name,
        kind: plans.get(name)!.step.kind,
        seq,
        computeTarget: plans.get(name)!.compute.name,
      })),
    );
    const events = new RunEvents();
    const execution = new RunExecution({
      workspace: ws,
      pipeline,
      runId,
      experiment: this.name,
      parameters,
      options: {
        regenerateOutputs: options.regenerateOutputs ?? false,
        continueOnStepFailure: options.continueOnStepFailure ?? false,
      },
      plans,
      events,
    });
    const run = new PipelineRun(ws, runId, { execution, events });
    run._start();
    return run;
  }

  /** The experiment's runs, newest first. */
  listRuns(limit?: number): PipelineRun[] {
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
      throw new SluiceError(
        'OPTION_INVALID',
        `listRuns(limit) takes a whole number of runs ≥ 1; got ${JSON.stringify(limit) ?? String(limit)}.`,
      );
    }
    return this.workspace.store
      .listRuns({ experiment: this.name, ...(limit ? { limit } : {}) })
      .map((record) => new PipelineRun(this.workspace, record.id));
  }
}

/** The package `publishPipeline` loads when it is called; runtime never imports it statically. */
const PUBLISH_PACKAGE = '@sluice/publish';

/** What `publishPipeline` resolves: `@sluice/publish`'s PublishedPipeline (its members beyond these too). */
export interface PublishedPipelineInfo {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly version: string | null;
}

export interface WaitOptions {
  /** Print step status changes (and, with 'logs', step output) to stdout as they happen. */
  showOutput?: boolean | 'logs';
  /**
   * Throw RUN_FAILED / RUN_CANCELED when the run does not finish (default true, as the original SDK's
   * `raise_on_error=True`); false returns the status ('Failed', 'Canceled') instead.
   */
  raiseOnError?: boolean;
  /** For runs executing in another process: how often to look at the store. */
  pollIntervalMs?: number;
}

const TERMINAL_RUN: readonly RunStatus[] = ['Finished', 'Failed', 'Canceled'];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One run of a pipeline: live while this process executes it, read from the run store otherwise. */
export class PipelineRun {
  readonly workspace: Workspace;
  readonly id: string;
  readonly #live: { execution: RunExecution; events: RunEvents } | undefined;
  #done: Promise<RunStatus> | undefined;

  constructor(workspace: Workspace, id: string, live?: { execution: RunExecution; events: RunEvents }) {
    this.workspace = workspace;
    this.id = id;
    this.#live = live;
    if (!live) this.#record();
  }

  /** Look a run up by id (or unique prefix, or `latest`). */
  static get(workspace: Workspace, id: string): PipelineRun {
    requireWorkspace(workspace, 'PipelineRun.get', `PipelineRun.get(ws, 'latest')`);
    return new PipelineRun(workspace, workspace.store.resolveRun(id).id);
  }

  /** @internal started by Experiment.submit */
  _start(): void {
    const { execution, events } = this.#live!;
    this.#done = execution.execute().catch((error: unknown) => {
      const message = String((error as Error)?.message ?? error);
      try {
        this.workspace.store.setRunStatus(this.id, 'Failed', message);
      } catch {
        // the run store is closed: the run stays Running there until the workspace is opened again
        // after this process ends, which marks it Failed
      }
      events.emit({ type: 'run-status', runId: this.id, status: 'Failed', error: message });
      return 'Failed' as RunStatus;
    });
  }

  #record(): PipelineRunRecord {
    const record = this.workspace.store.getRun(this.id);
    if (!record) throw new SluiceError('RUN_NOT_FOUND', `No run "${this.id}" in this workspace.`);
    return record;
  }

  get record(): PipelineRunRecord {
    return this.#record();
  }
  get status(): RunStatus {
    return this.#record().status;
  }
  get experimentName(): string {
    return this.#record().experiment;
  }

  /** Listen to status changes and log lines (only for a run executing in this process). */
  on(listener: RunEventListener): () => void {
    if (!this.#live) return () => undefined;
    return this.#live.events.on(listener);
  }

  async waitForCompletion(options: WaitOptions = {}): Promise<RunStatus> {
    const names = new Map(options.showOutput ? displayNames(this.#record()) : []);
    const label = (step: string): string => names.get(step) ?? step;
    const off = options.showOutput ? this.on(printer(options.showOutput === 'logs', label)) : undefined;
    let status: RunStatus;
    try {
      if (this.#done) {
        status = await this.#done;
      } else {
        for (;;) {
          status = this.#record().status;
          if (TERMINAL_RUN.includes(status)) break;
          await sleep(options.pollIntervalMs ?? 250);
        }
      }
    } finally {
      off?.();
    }
    if (options.showOutput) {
      const record = this.#record();
      process.stdout.write(`Run ${this.id}: ${status}${record.error ? ` (${record.error})` : ''}\n`);
    }
    if ((options.raiseOnError ?? true) && status !== 'Finished') {
      const record = this.#record();
      throw new SluiceError(
        status === 'Canceled' ? 'RUN_CANCELED' : 'RUN_FAILED',
        `Run ${this.id} ${status === 'Canceled' ? 'was canceled' : `failed: ${record.error ?? 'see the step logs'}`}.`,
        { details: { run: this.id, status } },
      );
    }
    return status;
  }

  /**
   * Publish the pipeline this run ran (`pipeline_run.publish_pipeline(name, description, version)`), with
   * the sources its steps ran from. Needs the optional `@sluice/publish` package (PLUGIN_NOT_INSTALLED
   * names it when missing); resolves its `PublishedPipeline`.
   */
  async publishPipeline(options: {
    name: string;
    description?: string;
    version?: string;
  }): Promise<PublishedPipelineInfo> {
    const publish = await loadOptional<{
      publishRun(ws: Workspace, run: PipelineRun, options: unknown): Promise<PublishedPipelineInfo>;
    }>(PUBLISH_PACKAGE, 'pipelineRun.publishPipeline()');
    return publish.publishRun(this.workspace, this, options);
  }

  /**
   * Stop the run: steps not started are canceled; running steps are killed, at once or, with `graceMs`,
   * once that many milliseconds have passed (a step that finishes within them stays Finished). Resolves
   * when the run has ended. Calling it again with a shorter `graceMs` (0: now) shortens the grace.
   */
  async cancel(options: CancelOptions = {}): Promise<void> {
    if (this.#live) {
      this.#live.execution.cancel(options);
      await this.#done;
      return;
    }
    const record = this.#record();
    if (TERMINAL_RUN.includes(record.status)) return;
    throw new SluiceError(
      'RUN_CANCELED',
      `Run ${this.id} is executing in another process (pid ${record.runnerPid}); cancel it there.`,
    );
  }

  getSteps(): StepRun[] {
    // the names as given, read once for all steps (each step reading the run's graph again is quadratic)
    const names = new Map(displayNames(this.#record()));
    return this.workspace.store
      .getStepRuns(this.id)
      .map((record) => new StepRun(this.workspace, record.id, names.get(record.stepName) ?? record.stepName));
  }

  /** A step run by the step's id or its name as given (`"Hello World"`). */
  findStepRun(name: string): StepRun {
    const records = this.workspace.store.getStepRuns(this.id);
    const byDisplay = displayNames(this.#record()).find(([, display]) => display === name)?.[0];
    const record =
      records.find((candidate) => candidate.stepName === name) ??
      records.find((candidate) => candidate.stepName === byDisplay);
    if (!record) {
      throw new SluiceError('STEP_RUN_NOT_FOUND', `Run ${this.id} has no step "${name}".`, {
        details: { run: this.id, step: name },
      });
    }
    return new StepRun(this.workspace, record.id);
  }

  /** The pipeline graph with each step's status. */
  getGraph(): PipelineGraphJson & { statuses: Record<string, StepStatus> } {
    const graph = this.#record().graph as PipelineGraphJson;
    const statuses: Record<string, StepStatus> = {};
    for (const step of this.workspace.store.getStepRuns(this.id)) statuses[step.stepName] = step.status;
    return { ...graph, statuses };
  }
}

/** A fixed destination an output was published to, and whose content it holds now. */
export interface OutputDestination {
  datastore: string;
  path: string;
  /** The step run that published there last (the last writer wins). */
  heldBy: DestinationRecord | null;
  /** Does the destination hold this output's content (by digest)? */
  current: boolean;
}

/** A step's output on its datastore. */
export class OutputData {
  readonly workspace: Workspace;
  readonly record: OutputRecord;
  constructor(workspace: Workspace, record: OutputRecord) {
    this.workspace = workspace;
    this.record = record;
  }
  get name(): string {
    return this.record.name;
  }
  get datastoreName(): string {
    return this.record.datastore;
  }
  /** Where the step committed the output (its own location, never replaced by another run). */
  get pathOnDatastore(): string {
    return this.record.path;
  }
  /**
   * For an output published to a fixed destination (an OutputFileDatasetConfig destination naming no
   * run): the path there, which step run published there last (`heldBy`, when, and its digest), and
   * whether the destination still holds this output's content (`current`).
   */
  get destination(): OutputDestination | undefined {
    const path = this.record.destination;
    if (!path) return undefined;
    const heldBy = this.workspace.store.getDestination(this.record.datastore, path);
    return {
      datastore: this.record.datastore,
      path,
      heldBy: heldBy ?? null,
      current: heldBy?.digest === this.record.digest,
    };
  }
  /** Copy the output into a local folder; returns the folder. */
  async download(localPath: string): Promise<string> {
    const target = join(localPath, this.record.name);
    await this.workspace.datastore(this.record.datastore).download(this.record.path, target);
    return target;
  }
}

/** Why a step ran or was reused, in words. */
export interface StepExplanation {
  /** The step's id. */
  step: string;
  /** The step's name as given, where it differs from its id. */
  displayName?: string;
  stepRunId: string;
  status: StepStatus;
  decision: 'REUSED' | 'RAN' | 'NOT RUN';
  reusedFrom?: { stepRunId: string; runId: string };
  comparedWith?: { stepRunId: string; runId: string };
  reasons: string[];
}

/** One step of a pipeline run. */
export class StepRun {
  readonly workspace: Workspace;
  readonly id: string;
  readonly #displayName: string | undefined;
  /** `displayName`: the step's name as given, when the caller knows it (else read from the run). */
  constructor(workspace: Workspace, id: string, displayName?: string) {
    this.workspace = workspace;
    this.id = id;
    this.#displayName = displayName;
  }

  get record(): StepRunRecord {
    const record = this.workspace.store.getStepRun(this.id);
    if (!record) throw new SluiceError('STEP_RUN_NOT_FOUND', `No step run "${this.id}".`);
    return record;
  }
  /** The step's id. */
  get name(): string {
    return this.record.stepName;
  }
  /** The step's name as given (`"Hello World"`); its id when that is the same. */
  get displayName(): string {
    if (this.#displayName !== undefined) return this.#displayName;
    const record = this.record;
    const run = this.workspace.store.getRun(record.runId);
    const names = run ? new Map(displayNames(run)) : new Map<string, string>();
    return names.get(record.stepName) ?? record.stepName;
  }
  get status(): StepStatus {
    return this.record.status;
  }
  /** The step run whose results this one reused. */
  get reusedFrom(): string | null {
    return this.record.reusedFrom;
  }
  get fingerprint(): string | null {
    return this.record.fingerprint;
  }

  async #log(name: string): Promise<string> {
    const dir = this.#logDir();
    if (!dir) return '';
    return readFile(join(dir, name), 'utf8').catch(() => '');
  }

  #logDir(): string | null {
    const record = this.record;
    if (record.logDir) return record.logDir;
    // a reused step's logs are those of the run it reused
    if (record.reusedFrom) return this.workspace.store.getStepRun(record.reusedFrom)?.logDir ?? null;
    return null;
  }

  getStdout(): Promise<string> {
    return this.#log('stdout.txt');
  }
  getStderr(): Promise<string> {
    return this.#log('stderr.txt');
  }
  /** Sluice's own notes about the step (input downloads, compute, outcome). */
  getSluiceLog(): Promise<string> {
    return this.#log('sluice.txt');
  }

  /** Metrics logged by the step, latest value per name. */
  getMetrics(): Record<string, unknown> {
    const source = this.record.reusedFrom ?? this.id;
    const metrics: Record<string, unknown> = {};
    const history = new Map<string, unknown[]>();
    for (const metric of this.workspace.store.getMetrics(source)) {
      history.set(metric.name, [...(history.get(metric.name) ?? []), metric.value]);
    }
    for (const [name, values] of history) metrics[name] = values.length === 1 ? values[0] : values;
    return metrics;
  }

  getMetricRecords(): MetricRecord[] {
    return this.workspace.store.getMetrics(this.record.reusedFrom ?? this.id);
  }

  getOutputs(): OutputData[] {
    return this.workspace.store.getOutputs(this.id).map((record) => new OutputData(this.workspace, record));
  }

  getOutputData(name: string): OutputData {
    const record = this.workspace.store.getOutputs(this.id).find((output) => output.name === name);
    if (!record) {
      const status = this.status;
      throw new SluiceError(
        status === 'Finished' || status === 'Reused' ? 'OUTPUT_NOT_FOUND' : 'OUTPUT_NOT_AVAILABLE',
        status === 'Finished' || status === 'Reused'
          ? `Step "${this.name}" has no output "${name}".`
          : `Step "${this.name}" is ${status}; its outputs exist only once it has finished.`,
        { details: { stepRun: this.id, output: name } },
      );
    }
    if (record.deletedAt) {
      throw new SluiceError(
        'OUTPUT_NOT_AVAILABLE',
        `Output "${name}" of step "${this.name}" was deleted by \`sluice gc\` at ${record.deletedAt}; re-run the pipeline to produce it again.`,
        { details: { stepRun: this.id, output: name } },
      );
    }
    return new OutputData(this.workspace, record);
  }

  /** Why this step ran or was reused: against the latest earlier run of the same step. */
  explain(): StepExplanation {
    const store = this.workspace.store;
    const record = this.record;
    const run = store.getRun(record.runId)!;
    const displayName = new Map(displayNames(run)).get(record.stepName);
    const base = {
      step: record.stepName,
      ...(displayName ? { displayName } : {}),
      stepRunId: record.id,
      status: record.status,
    };
    const waited = record.waitedFor ? store.getStepRun(record.waitedFor) : undefined;
    if (record.status === 'Reused' && record.reusedFrom) {
      const source = store.getStepRun(record.reusedFrom);
      return {
        ...base,
        decision: 'REUSED',
        reusedFrom: { stepRunId: record.reusedFrom, runId: source?.runId ?? '?' },
        reasons: [
          'fingerprint matches a finished earlier run',
          ...(record.waitedFor
            ? [
                `it waited for step run ${record.waitedFor} (run ${waited?.runId ?? '?'}), which was executing the same fingerprint, to finish`,
              ]
            : []),
        ],
      };
    }
    if (!record.fingerprint) {
      return {
        ...base,
        decision: 'NOT RUN',
        reasons: [
          record.error ??
            (record.waitedFor && record.status === 'Queued'
              ? `waiting for step run ${record.waitedFor} (run ${waited?.runId ?? '?'}), which is executing the same fingerprint`
              : `the step is ${record.status} and was not fingerprinted`),
        ],
      };
    }
    const reasons: string[] = [];
    if (record.ranReason === 'regenerate-outputs')
      reasons.push('regenerateOutputs was set: every step re-runs');
    if (record.ranReason === 'allow-reuse-false') reasons.push('allowReuse is false for this step');
    const previous = store.previousStepRun(record, run.pipelineName);
    let comparedWith: StepExplanation['comparedWith'];
    if (!previous) {
      if (reasons.length === 0) reasons.push('no earlier run of this step');
    } else {
      comparedWith = { stepRunId: previous.id, runId: previous.runId };
      const changes = diffFingerprints(
        store.getFingerprintParts(previous.id),
        store.getFingerprintParts(record.id),
      );
      reasons.push(...changes.map((change) => change.message));
      if (changes.length === 0 && reasons.length === 0) {
        reasons.push(
          previous.status === 'Finished' || previous.status === 'Reused'
            ? 'nothing changed, but the earlier outputs were missing or altered'
            : `nothing changed, but the earlier run of this step ${previous.status === 'Failed' ? 'failed' : `was ${previous.status.toLowerCase()}`} and is not reusable`,
        );
      }
    }
    if (record.waitedFor) {
      reasons.push(
        `step run ${record.waitedFor} (run ${waited?.runId ?? '?'}) was executing the same fingerprint; it ${waited?.status === 'Finished' ? 'finished, but its outputs could not be reused' : `ended ${waited?.status ?? 'without a record'}`}, so this run executed the step`,
      );
    }
    return {
      ...base,
      decision: record.status === 'NotStarted' || record.status === 'Skipped' ? 'NOT RUN' : 'RAN',
      ...(comparedWith ? { comparedWith } : {}),
      reasons,
    };
  }
}

const STATUS_MARK: Partial<Record<StepStatus, string>> = {
  Queued: '…',
  Running: '▶',
  Finished: '✔',
  Reused: '↺',
  Failed: '✖',
  Canceled: '■',
  Skipped: '–',
};

/** Step id → name as given, for the steps whose name differs from their id. */
function displayNames(record: PipelineRunRecord): Array<[string, string]> {
  const graph = record.graph as PipelineGraphJson | null;
  return (graph?.nodes ?? []).flatMap((node) => (node.displayName ? [[node.name, node.displayName]] : []));
}

function printer(logs: boolean, label: (step: string) => string): RunEventListener {
  return (event) => {
    if (event.type === 'step-status') {
      const mark = STATUS_MARK[event.status] ?? ' ';
      const extra = event.reusedFrom ? ` (from ${event.reusedFrom})` : event.error ? ` (${event.error})` : '';
      process.stdout.write(`${mark} ${label(event.step).padEnd(24)} ${event.status}${extra}\n`);
    } else if (event.type === 'step-progress') {
      process.stdout.write(`  ${label(event.step).padEnd(24)} ${event.text}\n`);
    } else if (event.type === 'step-log' && logs && event.stream !== 'sluice') {
      for (const line of event.text.split('\n'))
        if (line) process.stdout.write(`  [${label(event.step)}] ${line}\n`);
    }
  };
}
