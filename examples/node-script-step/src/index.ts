import type { AnyPlugin } from '@sluice/core';
import { nodeScriptStep } from './node-script-step.js';

export { NODE_SCRIPT_KIND, NodeScriptStep, nodeScriptStep } from './node-script-step.js';
export type { NodeScriptConfig, NodeScriptStepOptions } from './node-script-step.js';

/** The plugins of this package, for workspaces that list it in `plugins` (`sluice.workspace.json`). */
export const sluicePlugins = (): AnyPlugin[] => [nodeScriptStep()];
