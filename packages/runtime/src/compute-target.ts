import {
  SluiceError,
  type ComputeConfiguration,
  type ComputeTarget as ComputeTargetInstance,
} from '@sluice/core';
import { localCompute, type LocalComputeOptions } from './local-compute.js';
import { requireWorkspace } from './checks.js';
import type { Workspace } from './workspace.js';

function checkTargetArguments(caller: string, name: unknown, configuration?: unknown): void {
  if (typeof name !== 'string' || name === '') {
    throw new SluiceError(
      'OPTION_INVALID',
      `${caller} needs the compute target's name as a string, e.g. ${caller}(ws, 'cpu-cluster'${configuration === undefined ? '' : ', localCompute()'}); got ${JSON.stringify(name) ?? String(name)}.`,
    );
  }
  if (
    configuration !== undefined &&
    (typeof configuration !== 'object' ||
      configuration === null ||
      typeof (configuration as { provider?: unknown }).provider !== 'string')
  ) {
    throw new SluiceError(
      'OPTION_INVALID',
      `${caller}(ws, '${name}', configuration): the configuration comes from a provider, e.g. localCompute() or AmlCompute.provisioningConfiguration({ maxNodes: 4 }); got ${JSON.stringify(configuration) ?? String(configuration)}.`,
    );
  }
}

/** Named compute targets of a workspace, in the shape of the original SDK. */
export const ComputeTarget = {
  /** Create (or update) a named compute target from a provider configuration, e.g. `localCompute()`. */
  async create(
    workspace: Workspace,
    name: string,
    configuration: ComputeConfiguration,
  ): Promise<ComputeTargetInstance> {
    requireWorkspace(workspace, 'ComputeTarget.create', `ComputeTarget.create(ws, 'cpu', localCompute())`);
    checkTargetArguments('ComputeTarget.create', name, configuration ?? null);
    return workspace.saveComputeTarget(name, configuration);
  },
  /** Attach an existing compute (the same as create for providers that only connect). */
  attach(
    workspace: Workspace,
    name: string,
    configuration: ComputeConfiguration,
  ): Promise<ComputeTargetInstance> {
    return ComputeTarget.create(workspace, name, configuration);
  },
  /**
   * Look a compute target up by name (`ComputeTarget(workspace=ws, name=…)`); COMPUTE_NOT_FOUND, which
   * `instanceof ComputeTargetException` matches, when there is none.
   */
  async get(workspace: Workspace, name: string): Promise<ComputeTargetInstance> {
    return requireWorkspace(workspace, 'ComputeTarget.get', `ComputeTarget.get(ws, 'cpu')`).getComputeTarget(
      name,
    );
  },
  list(workspace: Workspace): Array<{ name: string; provider: string }> {
    return requireWorkspace(workspace, 'ComputeTarget.list', 'ComputeTarget.list(ws)').listComputeTargets();
  },
};

export interface ProvisioningConfiguration {
  /** Accepted for familiarity; local compute runs on this machine, whatever its size. */
  vmSize?: string;
  minNodes?: number;
  /** How many steps run at once on the target (local compute's `maxConcurrency`). */
  maxNodes?: number;
}

/**
 * `AmlCompute.provisioning_configuration(vm_size, min_nodes, max_nodes)`: a compute target for
 * `ComputeTarget.create`. Sluice runs it as local compute (subprocesses on this machine), `maxNodes` steps at
 * once; a cluster is reached through a provider plugin instead (Slurm, Databricks).
 */
export const AmlCompute = {
  provisioningConfiguration(
    options: ProvisioningConfiguration = {},
  ): ComputeConfiguration<LocalComputeOptions> {
    if (typeof options !== 'object' || options === null) {
      throw new SluiceError(
        'OPTION_INVALID',
        "AmlCompute.provisioningConfiguration takes { vmSize?, minNodes?, maxNodes? }, e.g. { vmSize: 'STANDARD_NC6', minNodes: 0, maxNodes: 4 }.",
      );
    }
    const { vmSize, minNodes, maxNodes } = options;
    if (vmSize !== undefined && typeof vmSize !== 'string') {
      throw new SluiceError(
        'OPTION_INVALID',
        `AmlCompute: vmSize must be a string; got ${JSON.stringify(vmSize)}.`,
      );
    }
    for (const [field, value] of [
      ['minNodes', minNodes],
      ['maxNodes', maxNodes],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < (field === 'maxNodes' ? 1 : 0))) {
        throw new SluiceError(
          'OPTION_INVALID',
          `AmlCompute: ${field} must be a whole number${field === 'maxNodes' ? ' ≥ 1' : ' ≥ 0'}; got ${JSON.stringify(value)}.`,
        );
      }
    }
    if (minNodes !== undefined && maxNodes !== undefined && minNodes > maxNodes) {
      throw new SluiceError(
        'OPTION_INVALID',
        `AmlCompute: minNodes (${minNodes}) is above maxNodes (${maxNodes}).`,
      );
    }
    return localCompute(maxNodes === undefined ? {} : { maxConcurrency: maxNodes });
  },
};

const COMPUTE_CODES: ReadonlySet<string> = new Set([
  'COMPUTE_NOT_FOUND',
  'COMPUTE_EXISTS',
  'COMPUTE_AUTH_FAILED',
  'COMPUTE_UNAVAILABLE',
  'COMPUTE_REQUEST_FAILED',
]);

/**
 * `except ComputeTargetException`: `error instanceof ComputeTargetException` is true for the coded
 * compute errors (COMPUTE_NOT_FOUND, COMPUTE_UNAVAILABLE, …). Sluice throws SluiceError; this only matches.
 */
export const ComputeTargetException = {
  [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof SluiceError && COMPUTE_CODES.has(value.code);
  },
};
