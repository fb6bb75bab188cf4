import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  SluiceError,
  pipelineToSpec,
  type ParameterType,
  type ParameterValue,
  type Pipeline,
  type PipelineSpec,
} from '@sluice/core';
import { Experiment, takeSnapshot, type PipelineRun, type Workspace } from '@sluice/runtime';

import { publishStore, type PublishedPipelineRecord, type PublishedPipelineStatus } from './store.js';
import { buildPipeline, checkDataPaths, snapshotPath, type DataPathAssignment } from './submission.js';

export interface PublishOptions {
  /** The name callers look it up by; several published pipelines may share one (each has its own id). */
  name: string;
  description?: string;
  /** A free-form version label, e.g. "1.0". */
  version?: string;
}

export interface PublishedSubmitOptions {
  /** Parameter values by name; strings are converted to the parameter's type. */
  parameters?: Record<string, unknown>;
  /** Read a DataReference input (by its name) from another datastore path in this run. */
  dataPathAssignments?: Record<string, DataPathAssignment>;
  description?: string;
  tags?: Record<string, string>;
  /** Keep running steps that do not depend on a failed one. */
  continueOnStepFailure?: boolean;
  /** Re-run every step, ignoring earlier results. */
  regenerateOutputs?: boolean;
  /** Use this (new) run id. */
  runId?: string;
  /** How the run was started (default 'SDK'). */
  runSource?: string;
  /** Who or what submitted it (a token's subject, `schedule:<name>`). */
  submittedBy?: string;
}

/** A parameter of a published pipeline: its name, type and the default used when a call gives none. */
export interface PublishedParameter {
  name: string;
  type: ParameterType;
  defaultValue: ParameterValue;
}

/**
 * An immutable published pipeline: the pipeline's spec with every step's source directory kept as a
 * snapshot, so each submission runs exactly what was published. Its REST endpoint is `endpoint`.
 */
export class PublishedPipeline {
  readonly workspace: Workspace;
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly version: string | null;
  readonly createdAt: string;
  /** The run it was published from, or null when published from a pipeline. */
  readonly sourceRunId: string | null;
  /** The pipeline as JSON; each step's `source` is the digest of its published snapshot. */
  readonly spec: PipelineSpec;

  /** @internal use PublishedPipeline.get, publishPipeline or publishRun */
  constructor(workspace: Workspace, record: PublishedPipelineRecord) {
    this.workspace = workspace;
    this.id = record.id;
    this.name = record.name;
    this.description = record.description;
    this.version = record.version;
    this.createdAt = record.createdAt;
    this.sourceRunId = record.sourceRunId;
    this.spec = record.spec;
  }

  /** A published pipeline by id, or the newest one published under a name (and version, when given). */
  static get(
    ws: Workspace,
    query: string | { id: string } | { name: string; version?: string },
  ): PublishedPipeline {
    const store = publishStore(ws);
    if (typeof query === 'string' || 'id' in query) {
      const id = typeof query === 'string' ? query : query.id;
      const record = store.getPipeline(id);
      if (!record) {
        throw new SluiceError(
          'PUBLISHED_PIPELINE_NOT_FOUND',
          `No published pipeline has id "${id}"; list them with PublishedPipeline.list(ws).`,
          { details: { id } },
        );
      }
      return new PublishedPipeline(ws, record);
    }
    const record = store.findPipelineByName(query.name, query.version);
    if (!record) {
      throw new SluiceError(
        'PUBLISHED_PIPELINE_NOT_FOUND',
        `No pipeline is published under the name "${query.name}"${query.version === undefined ? '' : ` with version "${query.version}"`}; list them with PublishedPipeline.list(ws).`,
        { details: { name: query.name, version: query.version } },
      );
    }
    return new PublishedPipeline(ws, record);
  }

  /** Every published pipeline, oldest first (Disabled ones too, unless `activeOnly`). */
  static list(ws: Workspace, options: { activeOnly?: boolean } = {}): PublishedPipeline[] {
    return publishStore(ws)
      .listPipelines()
      .filter((record) => !options.activeOnly || record.status === 'Active')
      .map((record) => new PublishedPipeline(ws, record));
  }

