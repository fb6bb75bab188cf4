import { afterAll, beforeAll } from 'vitest';
import { startAzurite, testDatastore, type AzuriteInstance } from '@sluice/testing';
import { AzureBlobDatastore } from '../index.js';
import { accountSas } from './helpers.js';

// One Azurite (Microsoft's storage emulator, a real HTTP blob service) for the file.
let azurite: AzuriteInstance;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

testDatastore('AzureBlobDatastore, account key, a path prefix, container created on first use', async () => {
  return {
    datastore: new AzureBlobDatastore('azure-key', {
      accountUrl: azurite.blobEndpoint,
      containerName: 'conformance-key',
      pathPrefix: 'some/prefix',
      createContainerIfMissing: true,
      credential: { kind: 'sharedKey', accountName: azurite.accountName, accountKey: azurite.accountKey },
    }),
  };
});

testDatastore('AzureBlobDatastore, SAS token, container root', async () => {
  const setup = new AzureBlobDatastore('setup', {
    containerName: 'conformance-sas',
    createContainerIfMissing: true,
    credential: { kind: 'connectionString', connectionString: azurite.connectionString },
  });
  await setup.exists('anything');
  return {
    datastore: new AzureBlobDatastore('azure-sas', {
      accountUrl: azurite.blobEndpoint,
      containerName: 'conformance-sas',
      credential: { kind: 'sas', sasToken: await accountSas(azurite) },
    }),
  };
});
