export {
  AzureBlobDatastore,
  SHA256_METADATA,
  MD5_METADATA,
  accountUrlFromConnectionString,
  contentHash,
} from './azure-blob-datastore.js';
export type { AzureBlobCredential, AzureBlobDatastoreSettings } from './azure-blob-datastore.js';
export {
  AZURE_BLOB_KIND,
  Datastore,
  accountNameFromUrl,
  azureBlobDatastore,
  createFromOptions,
  datastoreSecretName,
  registerAzureBlobContainer,
  sluicePlugins,
} from './provider.js';
export type {
  AzureBlobDatastoreOptions,
  RegisterAzureBlobContainerOptions,
  SecretReference,
} from './provider.js';
export { DATASTORE_AZURE_VERSION } from './version.js';
