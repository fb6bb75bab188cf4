import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { hashTree, type TransferProgress } from '@sluice/core';
import { expectCode, startAzurite, type AzuriteInstance } from '@sluice/testing';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureBlobDatastore, MD5_METADATA, SHA256_METADATA } from '../index.js';

// Runs against Azurite, Microsoft's storage emulator: a real blob service over HTTP, no mocks.
let azurite: AzuriteInstance;
let local: string;
let store: AzureBlobDatastore;
let container: ContainerClient;
beforeAll(async () => {
  azurite = await startAzurite();
  local = await mkdtemp(join(tmpdir(), 'sluice-azure-blob-'));
  store = new AzureBlobDatastore('blobs', {
    accountUrl: azurite.blobEndpoint,
    containerName: 'behaviour',
    createContainerIfMissing: true,
    credential: { kind: 'sharedKey', accountName: azurite.accountName, accountKey: azurite.accountKey },
  });
  await store.exists('x');
  const sdk = await import('@azure/storage-blob');
  container = sdk.BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    'behaviour',
  );
});
afterAll(async () => {
  await azurite?.stop();
  if (local) await rm(local, { recursive: true, force: true });
});

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = async (path: string): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of (await store.read(path)) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
};
function tree(name: string, files: Record<string, string | Buffer>): string {
  const root = join(local, name);
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return root;
}

describe('writing', () => {
  it('creates a blob for only one of two racing writers', async () => {
    const results = await Promise.allSettled(
      ['first', 'second', 'third'].map((who) => store.write('race/file.txt', bytes(who))),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results.filter((r) => r.status === 'rejected')) {
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'DATASTORE_FILE_EXISTS' });
    }
    expect(['first', 'second', 'third']).toContain(await text('race/file.txt'));
  });

  it('removes what a failed folder upload created: a racing writer took one of its paths', async () => {
    const files: Record<string, string> = {};
    for (let index = 0; index < 30; index += 1)
      files[`f${String(index).padStart(2, '0')}.txt`] = `file ${index}`;
    const source = tree('conflict', files);
    let other: Promise<void> | undefined;
    const upload = store.upload(source, 'conflict', {
      concurrency: 1,
      onProgress: (progress) => {
        if (progress.path === 'f00.txt') other = store.write('conflict/f29.txt', bytes('the other writer'));
      },
    });
    await expectCode(() => upload, 'DATASTORE_FILE_EXISTS');
    await other;
    expect((await store.list('conflict')).map((entry) => entry.path)).toEqual(['conflict/f29.txt']);
    expect(await text('conflict/f29.txt')).toBe('the other writer');
  });

  it('removes what a canceled folder upload created', async () => {
    const files: Record<string, string> = {};
    for (let index = 0; index < 20; index += 1) files[`part-${index}.txt`] = 'x'.repeat(index + 1);
    const source = tree('canceled', files);
    const controller = new AbortController();
    const events: TransferProgress[] = [];
    await expectCode(
      () =>
        store.upload(source, 'canceled', {
          concurrency: 2,
          signal: controller.signal,
          onProgress: (progress) => {
            events.push(progress);
            if (progress.files === 3) controller.abort();
          },
        }),
      'RUN_CANCELED',
    );
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(await store.exists('canceled')).toBe(false);
  });

  it('uploads large files in blocks with their MD5 and sha256, reporting bytes as blocks go up', async () => {
    const big = randomBytes(17 * 1024 * 1024 + 123);
    const source = tree('large', { 'big.bin': big, 'small.txt': 'small' });
    const events: TransferProgress[] = [];
    await store.upload(source, 'large', { onProgress: (progress) => events.push(progress) });
    expect(events.filter((event) => event.files === 0 && event.bytes > 0).length).toBeGreaterThan(0);
    const properties = await container.getBlobClient('large/big.bin').getProperties();
    expect(Buffer.from(properties.contentMD5!).toString('hex')).toBe(
      createHash('md5').update(big).digest('hex'),
    );
    expect(properties.metadata?.[SHA256_METADATA]).toBe(createHash('sha256').update(big).digest('hex'));
    // identities of what Sluice uploads are those of the same bytes on a local disk
    const identity = await store.contentIdentity('large');
    expect(identity.digest).toBe((await hashTree(source)).digest);
    expect(identity.bytes).toBe(big.length + 5);

    const back = join(local, 'large-back');
    await store.download('large', back);
    expect(readFileSync(join(back, 'big.bin')).equals(big)).toBe(true);

    // a large stream, written in blocks too
    await store.write(
      'large/streamed.bin',
      Readable.from([big.subarray(0, 9_000_000), big.subarray(9_000_000)]),
    );
    expect((await store.contentIdentity('large/streamed.bin')).digest).toBe(
      createHash('sha256').update(big).digest('hex'),
    );
  });

  it('replaces a folder by a file, and a file by a folder, when told to overwrite', async () => {
    await store.write('shape/dir/a.txt', bytes('a'));
    await store.write('shape/dir', bytes('now a file'), { overwrite: true });
    expect((await store.list('shape')).map((entry) => entry.path)).toEqual(['shape/dir']);
    await store.upload(tree('shape-src', { 'b.txt': 'b' }), 'shape/dir', { overwrite: true });
    expect((await store.list('shape')).map((entry) => entry.path)).toEqual(['shape/dir/b.txt']);
  });
});