  get status(): PublishedPipelineStatus {
    return publishStore(this.workspace).getPipeline(this.id)!.status;
  }

  /** Its REST path: `POST` a submission there (relative to the server's URL). */
  get endpoint(): string {
    return `/pipelines/${encodeURIComponent(this.id)}`;
  }

  /** The parameters a submission may set, with their defaults. */
  get parameters(): PublishedParameter[] {
    return this.spec.parameters.map((parameter) => ({
      name: parameter.name,
      type: parameter.type as ParameterType,
      defaultValue: parameter.defaultValue,
    }));
  }

  /** Refuse submissions from now on; it stays listed, as Disabled. */
  disable(): void {
    publishStore(this.workspace).setPipelineStatus(this.id, 'Disabled');
  }

  enable(): void {
    publishStore(this.workspace).setPipelineStatus(this.id, 'Active');
  }

  /** Fail with PUBLISHED_PIPELINE_DISABLED unless the pipeline takes submissions. */
  assertActive(): void {
    if (this.status !== 'Active') {
      throw new SluiceError(
        'PUBLISHED_PIPELINE_DISABLED',
        `Published pipeline "${this.name}" (${this.id}) is disabled; enable it to submit runs.`,
        { details: { id: this.id, name: this.name } },
      );
    }
  }

  /** The pipeline rebuilt from its spec, running from the published snapshots. */
  async toPipeline(
    dataPathAssignments: Readonly<Record<string, DataPathAssignment>> = {},
  ): Promise<Pipeline> {
    await this.workspace.ready();
    return buildPipeline(this.workspace, this.spec, dataPathAssignments);
  }

  /** Run the published pipeline in an experiment, in this process. Disabled pipelines refuse. */
  async submit(experimentName: string, options: PublishedSubmitOptions = {}): Promise<PipelineRun> {
    this.assertActive();
    return startPublishedRun(this, experimentName, options);
  }

  toJSON(): Omit<PublishedPipelineRecord, 'spec'> & { endpoint: string; parameters: PublishedParameter[] } {
    return {
      id: this.id,
      name: this.name,
      description: this.description,
      version: this.version,
      status: this.status,
      createdAt: this.createdAt,
      sourceRunId: this.sourceRunId,
      endpoint: this.endpoint,
      parameters: this.parameters,
    };
  }
}

/** Submit a published pipeline's run (no status check: callers decide whether it may run). */
export async function startPublishedRun(
  published: PublishedPipeline,
  experimentName: string,
  options: PublishedSubmitOptions,
): Promise<PipelineRun> {
  const ws = published.workspace;
  const dataPaths = options.dataPathAssignments ?? {};
  const pipeline = await published.toPipeline(dataPaths);
  await checkDataPaths(ws, dataPaths);
  return new Experiment(ws, experimentName).submit(pipeline, {
    parameters: options.parameters ?? {},
    runSource: options.runSource ?? 'SDK',
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.tags ? { tags: options.tags } : {}),
    ...(options.continueOnStepFailure === undefined
      ? {}
      : { continueOnStepFailure: options.continueOnStepFailure }),
    ...(options.regenerateOutputs === undefined ? {} : { regenerateOutputs: options.regenerateOutputs }),
    ...(options.runId === undefined ? {} : { runId: options.runId }),
    ...(options.submittedBy === undefined ? {} : { submittedBy: options.submittedBy }),
  });
}

function checkPublishOptions(options: PublishOptions): void {
  if (!options || typeof options.name !== 'string' || options.name.trim() === '') {
    throw new SluiceError('PIPELINE_INVALID', 'Publishing needs a name: { name: "My_Published_Pipeline" }.');
  }
  if (options.version !== undefined && typeof options.version !== 'string') {
    throw new SluiceError(
      'PIPELINE_INVALID',
      `The version of published pipeline "${options.name}" must be a string such as "1.0".`,
    );
  }
}

/** Keep a spec as a published pipeline, after proving that it can be built again and its scripts exist. */

