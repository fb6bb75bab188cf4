export { testDatastore, expectCode, ESCAPING_PATHS } from './datastore-suite.js';
export type { DatastoreFixture, TestDatastoreOptions } from './datastore-suite.js';
export {
  startAzurite,
  azuriteBlobMain,
  freePort,
  AZURITE_ACCOUNT_NAME,
  AZURITE_ACCOUNT_KEY,
} from './azurite.js';
export type { AzuriteInstance, StartAzuriteOptions } from './azurite.js';
