import { statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Pipeline, SluiceError, isSluiceError } from '@sluice/core';
import type { Workspace } from '@sluice/runtime';

/** What a pipeline module gives the CLI. */
export interface LoadedPipeline {
  pipeline: Pipeline;
  /** From the module's `experimentName` export, when it has one. */
  experimentName: string | undefined;
}

type PipelineFactory = (context: { workspace: Workspace }) => Pipeline | Promise<Pipeline>;

/**
 * Load a pipeline module (.ts, .mts, .js, .mjs). Its default export (or `pipeline` export) is a Pipeline
 * or a function `({ workspace }) => Pipeline` that may prepare data first.
 */
export async function loadPipeline(file: string, workspace: Workspace): Promise<LoadedPipeline> {
  const path = resolve(file);
  const stats = statSync(path, { throwIfNoEntry: false });
  if (!stats?.isFile()) {
    throw new SluiceError(
      'PIPELINE_FILE_INVALID',
      stats
        ? `${path} is not a file; give the pipeline module (a .ts or .js file) to run.`
        : `Pipeline file ${path} does not exist.`,
      { details: { path } },
    );
  }
  const extension = extname(path);
  let module: Record<string, unknown>;
  let value: unknown;
  try {
    if (['.ts', '.mts', '.cts', '.tsx'].includes(extension)) {
      const { tsImport } = await import('tsx/esm/api');
      module = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
    } else {
      module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    }
    // A module compiled as CommonJS arrives wrapped once more: { default: { default, experimentName } }.
    if (module.default && typeof module.default === 'object' && !(module.default instanceof Pipeline)) {
      module = module.default as Record<string, unknown>;
    }
    const exported = module.default ?? module.pipeline;
    value = typeof exported === 'function' ? await (exported as PipelineFactory)({ workspace }) : exported;
  } catch (error) {
    if (isSluiceError(error)) throw error;
    throw new SluiceError(
      'PIPELINE_FILE_INVALID',
      `Could not load the pipeline from ${path}: ${(error as Error)?.message ?? String(error)}`,
      { cause: error, details: { path } },
    );
  }
  if (!(value instanceof Pipeline)) {
    const found =
      value === undefined ? 'nothing' : typeof value === 'object' ? value?.constructor?.name : typeof value;
    throw new SluiceError(
      'PIPELINE_FILE_INVALID',
      `${path} must export default a Pipeline or a function ({ workspace }) => Pipeline; it exported ${found}. ` +
        'If it exports a Pipeline built with another copy of @sluice/core, install one copy.',
      { details: { path } },
    );
  }
  const experimentName = typeof module.experimentName === 'string' ? module.experimentName : undefined;
  return { pipeline: value, experimentName };
}
