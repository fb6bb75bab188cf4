export {
  Workspace,
  WORKSPACE_CONFIG_FILE,
  WORKSPACE_DATA_DIR,
  DEFAULT_COMPUTE,
  DEFAULT_DATASTORE,
} from './workspace.js';
export type { CreateWorkspaceOptions, DatastoreConfiguration, WorkspaceConfig } from './workspace.js';
export { WORKSPACE_SCHEMA } from './config-schema.js';
export { Datastore, WorkspaceDatastore } from './datastore.js';
export type { UploadFilesOptions } from './datastore.js';
export { LocalDatastore, localDatastoreProvider, normaliseStorePath } from './local-datastore.js';
export type { LocalDatastoreOptions } from './local-datastore.js';
export { LocalComputeTarget, localCompute, localComputeProvider } from './local-compute.js';
export type { LocalComputeOptions } from './local-compute.js';
export { AmlCompute, ComputeTarget, ComputeTargetException } from './compute-target.js';
export type { ProvisioningConfiguration } from './compute-target.js';
export { Experiment, OutputData, PipelineRun, StepRun } from './experiment.js';
export type {
  OutputDestination,
  PublishedPipelineInfo,
  StepExplanation,
  SubmitOptions,
  WaitOptions,
} from './experiment.js';
export { PARTIAL_DIR, pipelineDataPath } from './executor.js';
export type { CancelOptions } from './executor.js';
export {
  ENVIRONMENTS_DIR,
  listEnvironments,
  materialiseEnvironment,
  pruneEnvironments,
  stepRunEnvironment,
} from './environments.js';
export type {
  CachedEnvironment,
  EnvironmentLock,
  MaterialiseOptions,
  MaterialisedEnvironment,
  PruneOptions,
  PrunedEnvironment,
} from './environments.js';
export { collectGarbage, parseDuration } from './gc.js';
export type { GcItem, GcOptions, GcReport } from './gc.js';
export {
  AbstractDataset,
  DATASET_IDENTITY_FORMAT,
  Dataset,
  FileDataset,
  TabularDataset,
  isDataset,
  registerOutputDataset,
} from './dataset.js';
export type {
  CellValue,
  ColumnSummary,
  ColumnType,
  DatasetDatastore,
  DatasetEncoding,
  DatasetKind,
  DatasetPath,
  DatasetPathTuple,
  DatasetPaths,
  DatasetRegistration,
  DelimitedFilesOptions,
  DownloadDatasetOptions,
  FilterOperator,
  FilterValue,
  RegisterDatasetOptions,
  RegisterOutputDatasetOptions,
  TabularRecord,
  Transformation,
} from './dataset.js';
export { isResolvableData } from './resolvable-data.js';
export type { ResolvableData } from './resolvable-data.js';
export type { RunEvent, RunEventListener } from './events.js';
export { LEASE_TTL_MS, RunStore, TERMINAL_STEP_STATUSES } from './store.js';
export type {
  DatasetRecord,
  DestinationRecord,
  GitInfo,
  LeaseHolder,
  MetricRecord,
  OutputRecord,
  RemoteJobRecord,
  PipelineRunRecord,
  RanReason,
  RunStatus,
  RunFilter,
  RunStoreOptions,
  StoreRunResult,
  StoreStatement,
  StepRunRecord,
  StepStatus,
} from './store.js';
export { gitInfo, takeSnapshot } from './snapshot.js';
export type { Snapshot } from './snapshot.js';
export { RUNTIME_VERSION } from './version.js';
