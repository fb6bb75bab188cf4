import { SluiceError } from '@sluice/core';
import type { Workspace } from './workspace.js';

/**
 * The v1-style functions take the workspace first (`Datastore.get(ws, name)`); anything else is the
 * caller's mistake, said with an example instead of a TypeError from deep inside.
 */
export function requireWorkspace(workspace: unknown, caller: string, example: string): Workspace {
  const candidate = workspace as { store?: unknown; ready?: unknown } | null | undefined;
  if (typeof candidate?.ready !== 'function' || typeof candidate.store !== 'object') {
    throw new SluiceError(
      'OPTION_INVALID',
      `${caller} takes the workspace first, e.g. ${example} with ws = Workspace.fromConfig().`,
    );
  }
  return workspace as Workspace;
}
