import type { AnyPlugin } from '@sluice/core';
import { {{camel}}Step } from './{{base}}-step.js';

export { {{CONSTANT}}_KIND, {{Pascal}}Step, {{camel}}Step } from './{{base}}-step.js';
export type { {{Pascal}}StepConfig, {{Pascal}}StepOptions } from './{{base}}-step.js';

/** The plugins of this package, for workspaces that name it in `plugins` (`sluice.workspace.json`). */
export const sluicePlugins = (): AnyPlugin[] => [{{camel}}Step()];
