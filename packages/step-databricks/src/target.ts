import type { ComputeTarget } from '@sluice/core';
import type { DatabricksClient } from './client.js';

/** The compute provider kind (and the kind of every Databricks compute target). */
export const DATABRICKS_KIND = 'databricks';

/** A Databricks workspace that steps submit runs to. `describe()` never includes the token. */
export class DatabricksComputeTarget implements ComputeTarget {
  readonly kind = DATABRICKS_KIND;
  readonly name: string;
  readonly workspaceUrl: string;
  readonly client: DatabricksClient;
  readonly #facts: Readonly<Record<string, unknown>>;

  constructor(
    name: string,
    settings: {
      client: DatabricksClient;
      /** How requests are authenticated, in words (never a secret). */
      credential: string;
      workspaceName?: string | undefined;
      resourceGroup?: string | undefined;
      workspaceResourceId?: string | undefined;
    },
  ) {
    this.name = name;
    this.client = settings.client;
    this.workspaceUrl = settings.client.workspaceUrl;
    this.#facts = Object.freeze({
      kind: this.kind,
      name,
      workspaceUrl: this.workspaceUrl,
      ...(settings.workspaceName ? { workspaceName: settings.workspaceName } : {}),
      ...(settings.resourceGroup ? { resourceGroup: settings.resourceGroup } : {}),
      ...(settings.workspaceResourceId ? { workspaceResourceId: settings.workspaceResourceId } : {}),
      credential: settings.credential,
    });
  }

  describe(): Record<string, unknown> {
    return this.#facts as Record<string, unknown>;
  }
}

/**
 * The Databricks target behind a step's compute: the target itself (the runtime hands steps their target),
 * recognised by kind and client also when it comes from another copy of this package.
 */
export function databricksTargetOf(compute: ComputeTarget): DatabricksComputeTarget | undefined {
  if (compute instanceof DatabricksComputeTarget) return compute;
  if (compute.kind !== DATABRICKS_KIND) return undefined;
  const client = (compute as { client?: unknown }).client;
  return client && typeof client === 'object' ? (compute as DatabricksComputeTarget) : undefined;
}