/**
 * Name the packages of the pipeline's step kinds in the workspace config, so that another process (a
 * server) loads them with `ws.ready()` and can run the published pipeline. Kinds whose plugin does not
 * come from an installed package (defined in the caller's code) must be registered by that process itself.
 */
function rememberPluginPackages(ws: Workspace, spec: PipelineSpec): void {
  const resolvers = [createRequire(join(ws.dir, 'package.json')), createRequire(import.meta.url)];
  for (const kind of new Set(spec.steps.map((step) => step.kind))) {
    const name = ws.registry.step(kind).name;
    const installed = resolvers.some((resolver) => {
      try {
        resolver.resolve(name);
        return true;
      } catch {
        return false;
      }
    });
    if (installed) ws.addPluginPackage(name);
  }
}

async function save(
  ws: Workspace,
  spec: PipelineSpec,
  options: PublishOptions,
  sourceRunId: string | null,
): Promise<PublishedPipeline> {
  await ws.ready();
  const rebuilt = buildPipeline(ws, spec);
  rememberPluginPackages(ws, spec);
  for (const step of spec.steps) {
    const definition = rebuilt.getStep(step.name)!;
    ws.registry.step(step.kind).validate?.(definition, {
      sourceDirectory: step.source ? snapshotPath(ws, step.source) : undefined,
    });
  }
  const record = publishStore(ws).insertPipeline({
    id: randomUUID(),
    name: options.name,
    description: options.description ?? spec.description,
    version: options.version ?? null,
    spec,
    status: 'Active',
    sourceRunId,
  });
  return new PublishedPipeline(ws, record);
}

/**
 * Publish a pipeline: every step's source directory is snapshotted now, so later changes to the folders do
 * not change what the published pipeline runs.
 */
export async function publishPipeline(
  ws: Workspace,
  pipeline: Pipeline,
  options: PublishOptions,
): Promise<PublishedPipeline> {
  checkPublishOptions(options);
  for (const step of pipeline.steps) if (step.plugin) ws.registry.ensure(step.plugin);
  const digests = new Map<string, string>();
  for (const step of pipeline.steps) {
    if (!step.sourceDirectory) continue;
    const snapshot = await takeSnapshot(step.sourceDirectory, join(ws.dataDir, 'snapshots'), ws.statCache);
    digests.set(step.name, snapshot.digest);
  }
  const spec = pipelineToSpec(pipeline, { sourceDigest: (step) => digests.get(step.name) });
  return save(ws, spec, options, null);
}

/**
 * Publish the pipeline a run ran (`pipeline_run.publish_pipeline`): its recorded spec, with each step
 * running from the snapshot that run took. Every step must have started (or been reused) in that run.
 */
export async function publishRun(
  ws: Workspace,
  run: PipelineRun,
  options: PublishOptions,
): Promise<PublishedPipeline> {
  checkPublishOptions(options);
  const record = ws.store.getRun(run.id);
  if (!record) throw new SluiceError('RUN_NOT_FOUND', `No run "${run.id}" in this workspace.`);
  const spec = record.spec as PipelineSpec | null;
  if (!spec) {
    throw new SluiceError(
      'PIPELINE_INVALID',
      `Run ${run.id} did not record its pipeline (a step's settings are not plain data), so it cannot be published.`,
      { details: { run: run.id } },
    );
  }
  const steps = new Map(ws.store.getStepRuns(run.id).map((step) => [step.stepName, step]));
  const unknown = spec.steps.filter((step) => !steps.get(step.name)?.fingerprint).map((step) => step.name);
  if (unknown.length > 0) {
    throw new SluiceError(
      'PIPELINE_INVALID',
      `Run ${run.id} never started step${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')}, so the source ${unknown.length > 1 ? 'they run' : 'it runs'} is unknown; publish from a run where every step started, or use publishPipeline(ws, pipeline, …).`,
      { details: { run: run.id, steps: unknown } },
    );
  }
  const withSources: PipelineSpec = {
    ...spec,
    steps: spec.steps.map((step) => {
      const snapshot = steps.get(step.name)!.snapshot;
      return snapshot ? { ...step, source: snapshot } : step;
    }),
  };
  return save(ws, withSources, options, run.id);
}
