import { isAbsolute, join, resolve } from 'node:path';
import {
  SluiceError,
  checkResources,
  type AnyPlugin,
  type ComputeConfiguration,
  type ComputeProviderPlugin,
  type ComputeResources,
  type JsonSchema,
} from '@sluice/core';
import type { StatusMode } from './status.js';
import { SLURM_KIND, SlurmComputeTarget } from './target.js';
import { COMPUTE_SLURM_VERSION, CORE_RANGE, PACKAGE_NAME } from './version.js';

/** The options of a Slurm compute target, as saved in `sluice.workspace.json`. */
export interface SlurmComputeOptions {
  /** The partition jobs go to (`--partition`); the cluster's default without it. */
  partition?: string;
  /** The account jobs are charged to (`--account`). */
  account?: string;
  /** The quality of service (`--qos`). */
  qos?: string;
  /** Resources every step gets unless its run configuration's `resources` say otherwise. */
  defaults?: ComputeResources;
  /** More `sbatch` options for every job, e.g. `['--nice=10', '--exclude=n3']`. */
  sbatchArgs?: string[];
  /** The cluster's `slurm.conf` (given to the Slurm commands as `SLURM_CONF`); default: the runner's own. */
  slurmConf?: string;
  /**
   * How job states are read: `'sacct'` (accounting), `'squeue'` (`squeue`, then `scontrol show job`), or
   * `'auto'` (default): `sacct` when the cluster keeps accounting, else `squeue`.
   */
  statusMode?: StatusMode;
  /** The shortest time between two status queries in milliseconds (default 500). */
  pollIntervalMs?: number;
  /** The longest, reached by backing off while no job changes (default 5000). */
  maxPollIntervalMs?: number;
  /**
   * Where job scripts and output files are written while jobs run; it must be on the filesystem the nodes
   * share. Default: `.sluice/slurm` in the workspace. Relative paths are from the workspace folder.
   */
  spoolDir?: string;
  /**
   * Submit steps that become ready together and ask for the same resources as one job array (one `sbatch`
   * call for many steps; controllers rate-limit their RPCs): `true`, or `{ windowMs, maxSize }` — how long
   * a job waits for others to join (default 200 ms, restarted by each one that joins) and the most tasks
   * an array holds (default 1000; keep it below the cluster's `MaxArraySize`). Default: a job per step.
   */
  jobArrays?: boolean | { windowMs?: number; maxSize?: number };
}

const ARRAY_WINDOW_MS = 200;
const ARRAY_MAX_SIZE = 1000;

const RESOURCES_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cpus: { type: 'integer', minimum: 1 },
    memory: { type: 'string', pattern: '^[0-9]+[KMGTkmgt]?$' },
    gpus: { type: 'integer', minimum: 0 },
    time: {
      oneOf: [
        { type: 'integer', minimum: 1 },
        { type: 'string', minLength: 1 },
      ],
    },
    constraint: { type: 'string', minLength: 1 },
  },
};

/** The JSON Schema of the options, checked by the workspace before a target is created. */
export const SLURM_COMPUTE_OPTIONS_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    partition: { type: 'string', minLength: 1 },
    account: { type: 'string', minLength: 1 },
    qos: { type: 'string', minLength: 1 },
    defaults: RESOURCES_SCHEMA,
    sbatchArgs: { type: 'array', items: { type: 'string', pattern: '^-' } },
    slurmConf: { type: 'string', minLength: 1 },
    statusMode: { enum: ['auto', 'sacct', 'squeue'] },
    pollIntervalMs: { type: 'integer', minimum: 100 },
    maxPollIntervalMs: { type: 'integer', minimum: 100 },
    spoolDir: { type: 'string', minLength: 1 },
    jobArrays: {
      oneOf: [
        { type: 'boolean' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            windowMs: { type: 'integer', minimum: 0 },
            maxSize: { type: 'integer', minimum: 1 },
          },
        },
      ],
    },
  },
};

/**
 * The configuration of a Slurm compute target, for `ComputeTarget.create(ws, 'cluster', slurmCompute({…}))`
 * (the workspace must know the provider: `ws.registry.use(slurmComputeProvider())`, or the package listed in
 * its `plugins`).
 */
export function slurmCompute(options: SlurmComputeOptions = {}): ComputeConfiguration<SlurmComputeOptions> {
  return { provider: SLURM_KIND, options: checkOptions('slurmCompute()', options) };
}

