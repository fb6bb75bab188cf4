/**
 * DatabricksSteps whose data lives on an Azure Blob datastore (Azurite, Microsoft's storage emulator): the
 * notebook or script must be handed addresses Spark opens — `wasbs://<container>@<account>.blob.core.windows.net/<path>`,
 * or `abfss://<container>@<account>.dfs.core.windows.net/<path>` for an account with a hierarchical namespace —
 * not the blobs' https:// URLs. The contract server's job stands in for the notebook: it opens each
 * wasbs:// / abfss:// parameter on the emulator (as a cluster configured for the account would), reads
 * the inputs and writes a file into each output, and fails on an address it cannot open.
 */
import { randomBytes } from 'node:crypto';
import { DataReference, Pipeline, PipelineData } from '@sluice/core';
import { Datastore } from '@sluice/datastore-azure';
import { Experiment, Workspace, type WorkspaceDatastore } from '@sluice/runtime';
import { azuriteAddress, startAzurite, type AzuriteInstance } from '@sluice/testing';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { DatabricksStep, attachDatabricksCompute, type DatabricksStepOptions } from '../index.js';
import { ContractServer, type JobContext } from './contract-server.js';
import { tempDir } from './helpers.js';

const SUBMIT = '/api/2.1/jobs/runs/submit';
const token = `dapi${randomBytes(16).toString('hex')}`;
let azurite: AzuriteInstance;
let server: ContractServer;
beforeAll(async () => {
  azurite = await startAzurite();
  server = await ContractServer.start({ token, job: sparkOnAzurite });
});
afterAll(async () => {
  await server?.close();
  await azurite?.stop();
});
const open: Workspace[] = [];
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
});

/**
 * The notebook: every parameter that is a Spark address of the emulator's account is opened there. One
 * holding blobs is an input, read; an empty one an output, written with a listing of what was read.
 */