describe('downloading', () => {
  it('refuses to download a folder holding a blob whose name is not a safe local path', async () => {
    await container.getBlockBlobClient('unsafe//double-slash.txt').upload('x', 1);
    await expectCode(() => store.download('unsafe', join(local, 'unsafe')), 'DATASTORE_PATH_ESCAPE');
  });
});

describe('content identity of blobs written by other tools', () => {
  it('uses the MD5 the service keeps, or the etag and size when a blob has none', async () => {
    const withMd5 = container.getBlockBlobClient('other/with-md5.txt');
    await withMd5.upload('abc', 3);
    const md5 = createHash('md5').update('abc').digest('hex');
    expect(await store.contentIdentity('other/with-md5.txt')).toEqual({
      type: 'file',
      digest: `md5:${md5}`,
      files: { 'with-md5.txt': `md5:${md5}` },
      bytes: 3,
    });
    expect(await store.list('other/with-md5.txt')).toMatchObject([{ contentHash: `md5:${md5}`, size: 3 }]);

    const blocks = container.getBlockBlobClient('other/no-md5.txt');
    const id = Buffer.from('block-0').toString('base64');
    await blocks.stageBlock(id, 'abcd', 4);
    await blocks.commitBlockList([id]);
    const properties = await blocks.getProperties();
    expect(properties.contentMD5).toBeUndefined();
    const identity = await store.contentIdentity('other');
    expect(identity.files['no-md5.txt']).toBe(`etag:${properties.etag!.replaceAll('"', '')}:4`);
    expect((await store.contentIdentity('other/no-md5.txt')).digest).toBe(identity.files['no-md5.txt']);
    expect(identity.files['with-md5.txt']).toBe(`md5:${md5}`);
    // the same bytes uploaded again give a new etag: the identity changes (erring on the side of re-running)
    await blocks.stageBlock(id, 'abcd', 4);
    await blocks.commitBlockList([id]);
    expect((await store.contentIdentity('other')).files['no-md5.txt']).not.toBe(identity.files['no-md5.txt']);
  });

  it('ignores a recorded sha256 once the bytes changed under metadata that was carried over', async () => {
    await store.write('carried/file.txt', bytes('original'));
    const before = await store.contentIdentity('carried/file.txt');
    expect(before.digest).toBe(createHash('sha256').update('original').digest('hex'));
    const blob = container.getBlockBlobClient('carried/file.txt');
    const { metadata } = await blob.getProperties();
    expect(metadata?.[MD5_METADATA]).toBe(createHash('md5').update('original').digest('hex'));
    await blob.upload('changed!', 8, { metadata });
    const after = await store.contentIdentity('carried/file.txt');
    expect(after.digest).toBe(`md5:${createHash('md5').update('changed!').digest('hex')}`);
  });

  it('keeps Content-MD5 and the recorded sha256 through a server-side copy', async () => {
    await store.write('copy/source.txt', bytes('copy me'));
    await store.copy('copy/source.txt', 'copy/target.txt');
    const source = await container.getBlobClient('copy/source.txt').getProperties();
    const target = await container.getBlobClient('copy/target.txt').getProperties();
    expect(Buffer.from(target.contentMD5!).equals(Buffer.from(source.contentMD5!))).toBe(true);
    expect(target.metadata).toEqual(source.metadata);
  });
});