const STRINGS = ['partition', 'account', 'qos', 'slurmConf', 'spoolDir'] as const;
const INTERVALS = ['pollIntervalMs', 'maxPollIntervalMs'] as const;

function checkOptions(where: string, options: SlurmComputeOptions): SlurmComputeOptions {
  const invalid = (message: string): SluiceError =>
    new SluiceError('OPTION_INVALID', `${where}: ${message}`, { details: { options } });
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalid("the options must be an object like { partition: 'cpu', defaults: { cpus: 2 } }.");
  }
  const known = Object.keys(SLURM_COMPUTE_OPTIONS_SCHEMA.properties as object);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw invalid(`unknown option "${key}"; known: ${known.join(', ')}.`);
  }
  for (const key of STRINGS) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value.trim() === '')) {
      throw invalid(`${key} must be a non-empty string, not ${JSON.stringify(value)}.`);
    }
  }
  for (const key of INTERVALS) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 100)) {
      throw invalid(
        `${key} must be a whole number of milliseconds, at least 100, not ${JSON.stringify(value)}.`,
      );
    }
  }
  if (options.statusMode !== undefined && !['auto', 'sacct', 'squeue'].includes(options.statusMode)) {
    throw invalid(
      `statusMode must be 'auto', 'sacct' or 'squeue', not ${JSON.stringify(options.statusMode)}.`,
    );
  }
  const { sbatchArgs } = options;
  if (
    sbatchArgs !== undefined &&
    (!Array.isArray(sbatchArgs) || sbatchArgs.some((arg) => typeof arg !== 'string' || !arg.startsWith('-')))
  ) {
    throw invalid(
      `sbatchArgs must be a list of sbatch options such as ['--nice=10'], not ${JSON.stringify(sbatchArgs)}.`,
    );
  }
  if (options.defaults !== undefined) checkResources(options.defaults, `${where}: defaults`);
  const arrays = options.jobArrays;
  if (arrays !== undefined && typeof arrays !== 'boolean') {
    const ok =
      arrays !== null &&
      typeof arrays === 'object' &&
      !Array.isArray(arrays) &&
      Object.keys(arrays).every((key) => key === 'windowMs' || key === 'maxSize') &&
      (arrays.windowMs === undefined || (Number.isInteger(arrays.windowMs) && arrays.windowMs >= 0)) &&
      (arrays.maxSize === undefined || (Number.isInteger(arrays.maxSize) && arrays.maxSize >= 1));
    if (!ok) {
      throw invalid(
        `jobArrays must be true, false or { windowMs: 200, maxSize: 1000 } (whole numbers), not ${JSON.stringify(arrays)}.`,
      );
    }
  }
  return JSON.parse(JSON.stringify(options)) as SlurmComputeOptions;
}

/** The provider of `slurm` compute targets; `ws.ready()` registers it for workspaces that list this package. */
export function slurmComputeProvider(): ComputeProviderPlugin<SlurmComputeOptions> {
  return {
    type: 'compute',
    kind: SLURM_KIND,
    name: PACKAGE_NAME,
    version: COMPUTE_SLURM_VERSION,
    coreRange: CORE_RANGE,
    optionsSchema: SLURM_COMPUTE_OPTIONS_SCHEMA,
    createTarget(name, options, context) {
      const saved = checkOptions(`Slurm compute "${name}"`, options ?? {});
      const spoolDir = saved.spoolDir
        ? isAbsolute(saved.spoolDir)
          ? saved.spoolDir
          : resolve(context.workspaceDir, saved.spoolDir)
        : join(context.workspaceDir, '.sluice', 'slurm');
      return new SlurmComputeTarget(name, {
        partition: saved.partition,
        account: saved.account,
        qos: saved.qos,
        defaults: saved.defaults,
        sbatchArgs: saved.sbatchArgs,
        slurmConf: saved.slurmConf,
        statusMode: saved.statusMode,
        pollIntervalMs: saved.pollIntervalMs,
        maxPollIntervalMs: saved.maxPollIntervalMs,
        spoolDir,
        jobArrays: saved.jobArrays
          ? {
              windowMs: (saved.jobArrays === true ? undefined : saved.jobArrays.windowMs) ?? ARRAY_WINDOW_MS,
              maxSize: (saved.jobArrays === true ? undefined : saved.jobArrays.maxSize) ?? ARRAY_MAX_SIZE,
            }
          : undefined,
      });
    },
  };
}

/** The plugins of this package, for `ws.ready()` (which loads packages named in the workspace config). */
export const sluicePlugins = (): AnyPlugin[] => [slurmComputeProvider()];
