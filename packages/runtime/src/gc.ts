import { readdir, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { SluiceError } from '@sluice/core';
import { diskUsage } from './disk-usage.js';
import { pruneEnvironments } from './environments.js';
import { PARTIAL_DIR } from './executor.js';
import type { Workspace } from './workspace.js';

export interface GcOptions {
  /** Keep the outputs of the newest N runs (default 10). */
  keepLast?: number;
  /** Keep the outputs of runs younger than this many milliseconds (default: 30 days). */
  olderThanMs?: number;
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean;
  /**
   * Also remove built environments kept runs used (never one a running run uses). Default false: only
   * environments that no kept run used and that were not built or used since the cut-off go.
   */
  allEnvironments?: boolean;
}

export interface GcItem {
  datastore: string;
  path: string;
  bytes: number;
  /** The step run that produced it, when known. */
  stepRunId?: string;
  reason:
    | 'unreferenced output'
    | 'partial output of an ended step'
    | 'output without a record'
    | 'scratch files of an ended step'
    | 'environment no kept run used'
    | 'environment removed on request'
    | 'unfinished or replaced environment build';
}

export interface GcReport {
  dryRun: boolean;
  retainedRuns: number;
  deleted: GcItem[];
  freedBytes: number;
}

const DAY = 24 * 60 * 60 * 1000;
const ACTIVE = ['NotStarted', 'Running'];

/** Parse durations such as `30d`, `12h`, `90m`, `2w`, `45s` into milliseconds. */
export function parseDuration(text: string): number {
  const match = typeof text === 'string' ? /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim()) : null;
  if (!match) {
    throw new SluiceError(
      'PARAMETER_TYPE',
      `"${text}" is not a duration; use a number and a unit: 45s, 90m, 12h, 30d or 2w.`,
    );
  }
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: DAY, w: 7 * DAY }[
    match[2] as 's' | 'm' | 'h' | 'd' | 'w'
  ];
  return Number(match[1]) * unit;
}

/**
 * Delete intermediate data nothing needs any more: outputs that no retained run, no registered dataset and
 * no latest result of a step references, partial outputs of steps that have ended, and committed output
 * folders whose step never recorded them (a runner killed at the wrong moment). Only paths of a run's own
 * (its step runs' output folders, destinations naming `{run-id}` or `{pipeline-run-id}`) are deleted; a
 * fixed destination a user named, and the copy published there, are not.
 *
 * Safe while pipelines run: choosing and marking what goes happens in one transaction; a run that reuses
 * an output first checks, in its own transaction, that it was not marked, and a running run's outputs are
 * always retained.
 */
export async function collectGarbage(ws: Workspace, options: GcOptions = {}): Promise<GcReport> {
  const keepLast = options.keepLast ?? 10;
  const olderThan = options.olderThanMs ?? 30 * DAY;
  if (!Number.isInteger(keepLast) || keepLast < 0) {
    throw new SluiceError('PARAMETER_TYPE', '--keep-last must be a whole number ≥ 0.');
  }
  const store = ws.store;
  const cutoff = Date.now() - olderThan;
  const dryRun = options.dryRun ?? false;

  const chosen = store.transaction(() => {
    const runs = store.listRuns({ limit: Number.MAX_SAFE_INTEGER });
    const retained = new Set(
      runs
        .filter(
          (run, index) =>
            index < keepLast || Date.parse(run.createdAt) >= cutoff || ACTIVE.includes(run.status),
        )
        .map((run) => run.id),
    );
    const outputs = store.liveOutputs();
    const key = (datastore: string, path: string): string => `${datastore}\0${path}`;
    const referenced = new Set<string>();
    // the latest finished result of each step stays reusable
    const latest = new Map<string, (typeof outputs)[number]>();
    for (const output of outputs) {
      if (retained.has(output.runId)) referenced.add(key(output.datastore, output.path));
      if (output.status !== 'Finished') continue;
      const step = `${output.pipelineName}\0${output.stepName}\0${output.name}`;
      const current = latest.get(step);
      if (!current || (output.endedAt ?? '') > (current.endedAt ?? '')) latest.set(step, output);
    }
    for (const output of latest.values()) referenced.add(key(output.datastore, output.path));
    for (const location of datasetLocations(store.listDatasets().map((dataset) => dataset.spec))) {
      referenced.add(key(location.datastore, location.path));
    }
    const sources = new Set(
      store
        .listDatasets()
        .map((dataset) => dataset.sourceStepRun)
        .filter(Boolean),
    );
    const doomed = new Map<string, GcItem>();
    for (const output of outputs) {
      const id = key(output.datastore, output.path);
      if (referenced.has(id) || sources.has(output.stepRunId) || doomed.has(id)) continue;
      // only data at a path of its run's own is Sluice's to delete, never a destination a user named
      if (!output.path.includes(output.runId)) continue;
      if (isInsideAny(output, referenced)) continue;
      doomed.set(id, {
        datastore: output.datastore,
        path: output.path,
        bytes: output.bytes,
        stepRunId: output.stepRunId,
        reason: 'unreferenced output',
      });
    }
    const items = [...doomed.values()];
    if (!dryRun) store.markOutputsDeleted(items);
    return { items, retained };
  });

  const deleted: GcItem[] = [...chosen.items];
  if (!dryRun) {
    for (const item of chosen.items) await ws.datastore(item.datastore).delete(item.path);
  }
  deleted.push(...(await sweepLocalLeftovers(ws, dryRun)));
  deleted.push(...(await sweepScratch(ws, dryRun)));
  const environments = await pruneEnvironments(ws, {
    keptRuns: chosen.retained,
    all: options.allEnvironments ?? false,
    usedSince: cutoff,
    dryRun,
  });
  for (const { path, bytes, reason } of environments) {
    deleted.push({ datastore: '(workspace)', path: relative(ws.dir, path), bytes, reason });
  }
  return {
    dryRun,
    retainedRuns: chosen.retained.size,
    deleted,
    freedBytes: deleted.reduce((sum, item) => sum + item.bytes, 0),
  };
}

