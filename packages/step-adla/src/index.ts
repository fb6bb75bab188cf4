export { AdlaStep } from './adla-step.js';
export type { AdlaStepOptions } from './adla-step.js';
export { ADLA_STEP_KIND, adlaStep } from './plugin.js';
export type { AdlaParamValue, AdlaStepConfig } from './plugin.js';
export {
  ADLA_COMPUTE_KIND,
  AdlaComputeTarget,
  adlaCompute,
  adlaComputeProvider,
  attachAdlaCompute,
  computeSecretName,
} from './compute.js';
export type {
  AdlaComputeOptions,
  AdlaCredential,
  AttachAdlaComputeOptions,
  SecretReference,
} from './compute.js';
export {
  ADLA_API_VERSION,
  ADLA_JOB_DNS_SUFFIX,
  ADLA_TOKEN_SCOPE,
  AdlaJobClient,
  adlaJobId,
} from './job-client.js';
export type {
  AdlaJobClientOptions,
  AdlaJobErrorDetails,
  AdlaJobInformation,
  AdlaJobResult,
  AdlaJobState,
  AdlaRequestOptions,
  AdlaRetryOptions,
  UsqlJobRequest,
  WaitForJobOptions,
} from './job-client.js';
export { sluicePlugins } from './sluice-plugins.js';
export { STEP_ADLA_VERSION } from './version.js';
