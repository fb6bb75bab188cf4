import { randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  OutputFileDatasetConfig,
  SluiceError,
  combineFingerprint,
  contentPart,
  hashTree,
  isExternalData,
  isInputBinding,
  isPipelineParameter,
  isProducedData,
  valuePart,
  type ComputeTarget,
  type ContentIdentity,
  type DataLocation,
  type DataSource,
  type Environment,
  type FingerprintPart,
  type MaterialisedPython,
  type ParameterValue,
  type ProcessJob,
  type ProcessRunHooks,
  type Pipeline,
  type ProducedData,
  type ResolvedInput,
  type StepArgument,
  type StepDefinition,
  type StepExecutionContext,
  type StepExecutionResult,
  type StepKindPlugin,
} from '@sluice/core';
import type { WorkspaceDatastore } from './datastore.js';
import type { RunEvents } from './events.js';
import { registerOutputDataset } from './dataset.js';
import {
  environmentPart,
  keepBuildLogWithStep,
  materialiseEnvironment,
  materialisedPython,
  pythonEnvironmentOf,
  recordEnvironmentUse,
} from './environments.js';
import { normaliseStorePath } from './local-datastore.js';
import { isResolvableData, type ResolvableData } from './resolvable-data.js';
import { claimLease, type Claim } from './lease.js';
import { STEP_RUN_VARIABLE, processStartIdentity } from './processes.js';
import { SecretMask, stepEnvironment } from './secrets.js';
import { outputStamp, settledOutputStamp } from './output-stamp.js';
import { checkoutSnapshot, gitInfo, takeSnapshot, type Snapshot } from './snapshot.js';
import {
  retryWhileBusy,
  type GitInfo,
  type OutputRecord,
  type RanReason,
  type RemoteJobRecord,
  type RunStatus,
  type StepStatus,
} from './store.js';
import type { Workspace } from './workspace.js';

/** Everything resolved for one step before the run starts. */
export interface StepPlan {
  readonly step: StepDefinition;
  readonly stepRunId: string;
  readonly plugin: StepKindPlugin<unknown>;
  readonly compute: ComputeTarget;
  readonly environment: Environment | undefined;
}

export interface ExecutionOptions {
  regenerateOutputs: boolean;
  continueOnStepFailure: boolean;
}

export interface CancelOptions {
  /**
   * Milliseconds in which running steps may still finish (default 0: they are killed at once). Steps not
   * running yet are canceled at once either way. A later call with a shorter grace shortens it.
   */
  graceMs?: number;
  /** Why the run is canceled; recorded as the error of the run and of its canceled steps. */
  reason?: string;
}

const BLOCKING: readonly StepStatus[] = ['Failed', 'Canceled', 'Skipped'];
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Where outputs of running steps are written on a local datastore until they are committed. */
export const PARTIAL_DIR = '.sluice-partial';

/** Where a PipelineData output lives on its datastore. */
export function pipelineDataPath(stepRunId: string, outputName: string): string {
  return `sluice/outputs/${stepRunId}/${outputName}`;
}

/**
 * The destination of an OutputFileDatasetConfig that names no run (no `{run-id}` or `{pipeline-run-id}`):
 * every run of the step publishes its output there, while its committed copy stays in its own location.
 */
export function fixedDestination(output: ProducedData): string | undefined {
  if (!(output instanceof OutputFileDatasetConfig) || !output.destination) return undefined;
  const { datastore, path } = output.destination;
  if (path.includes('{run-id}') || path.includes('{pipeline-run-id}')) return undefined;
  return normaliseStorePath(datastore, path.replaceAll('{output-name}', output.outputName));
}

/**
 * Where an output is committed, never to be replaced: a destination that names the run, else the step
 * run's own location (which downstream steps and later reuse read).
 */
export function committedPath(output: ProducedData, stepRunId: string, runId: string): string {
  if (output instanceof OutputFileDatasetConfig && output.destination && !fixedDestination(output)) {
    return output.destination.path
      .replaceAll('{run-id}', stepRunId)
      .replaceAll('{pipeline-run-id}', runId)
      .replaceAll('{output-name}', output.outputName);
  }
  return pipelineDataPath(stepRunId, output.outputName);
}

/** The datastore an output names, if any (else the workspace default). */
export function outputDatastore(output: ProducedData): string | undefined {
  return output instanceof OutputFileDatasetConfig ? output.destination?.datastore : output.datastore;
}

const elapsed = (): string => new Date().toISOString();

/** A job an earlier runner submitted for the same fingerprint, which this step run follows instead. */
interface Adoption {
  /** The step run whose job it is. */
  from: string;
  job: RemoteJobRecord;
  /** Output name → the folder the job writes it to. */
  staged: Map<string, string>;
}

/**
 * Executes one pipeline run: fingerprints each step once its inputs are ready, reuses a finished step run
 * with the same fingerprint, or runs the step and commits its outputs atomically.
 */
