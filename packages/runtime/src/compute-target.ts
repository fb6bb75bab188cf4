import type { ComputeConfiguration, ComputeTarget as ComputeTargetInstance } from '@sluice/core';
import type { Workspace } from './workspace.js';

/** Named compute targets of a workspace, in the shape of the original SDK. */
export const ComputeTarget = {
  /** Create (or update) a named compute target from a provider configuration, e.g. `localCompute()`. */
  async create(
    workspace: Workspace,
    name: string,
    configuration: ComputeConfiguration,
  ): Promise<ComputeTargetInstance> {
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
  /** Look a compute target up by name; COMPUTE_NOT_FOUND when there is none. */
  get(workspace: Workspace, name: string): Promise<ComputeTargetInstance> {
    return workspace.getComputeTarget(name);
  },
  list(workspace: Workspace): Array<{ name: string; provider: string }> {
    return workspace.listComputeTargets();
  },
};
