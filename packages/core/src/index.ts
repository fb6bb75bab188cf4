export { ERROR_CODES, SluiceError, isSluiceError } from './errors.js';
export type { SluiceErrorCode, SluiceErrorOptions } from './errors.js';
export { CORE_VERSION } from './version.js';
export {
  PipelineParameter,
  coerceParameterValue,
  isPipelineParameter,
  resolveParameterValues,
} from './parameters.js';
export type { ParameterType, ParameterValue, PipelineParameterOptions } from './parameters.js';
export {
  DEFAULT_DESTINATION_PATH,
  DataReference,
  InputBinding,
  OutputFileDatasetConfig,
  PipelineData,
  datastoreName,
  isExternalData,
  isInputBinding,
  isProducedData,
  toInputBinding,
} from './bindings.js';
export type {
  DataReferenceOptions,
  DataSource,
  DatastoreLike,
  DeliveryMode,
  ExternalData,
  InputLike,
  OutputFileDatasetConfigOptions,
  OutputLike,
  PipelineDataOptions,
  ProducedData,
} from './bindings.js';
export {
  CondaDependencies,
  DEFAULT_ENVIRONMENT_NAME,
  Environment,
  RunConfiguration,
  SECRET_PREFIX,
  checkResources,
} from './environment.js';
export type {
  EnvironmentOptions,
  EnvironmentPython,
  EnvironmentReference,
  PipIndexOptions,
  RunConfigurationOptions,
} from './environment.js';
export { Step, canonicalArgument, defineStep, stepDisplayName, stepId } from './step.js';
export type {
  ComputeTargetLike,
  DefineStepOptions,
  StepArgument,
  StepBaseOptions,
  StepDefinition,
} from './step.js';
export { Pipeline } from './pipeline.js';
export type { PipelineEdge, PipelineGraphJson, PipelineOptions, StepList } from './pipeline.js';
export { PluginRegistry } from './registry.js';
export type {
  AnyPlugin,
  ComputeConfiguration,
  ComputeProviderPlugin,
  ComputeTarget,
  ContentIdentity,
  DataLocation,
  Datastore,
  DatastoreContext,
  DatastoreEntry,
  DatastoreProviderPlugin,
  JsonSchema,
  PluginBase,
  PluginContext,
  ComputeResources,
  ProcessJob,
  ProcessResult,
  ProcessRunHooks,
  SubmittedJob,
  SubmittedJobState,
  ResolvedInput,
  StepExecutionContext,
  StepExecutionResult,
  MaterialisedPython,
  StepKindPlugin,
  StepLogs,
  StepValidationContext,
  TransferOptions,
  TransferProgress,
  UploadOptions,
} from './plugins.js';
export {
  FINGERPRINT_FORMAT,
  canonicalJson,
  combineFingerprint,
  contentPart,
  digestValue,
  manifestDigest,
  sha256,
  valuePart,
} from './fingerprint.js';
export type { FingerprintPart, FingerprintPartInput } from './fingerprint.js';
export { MemoryStatCache, hashFile, hashTree, listTree, loadIgnoreRules } from './tree-hash.js';
export type { HashTreeOptions, StatCache, StatCacheEntry, TreeHash, TreeWalkOptions } from './tree-hash.js';
export { diffFingerprints, diffManifests } from './explain.js';
export type { FingerprintChange } from './explain.js';
export { pipelineFromSpec, pipelineToSpec } from './pipeline-spec.js';
export type { DataSpec, FromSpecOptions, PipelineSpec, StepSpec, ToSpecOptions } from './pipeline-spec.js';
