import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  SluiceError,
  pipelineFromSpec,
  resolveParameterValues,
  type ParameterValue,
  type Pipeline,
  type PipelineSpec,
} from '@sluice/core';
import { Dataset, type Workspace } from '@sluice/runtime';

/** Where a DataReference input of a published pipeline reads from in one submission. */
export interface DataPathAssignment {
  /** The datastore's name. */
  datastore: string;
  /** The path on that datastore. */
  path: string;
}

/** The folder holding a published source snapshot. */
export function snapshotPath(ws: Workspace, digest: string): string {
  return join(ws.dataDir, 'snapshots', digest);
}

/**
 * Build the pipeline a spec describes, running from its published snapshots, with DataReference inputs
 * moved where `dataPaths` says.
 */
export function buildPipeline(
  ws: Workspace,
  spec: PipelineSpec,
  dataPaths: Readonly<Record<string, DataPathAssignment>> = {},
): Pipeline {
  const references = spec.data.filter((entry) => entry.kind === 'data-reference');
  for (const name of Object.keys(dataPaths)) {
    if (!references.some((entry) => entry.name === name)) {
      const known = [...new Set(references.map((entry) => entry.name))];
      throw new SluiceError(
        'PARAMETER_UNKNOWN',
        `The pipeline has no DataReference input named "${name}", so it cannot be given a data path. ${known.length ? `Its DataReference inputs: ${known.join(', ')}.` : 'It has no DataReference inputs.'}`,
        { details: { dataPath: name, known } },
      );
    }
  }
  const moved: PipelineSpec = {
    ...spec,
    data: spec.data.map((entry) => {
      const assigned = entry.kind === 'data-reference' ? dataPaths[entry.name] : undefined;
      return assigned && entry.kind === 'data-reference'
        ? { ...entry, datastore: assigned.datastore, pathOnDatastore: assigned.path }
        : entry;
    }),
  };
  for (const step of spec.steps) {
    if (step.source && !existsSync(snapshotPath(ws, step.source))) {
      throw new SluiceError(
        'SOURCE_DIRECTORY_NOT_FOUND',
        `The published source snapshot of step "${step.name}" (${step.source}) is missing from ${snapshotPath(ws, step.source)}; publish the pipeline again.`,
        { details: { step: step.name, snapshot: step.source } },
      );
    }
  }
  return pipelineFromSpec(moved, {
    registry: ws.registry,
    sourceDirectory: (digest) => snapshotPath(ws, digest),
    external: (entry) => Dataset.fromJSON(entry.spec, ws),
  });
}

/** Check parameter values against the pipeline (unknown names, wrong types) and return them resolved. */
export function checkParameters(
  pipeline: Pipeline,
  supplied: Readonly<Record<string, unknown>>,
): Record<string, ParameterValue> {
  return resolveParameterValues(pipeline.parameters, supplied);
}

/** Check that every assigned data path names a datastore of the workspace and exists there. */
export async function checkDataPaths(
  ws: Workspace,
  dataPaths: Readonly<Record<string, DataPathAssignment>>,
): Promise<void> {
  for (const [name, { datastore, path }] of Object.entries(dataPaths)) {
    const store = ws.datastore(datastore);
    if (!(await store.exists(path))) {
      throw new SluiceError(
        'INPUT_NOT_AVAILABLE',
        `Data path "${name}" points at "${path}" on datastore "${datastore}", which does not exist there; upload it first.`,
        { details: { dataPath: name, datastore, path } },
      );
    }
  }
}

const EXPERIMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/** Fail with REQUEST_INVALID unless `name` is a valid experiment name. */
export function checkExperimentName(name: unknown, where: string): string {
  if (typeof name !== 'string' || !EXPERIMENT_NAME.test(name)) {
    throw new SluiceError(
      'REQUEST_INVALID',
      name === undefined || name === null || name === ''
        ? `${where} needs an experiment name (ExperimentName): the experiment the run is recorded under.`
        : `Experiment name ${JSON.stringify(name)} is not valid: use letters, digits, '_', '.', '-' (up to 255), starting with a letter or digit.`,
      { details: { field: 'ExperimentName' } },
    );
  }
  return name;
}

/**
 * A new run id in the runtime's format: `<experiment>_<yyyymmdd_hhmmss>_<random>` (the experiment part cut
 * to fit the runtime's 201-character limit on given run ids).
 */
export function newRunId(experiment: string): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')
    .replace('T', '_');
  return `${experiment.slice(0, 170)}_${stamp}_${randomBytes(3).toString('hex')}`;
}
