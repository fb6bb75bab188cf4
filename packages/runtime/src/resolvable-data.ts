import type { ContentIdentity, DeliveryMode, ExternalData } from '@sluice/core';
import type { Workspace } from './workspace.js';

/**
 * External data that knows how to find itself (datasets): the executor asks it for its content identity
 * (a fingerprint part) and to deliver itself to a step. A plain DataReference is a single datastore path
 * and is handled by the executor directly.
 */
export interface ResolvableData extends ExternalData {
  /** The identity of the content the step will see (for tabular data: the files plus the transformations). */
  contentIdentity(workspace: Workspace): Promise<ContentIdentity>;
  /** Whether the data can be found at all (checked at submit, before anything runs). */
  exists(workspace: Workspace): Promise<boolean>;
  /**
   * Make the data available to a step: in place where `mode` is 'mount' and the store is local, else
   * copied under `dir` (an empty folder owned by the step run).
   */
  deliver(
    workspace: Workspace,
    options: { mode: DeliveryMode; dir: string },
  ): Promise<{ path: string; type: 'file' | 'directory' }>;
}

export function isResolvableData(value: unknown): value is ResolvableData {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { external?: unknown }).external === true &&
    typeof (value as { contentIdentity?: unknown }).contentIdentity === 'function' &&
    typeof (value as { deliver?: unknown }).deliver === 'function'
  );
}
