import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '@sluice/core';
import { Workspace, WORKSPACE_CONFIG_FILE } from '@sluice/runtime';
import { expectCode, startAzurite, type AzuriteInstance } from '@sluice/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Datastore, azureBlobDatastore, registerAzureBlobContainer } from '../index.js';
import { accountSas } from './helpers.js';

// Runs against Azurite, Microsoft's storage emulator: a real blob service over HTTP, no mocks.
let azurite: AzuriteInstance;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

let dir: string;
let ws: Workspace;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-azure-ws-'));
  ws = Workspace.create(dir);
});
afterEach(async () => {
  await ws.close();
  await rm(dir, { recursive: true, force: true });
});

const configText = (): string => readFileSync(join(dir, WORKSPACE_CONFIG_FILE), 'utf8');
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('registerAzureBlobContainer', () => {
  it('keeps the account key out of the config and describe(), and a reopened workspace gets the datastore back', async () => {
    const store = Datastore.registerAzureBlobContainer(ws, {
      name: 'lake',
      containerName: 'register-key',
      accountUrl: azurite.blobEndpoint,
      accountName: azurite.accountName,
      accountKey: azurite.accountKey,
      pathPrefix: 'team/a',
      createContainerIfMissing: true,
      setDefault: true,
    });
    expect(store.kind).toBe('azure-blob');
    await store.write('hello.txt', bytes('hello'));

    const config = JSON.parse(configText());
    expect(configText()).not.toContain(azurite.accountKey);
    expect(config.plugins).toEqual(['@sluice/datastore-azure']);
    expect(config.defaultDatastore).toBe('lake');
    expect(config.datastores.lake).toEqual({
      provider: 'azure-blob',
      options: {
        containerName: 'register-key',
        accountUrl: azurite.blobEndpoint,
        accountName: azurite.accountName,
        accountKey: { secret: 'datastore/lake/accountKey' },
        pathPrefix: 'team/a',
        createContainerIfMissing: true,
      },
    });
    const described = store.describe();
    expect(JSON.stringify(described)).not.toContain(azurite.accountKey);
    expect(JSON.stringify(store.inner)).not.toContain(azurite.accountKey);
    expect(described).toEqual({
      kind: 'azure-blob',
      name: 'lake',
      accountUrl: azurite.blobEndpoint,
      container: 'register-key',
      pathPrefix: 'team/a',
      credential: 'sharedKey',
      credentialSource: 'account key from secret datastore/lake/accountKey',
    });
    const secrets = join(dir, '.sluice', 'secrets.json');
    expect(JSON.parse(readFileSync(secrets, 'utf8'))['datastore/lake/accountKey']).toBe(azurite.accountKey);
    expect(statSync(secrets).mode & 0o077).toBe(0);
    await ws.close();

    ws = Workspace.open(dir);
    // the provider comes from the plugin package named in the config, loaded by ready()
    expect(() => ws.datastore('lake')).toThrow(expect.objectContaining({ code: 'PLUGIN_NOT_REGISTERED' }));
    await ws.ready();
    const again = ws.getDefaultDatastore();
    expect(again.name).toBe('lake');
    expect(again.kind).toBe('azure-blob');
    expect(await again.list('')).toMatchObject([{ path: 'hello.txt', size: 5 }]);
    expect(again.uri!('hello.txt', 'wasbs')).toBe(
      `wasbs://register-key@${azurite.accountName}.blob.core.windows.net/team/a/hello.txt`,
    );
  });

  it('keeps hierarchicalNamespace, so a reopened datastore still gives abfss:// addresses', async () => {
    registerAzureBlobContainer(ws, {
      name: 'gen2',
      containerName: 'register-gen2',
      accountUrl: 'https://contosolake.blob.core.windows.net',
      credential: 'default',
      hierarchicalNamespace: true,
    });
    expect(JSON.parse(configText()).datastores.gen2.options).toEqual({
      containerName: 'register-gen2',
      accountUrl: 'https://contosolake.blob.core.windows.net',
      credential: 'default',
      hierarchicalNamespace: true,
    });
    await ws.close();
    ws = Workspace.open(dir);
    await ws.ready();
    expect(ws.datastore('gen2').uriSchemes).toEqual(['https', 'wasbs', 'wasb', 'abfss']);
    expect(ws.datastore('gen2').uri!('x/y.parquet', 'abfss')).toBe(
      'abfss://register-gen2@contosolake.dfs.core.windows.net/x/y.parquet',
    );
    expect(() =>
      registerAzureBlobContainer(ws, {
        name: 'bad',
        containerName: 'register-gen2',
        accountName: 'contosolake',
        credential: 'default',
        hierarchicalNamespace: 'yes' as never,
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'WORKSPACE_CONFIG_INVALID',
        message: expect.stringMatching(/hierarchicalNamespace must be true or false/),
      }),
    );
    expect(ws.listDatastores()).not.toContain('bad');
  });

  it('stores a connection string or a SAS token as a secret, or refers to an environment variable', async () => {
    Datastore.registerAzureBlobContainer(ws, {
      name: 'by_connection',
      containerName: 'register-other',
      connectionString: azurite.connectionString,
      createContainerIfMissing: true,
    });
    await ws.datastore('by_connection').write('a.txt', bytes('a'));
    const sas = await accountSas(azurite);
    registerAzureBlobContainer(ws, {
      name: 'by_sas',
      containerName: 'register-other',
      accountUrl: azurite.blobEndpoint,
      sasToken: sas,
    });
    expect(await ws.datastore('by_sas').exists('a.txt')).toBe(true);
    process.env.SLUICE_TEST_AZURE_KEY = azurite.accountKey;
    try {
      registerAzureBlobContainer(ws, {
        name: 'by_env',
        containerName: 'register-other',
        accountUrl: azurite.blobEndpoint,
        accountKey: { env: 'SLUICE_TEST_AZURE_KEY' },
      });
      expect(await ws.datastore('by_env').exists('a.txt')).toBe(true);
      expect(ws.datastore('by_env').describe().credentialSource).toBe(
        'account key from environment variable SLUICE_TEST_AZURE_KEY',
      );
    } finally {
      delete process.env.SLUICE_TEST_AZURE_KEY;
    }
    const text = configText();
    expect(text).not.toContain(azurite.accountKey);
    expect(text).not.toContain(sas);
    expect(text).not.toContain('AccountKey=');
    expect(JSON.parse(text).datastores.by_sas.options.sasToken).toEqual({
      secret: 'datastore/by_sas/sasToken',
    });
    expect(JSON.stringify(ws.datastore('by_connection').describe())).not.toContain(azurite.accountKey);
    expect(ws.datastore('by_connection').describe().accountUrl).toBe(azurite.blobEndpoint);
    expect(JSON.stringify(ws.datastore('by_sas').describe())).not.toContain(sas);
  });

  it('refuses bad arguments before changing anything', () => {
    const base = { name: 'x', containerName: 'fine-name', accountUrl: azurite.blobEndpoint };
    expect(() => registerAzureBlobContainer(ws, { ...base, containerName: 'Bad_Name' })).toThrow(
      expect.objectContaining({ code: 'WORKSPACE_CONFIG_INVALID' }),
    );
    expect(() => registerAzureBlobContainer(ws, base)).toThrow(/say how to authenticate/);
    expect(() =>
      registerAzureBlobContainer(ws, { ...base, accountKey: 'k', sasToken: 's', accountName: 'a' }),
    ).toThrow(/one way to authenticate/);
    expect(() =>
      registerAzureBlobContainer(ws, {
        ...base,
        accountUrl: `${azurite.blobEndpoint}?sv=1&sig=abc`,
        sasToken: 's',
      }),
    ).toThrow(/sasToken/);
    expect(JSON.parse(configText()).datastores.x).toBeUndefined();
    expect(JSON.parse(configText()).plugins).toEqual([]);
  });

  it('refuses a secret written in plain text into the workspace config, and names a missing secret', () => {
    ws.registry.ensure(azureBlobDatastore());
    expect(() =>
      ws.registerDatastore('plain', {
        provider: 'azure-blob',
        options: { containerName: 'c1c', accountUrl: azurite.blobEndpoint, accountKey: 'in-plain-text' },
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'WORKSPACE_CONFIG_INVALID',
        message: expect.stringMatching(/plain text/),
      }),
    );
    expect(() =>
      ws.registerDatastore('unset', {
        provider: 'azure-blob',
        options: {
          containerName: 'c1c',
          accountUrl: azurite.blobEndpoint,
          accountKey: { secret: 'datastore/unset/accountKey' },
        },
      }),
    ).toThrow(/ws\.setSecret\('datastore\/unset\/accountKey'.*SLUICE_SECRET_DATASTORE_UNSET_ACCOUNTKEY/);
  });
});

describe('errors', () => {
  it('a wrong account key is a coded error that says what to check', async () => {
    const wrongKey = Buffer.from('not the key of this account at all, not at all!!').toString('base64');
    const store = registerAzureBlobContainer(ws, {
      name: 'wrong',
      containerName: 'errors-key',
      accountUrl: azurite.blobEndpoint,
      accountName: azurite.accountName,
      accountKey: wrongKey,
    });
    for (const call of [
      () => store.exists('a.txt'),
      () => store.list(''),
      () => store.write('a.txt', bytes('a')),
    ]) {
      await expectCode(call, 'DATASTORE_AUTH_FAILED');
    }
    const error = (await store.exists('a.txt').catch((caught: unknown) => caught)) as SluiceError;
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.message).toMatch(/refused the credentials of datastore "wrong"/);
    expect(error.message).toMatch(/account key \(account key from secret datastore\/wrong\/accountKey\)/);
    expect(error.message).not.toContain(wrongKey);
    expect(JSON.stringify(error)).not.toContain(wrongKey);
    expect(error.details).toMatchObject({
      reason: 'authentication',
      status: 403,
    });
  });

  it('a SAS token without write permission is refused with the same code', async () => {
    const setup = registerAzureBlobContainer(ws, {
      name: 'setup',
      containerName: 'errors-sas',
      connectionString: azurite.connectionString,
      createContainerIfMissing: true,
    });
    await setup.exists('x');
    const sdk = await import('@azure/storage-blob');
    const readOnly = sdk
      .generateAccountSASQueryParameters(
        {
          expiresOn: new Date(Date.now() + 3_600_000),
          permissions: sdk.AccountSASPermissions.parse('rl'),
          resourceTypes: 'sco',
          services: 'b',
        },
        new sdk.StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
      )
      .toString();
    const store = registerAzureBlobContainer(ws, {
      name: 'readonly',
      containerName: 'errors-sas',
      accountUrl: azurite.blobEndpoint,
      sasToken: readOnly,
    });
    expect(await store.exists('x')).toBe(false);
    await expectCode(() => store.write('x', bytes('x')), 'DATASTORE_AUTH_FAILED');
    const error = (await store.write('x', bytes('x')).catch((caught: unknown) => caught)) as SluiceError;
    expect(error.message).toMatch(
      /Check the SAS token \(SAS token from secret datastore\/readonly\/sasToken\)/,
    );
    expect(JSON.stringify(error)).not.toContain(new URLSearchParams(readOnly).get('sig'));
  });

  it('a missing container is DATASTORE_NOT_FOUND unless createContainerIfMissing', async () => {
    const store = registerAzureBlobContainer(ws, {
      name: 'nocontainer',
      containerName: 'does-not-exist',
      connectionString: azurite.connectionString,
    });
    for (const call of [
      () => store.exists('a.txt'),
      () => store.list('a'),
      () => store.read('a.txt'),
      () => store.contentIdentity('a'),
      () => store.write('a.txt', bytes('a')),
    ]) {
      await expectCode(call, 'DATASTORE_NOT_FOUND');
    }
    const message = await store.exists('a').catch((error: Error) => error.message);
    expect(message).toMatch(/container "does-not-exist" does not exist.*createContainerIfMissing: true/);
    const created = registerAzureBlobContainer(ws, {
      name: 'nocontainer',
      containerName: 'does-not-exist',
      connectionString: azurite.connectionString,
      createContainerIfMissing: true,
    });
    await created.write('a.txt', bytes('a'));
    expect(await created.exists('a.txt')).toBe(true);
  });

  it('an unreachable account is DATASTORE_NOT_FOUND naming the URL', async () => {
    const { AzureBlobDatastore } = await import('../index.js');
    const store = new AzureBlobDatastore('far', {
      accountUrl: 'http://127.0.0.1:9/devstoreaccount1',
      containerName: 'anything',
      credential: { kind: 'sharedKey', accountName: azurite.accountName, accountKey: azurite.accountKey },
      pipelineOptions: { retryOptions: { maxTries: 1 } },
    });
    await expectCode(() => store.exists('a'), 'DATASTORE_NOT_FOUND');
    expect(await store.exists('a').catch((error: Error) => error.message)).toMatch(
      /cannot reach http:\/\/127\.0\.0\.1:9\/devstoreaccount1/,
    );
  });
});
