/**
 * An AdlaStep whose data lives on an Azure Blob datastore (Azurite, Microsoft's storage emulator): the
 * script must get addresses U-SQL opens, `wasb://<container>@<account>.blob.core.windows.net/<path>` with the
 * path URI-encoded, not the blobs' https:// URLs. The contract server's job stands in for U-SQL: it reads
 * each `FROM` address and writes each `TO` address on the emulator, as a Data Lake Analytics account with
 * the storage account registered would, and fails for an address it cannot open.
 */
import path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { DataReference, Pipeline, PipelineData } from '@sluice/core';
import { Datastore } from '@sluice/datastore-azure';
import { Experiment, Workspace } from '@sluice/runtime';
import { azuriteAddress, startAzurite, type AzuriteInstance } from '@sluice/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AdlaStep, attachAdlaCompute } from '../index.js';
import { usqlAddress } from '../plugin.js';
import { ContractServer, failed, type ContractJob, type JobOutcome } from './contract-server.js';
import { dedent, tempDir } from './helpers.js';

const ORDERS = 'id,region,amount\n1,EU,12.5\n2,US,8\n';
const SCRIPT = dedent(`
  @orders = EXTRACT id int, region string, amount decimal FROM "@@orders@@" USING Extractors.Csv(skipFirstLines: 1);
  OUTPUT @orders TO "@@summary@@/orders.csv" USING Outputters.Csv(outputHeader: true);
`);

let azurite: AzuriteInstance;
let server: ContractServer;
beforeAll(async () => {
  azurite = await startAzurite();
  server = await ContractServer.start();
});
afterAll(async () => {
  await server?.close();
  await azurite?.stop();
});

/** The U-SQL job: copy the `FROM` blob to each `TO` blob, reaching the emulator by the wasb:// address. */
async function blobCopyJob(job: ContractJob): Promise<JobOutcome> {
  const sdk = await import('@azure/storage-blob');
  const service = sdk.BlobServiceClient.fromConnectionString(azurite.connectionString);
  const blob = (address: string) => {
    if (!address.startsWith('wasb://')) throw new Error(`U-SQL does not open ${address}`);
    const { container, path: encoded } = azuriteAddress(azurite, address);
    // U-SQL file paths are URIs: the path is percent-encoded
    const name = encoded.split('/').map(decodeURIComponent).join('/');
    return service.getContainerClient(container).getBlockBlobClient(name);
  };
  try {
    const sources = [...job.script.matchAll(/\bFROM\s+"([^"]+)"/gi)].map((m) => blob(m[1]!));
    const targets = [...job.script.matchAll(/\bTO\s+"([^"]+)"/gi)].map((m) => blob(m[1]!));
    const bytes = Buffer.concat(await Promise.all(sources.map((source) => source.downloadToBuffer())));
    for (const target of targets) await target.upload(bytes, bytes.byteLength);
    return { result: 'Succeeded' };
  } catch (error) {
    return failed('E_STORE_USER_FILENOTFOUND', (error as Error).message);
  }
}

it('hands U-SQL wasb:// addresses of an Azure datastore, URI-encoded, and the job reads and writes there', async () => {
  const dir = await tempDir();
  const ws = Workspace.create(path.join(dir, 'workspace'));
  try {
    const lake = Datastore.registerAzureBlobContainer(ws, {
      name: 'lake',
      containerName: 'adla-data',
      accountUrl: azurite.blobEndpoint,
      accountName: azurite.accountName,
      accountKey: azurite.accountKey,
      createContainerIfMissing: true,
    });
    await lake.write('raw/orders eu.csv', new TextEncoder().encode(ORDERS));
    await attachAdlaCompute(ws, 'adla', {
      accountName: 'contosoadla',
      resourceGroup: 'analytics',
      jobEndpoint: server.url,
      credential: { token: server.token },
      pollIntervalMs: 5,
    });
    const sourceDirectory = path.join(dir, 'usql');
    await mkdir(sourceDirectory, { recursive: true });
    await writeFile(path.join(sourceDirectory, 'copy.usql'), SCRIPT);
    server.outcome = blobCopyJob;

    const step = new AdlaStep({
      name: 'summarise',
      scriptName: 'copy.usql',
      sourceDirectory,
      computeTarget: 'adla',
      inputs: [
        new DataReference({ datastore: 'lake', pathOnDatastore: 'raw/orders eu.csv', name: 'orders' }),
      ],
      outputs: [new PipelineData('summary', { datastore: 'lake' })],
    });
    const run = await new Experiment(ws, 'orders').submit(new Pipeline({ name: 'orders', steps: [step] }));
    expect(await run.waitForCompletion()).toBe('Finished');

    const output = run.findStepRun('summarise').getOutputData('summary').pathOnDatastore;
    const job = [...server.jobs.values()].at(-1)!;
    expect(job.script).toContain(
      'FROM "wasb://adla-data@devstoreaccount1.blob.core.windows.net/raw/orders%20eu.csv"',
    );
    expect(job.script).toContain(
      `TO "wasb://adla-data@devstoreaccount1.blob.core.windows.net/${output}/orders.csv"`,
    );
    expect(job.script).not.toMatch(/https?:\/\//);
    // what the job wrote at that address is the step's output on the datastore
    const chunks: Buffer[] = [];
    for await (const chunk of (await lake.read(`${output}/orders.csv`)) as AsyncIterable<Buffer>) {
      chunks.push(chunk);
    }
    expect(Buffer.concat(chunks).toString()).toBe(ORDERS);
  } finally {
    await ws.close();
  }
});

it('URI-encodes only the path of adl:// and wasb:// addresses, and leaves others as they are', () => {
  expect(usqlAddress('wasb://c@acct.blob.core.windows.net/a b/ü#1.csv')).toBe(
    'wasb://c@acct.blob.core.windows.net/a%20b/%C3%BC%231.csv',
  );
  expect(usqlAddress('adl://acct.azuredatalakestore.net/x "y"')).toBe(
    'adl://acct.azuredatalakestore.net/x%20%22y%22',
  );
  expect(usqlAddress('wasb://c@acct.blob.core.windows.net')).toBe('wasb://c@acct.blob.core.windows.net/');
  expect(usqlAddress('file:///tmp/a%20b')).toBe('file:///tmp/a%20b');
});
