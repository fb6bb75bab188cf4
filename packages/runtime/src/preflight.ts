import { OutputFileDatasetConfig, SluiceError } from '@sluice/core';
import { PARTIAL_DIR, committedPath, fixedDestination, outputDatastore, type StepPlan } from './executor.js';
import { normaliseStorePath } from './local-datastore.js';
import { checkSourceDirectory } from './snapshot.js';
import type { Workspace } from './workspace.js';

/**
 * What `Experiment.submit` checks of each step before anything is recorded or written, beyond its compute
 * target, environment and inputs: what would otherwise fail only when the step's turn comes, after the
 * steps before it ran. The source directory is a folder; the step kind's own checks pass against it (the
 * user's folder, so errors name it); every output goes to a datastore of the workspace, at a path inside
 * it (no '..', not absolute, not the root, no link leading out of a local store).
 */
export async function checkStepBeforeSubmit(ws: Workspace, plan: StepPlan, runId: string): Promise<void> {
  const { step, plugin, compute } = plan;
  if (step.sourceDirectory !== undefined) await checkSourceDirectory(step.sourceDirectory, step.name);
  plugin.validate?.(step, { sourceDirectory: step.sourceDirectory, compute });
  for (const output of step.outputs) {
    const store = ws.datastore(outputDatastore(output) ?? ws.config.defaultDatastore);
    const refuse = (path: string, error: unknown): never => {
      if (!(error instanceof SluiceError)) throw error;
      throw new SluiceError(
        error.code,
        `Step "${step.name}": output "${output.outputName}" cannot be written to ${store.name}:${path}. ${error.message}`,
        {
          cause: error,
          details: { step: step.name, output: output.outputName, datastore: store.name, path },
        },
      );
    };
    // the run's own copy, and the fixed destination it is then published to (if it has one)
    const paths = [committedPath(output, plan.stepRunId, runId)];
    try {
      const fixed = fixedDestination(output);
      if (fixed !== undefined) paths.push(fixed);
    } catch (error) {
      refuse(output instanceof OutputFileDatasetConfig ? (output.destination?.path ?? '') : '', error);
    }
    if (!plugin.remoteData) paths.push(`${PARTIAL_DIR}/${plan.stepRunId}/${output.outputName}`);
    for (const path of paths) {
      try {
        if (normaliseStorePath(store.name, path) === '') {
          throw new SluiceError(
            'DATASTORE_PATH_ESCAPE',
            `"${path}" is the datastore's root; give a folder inside it, e.g. 'outputs/{run-id}'.`,
          );
        }
        // a local store resolves the path now: a folder on the way linked out of the store is refused
        store.localPath?.(path);
      } catch (error) {
        refuse(path, error);
      }
    }
  }
}