describe('loading', () => {
  it('does not load the Azure SDKs when the package is imported', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const hooks = `data:text/javascript,${encodeURIComponent(
      `export async function resolve(specifier, context, next) {
        if (specifier.startsWith('@azure/')) process.stderr.write('LOADED ' + specifier + '\\n');
        return next(specifier, context);
      }`,
    )}`;
    const script = `
      import { register } from 'node:module';
      register(${JSON.stringify(hooks)});
      const azure = await import('@sluice/datastore-azure');
      const plugin = azure.sluicePlugins()[0];
      const store = plugin.createDatastore('d', { containerName: 'c-c', credential: 'default', accountUrl: 'https://a.blob.core.windows.net' }, { workspaceDir: '.', secret: () => undefined });
      console.log(JSON.stringify(store.describe()));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(JSON.parse(output)).toEqual({
      kind: 'azure-blob',
      name: 'd',
      accountUrl: 'https://a.blob.core.windows.net',
      container: 'c-c',
      pathPrefix: '',
      credential: 'default',
      credentialSource: 'DefaultAzureCredential',
    });
  });
});

describe('addresses', () => {
  it('gives each path the URL of its blob, with no credentials in it', async () => {
    await store.write('folder/with space/ü.txt', bytes('x'), { overwrite: true });
    const url = store.uri('folder/with space/ü.txt');
    expect(url.startsWith(`${store.accountUrl}/${store.containerName}/`)).toBe(true);
    expect(url).not.toMatch(/sig=|AccountKey/);
    const blob = container.getBlobClient(
      decodeURIComponent(new URL(url).pathname.split('/').slice(3).join('/')),
    );
    expect((await blob.downloadToBuffer()).toString()).toBe('x');
  });

  it('gives Spark and U-SQL addresses of the blob: wasbs:// and wasb://, abfss:// with a hierarchical namespace', async () => {
    // the emulator's path-style URL: the account is named by the path
    expect(store.uriSchemes).toEqual(['https', 'wasbs', 'wasb']);
    expect(store.uri('folder/with space/ü.txt', 'wasbs')).toBe(
      'wasbs://behaviour@devstoreaccount1.blob.core.windows.net/folder/with space/ü.txt',
    );
    expect(store.uri('folder', 'wasb')).toBe(
      'wasb://behaviour@devstoreaccount1.blob.core.windows.net/folder',
    );
    expect(store.uri('folder', 'https')).toBe(store.uri('folder'));
    expect(() => store.uri('folder', 'abfss')).toThrow(
      expect.objectContaining({
        code: 'OPTION_INVALID',
        message: expect.stringMatching(
          /gives https, wasbs, wasb addresses, not abfss\. .*hierarchicalNamespace: true/,
        ),
      }),
    );
    expect(() => store.uri('../x', 'wasbs')).toThrow(
      expect.objectContaining({ code: 'DATASTORE_PATH_ESCAPE' }),
    );

    const key = azurite.accountKey;
    const lake = new AzureBlobDatastore('lake', {
      accountUrl: 'https://contosolake.blob.core.windows.net/',
      containerName: 'curated',
      pathPrefix: 'team/a',
      hierarchicalNamespace: true,
      credential: { kind: 'default' },
    });
    expect(lake.uriSchemes).toEqual(['https', 'wasbs', 'wasb', 'abfss']);
    expect(lake.uri('raw/x.csv', 'abfss')).toBe(
      'abfss://curated@contosolake.dfs.core.windows.net/team/a/raw/x.csv',
    );
    expect(lake.uri('raw/x.csv', 'wasbs')).toBe(
      'wasbs://curated@contosolake.blob.core.windows.net/team/a/raw/x.csv',
    );
    expect(lake.uri('', 'wasbs')).toBe('wasbs://curated@contosolake.blob.core.windows.net/team/a');
    expect(lake.uri('raw/x.csv')).toBe('https://contosolake.blob.core.windows.net/curated/team/a/raw/x.csv');
    expect(lake.describe()).toMatchObject({ hierarchicalNamespace: true });

    // another cloud keeps its endpoint suffix, from the URL or the connection string
    const china = new AzureBlobDatastore('china', {
      accountUrl: 'https://contoso.blob.core.chinacloudapi.cn',
      containerName: 'c',
      hierarchicalNamespace: true,
      credential: { kind: 'sharedKey', accountName: 'contoso', accountKey: key },
    });
    expect(china.uri('p', 'abfss')).toBe('abfss://c@contoso.dfs.core.chinacloudapi.cn/p');
    const gov = new AzureBlobDatastore('gov', {
      containerName: 'c',
      credential: {
        kind: 'connectionString',
        connectionString: `DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=${key};EndpointSuffix=core.usgovcloudapi.net`,
      },
    });
    expect(gov.uri('p', 'wasbs')).toBe('wasbs://c@contoso.blob.core.usgovcloudapi.net/p');
    expect(gov.uri('p', 'wasbs')).not.toContain(key);

    // a custom domain names no account: only the blob URL, unless the account name is given
    const custom = new AzureBlobDatastore('custom', {
      accountUrl: 'https://files.contoso.com',
      containerName: 'c',
      credential: { kind: 'sas', sasToken: 'sv=2024&sig=secret' },
    });
    expect(custom.uriSchemes).toEqual(['https']);
    expect(() => custom.uri('p', 'wasbs')).toThrow(
      expect.objectContaining({ code: 'OPTION_INVALID', message: expect.stringMatching(/accountName/) }),
    );
    const named = new AzureBlobDatastore('named', {
      accountUrl: 'https://files.contoso.com',
      accountName: 'contoso',
      containerName: 'c',
      credential: { kind: 'sas', sasToken: 'sv=2024&sig=secret' },
    });
    expect(named.uri('p', 'wasbs')).toBe('wasbs://c@contoso.blob.core.windows.net/p');
  });
});
