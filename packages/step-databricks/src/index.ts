export { DatabricksStep, DEFAULT_NODE_TYPE, DEFAULT_SPARK_VERSION } from './databricks-step.js';
export type {
  DatabricksCluster,
  DatabricksCode,
  DatabricksStepConfig,
  DatabricksStepOptions,
  NotebookParamValue,
} from './databricks-step.js';
export { databricksStep, snapshotDbfsFolder } from './plugin.js';
export {
  DEFAULT_TOKEN_VARIABLE,
  accessTokenSecretName,
  attachDatabricksCompute,
  databricksCompute,
  databricksComputeProvider,
  sluicePlugins,
} from './compute.js';
export type { AttachDatabricksComputeOptions, DatabricksComputeOptions, SecretReference } from './compute.js';
export { DATABRICKS_KIND, DatabricksComputeTarget } from './target.js';
export { DBFS_BLOCK_BYTES, DatabricksClient } from './client.js';
export type {
  DatabricksClientOptions,
  DatabricksLibrary,
  LifeCycleState,
  NewCluster,
  RequestOptions,
  RunInfo,
  RunLifecycleStateV2,
  RunOutput,
  RunState,
  RunStatus,
  RunSubmitRequest,
  SubmitTask,
  TerminationDetails,
} from './client.js';
export { AZURE_DATABRICKS_APP_ID, AZURE_DATABRICKS_SCOPE, AZURE_MANAGEMENT_SCOPE } from './auth.js';
export { AUTH_FAILED_CODE, REQUEST_FAILED_CODE } from './errors.js';
export { STEP_DATABRICKS_VERSION } from './version.js';
