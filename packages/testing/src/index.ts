export { testDatastore, expectCode, ESCAPING_PATHS } from './datastore-suite.js';
export type { DatastoreFixture, TestDatastoreOptions } from './datastore-suite.js';
export { testStepKind, RUNTIME_FINGERPRINT_PARTS } from './step-kind-suite.js';
export type {
  MakeStepOptions,
  StepBehaviour,
  StepKindFixture,
  TestStepKindOptions,
} from './step-kind-suite.js';
export { testComputeProvider } from './compute-suite.js';
export type { ComputeProviderFixture, TestComputeProviderOptions } from './compute-suite.js';
export {
  startAzurite,
  azuriteBlobMain,
  freePort,
  azuriteAddress,
  AZURITE_ACCOUNT_NAME,
  AZURITE_ACCOUNT_KEY,
} from './azurite.js';
export type { AzuriteInstance, StartAzuriteOptions } from './azurite.js';
export { nodeStep, nodeStepPlugin } from './node-step.js';
export type { NodeStepConfig } from './node-step.js';
