import type { AnyPlugin } from '@sluice/core';
import { {{camel}}ComputeProvider } from './{{base}}-compute.js';

export {
  {{CONSTANT}}_KIND,
  {{Pascal}}ComputeTarget,
  {{camel}}Compute,
  {{camel}}ComputeProvider,
} from './{{base}}-compute.js';
export type { {{Pascal}}ComputeOptions } from './{{base}}-compute.js';

/** The plugins of this package, for workspaces that name it in `plugins` (`sluice.workspace.json`). */
export const sluicePlugins = (): AnyPlugin[] => [{{camel}}ComputeProvider()];