/** Datastore locations named anywhere in dataset specs (objects with `datastore` and `path`). */
function datasetLocations(specs: unknown[]): Array<{ datastore: string; path: string }> {
  const found: Array<{ datastore: string; path: string }> = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      const candidate = value as { datastore?: unknown; path?: unknown };
      if (typeof candidate.datastore === 'string' && typeof candidate.path === 'string') {
        found.push({ datastore: candidate.datastore, path: candidate.path.replace(/\/+$/, '') });
      }
      Object.values(value).forEach(visit);
    }
  };
  specs.forEach(visit);
  return found;
}

/** Is the output inside (or the parent of) a referenced location on the same datastore? */
function isInsideAny(output: { datastore: string; path: string }, referenced: Set<string>): boolean {
  for (const entry of referenced) {
    const [datastore, path] = entry.split('\0') as [string, string];
    if (datastore !== output.datastore) continue;
    if (output.path.startsWith(`${path}/`) || path.startsWith(`${output.path}/`)) return true;
  }
  return false;
}

/**
 * On local datastores: partial outputs of steps that are no longer running, and committed output folders
 * with no record (the runner died between moving them into place and recording them).
 */
async function sweepLocalLeftovers(ws: Workspace, dryRun: boolean): Promise<GcItem[]> {
  const items: GcItem[] = [];
  const store = ws.store;
  const ended = (stepRunId: string): boolean => {
    const step = store.getStepRun(stepRunId);
    if (!step) return true;
    const run = store.getRun(step.runId);
    return !run || !ACTIVE.includes(run.status);
  };
  for (const name of ws.listDatastores()) {
    let datastore;
    try {
      datastore = ws.datastore(name);
    } catch {
      continue; // a datastore whose plugin is not loaded is left alone
    }
    if (!datastore.localPath) continue;
    const partialRoot = datastore.localPath(PARTIAL_DIR);
    for (const stepRunId of await readdir(partialRoot).catch(() => [] as string[])) {
      if (!ended(stepRunId)) continue;
      const path = `${PARTIAL_DIR}/${stepRunId}`;
      items.push({
        datastore: name,
        path,
        bytes: await diskUsage(join(partialRoot, stepRunId)),
        stepRunId,
        reason: 'partial output of an ended step',
      });
      if (!dryRun) await rm(join(partialRoot, stepRunId), { recursive: true, force: true });
    }
    const outputsRoot = datastore.localPath('sluice/outputs');
    for (const stepRunId of await readdir(outputsRoot).catch(() => [] as string[])) {
      if (store.getOutputs(stepRunId).length > 0 || !ended(stepRunId)) continue;
      const path = `sluice/outputs/${stepRunId}`;
      items.push({
        datastore: name,
        path,
        bytes: await diskUsage(join(outputsRoot, stepRunId)),
        stepRunId,
        reason: 'output without a record',
      });
      if (!dryRun) await rm(join(outputsRoot, stepRunId), { recursive: true, force: true });
    }
  }
  return items;
}

/** Folders a step run only needs while it runs (its copy of the source, downloaded inputs, staged outputs). */
const SCRATCH = ['source', 'inputs', 'outputs', 'transfer'];

/**
 * The scratch folders of step runs whose run has ended. Logs, the context file and metrics stay: they are
 * the run's record.
 */
async function sweepScratch(ws: Workspace, dryRun: boolean): Promise<GcItem[]> {
  const items: GcItem[] = [];
  const runsDir = join(ws.dataDir, 'runs');
  for (const runId of await readdir(runsDir).catch(() => [] as string[])) {
    const run = ws.store.getRun(runId);
    if (run && ACTIVE.includes(run.status)) continue;
    for (const step of await readdir(join(runsDir, runId)).catch(() => [] as string[])) {
      for (const folder of SCRATCH) {
        const path = join(runsDir, runId, step, folder);
        const bytes = await diskUsage(path);
        if (!(await stat(path).catch(() => undefined))) continue;
        items.push({
          datastore: '(workspace)',
          path: `.sluice/runs/${runId}/${step}/${folder}`,
          bytes,
          stepRunId: `${runId}.${step}`,
          reason: 'scratch files of an ended step',
        });
        if (!dryRun) await rm(path, { recursive: true, force: true });
      }
    }
  }
  return items;
}
