import { SluiceError, type DataSpec, type PipelineSpec } from '@sluice/core';
import { Dataset, type Workspace } from '@sluice/runtime';
import { PublishedPipeline } from './published-pipeline.js';
import type { DatasetAssignment } from './store.js';

type DatasetKind = 'file-dataset' | 'tabular-dataset';
type ExternalSpec = Extract<DataSpec, { kind: 'external' }>;

/** A dataset input of a published pipeline: the name steps consume it under, and what it reads by default. */
export interface DatasetInput {
  name: string;
  kind: DatasetKind;
  /** The registered dataset it reads when not given another (null: a dataset that is not registered). */
  dataset: { name: string; version: number } | null;
}

const isDatasetKind = (kind: string): kind is DatasetKind =>
  kind === 'file-dataset' || kind === 'tabular-dataset';

/** The dataset data of a spec by the input names steps consume them under. */
function datasetData(spec: PipelineSpec): Map<string, ExternalSpec[]> {
  const byName = new Map<string, ExternalSpec[]>();
  for (const entry of spec.data) {
    if (entry.kind !== 'external' || !isDatasetKind(entry.bindingKind)) continue;
    for (const step of spec.steps) {
      for (const input of step.inputs) {
        if (input.data !== entry.id) continue;
        const entries = byName.get(input.name) ?? [];
        if (!entries.includes(entry)) entries.push(entry);
        byName.set(input.name, entries);
      }
    }
  }
  return byName;
}

/** The dataset inputs a submission can give other registered datasets (`DataSetDefinitionValueAssignments`). */
export function datasetInputs(spec: PipelineSpec): DatasetInput[] {
  return [...datasetData(spec)].map(([name, entries]) => {
    const first = entries[0]!;
    const registered =
      typeof first.spec.name === 'string' && typeof first.spec.version === 'number'
        ? { name: first.spec.name, version: first.spec.version }
        : null;
    return { name, kind: first.bindingKind as DatasetKind, dataset: registered };
  });
}

/**
 * Check dataset assignments against a published pipeline's spec and the workspace's registered datasets, and
 * pin each to a version (the latest when none is given), so a queued run reads what was accepted.
 */
export function resolveDatasetAssignments(
  ws: Workspace,
  spec: PipelineSpec,
  assignments: Readonly<Record<string, DatasetAssignment>>,
): Record<string, Required<DatasetAssignment>> {
  const inputs = datasetData(spec);
  const resolved: Record<string, Required<DatasetAssignment>> = {};
  for (const [input, assignment] of Object.entries(assignments)) {
    const entries = inputs.get(input);
    if (!entries) {
      const known = [...inputs.keys()];
      throw new SluiceError(
        'PARAMETER_UNKNOWN',
        `The pipeline has no dataset input named "${input}", so it cannot be given a dataset. ${known.length ? `Its dataset inputs: ${known.join(', ')}.` : 'It has no dataset inputs.'}`,
        { details: { dataset: input, known } },
      );
    }
    const dataset = Dataset.get(ws, assignment.name, assignment.version ?? 'latest');
    for (const entry of entries) {
      if (entry.bindingKind !== dataset.bindingKind) {
        throw new SluiceError(
          'PARAMETER_TYPE',
          `Dataset input "${input}" reads a ${entry.bindingKind === 'file-dataset' ? 'file' : 'tabular'} dataset; dataset "${assignment.name}" (version ${dataset.version}) is ${dataset.bindingKind === 'file-dataset' ? 'a file' : 'a tabular'} dataset. Give a ${entry.bindingKind === 'file-dataset' ? 'file' : 'tabular'} dataset.`,
          { details: { dataset: input, expected: entry.bindingKind, got: dataset.bindingKind } },
        );
      }
    }
    resolved[input] = { name: assignment.name, version: dataset.version! };
  }
  return resolved;
}

/** The spec with the named dataset inputs reading the assigned registered datasets. */
export function assignDatasets(
  ws: Workspace,
  spec: PipelineSpec,
  assignments: Readonly<Record<string, DatasetAssignment>>,
): PipelineSpec {
  const resolved = resolveDatasetAssignments(ws, spec, assignments);
  const replaced = new Map<string, Record<string, unknown>>();
  const inputs = datasetData(spec);
  for (const [input, { name, version }] of Object.entries(resolved)) {
    const json = Dataset.get(ws, name, version).toJSON();
    for (const entry of inputs.get(input)!) replaced.set(entry.id, json);
  }
  return {
    ...spec,
    data: spec.data.map((entry) =>
      entry.kind === 'external' && replaced.has(entry.id)
        ? { ...entry, spec: replaced.get(entry.id)! }
        : entry,
    ),
  };
}

/** The published pipeline as one run sees it: its dataset inputs reading the assigned datasets. */
export function withDatasets(
  published: PublishedPipeline,
  assignments: Readonly<Record<string, DatasetAssignment>> = {},
): PublishedPipeline {
  if (Object.keys(assignments).length === 0) return published;
  return new PublishedPipeline(published.workspace, {
    id: published.id,
    name: published.name,
    description: published.description,
    version: published.version,
    spec: assignDatasets(published.workspace, published.spec, assignments),
    status: published.status,
    createdAt: published.createdAt,
    sourceRunId: published.sourceRunId,
  });
}
