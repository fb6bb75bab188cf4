export { PythonScriptStep } from './python-script-step.js';
export type { PythonScriptStepOptions } from './python-script-step.js';
export { pythonScriptStep, sluicePlugins } from './plugin.js';
export type { PythonScriptConfig } from './plugin.js';
