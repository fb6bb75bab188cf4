import { Pipeline, SluiceError } from '@sluice/core';
import type { PipelineRun, Workspace } from '@sluice/runtime';

import {
  PublishedPipeline,
  publishPipeline,
  startPublishedRun,
  type PublishedSubmitOptions,
} from './published-pipeline.js';
import { publishStore, type EndpointRecord, type EndpointStatus } from './store.js';

export interface PublishEndpointOptions {
  /** The endpoint's fixed name: its REST path is `/endpoints/<name>`. */
  name: string;
  /** Its version "0": a published pipeline, or a pipeline that is published first (under the endpoint's name). */
  pipeline: Pipeline | PublishedPipeline;
  description?: string;
}

export interface EndpointSubmitOptions extends PublishedSubmitOptions {
  /** The version to run ("0", "1", …); the default version when omitted. */
  pipelineVersion?: string;
}

/** One version of an endpoint: the published pipeline it runs. */
export interface EndpointVersion {
  version: string;
  pipelineId: string;
  isDefault: boolean;
}

const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/**
 * A fixed REST endpoint in front of several published pipelines, its versions ("0", "1", …); one of them is
 * the default that plain submissions run.
 */
export class PipelineEndpoint {
  readonly workspace: Workspace;
  readonly name: string;

  /** @internal use PipelineEndpoint.publish or PipelineEndpoint.get */
  constructor(workspace: Workspace, name: string) {
    this.workspace = workspace;
    this.name = name;
  }

