import type { AnyPlugin } from '@sluice/core';
import { {{camel}}DatastoreProvider } from './{{base}}-datastore.js';

export { {{CONSTANT}}_KIND, {{Pascal}}Datastore, {{camel}}DatastoreProvider } from './{{base}}-datastore.js';
export type { {{Pascal}}DatastoreOptions } from './{{base}}-datastore.js';

/** The plugins of this package, for workspaces that name it in `plugins` (`sluice.workspace.json`). */
export const sluicePlugins = (): AnyPlugin[] => [{{camel}}DatastoreProvider()];
