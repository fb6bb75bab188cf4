import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  SluiceError,
  type AnyPlugin,
  type Datastore,
  type StepExecutionContext,
  type StepExecutionResult,
  type StepKindPlugin,
} from '@sluice/core';
import { lastPart, normalisePath } from './paths.js';
import { formatBytes, progressLogger } from './progress.js';
import { CORE_RANGE, DATA_TRANSFER_VERSION, PACKAGE_NAME } from './version.js';

/** Whether a reference is one file or a folder of files. */
export type ReferenceType = 'file' | 'directory';

/** The settings a data transfer step keeps in its definition. */
export interface DataTransferConfig {
  /** The name of the step's input (the source). */
  readonly source: string;
  /** The name of the step's output (the destination). */
  readonly destination: string;
  /** As declared; found out from the data when the step runs when not given. */
  readonly sourceReferenceType?: ReferenceType;
  readonly destinationReferenceType: ReferenceType;
}

export const DATA_TRANSFER_KIND = 'data-transfer';

/**
 * The step kind that copies data between datastores; `DataTransferStep` attaches it to every step it builds.
 * It reaches the data where it lives (`remoteData`): the runtime neither downloads the source nor stages the
 * output, and records the output once the step has finished.
 */
export function dataTransferStep(): StepKindPlugin<DataTransferConfig> {
  return {
    type: 'step',
    kind: DATA_TRANSFER_KIND,
    name: PACKAGE_NAME,
    version: DATA_TRANSFER_VERSION,
    coreRange: CORE_RANGE,
    reuseVersion: '1',
    remoteData: true,
    // the runtime adds the source's content identity and the output's datastore and path
    fingerprint: (step) => [
      {
        name: 'referenceTypes',
        value: {
          source: step.config.sourceReferenceType ?? null,
          destination: step.config.destinationReferenceType,
        },
      },
    ],
    execute,
  };
}

/** The plugins of this package, for `ws.ready()` (which loads packages named in the workspace config). */
export const sluicePlugins = (): AnyPlugin[] => [dataTransferStep()];

async function execute(context: StepExecutionContext<DataTransferConfig>): Promise<StepExecutionResult> {
  const { step, logs, signal } = context;
  const config = step.config;
  const from = context.locations.inputs[config.source];
  const to = context.locations.outputs[config.destination];
  if (!from || !to) {
    throw new SluiceError(
      'STEP_FAILED',
      `Step "${step.name}": the runtime gave no location for ${from ? `output "${config.destination}"` : `input "${config.source}"`}. Data transfers need a runtime that runs remoteData step kinds (@sluice/runtime 0.1 or later).`,
      { details: { step: step.name } },
    );
  }
  const source = context.datastore(from.datastore);
  const target = context.datastore(to.datastore);
  const fromPath = normalisePath(from.path);
  const toPath = normalisePath(to.path);
  const failed = (error: string): StepExecutionResult => {
    logs.info(`data transfer failed: ${error}`);
    return { status: 'Failed', error };
  };

  // what the source is: one file (a path listing as itself) or a folder (possibly empty)
  const entries = await source.list(fromPath);
  let sourceType: ReferenceType;
  if (fromPath !== '' && entries.length === 1 && entries[0]!.path === fromPath) sourceType = 'file';
  else if (entries.length > 0 || (await source.exists(fromPath))) sourceType = 'directory';
  else {
    return failed(
      `the source ${from.datastore}:${fromPath || '/'} no longer exists; it was removed after the run started. Upload it again and re-submit.`,
    );
  }
  if (config.sourceReferenceType && config.sourceReferenceType !== sourceType) {
    return failed(
      `sourceReferenceType is '${config.sourceReferenceType}' but ${from.datastore}:${fromPath || '/'} is a ${sourceType}; set sourceReferenceType: '${sourceType}' (or leave it out), or point the source at a ${config.sourceReferenceType}.`,
    );
  }
  const destinationType = config.destinationReferenceType;
  if (sourceType === 'directory' && destinationType === 'file') {
    return failed(
      `${from.datastore}:${fromPath || '/'} is a directory and cannot be copied into a file; set destinationReferenceType: 'directory'.`,
    );
  }
  // a file copied into a folder keeps its name
  const name = lastPart(fromPath) || 'data';
  const targetPath = sourceType === 'file' && destinationType === 'directory' ? `${toPath}/${name}` : toPath;
  if (
    from.datastore === to.datastore &&
    (fromPath === '' || targetPath.startsWith(`${fromPath}/`) || fromPath.startsWith(`${targetPath}/`))
  ) {
    return failed(
      `the destination ${to.datastore}:${targetPath} lies inside the source ${from.datastore}:${fromPath || '/'} (or holds it); copy a folder that does not hold the destination, or write the copy to another datastore.`,
    );
  }

  const files = entries.length;
  const bytes = entries.reduce((sum, entry) => sum + entry.size, 0);
  const server = from.datastore === to.datastore && target.copy !== undefined;
  const route = server
    ? 'server-side copy'
    : source.localPath
      ? 'upload from the local source'
      : `download to ${join(context.workDir, 'transfer')}, then upload`;
  logs.info(
    `copying ${sourceType} ${from.datastore}:${fromPath || '/'} (${count(files, 'file')}, ${formatBytes(bytes)}) to ${to.datastore}:${targetPath} by ${route}`,
  );
  const started = performance.now();
  const existed = await target.exists(toPath);
  const canceled = async (): Promise<StepExecutionResult> => {
    // nothing of a canceled copy stays behind where the output would have been
    if (!existed) await target.delete(toPath).catch(() => undefined);
    logs.info('data transfer canceled');
    return { status: 'Canceled', error: 'the run was canceled during the copy' };
  };
  if (signal.aborted) return canceled();
  const staging = join(context.workDir, 'transfer');
  try {
    if (server) {
      await target.copy!(fromPath, targetPath, { overwrite: true });
    } else if (source.localPath) {
      await target.upload(source.localPath(fromPath), targetPath, {
        overwrite: true,
        signal,
        onProgress: progressLogger(logs.info, 'upload'),
      });
    } else {
      await rm(staging, { recursive: true, force: true });
      const local = join(staging, name);
      await source.download(fromPath, local, { signal, onProgress: progressLogger(logs.info, 'download') });
      await target.upload(local, targetPath, {
        overwrite: true,
        signal,
        onProgress: progressLogger(logs.info, 'upload'),
      });
    }
    if (signal.aborted) return await canceled();
    // a fixed destination folder that held an earlier copy keeps only the new file
    if (existed && targetPath !== toPath) await prune(target, toPath, targetPath);
  } catch (error) {
    if (signal.aborted) return await canceled();
    if (!existed) await target.delete(toPath).catch(() => undefined);
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const seconds = (performance.now() - started) / 1000;
  logs.info(
    `copied ${count(files, 'file')} (${formatBytes(bytes)}) to ${to.datastore}:${targetPath} in ${seconds.toFixed(1)} s`,
  );
  context.logMetric('files', files);
  context.logMetric('bytes', bytes);
  return { status: 'Finished' };
}

/** Remove everything below `folder` but `keep`. */
async function prune(store: Datastore, folder: string, keep: string): Promise<void> {
  for (const entry of await store.list(folder)) {
    if (entry.path !== keep) await store.delete(entry.path);
  }
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
