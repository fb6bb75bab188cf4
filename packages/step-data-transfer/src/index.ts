export { DataTransferStep } from './data-transfer-step.js';
export type { DataTransferStepOptions } from './data-transfer-step.js';
export { DATA_TRANSFER_KIND, dataTransferStep, sluicePlugins } from './plugin.js';
export type { DataTransferConfig, ReferenceType } from './plugin.js';
export { DATA_TRANSFER_VERSION } from './version.js';
