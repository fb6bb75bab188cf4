export {
  SLURM_COMPUTE_OPTIONS_SCHEMA,
  slurmCompute,
  slurmComputeProvider,
  sluicePlugins,
} from './compute.js';
export type { SlurmComputeOptions } from './compute.js';
export { SLURM_KIND, SlurmComputeTarget } from './target.js';
export type { SlurmNode, SlurmStatus, SlurmTargetSettings } from './target.js';
export { SlurmCommandFailed, SlurmCommands } from './commands.js';
export type { SlurmCommand, SlurmCommandOptions } from './commands.js';
export { SLURM_STATES, explain, phaseOf } from './states.js';
export type { JobInfo, Phase } from './states.js';
export type { StatusMode } from './status.js';
export { COMPUTE_SLURM_VERSION } from './version.js';