async function sparkOnAzurite({ parameters }: JobContext): Promise<void> {
  const sdk = await import('@azure/storage-blob');
  const service = sdk.BlobServiceClient.fromConnectionString(azurite.connectionString);
  const read: string[] = [];
  const outputs: Array<{ container: string; path: string }> = [];
  for (const value of new Set(parameters.map((parameter) => parameter.value))) {
    if (!/^(wasbs|abfss):\/\//.test(value)) {
      if (/^https?:\/\//.test(value)) throw new Error(`Spark cannot open ${value}: no FileSystem for scheme`);
      continue;
    }
    const { container, path } = azuriteAddress(azurite, value);
    const blobs = service.getContainerClient(container).listBlobsFlat({ prefix: `${path}/` });
    const names: string[] = [];
    for await (const blob of blobs) names.push(blob.name.slice(path.length + 1));
    if (names.length === 0) outputs.push({ container, path });
    else read.push(...names.sort().map((name) => `read ${name}`));
  }
  const text = `${read.join('\n')}\n`;
  for (const { container, path } of outputs) {
    await service
      .getContainerClient(container)
      .getBlockBlobClient(`${path}/part-00000.txt`)
      .upload(text, Buffer.byteLength(text));
  }
}

async function workspaceWithLake(
  options: { hierarchicalNamespace?: boolean } = {},
): Promise<{ ws: Workspace; lake: WorkspaceDatastore; container: string }> {
  const ws = Workspace.create(tempDir());
  open.push(ws);
  const container = options.hierarchicalNamespace ? 'databricks-gen2' : 'databricks-data';
  const lake = Datastore.registerAzureBlobContainer(ws, {
    name: 'lake',
    containerName: container,
    accountUrl: azurite.blobEndpoint,
    accountName: azurite.accountName,
    accountKey: azurite.accountKey,
    createContainerIfMissing: true,
    ...options,
  });
  for (const [name, text] of Object.entries({ 'a.csv': 'x,y\n1,2\n', 'b.csv': 'x,y\n3,4\n' })) {
    await lake.write(`dbtest/${name}`, new TextEncoder().encode(text), { overwrite: true });
  }
  await attachDatabricksCompute(ws, 'databricks', { workspaceUrl: server.url, accessToken: token });
  return { ws, lake, container };
}

function step(options: Partial<DatabricksStepOptions> & Pick<DatabricksStepOptions, 'name'>): DatabricksStep {
  return new DatabricksStep({
    numWorkers: 1,
    computeTarget: 'databricks',
    allowReuse: false,
    pollIntervalSeconds: 0.02,
    ...options,
  });
}

async function text(store: WorkspaceDatastore, path: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of (await store.read(path)) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

it('hands a notebook wasbs:// addresses of the right container and paths, and its output is the step’s', async () => {
  const { ws, lake, container } = await workspaceWithLake();
  const input = new DataReference({
    datastore: 'lake',
    pathOnDatastore: 'dbtest',
    dataReferenceName: 'input',
  });
  const output = new PipelineData('output', { datastore: 'lake' });
  const final = new PipelineData('final', { datastore: 'lake' });
  const before = server.requestsTo(SUBMIT).length;
  const run = await new Experiment(ws, 'azure').submit(
    new Pipeline({
      name: 'azure',
      steps: [
        step({
          name: 'prepare',
          notebookPath: '/Users/someone@example.com/prepare',
          inputs: [input],
          outputs: [output],
        }),
        // a script reads the first step's output, given in its command line
        step({
          name: 'summarise',
          pythonScriptPath: '/Workspace/Shared/summarise.py',
          pythonScriptParams: ['--data', output],
          inputs: [output],
          outputs: [final],
        }),
      ],
    }),
  );
  await run.waitForCompletion({ raiseOnError: false });
  expect(run.status).toBe('Finished');

  const account = `${azurite.accountName}.blob.core.windows.net`;
  const produced = run.findStepRun('prepare').getOutputData('output').pathOnDatastore;
  const summarised = run.findStepRun('summarise').getOutputData('final').pathOnDatastore;
  const [prepare, summarise] = server.requestsTo(SUBMIT).slice(before) as unknown as Array<{
    body: { tasks: Array<Record<string, { base_parameters?: unknown; parameters?: unknown }>> };
  }>;
  expect(prepare!.body.tasks[0]!.notebook_task!.base_parameters).toEqual({
    input: `wasbs://${container}@${account}/dbtest`,
    output: `wasbs://${container}@${account}/${produced}`,
  });
  expect(summarise!.body.tasks[0]!.spark_python_task!.parameters).toEqual([
    '--data',
    `wasbs://${container}@${account}/${produced}`,
    '--output',
    `wasbs://${container}@${account}/${produced}`,
    '--final',
    `wasbs://${container}@${account}/${summarised}`,
  ]);
  // what the jobs wrote at those addresses are the steps' outputs on the datastore
  expect(await text(lake, `${produced}/part-00000.txt`)).toBe('read a.csv\nread b.csv\n');
  expect(await text(lake, `${summarised}/part-00000.txt`)).toBe('read part-00000.txt\n');
});

it('hands abfss:// addresses when the datastore has a hierarchical namespace (ADLS Gen2)', async () => {
  const { ws, lake, container } = await workspaceWithLake({ hierarchicalNamespace: true });
  const before = server.requestsTo(SUBMIT).length;
  const run = await new Experiment(ws, 'azure').submit(
    new Pipeline({
      name: 'gen2',
      steps: [
        step({
          name: 'prepare',
          notebookPath: '/Users/someone@example.com/prepare',
          inputs: [new DataReference({ datastore: 'lake', pathOnDatastore: 'dbtest', name: 'input' })],
          outputs: [new PipelineData('output', { datastore: 'lake' })],
        }),
      ],
    }),
  );
  await run.waitForCompletion({ raiseOnError: false });
  expect(run.status).toBe('Finished');
  const produced = run.findStepRun('prepare').getOutputData('output').pathOnDatastore;
  const dfs = `${azurite.accountName}.dfs.core.windows.net`;
  const submitted = server.requestsTo(SUBMIT).slice(before)[0]!.body as {
    tasks: Array<{ notebook_task: { base_parameters: Record<string, string> } }>;
  };
  expect(submitted.tasks[0]!.notebook_task.base_parameters).toEqual({
    input: `abfss://${container}@${dfs}/dbtest`,
    output: `abfss://${container}@${dfs}/${produced}`,
  });
  expect(await text(lake, `${produced}/part-00000.txt`)).toBe('read a.csv\nread b.csv\n');
});