export class RunExecution {
  readonly #ws: Workspace;
  readonly #pipeline: Pipeline;
  readonly #runId: string;
  readonly #experiment: string;
  readonly #parameters: Record<string, ParameterValue>;
  readonly #options: ExecutionOptions;
  readonly #plans: Map<string, StepPlan>;
  readonly #events: RunEvents;
  readonly #controller = new AbortController();
  readonly #status = new Map<string, StepStatus>();
  readonly #produced = new Map<ProducedData, OutputRecord>();
  readonly #snapshots = new Map<string, Promise<Snapshot>>();
  readonly #git = new Map<string, Promise<GitInfo | null>>();
  readonly #identities = new Map<string, Promise<ContentIdentity>>();
  readonly #resolvedIdentities = new Map<ResolvableData, Promise<ContentIdentity>>();
  /** The materialised Python environment of each step of a kind that runs Python. */
  readonly #pythons = new Map<string, MaterialisedPython>();
  /** One controller per started step, so a graceful cancel can stop the steps not running yet. */
  readonly #stepControllers = new Map<string, { controller: AbortController; signal: AbortSignal }>();
  /** The secrets given to this run's steps: masked in their logs, events and errors. */
  readonly #mask = new SecretMask();
  /** Reuses decided in this turn of the event loop, recorded together by #recordReuses. */
  #reuses: Array<{
    args: Parameters<Workspace['store']['reuseStep']>;
    settle: (reused: boolean | Error) => void;
  }> = [];
  #canceled = false;
  #cancelReason: string | undefined;
  #graceEnds = Infinity;
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(init: {
    workspace: Workspace;
    pipeline: Pipeline;
    runId: string;
    experiment: string;
    parameters: Record<string, ParameterValue>;
    options: ExecutionOptions;
    plans: Map<string, StepPlan>;
    events: RunEvents;
  }) {
    this.#ws = init.workspace;
    this.#pipeline = init.pipeline;
    this.#runId = init.runId;
    this.#experiment = init.experiment;
    this.#parameters = init.parameters;
    this.#options = init.options;
    this.#plans = init.plans;
    this.#events = init.events;
    for (const name of this.#pipeline.order) this.#status.set(name, 'NotStarted');
    // every queued and running step listens for cancellation
    setMaxListeners(0, this.#controller.signal);
  }

  /** Stop the run: no step starts any more; running steps are killed at once or after `graceMs`. */
  cancel(options: CancelOptions = {}): void {
    this.#canceled = true;
    this.#cancelReason ??= options.reason;
    const graceMs = options.graceMs ?? 0;
    if (!(graceMs > 0)) {
      this.#abort();
      return;
    }
    for (const [name, { controller }] of this.#stepControllers) {
      if (this.#status.get(name) !== 'Running') controller.abort();
    }
    const ends = Date.now() + graceMs;
    if (ends >= this.#graceEnds) return;
    this.#graceEnds = ends;
    clearTimeout(this.#graceTimer);
    // setTimeout cannot wait longer than 2^31-1 ms; a longer grace is no deadline at all
    if (graceMs <= MAX_TIMER_MS) this.#graceTimer = setTimeout(() => this.#abort(), graceMs);
  }

  #abort(): void {
    clearTimeout(this.#graceTimer);
    this.#controller.abort();
  }

  /** The signal a step's work listens to: aborted with the run, or when it is stopped before running. */
  #stepSignal(name: string): AbortSignal {
    let entry = this.#stepControllers.get(name);
    if (!entry) {
      const controller = new AbortController();
      if (this.#canceled) controller.abort();
      const signal = AbortSignal.any([this.#controller.signal, controller.signal]);
      setMaxListeners(0, signal);
      entry = { controller, signal };
      this.#stepControllers.set(name, entry);
    }
    return entry.signal;
  }

  get #cancelMessage(): string {
    return this.#cancelReason ?? 'the run was canceled';
  }

  /**
   * Run the steps and record the outcome. Rejects only when the outcome cannot be recorded (the run store
   * failed or was closed); the steps still running are then killed first, so nothing runs unobserved.
   */
  async execute(): Promise<RunStatus> {
    try {
      return await this.#executeSteps();
    } finally {
      clearTimeout(this.#graceTimer);
    }
  }

  async #executeSteps(): Promise<RunStatus> {
    const store = this.#ws.store;
    store.setRunStatus(this.#runId, 'Running');
    this.#events.emit({ type: 'run-status', runId: this.#runId, status: 'Running' });
    // Each step waits for a count of unsettled dependencies; a settled step releases its dependants.
    const waitingOn = new Map<string, number>();
    for (const name of this.#pipeline.order) waitingOn.set(name, this.#pipeline.dependenciesOf(name).length);
    const ready = this.#pipeline.order.filter((name) => waitingOn.get(name) === 0);
    const settled: string[] = [];
    let wake: (() => void) | undefined;
    let running = 0;
    let failed = false;
    // a step's outcome that could not be recorded: every step is stopped, and the run rejects
    let fault: { error: unknown } | undefined;
    const stopAll = (error: unknown): void => {
      fault ??= { error };
      this.#canceled = true;
      this.#abort();
    };
    const release = (name: string): void => {
      for (const next of this.#pipeline.dependantsOf(name)) {
        const left = waitingOn.get(next)! - 1;
        waitingOn.set(next, left);
        if (left > 0) continue;
        const blocked = this.#pipeline
          .dependenciesOf(next)
          .some((dependency) => BLOCKING.includes(this.#status.get(dependency)!));
        if (blocked) {
          this.#setStatus(next, this.#canceled ? 'Canceled' : 'Skipped', {
            error: this.#canceled ? this.#cancelMessage : 'an upstream step did not finish',
          });
          release(next);
        } else {
          ready.push(next);
        }
      }
    };
    for (;;) {
      const stop = this.#canceled || (failed && !this.#options.continueOnStepFailure);
      while (!stop && ready.length > 0) {
        const name = ready.shift()!;
        running += 1;
        void this.#runStep(this.#plans.get(name)!)
          .catch(stopAll)
          .finally(() => {
            running -= 1;
            settled.push(name);
            wake?.();
          });
      }
      if (settled.length === 0) {
        if (running === 0) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      for (const name of settled.splice(0)) {
        if (this.#status.get(name) === 'Failed') failed = true;
        if (fault) continue;
        try {
          release(name);
        } catch (error) {
          stopAll(error);
        }
      }
    }
    if (fault) {
      const message = (fault.error as Error)?.message ?? String(fault.error);
      throw new SluiceError(
        'RUN_STORE_ERROR',
        `Run ${this.#runId} could not record its progress (${message}); its steps were stopped.`,
        { cause: fault.error, details: { run: this.#runId } },
      );
    }
    for (const [name, status] of this.#status) {
      if (status === 'NotStarted') {
        this.#setStatus(name, this.#canceled ? 'Canceled' : 'Skipped', {
          error: this.#canceled ? this.#cancelMessage : 'the run stopped after a failed step',
        });
      }
    }
    const statuses = [...this.#status.values()];
    // a run canceled with a grace in which its last running steps finished has finished
    const status: RunStatus = statuses.every((s) => s === 'Finished' || s === 'Reused')
      ? 'Finished'
      : this.#canceled
        ? 'Canceled'
        : 'Failed';
    const failedSteps = [...this.#status].filter(([, s]) => s === 'Failed').map(([name]) => name);
    const error =
      status === 'Failed'
        ? `step${failedSteps.length === 1 ? '' : 's'} failed: ${failedSteps.join(', ')}`
        : status === 'Canceled'
          ? this.#cancelReason
          : undefined;
    store.setRunStatus(this.#runId, status, error);
    this.#events.emit({ type: 'run-status', runId: this.#runId, status, ...(error ? { error } : {}) });
    return status;
  }

  #setStatus(
    name: string,
    status: StepStatus,
    extra: { error?: string; reusedFrom?: string; exitCode?: number | null } = {},
  ): void {
    this.#status.set(name, status);
    const plan = this.#plans.get(name)!;
    if (extra.error !== undefined) extra = { ...extra, error: this.#mask.text(extra.error) };
    const changes: Parameters<Workspace['store']['updateStepRun']>[1] = { status };
    if (status === 'Running') changes.startedAt = elapsed();
    if (['Finished', 'Failed', 'Canceled', 'Skipped', 'Reused'].includes(status)) changes.endedAt = elapsed();
    if (extra.error !== undefined) changes.error = extra.error;
    if (extra.exitCode !== undefined) changes.exitCode = extra.exitCode;
    if (status !== 'Finished' && status !== 'Reused') this.#ws.store.updateStepRun(plan.stepRunId, changes);
    this.#events.emit({
      type: 'step-status',
      runId: this.#runId,
      step: name,
      stepRunId: plan.stepRunId,
      status,
      ...(extra.reusedFrom ? { reusedFrom: extra.reusedFrom } : {}),
      ...(extra.error ? { error: extra.error } : {}),
    });
  }

  async #runStep(plan: StepPlan): Promise<void> {
    const { step } = plan;
    // made when the step executes: a reused step needs none (AbortSignal.any is not free)
    let signal: AbortSignal | undefined;
    try {
      const { parts, snapshot, inputTypes } = await this.#fingerprint(plan);
      const fingerprint = combineFingerprint(parts);
      const recorded = {
        ...(snapshot ? { snapshot: snapshot.digest, git: await this.#gitInfo(step.sourceDirectory!) } : {}),
      };
      const reason: RanReason = this.#options.regenerateOutputs
        ? 'regenerate-outputs'
        : !step.allowReuse
          ? 'allow-reuse-false'
          : 'no-match';
      if (reason === 'no-match' && (await this.#tryReuse(plan, { fingerprint, parts }, recorded))) return;
      // One execution per fingerprint across runs and processes: a step that may be reused waits while
      // another run executes the same fingerprint; a forced one takes the claim only when it is free.
      const notes: string[] = [];
      const reuse = (): Promise<boolean> => this.#tryReuse(plan, { fingerprint, parts }, recorded);
      const claim = await this.#claimFingerprint(
        plan,
        fingerprint,
        reason === 'no-match' ? reuse : undefined,
        notes,
      );
      if (claim.settled) return;
      try {
        if (claim.lease && reason === 'no-match') {
          // the run that held the claim may have finished the step meanwhile
          if (await reuse()) return;
          if (claim.holder && !claim.tookOver) {
            const status = this.#ws.store.getStepRun(claim.holder.stepRunId)?.status ?? 'gone';
            this.#note(
              step.name,
              notes,
              `step run ${claim.holder.stepRunId} ended ${status}; executing the step here`,
            );
          }
        }
        const store = this.#ws.store;
        store.transaction(() => {
          store.recordFingerprint(plan.stepRunId, fingerprint, parts);
          store.updateStepRun(plan.stepRunId, { ...recorded, ranReason: reason });
        });
        if (this.#canceled) {
          this.#setStatus(step.name, 'Canceled', { error: this.#cancelMessage });
          return;
        }
        signal = this.#stepSignal(step.name);
        const adoption =
          reason === 'no-match' ? await this.#findAdoption(plan, fingerprint, notes) : undefined;
        await this.#execute(plan, snapshot, inputTypes, notes, signal, adoption);
      } finally {
        claim.lease?.release();
      }
    } catch (error) {
      const message =
        error instanceof SluiceError
          ? `${error.code}: ${error.message}`
          : String((error as Error)?.message ?? error);
      this.#log(step.name, 'sluice', `step failed: ${message}`);
      try {
        // a step that had no signal yet was not running: a cancel, graceful or not, stops it
        const aborted = signal ? signal.aborted : this.#canceled || this.#controller.signal.aborted;
        this.#setStatus(step.name, aborted ? 'Canceled' : 'Failed', { error: message });
      } catch (recording) {
        // the store could not take the failure either (e.g. locked): the run goes on; recovery marks it
        this.#log(step.name, 'sluice', `could not record the failure: ${String(recording)}`);
      }
    }
  }

  async #fingerprint(plan: StepPlan): Promise<{
    parts: FingerprintPart[];
    snapshot: Snapshot | undefined;
    inputTypes: Map<string, 'file' | 'directory'>;
  }> {
    const { step, plugin, environment } = plan;
    const parts: FingerprintPart[] = [valuePart('kind', `${step.kind}@${plugin.reuseVersion}`)];
    for (const part of plugin.fingerprint(step)) parts.push(valuePart(part.name, part.value));
    for (const parameter of step.parameters) {
      parts.push(valuePart(`parameter:${parameter.name}`, this.#parameters[parameter.name]));
    }
    parts.push(
      plugin.pythonEnvironment
        ? await this.#materialise(plan)
        : valuePart('environment', environment ? environment.toJSON() : null),
    );
    let snapshot: Snapshot | undefined;
    if (step.sourceDirectory) {
      snapshot = await this.#snapshot(step.sourceDirectory);
      parts.push(contentPart('source', snapshot));
      plugin.validate?.(step, { sourceDirectory: snapshot.path });
    } else {
      plugin.validate?.(step, { sourceDirectory: undefined });
    }
    const inputTypes = new Map<string, 'file' | 'directory'>();
    for (const input of step.inputs) {
      const identity = await this.#inputIdentity(input.source);
      inputTypes.set(input.name, identity.type);
      parts.push(contentPart(`input:${input.name}`, identity));
    }
    parts.push(
      valuePart(
        'outputs',
        step.outputs.map((output) => ({
          name: output.outputName,
          datastore: outputDatastore(output) ?? this.#ws.config.defaultDatastore,
          ...(output instanceof OutputFileDatasetConfig && output.destination
            ? { destination: output.destination.path }
            : {}),
        })),
      ),
    );
    return { parts, snapshot, inputTypes };
  }

  /**
   * A step that runs Python: its environment made ready (built once into the cache, or an inherited
   * interpreter probed), and the fingerprint part holding its resolved lock. A failed build's log becomes
   * the step's stderr.
   */
  async #materialise(plan: StepPlan): Promise<FingerprintPart> {
    const environment = pythonEnvironmentOf(plan.environment);
    const workDir = join(this.#ws.dataDir, 'runs', this.#runId, plan.step.name);
    try {
      const materialised = await materialiseEnvironment(this.#ws, environment, {
        signal: this.#stepSignal(plan.step.name),
        holder: plan.stepRunId,
        onProgress: (line, kind) => {
          this.#log(plan.step.name, 'sluice', `${line}\n`);
          if (kind !== 'status') return;
          this.#events.emit({ type: 'step-progress', runId: this.#runId, step: plan.step.name, text: line });
          // the step's own log says what it waited for and what was built (pip's output is the build log)
          mkdirSync(workDir, { recursive: true });
          appendFileSync(join(workDir, 'sluice.txt'), this.#mask.text(`${elapsed()} ${line}\n`));
        },
      });
      recordEnvironmentUse(this.#ws, plan.stepRunId, materialised);
      this.#pythons.set(plan.step.name, materialisedPython(materialised));
      return environmentPart(environment, materialised);
    } catch (error) {
      await keepBuildLogWithStep(this.#ws, plan.stepRunId, workDir, error);
      throw error;
    }
  }

  #snapshot(dir: string): Promise<Snapshot> {
    let pending = this.#snapshots.get(dir);
    if (!pending) {
      pending = takeSnapshot(dir, join(this.#ws.dataDir, 'snapshots'), this.#ws.statCache);
      this.#snapshots.set(dir, pending);
    }
    return pending;
  }

  #gitInfo(dir: string): Promise<GitInfo | null> {
    let pending = this.#git.get(dir);
    if (!pending) {
      pending = gitInfo(dir);
      this.#git.set(dir, pending);
    }
    return pending;
  }

  async #inputIdentity(source: DataSource): Promise<ContentIdentity> {
    if (isProducedData(source)) {
      const record = this.#produced.get(source);
      if (!record) {
        throw new SluiceError('INPUT_NOT_AVAILABLE', `Input "${source.name}" has not been produced.`);
      }
      return { type: record.type, digest: record.digest, files: record.files ?? {}, bytes: record.bytes };
    }
    if (isResolvableData(source)) {
      let pending = this.#resolvedIdentities.get(source);
      if (!pending) {
        pending = source.contentIdentity(this.#ws);
        this.#resolvedIdentities.set(source, pending);
      }
      return pending;
    }
    const store = this.#ws.datastore(source.datastore ?? this.#ws.config.defaultDatastore);
    const key = `${store.name}\0${source.pathOnDatastore}`;
    let pending = this.#identities.get(key);
    if (!pending) {
      pending = store.contentIdentity(source.pathOnDatastore);
      this.#identities.set(key, pending);
    }
    return pending;
  }

  /**
   * Claim the step's fingerprint for this step run. With `reuse` (the step may be reused), while another
   * run's step run holds it, wait for that one to end or die, reusing its result as soon as there is one
   * (the wait is recorded in the step run and noted in its log). Steps of one run with the same
   * fingerprint do not wait for each other.
   */
  async #claimFingerprint(
    plan: StepPlan,
    fingerprint: string,
    reuse: (() => Promise<boolean>) | undefined,
    notes: string[],
  ): Promise<Claim> {
    const store = this.#ws.store;
    const wait = reuse !== undefined;
    const claim = await claimLease(store, `fingerprint:${fingerprint}`, plan.stepRunId, {
      signal: this.#stepSignal(plan.step.name),
      wait: (holder) => wait && holder.runId !== this.#runId,
      ...(reuse ? { settle: reuse } : {}),
      onWait: (holder) => {
        store.updateStepRun(plan.stepRunId, { waitedFor: holder.stepRunId });
        this.#setStatus(plan.step.name, 'Queued');
        this.#note(
          plan.step.name,
          notes,
          `waiting for step run ${holder.stepRunId} (pid ${holder.pid} on ${holder.host}), which is executing the same step with the same fingerprint`,
        );
      },
    });
    if (claim.tookOver) {
      const gone = claim.tookOver;
      if (wait) store.updateStepRun(plan.stepRunId, { waitedFor: gone.stepRunId });
      // its runner died: recover that run (stopping the step processes it left) before executing here
      if (gone.host === hostname()) store.recoverAbandonedRuns();
      this.#note(
        plan.step.name,
        notes,
        `step run ${gone.stepRunId} was executing the same fingerprint, but its runner (pid ${gone.pid} on ${gone.host}) is gone; executing the step here`,
      );
    }
    return claim;
  }

  /**
   * A job of an earlier run of this fingerprint that is still running or finished successfully, left
   * behind when its runner was killed: this step run re-attaches to it rather than submitting it again.
   * Only on targets that can follow such jobs, when every folder the job writes an output to is still there.
   */
  async #findAdoption(plan: StepPlan, fingerprint: string, notes: string[]): Promise<Adoption | undefined> {
    const { compute, step, plugin } = plan;
    if (!compute.findJob || !compute.attachProcess || plugin.remoteData) return undefined;
    const store = this.#ws.store;
    for (const candidate of store.findAdoptableJobs(fingerprint, this.#runId)) {
      const { job } = candidate;
      if (job.target !== compute.name) continue;
      const staged = new Map<string, string>();
      for (const output of step.outputs) {
        const datastore = this.#ws.datastore(outputDatastore(output) ?? this.#ws.config.defaultDatastore);
        staged.set(output.outputName, stagingPath(datastore, job.origin, job.workDir, output.outputName));
      }
      const where = `job ${job.id} on ${compute.name}, submitted by step run ${candidate.stepRunId} (its runner ended)`;
      if ([...staged.values()].some((path) => !existsSync(path))) {
        this.#note(
          step.name,
          notes,
          `${where} cannot be re-attached: its staged outputs are gone; running the step again`,
        );
        continue;
      }
      const found = await compute
        .findJob({ id: job.id, ...(job.handle ? { handle: job.handle } : {}) })
        .catch((error: unknown) => ({
          state: 'unavailable' as const,
          detail: String((error as Error)?.message ?? error),
        }));
      if (found.state === 'unavailable') {
        this.#note(
          step.name,
          notes,
          `${where} cannot be re-attached: ${found.detail}; running the step again`,
        );
        continue;
      }
      if (!store.adoptJob(candidate.stepRunId, plan.stepRunId)) continue;
      this.#note(step.name, notes, `re-attaching to ${where}: ${found.detail}; it is not submitted again`);
      return { from: candidate.stepRunId, job, staged };
    }
    return undefined;
  }

  /** A line about the step from Sluice before it executes: reported now, written to its log if it runs. */
  #note(step: string, notes: string[], text: string): void {
    notes.push(`${new Date().toISOString()} ${text}\n`);
    this.#log(step, 'sluice', text);
  }

  /** Reuse the newest finished run of this fingerprint whose outputs are still intact. */
  async #tryReuse(
    plan: StepPlan,
    { fingerprint, parts }: { fingerprint: string; parts: FingerprintPart[] },
    recorded: { snapshot?: string; git?: GitInfo | null },
  ): Promise<boolean> {
    const { step } = plan;
    for (const candidate of this.#ws.store.findReusable(fingerprint, this.#runId)) {
      const outputs = this.#ws.store.getOutputs(candidate.id);
      if (outputs.length !== step.outputs.length) continue;
      if (outputs.some((output) => output.deletedAt)) continue;
      const stamps = await this.#checkOutputs(outputs);
      if (!stamps) continue;
      for (const output of step.outputs) {
        const destination = fixedDestination(output);
        const record = outputs.find((candidate) => candidate.name === output.outputName)!;
        if (destination) {
          await this.#publish(plan.stepRunId, record, destination, (text) =>
            this.#log(step.name, 'sluice', text),
          );
        }
      }
      const stamp = elapsed();
      const reused = await this.#recordReuse(
        plan.stepRunId,
        candidate.id,
        { ...recorded, status: 'Reused', reusedFrom: candidate.id, startedAt: stamp, endedAt: stamp },
        { fingerprint, parts },
        stamps,
      );
      // a concurrent `sluice gc` removed the candidate's outputs after they were checked: try the next one
      if (!reused) continue;
      for (const output of step.outputs) {
        this.#produced.set(
          output,
          outputs.find((record) => record.name === output.outputName)!,
        );
      }
      await this.#registerOutputs(plan, outputs);
      this.#setStatus(step.name, 'Reused', { reusedFrom: candidate.id });
      return true;
    }
    return false;
  }

  /**
   * Record a reuse (`store.reuseStep`) together with the others decided in the same turn of the event loop:
   * the steps a wave of the schedule makes ready are recorded in one transaction, not one each. Resolves
   * once it is committed; nothing about the step is reported before.
   */
  #recordReuse(...args: Parameters<Workspace['store']['reuseStep']>): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (this.#reuses.length === 0) setImmediate(() => this.#recordReuses());
      this.#reuses.push({
        args,
        settle: (reused) => (reused instanceof Error ? reject(reused) : resolve(reused)),
      });
    });
  }

  #recordReuses(): void {
    const batch = this.#reuses;
    this.#reuses = [];
    const store = this.#ws.store;
    let results: boolean[];
    try {
      // one reuse (a chain) is its own transaction; more share one
      results =
        batch.length === 1
          ? [store.reuseStep(...batch[0]!.args)]
          : store.transaction(() => batch.map(({ args }) => store.reuseStep(...args)));
    } catch (error) {
      for (const { settle } of batch) settle(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    batch.forEach(({ settle }, index) => settle(results[index]!));
  }

  /**
   * Whether committed outputs still hold what was recorded: an output on a local store whose files stamp
   * as recorded (one `lstat` per entry) is intact; any other is hashed again and compared with its digest.
   * Returns undefined when one is not intact, else the new stamps to record (outputs that were hashed and
   * have settled), by output name.
   */
  async #checkOutputs(outputs: readonly OutputRecord[]): Promise<Map<string, string> | undefined> {
    const stamps = new Map<string, string>();
    for (const output of outputs) {
      const store = this.#ws.datastore(output.datastore);
      const files = Object.keys(output.files ?? {});
      let local: string | undefined;
      try {
        local = store.localPath?.(output.path);
      } catch {
        return undefined; // a link out of the store, or to nothing, on the way
      }
      if (local && output.stamp && outputStamp(local, output.type, files) === output.stamp) continue;
      const hashedAt = Date.now();
      const identity = await store.contentIdentity(output.path).catch(() => undefined);
      if (identity?.digest !== output.digest) return undefined;
      const stamp = local && settledOutputStamp(local, output.type, files, hashedAt);
      if (stamp && stamp !== output.stamp) stamps.set(output.name, stamp);
    }
    return stamps;
  }

  /**
   * Publish a committed output to the fixed destination its step names: a copy (a reflink on local stores
   * whose filesystem has them, a server-side copy on stores that offer one), made while this step run
   * holds the destination's lease, so that concurrent runs publish one after the other, each replacing
   * the whole destination; the store records whose content it holds. Returns the destination.
   */
  async #publish(
    stepRunId: string,
    record: OutputRecord,
    destination: string,
    info: (message: string) => void,
  ): Promise<string> {
    const store = this.#ws.store;
    const where = `${record.datastore}:${destination}`;
    const claim = await claimLease(store, `destination:${where}`, stepRunId, {
      signal: this.#controller.signal,
      wait: () => true,
      onWait: (holder) => info(`waiting for step run ${holder.stepRunId} to finish publishing to ${where}`),
    });
    if (!claim.lease)
      throw new SluiceError('RUN_CANCELED', `The run was canceled before ${where} was written.`);
    try {
      const datastore = this.#ws.datastore(record.datastore);
      // a record from before outputs had their own location is already at the destination
      if (record.path !== destination) {
        const current = await datastore.contentIdentity(destination).catch(() => undefined);
        if (current?.digest !== record.digest) await copyWithin(datastore, record.path, destination);
      }
      store.recordDestination({
        datastore: record.datastore,
        path: destination,
        stepRunId,
        outputName: record.name,
        digest: record.digest,
      });
      info(`output ${record.name} published to ${where}`);
      return destination;
    } finally {
      claim.lease.release();
    }
  }

  /** Register outputs marked `registerOnComplete` as dataset versions (no new version for the same content). */
  async #registerOutputs(plan: StepPlan, records: readonly OutputRecord[]): Promise<void> {
    for (const output of plan.step.outputs) {
      if (!(output instanceof OutputFileDatasetConfig) || !output.registration) continue;
      const record = records.find((candidate) => candidate.name === output.outputName);
      if (!record) continue;
      const dataset = await registerOutputDataset(this.#ws, {
        ...output.registration,
        datastore: record.datastore,
        path: record.path,
        sourceStepRun: plan.stepRunId,
      });
      this.#log(
        plan.step.name,
        'sluice',
        `output ${record.name} is dataset ${dataset.name} version ${dataset.version}`,
      );
    }
  }

  /** Record a step's process group while it runs (recovery stops it if this runner is killed). */
  #recordProcess(
    stepRunId: string,
    spawned: { pid: number; processGroup: number },
    info: (message: string) => void,
  ): void {
    try {
      this.#ws.store.recordStepProcess(stepRunId, spawned.processGroup, processStartIdentity(spawned.pid));
    } catch (error) {
      info(`cannot record process ${spawned.pid} in the run store: ${(error as Error).message}`);
    }
  }

  #recordRemoteJob(stepRunId: string, job: RemoteJobRecord, info: (message: string) => void): void {
    try {
      this.#ws.store.recordRemoteJob(stepRunId, job);
    } catch (error) {
      info(`cannot record job ${job.id} in the run store: ${(error as Error).message}`);
    }
  }

  #forgetProcess(stepRunId: string, processGroup: number): void {
    try {
      this.#ws.store.clearStepProcess(stepRunId, processGroup);
    } catch {
      // the record is only a hint for recovery, which checks the process before acting on it
    }
  }

  #log(step: string, stream: 'stdout' | 'stderr' | 'sluice', text: string): void {
    this.#events.emit({ type: 'step-log', runId: this.#runId, step, stream, text: this.#mask.text(text) });
  }

  async #execute(
    plan: StepPlan,
    snapshot: Snapshot | undefined,
    inputTypes: Map<string, 'file' | 'directory'>,
    notes: readonly string[],
    signal: AbortSignal,
    adoption?: Adoption,
  ): Promise<void> {
    const { step, plugin } = plan;
    const store = this.#ws.store;
    const workDir = join(this.#ws.dataDir, 'runs', this.#runId, step.name);
    // the environment's secrets are looked up now; from here on their values are masked
    const { env, secrets } = stepEnvironment(step.name, plan.environment, (name) => this.#ws.getSecret(name));
    this.#mask.add(secrets);
    const masked = { stdout: this.#mask.stream(), stderr: this.#mask.stream() };
    await mkdir(workDir, { recursive: true });
    store.updateStepRun(plan.stepRunId, { logDir: workDir });
    if (notes.length > 0) appendFileSync(join(workDir, 'sluice.txt'), notes.join(''));
    // stdout and stderr files are opened on the first output (only running steps hold them open, so a
    // wide pipeline waiting for compute does not run out of file descriptors); Sluice's own lines are
    // appended as they come.
    const streams = new Map<'stdout' | 'stderr', WriteStream>();
    const write = (stream: 'stdout' | 'stderr' | 'sluice', text: string | Buffer, end = false): void => {
      // a secret's value never reaches a log file or an event, even split across two chunks
      const chunk =
        stream === 'sluice'
          ? this.#mask.text(text.toString())
          : Buffer.concat([masked[stream].write(text), end ? masked[stream].end() : Buffer.alloc(0)]);
      if (chunk.length === 0) return;
      if (stream === 'sluice') {
        appendFileSync(join(workDir, 'sluice.txt'), chunk);
      } else {
        let file = streams.get(stream);
        if (!file) {
          file = createWriteStream(join(workDir, `${stream}.txt`), { flags: 'a' });
          file.on('error', (error) =>
            this.#log(step.name, 'sluice', `cannot write ${stream}.txt: ${error.message}`),
          );
          streams.set(stream, file);
        }
        file.write(chunk);
      }
      this.#log(step.name, stream, chunk.toString());
    };
    const info = (message: string): void => write('sluice', `${new Date().toISOString()} ${message}\n`);
    // the step's results are written even when another process holds the store's lock for a while
    let waitNoted = -Infinity;
    const persist = <T>(record: () => T | Promise<T>): Promise<T> =>
      retryWhileBusy(record, {
        onWait: (waitedMs) => {
          if (waitedMs - waitNoted < 60_000) return;
          waitNoted = waitedMs;
          info(
            `the run store is locked by another process; waiting to record the step's results (${Math.round(waitedMs / 1000)} s so far, up to 10 min)`,
          );
        },
      });
    const staged: Array<{
      output: ProducedData;
      local: string;
      datastore: WorkspaceDatastore;
      path: string;
      inPlace: boolean;
    }> = [];
    try {
      this.#setStatus(step.name, 'Queued');
      // Steps with remoteData reach the data where it lives; the others get local files.
      const remote = plugin.remoteData === true;
      const locations: { inputs: Record<string, DataLocation>; outputs: Record<string, DataLocation> } = {
        inputs: {},
        outputs: {},
      };
      // addresses in the first scheme the step's engine opens that the datastore offers, else its default
      const locate = (datastore: WorkspaceDatastore, path: string): DataLocation => {
        const scheme = plugin.uriSchemes?.find((wanted) => datastore.uriSchemes?.includes(wanted));
        return {
          datastore: datastore.name,
          path,
          ...(datastore.uri ? { uri: datastore.uri(path, scheme) } : {}),
        };
      };
      // inputs
      const inputs: Record<string, ResolvedInput> = {};
      for (const input of step.inputs) {
        const source = input.source;
        if (remote && isResolvableData(source)) {
          const store = this.#ws.datastore(source.datastore ?? this.#ws.config.defaultDatastore);
          locations.inputs[input.name] = {
            ...locate(store, source.pathOnDatastore),
            type: inputTypes.get(input.name) ?? 'directory',
          };
          continue;
        }
        if (isResolvableData(source)) {
          const dir = join(workDir, 'inputs', input.name);
          await rm(dir, { recursive: true, force: true });
          await mkdir(dir, { recursive: true });
          info(`delivering input ${input.name} (${source.bindingKind}, ${input.mode})`);
          const delivered = await source.deliver(this.#ws, { mode: input.mode, dir });
          inputs[input.name] = {
            name: input.name,
            path: delivered.path,
            mode: input.mode,
            type: delivered.type,
          };
          continue;
        }
        let storeName: string;
        let path: string;
        if (isProducedData(source)) {
          const record = this.#produced.get(source)!;
          storeName = record.datastore;
          path = record.path;
        } else {
          storeName = source.datastore ?? this.#ws.config.defaultDatastore;
          path = source.pathOnDatastore;
        }
        const datastore = this.#ws.datastore(storeName);
        locations.inputs[input.name] = {
          ...locate(datastore, path),
          type: inputTypes.get(input.name) ?? 'directory',
        };
        if (remote) continue;
        const type = inputTypes.get(input.name) ?? 'directory';
        let local: string;
        if (input.mode === 'mount' && datastore.localPath) {
          local = datastore.localPath(path);
        } else {
          local = join(workDir, 'inputs', input.name, type === 'file' ? basename(path) : '');
          await rm(join(workDir, 'inputs', input.name), { recursive: true, force: true });
          info(`downloading input ${input.name} from ${storeName}:${path}`);
          await datastore.download(path, local, { signal });
        }
        inputs[input.name] = { name: input.name, path: local, mode: input.mode, type };
      }
      // outputs: staged beside their destination when the datastore is a local folder (committed by rename)
      const outputs: Record<string, string> = {};
      for (const output of step.outputs) {
        const datastore = this.#ws.datastore(outputDatastore(output) ?? this.#ws.config.defaultDatastore);
        const path = committedPath(output, plan.stepRunId, this.#runId);
        locations.outputs[output.outputName] = locate(datastore, path);
        if (remote) continue;
        // a re-attached job writes where the step run that submitted it staged its outputs
        const adopted = adoption?.staged.get(output.outputName);
        const local = adopted ?? stagingPath(datastore, plan.stepRunId, workDir, output.outputName);
        if (!adopted) {
          await rm(local, { recursive: true, force: true });
          await mkdir(local, { recursive: true });
        }
        staged.push({ output, local, datastore, path, inPlace: Boolean(datastore.localPath) });
        outputs[output.outputName] = local;
      }
      const contextFile = join(workDir, 'context.json');
      const metricsFile = join(adoption?.job.workDir ?? workDir, 'metrics.jsonl');
      const parameters: Record<string, ParameterValue> = {};
      for (const parameter of step.parameters) parameters[parameter.name] = this.#parameters[parameter.name]!;
      await writeFile(
        contextFile,
        JSON.stringify(
          {
            format: 1,
            runId: this.#runId,
            stepRunId: plan.stepRunId,
            stepName: step.name,
            experimentName: this.#experiment,
            workspaceName: this.#ws.name,
            parameters,
            inputs,
            outputs,
            metricsFile,
          },
          null,
          2,
        ),
      );
      const metrics: Array<{ name: string; value: unknown }> = [];
      const address = (location: DataLocation): string =>
        location.uri ?? `${location.datastore}:${location.path}`;
      const resolveArgument = (argument: StepArgument): string => {
        if (isPipelineParameter(argument)) return String(this.#parameters[argument.name]);
        if (isInputBinding(argument) || isExternalData(argument) || isProducedData(argument)) {
          const source = isInputBinding(argument) ? argument.source : argument;
          if (isProducedData(source) && step.outputs.includes(source)) {
            return remote ? address(locations.outputs[source.outputName]!) : outputs[source.outputName]!;
          }
          const input =
            step.inputs.find((candidate) => candidate === argument) ??
            step.inputs.find((candidate) => candidate.source === source);
          if (input) return remote ? address(locations.inputs[input.name]!) : inputs[input.name]!.path;
          throw new SluiceError(
            'STEP_INVALID',
            `Step "${step.name}": argument data "${source.name}" is not an input or output.`,
          );
        }
        return String(argument);
      };
      const compute = plan.compute;
      let adoptionUsed = false;
      // The step sees its compute target itself (with whatever client it offers), except that starting a
      // process also marks the step Running, and the process group is recorded while it runs.
      const runProcess: ComputeTarget['runProcess'] = compute.runProcess
        ? async (job, hooks = {}) => {
            const groups: number[] = [];
            // a cluster scheduler gets what the step asks for, and the run and step its job belongs to
            const resources = job.resources ?? step.runConfig?.resources;
            const labelled: ProcessJob = {
              ...job,
              // recovery finds the step's processes by it, even one this runner had no time to record
              env: { ...job.env, [STEP_RUN_VARIABLE]: plan.stepRunId },
              ...(resources ? { resources } : {}),
              step: job.step ?? { runId: this.#runId, stepName: step.name, stepRunId: plan.stepRunId },
            };
            const follow = adoption && !adoptionUsed;
            adoptionUsed = true;
            const runHooks: ProcessRunHooks = {
              ...hooks,
              onStart: () => {
                this.#setStatus(step.name, 'Running');
                hooks.onStart?.();
              },
              onSpawn: (spawned) => {
                groups.push(spawned.processGroup);
                this.#recordProcess(plan.stepRunId, spawned, info);
                hooks.onSpawn?.(spawned);
              },
              onSubmit: (submitted) => {
                info(`submitted to ${compute.name} (${compute.kind}) as job ${submitted.id}`);
                this.#recordRemoteJob(
                  plan.stepRunId,
                  {
                    target: compute.name,
                    id: submitted.id,
                    ...(submitted.handle ? { handle: { ...submitted.handle } } : {}),
                    origin: plan.stepRunId,
                    workDir,
                  },
                  info,
                );
                hooks.onSubmit?.(submitted);
              },
            };
            try {
              if (follow) {
                const { job } = adoption;
                // this step run now holds the job: if this runner is killed too, the next one finds it here
                this.#recordRemoteJob(plan.stepRunId, job, info);
                info(`following job ${job.id} on ${compute.name} (submitted by step run ${adoption.from})`);
                return await compute.attachProcess!(
                  { id: job.id, ...(job.handle ? { handle: job.handle } : {}) },
                  labelled,
                  runHooks,
                );
              }
              return await compute.runProcess!(labelled, runHooks);
            } finally {
              for (const group of groups) this.#forgetProcess(plan.stepRunId, group);
            }
          }
        : undefined;
      const computeForStep = new Proxy(compute, {
        get(target, property) {
          if (property === 'runProcess') return runProcess;
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function'
            ? (value as (...args: unknown[]) => unknown).bind(target)
            : value;
        },
      });
      const context: StepExecutionContext<unknown> = {
        step,
        runId: this.#runId,
        stepRunId: plan.stepRunId,
        experimentName: this.#experiment,
        workspaceName: this.#ws.name,
        parameters,
        inputs,
        outputs,
        sourceDirectory: snapshot ? await checkoutSnapshot(snapshot, join(workDir, 'source')) : undefined,
        workDir,
        contextFile,
        environment: plan.environment,
        ...(this.#pythons.has(step.name) ? { python: this.#pythons.get(step.name)! } : {}),
        env,
        compute: computeForStep,
        signal,
        logs: { stdout: (c) => write('stdout', c), stderr: (c) => write('stderr', c), info },
        locations,
        datastore: (name) => this.#ws.datastore(name),
        resolveArgument,
        logMetric: (name, value) => metrics.push({ name, value }),
      };
      info(`running on ${compute.name} (${compute.kind})`);
      // a step that runs elsewhere does not wait for a local slot: it is running from now on
      if (remote) this.#setStatus(step.name, 'Running');
      let result: StepExecutionResult;
      try {
        result = await plugin.execute(context);
      } catch (error) {
        result = {
          status: 'Failed',
          error:
            error instanceof SluiceError
              ? `${error.code}: ${error.message}`
              : String((error as Error)?.message ?? error),
        };
      }
      const logged = [...metrics, ...(await readMetrics(metricsFile))];
      await persist(() => store.addMetrics(plan.stepRunId, logged));
      if (result.status !== 'Finished') {
        info(`step ${result.status.toLowerCase()}${result.error ? `: ${result.error}` : ''}`);
        this.#setStatus(step.name, result.status === 'Canceled' || signal.aborted ? 'Canceled' : 'Failed', {
          error: result.error ?? `step ${result.status.toLowerCase()}`,
          exitCode: result.exitCode ?? null,
        });
        return;
      }
      // commit outputs: hash, then move (local) or upload into place; the step is Finished only after all are in
      const committed: OutputRecord[] = [];
      if (remote) {
        // the step wrote its outputs where they belong; record what is there, or fail if nothing is
        for (const output of step.outputs) {
          const location = locations.outputs[output.outputName]!;
          const datastore = this.#ws.datastore(location.datastore);
          if (!(await datastore.exists(location.path))) {
            const error = `the step finished without writing output ${output.outputName} to ${location.datastore}:${location.path}`;
            info(`step failed: ${error}`);
            this.#setStatus(step.name, 'Failed', { error, exitCode: result.exitCode ?? null });
            return;
          }
          const stored = await datastore.contentIdentity(location.path);
          committed.push({
            stepRunId: plan.stepRunId,
            name: output.outputName,
            datastore: datastore.name,
            path: location.path,
            type: stored.type,
            digest: stored.digest,
            bytes: stored.bytes,
            files: { ...stored.files },
          });
        }
      }
      for (const { output, local, datastore, path, inPlace } of staged) {
        // links in an output may point only into the output itself: it is moved or copied as a whole
        const hashedAt = Date.now();
        let tree: { digest: string; files: Record<string, string>; bytes: number } = await hashTree(local, {
          within: local,
        });
        let stamp: string | undefined;
        if (inPlace) {
          const target = datastore.localPath!(path);
          await mkdir(dirname(target), { recursive: true });
          if (
            await stat(target).then(
              () => true,
              () => false,
            )
          ) {
            // a destination naming only the pipeline run, written before by another step of it
            const previous = `${target}.sluice-old-${randomBytes(4).toString('hex')}`;
            await rename(target, previous);
            await rename(local, target);
            await rm(previous, { recursive: true, force: true });
          } else {
            await rename(local, target);
          }
          // files the step finished writing well before they were hashed need not be read at reuse
          stamp = settledOutputStamp(target, 'directory', Object.keys(tree.files), hashedAt);
        } else {
          await datastore.upload(local, path, { overwrite: true, signal });
          // what the store reports is what later reuse checks compare against
          const stored = await datastore.contentIdentity(path);
          tree = { digest: stored.digest, files: { ...stored.files }, bytes: stored.bytes };
        }
        committed.push({
          stepRunId: plan.stepRunId,
          name: output.outputName,
          datastore: datastore.name,
          path,
          type: 'directory',
          digest: tree.digest,
          bytes: tree.bytes,
          files: tree.files,
          ...(stamp ? { stamp } : {}),
        });
      }
      for (const record of committed) {
        const destination = fixedDestination(
          step.outputs.find((output) => output.outputName === record.name)!,
        );
        if (destination) record.destination = await this.#publish(plan.stepRunId, record, destination, info);
      }
      await persist(() =>
        store.completeStep(plan.stepRunId, committed, {
          status: 'Finished',
          endedAt: elapsed(),
          exitCode: result.exitCode ?? 0,
        }),
      );
      for (const record of committed) {
        const output = step.outputs.find((candidate) => candidate.outputName === record.name)!;
        this.#produced.set(output, record);
      }
      await persist(() => this.#registerOutputs(plan, committed));
      info('step finished; outputs committed');
      this.#setStatus(step.name, 'Finished', { exitCode: result.exitCode ?? 0 });
    } finally {
      for (const { local, inPlace } of staged) {
        await rm(inPlace ? dirname(local) : local, { recursive: true, force: true });
      }
      // what was held back in case a secret went on in the next chunk
      write('stdout', '', true);
      write('stderr', '', true);
      await Promise.all(
        [...streams.values()].map((stream) => new Promise<void>((resolve) => stream.end(() => resolve()))),
      );
    }
  }
}

/**
 * Where a step run writes an output until it is committed: beside its destination on a local datastore
 * (committed by rename), else in the step run's folder (committed by upload).
 */
function stagingPath(
  datastore: WorkspaceDatastore,
  stepRunId: string,
  workDir: string,
  output: string,
): string {
  return datastore.localPath
    ? datastore.localPath(`${PARTIAL_DIR}/${stepRunId}/${output}`)
    : join(workDir, 'outputs', output);
}

/** Copy a file or folder to another path of the same store, replacing what is there as a whole. */
async function copyWithin(datastore: WorkspaceDatastore, from: string, to: string): Promise<void> {
  if (datastore.copy) {
    await datastore.copy(from, to, { overwrite: true });
    return;
  }
  const scratch = await mkdtemp(join(tmpdir(), 'sluice-publish-'));
  try {
    await datastore.download(from, join(scratch, 'content'));
    await datastore.upload(join(scratch, 'content'), to, { overwrite: true });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function readMetrics(
  file: string,
): Promise<Array<{ name: string; value: unknown; loggedAt?: string }>> {
  // most steps log no metrics through the file: no failed read (and its error object) for those
  const text = existsSync(file) ? await readFile(file, 'utf8').catch(() => '') : '';
  const metrics: Array<{ name: string; value: unknown; loggedAt?: string }> = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { name?: unknown; value?: unknown; time?: unknown };
      if (typeof entry.name === 'string') {
        metrics.push({
          name: entry.name,
          value: entry.value,
          ...(typeof entry.time === 'string' ? { loggedAt: entry.time } : {}),
        });
      }
    } catch {
      // a torn last line from a killed step is ignored
    }
  }
  return metrics;
}