  /** Create an endpoint whose version "0" (and default) is the given pipeline. Names are unique. */
  static async publish(ws: Workspace, options: PublishEndpointOptions): Promise<PipelineEndpoint> {
    if (!options || typeof options.name !== 'string' || !ENDPOINT_NAME.test(options.name)) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `Endpoint name ${JSON.stringify(options?.name)} is not valid: use letters, digits, '_', '.', '-', starting with a letter or digit.`,
      );
    }
    const store = publishStore(ws);
    if (store.getEndpoint(options.name)) throw exists(options.name);
    let published: PublishedPipeline;
    if (options.pipeline instanceof PublishedPipeline) {
      published = options.pipeline;
    } else if (options.pipeline instanceof Pipeline) {
      published = await publishPipeline(ws, options.pipeline, {
        name: options.name,
        ...(options.description === undefined ? {} : { description: options.description }),
      });
    } else {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `Endpoint "${options.name}" needs a pipeline: a Pipeline or a PublishedPipeline.`,
      );
    }
    const created = store.insertEndpoint(
      {
        name: options.name,
        description: options.description ?? published.description,
        defaultVersion: '0',
        status: 'Active',
      },
      published.id,
    );
    if (!created) throw exists(options.name);
    return new PipelineEndpoint(ws, options.name);
  }

  static get(ws: Workspace, query: string | { name: string }): PipelineEndpoint {
    const name = typeof query === 'string' ? query : query.name;
    if (!publishStore(ws).getEndpoint(name)) {
      throw new SluiceError(
        'ENDPOINT_NOT_FOUND',
        `No pipeline endpoint is named "${name}"; list them with PipelineEndpoint.list(ws).`,
        { details: { endpoint: name } },
      );
    }
    return new PipelineEndpoint(ws, name);
  }

  /** Every endpoint, oldest first (Disabled and Archived ones too, unless `activeOnly`). */
  static list(ws: Workspace, options: { activeOnly?: boolean } = {}): PipelineEndpoint[] {
    return publishStore(ws)
      .listEndpoints()
      .filter((record) => !options.activeOnly || record.status === 'Active')
      .map((record) => new PipelineEndpoint(ws, record.name));
  }

  get #record(): EndpointRecord {
    return publishStore(this.workspace).getEndpoint(this.name)!;
  }

  get description(): string {
    return this.#record.description;
  }
  get status(): EndpointStatus {
    return this.#record.status;
  }
  get defaultVersion(): string {
    return this.#record.defaultVersion;
  }
  get createdAt(): string {
    return this.#record.createdAt;
  }

  /** Its REST path: `POST` a submission there (relative to the server's URL). */
  get endpoint(): string {
    return `/endpoints/${encodeURIComponent(this.name)}`;
  }

  /** Add a published pipeline as the next version; returns the version (a pipeline already added keeps its own). */
  add(pipeline: PublishedPipeline): string {
    this.#checkPipeline(pipeline);
    return publishStore(this.workspace).addEndpointVersion(this.name, pipeline.id, false);
  }

  /** Add a published pipeline as the next version and make it the default; returns the version. */
  addDefault(pipeline: PublishedPipeline): string {
    this.#checkPipeline(pipeline);
    return publishStore(this.workspace).addEndpointVersion(this.name, pipeline.id, true);
  }

  setDefaultVersion(version: string | number): void {
    const wanted = String(version);
    if (!publishStore(this.workspace).setDefaultVersion(this.name, wanted)) throw this.#noVersion(wanted);
  }

  listVersions(): EndpointVersion[] {
    const defaultVersion = this.defaultVersion;
    return publishStore(this.workspace)
      .listEndpointVersions(this.name)
      .map((entry) => ({
        version: entry.version,
        pipelineId: entry.pipelineId,
        isDefault: entry.version === defaultVersion,
      }));
  }

  /** The published pipeline behind a version (the default version when omitted). */
  getPipeline(version?: string | number): PublishedPipeline {
    const wanted = version === undefined ? this.defaultVersion : String(version);
    const entry = publishStore(this.workspace).getEndpointVersion(this.name, wanted);
    if (!entry) throw this.#noVersion(wanted);
    return PublishedPipeline.get(this.workspace, { id: entry.pipelineId });
  }

  /**
   * Resolve what a submission runs: fails when the endpoint is not Active, the version is unknown or its
   * published pipeline is disabled.
   */
  resolve(version?: string | number): { pipeline: PublishedPipeline; version: string } {
    const status = this.status;
    if (status !== 'Active') {
      throw new SluiceError(
        'ENDPOINT_DISABLED',
        `Pipeline endpoint "${this.name}" is ${status.toLowerCase()}; enable it to submit runs.`,
        { details: { endpoint: this.name, status } },
      );
    }
    const wanted = version === undefined ? this.defaultVersion : String(version);
    const pipeline = this.getPipeline(wanted);
    pipeline.assertActive();
    return { pipeline, version: wanted };
  }

  /** Run a version (the default unless `pipelineVersion`) in an experiment, in this process. */
  async submit(experimentName: string, options: EndpointSubmitOptions = {}): Promise<PipelineRun> {
    const { pipelineVersion, ...rest } = options;
    const { pipeline } = this.resolve(pipelineVersion);
    return startPublishedRun(pipeline, experimentName, rest);
  }

  /** Refuse submissions; it stays listed, as Disabled. */
  disable(): void {
    publishStore(this.workspace).setEndpointStatus(this.name, 'Disabled');
  }

  /** Take submissions again (also after `archive()`). */
  enable(): void {
    publishStore(this.workspace).setEndpointStatus(this.name, 'Active');
  }

  /** Retire the endpoint: it refuses submissions and is listed as Archived. */
  archive(): void {
    publishStore(this.workspace).setEndpointStatus(this.name, 'Archived');
  }

  toJSON(): EndpointRecord & { endpoint: string; versions: EndpointVersion[] } {
    return { ...this.#record, endpoint: this.endpoint, versions: this.listVersions() };
  }

  /** Fail with PUBLISHED_PIPELINE_NOT_FOUND unless the pipeline is published in this workspace. */
  #checkPipeline(pipeline: PublishedPipeline): void {
    PublishedPipeline.get(this.workspace, { id: String((pipeline as { id?: unknown } | undefined)?.id) });
  }

  #noVersion(version: string): SluiceError {
    const versions = publishStore(this.workspace)
      .listEndpointVersions(this.name)
      .map((entry) => entry.version);
    return new SluiceError(
      'ENDPOINT_VERSION_NOT_FOUND',
      `Pipeline endpoint "${this.name}" has no version "${version}"; its versions are ${versions.join(', ')}.`,
      { details: { endpoint: this.name, version, versions } },
    );
  }
}

function exists(name: string): SluiceError {
  return new SluiceError(
    'ENDPOINT_EXISTS',
    `A pipeline endpoint named "${name}" already exists; add versions to it with PipelineEndpoint.get(ws, '${name}').add(published).`,
    { details: { endpoint: name } },
  );
}
