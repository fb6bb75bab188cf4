/**
 * Microsoft Entra ID authentication against the contract server, with `@azure/identity`'s own credential
 * classes: `ManagedIdentityCredential` (given as an object) and `DefaultAzureCredential` (`credential:
 * 'default'`) get their tokens from a local managed identity endpoint (entra-server.ts) that issues tokens
 * with a lifetime the test chooses. The contract server accepts only unexpired tokens issued for the
 * AzureDatabricks application, and lets an identity that is not a workspace user in only with the service
 * principal's headers.
 */
import { join } from 'node:path';
import { ManagedIdentityCredential, type AccessToken, type TokenCredential } from '@azure/identity';
import { DataReference, Pipeline, PipelineData, SluiceError } from '@sluice/core';
import { Experiment, Workspace, type PipelineRun } from '@sluice/runtime';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AZURE_DATABRICKS_SCOPE,
  DatabricksClient,
  DatabricksStep,
  attachDatabricksCompute,
  databricksCompute,
  databricksComputeProvider,
  type AttachDatabricksComputeOptions,
  type DatabricksComputeTarget,
} from '../index.js';
import { ContractServer, type ContractServerOptions } from './contract-server.js';
import { EntraServer } from './entra-server.js';
import { filesContaining, tempDir, writeTree } from './helpers.js';

const DATABRICKS = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';
const MANAGEMENT = 'https://management.core.windows.net/';
const RESOURCE_ID =
  '/subscriptions/0f1e2d3c-aaaa-bbbb-cccc-000000000001/resourceGroups/analytics/providers/Microsoft.Databricks/workspaces/my-databricks';
const PAT = 'dapi-not-used-here';

let entra: EntraServer;
const saved: Record<string, string | undefined> = {};
beforeAll(async () => {
  entra = await EntraServer.start();
  // where @azure/identity's managed identity credential (and DefaultAzureCredential) asks for tokens
  for (const [name, value] of Object.entries(entra.env())) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});
afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await entra?.close();
});

let dir: string;
const open: Array<{ close(): Promise<void> }> = [];
beforeEach(() => {
  dir = tempDir();
  entra.lifetimeSeconds = 3600;
});
afterEach(async () => {
  for (const closable of open.splice(0).reverse()) await closable.close();
});

async function contractServer(options: Partial<ContractServerOptions>): Promise<ContractServer> {
  const server = await ContractServer.start({ token: PAT, entra, ...options });
  open.push(server);
  return server;
}

async function workspace(
  server: ContractServer,
  compute: AttachDatabricksComputeOptions,
): Promise<Workspace> {
  const ws = Workspace.create(dir, { existOk: true });
  open.push(ws);
  const data = writeTree(tempDir(), { 'dbtest/a.csv': 'x,y\n1,2\n' });
  await ws
    .getDefaultDatastore()
    .uploadDirectory(join(data, 'dbtest'), { targetPath: 'dbtest', overwrite: true });
  await attachDatabricksCompute(ws, 'databricks', { workspaceUrl: server.url, retryDelayMs: 20, ...compute });
  return ws;
}

async function runNotebook(ws: Workspace, pollIntervalSeconds = 0.02): Promise<PipelineRun> {
  const step = new DatabricksStep({
    name: 'notebook',
    inputs: [
      new DataReference({ datastore: 'workspaceblobstore', pathOnDatastore: 'dbtest', name: 'input' }),
    ],
    outputs: [new PipelineData('output')],
    numWorkers: 1,
    notebookPath: '/Users/someone@example.com/notebook',
    computeTarget: 'databricks',
    allowReuse: false,
    pollIntervalSeconds,
  });
  const run = await new Experiment(ws, 'entra').submit(new Pipeline({ name: 'entra', steps: [step] }));
  await run.waitForCompletion({ raiseOnError: false });
  return run;
}

/** No token issued by the identity endpoint is anywhere in the workspace's files. */
function expectNoTokenIn(folder: string): void {
  for (const token of entra.issued.keys()) expect(filesContaining(folder, token)).toEqual([]);
}

describe('a TokenCredential for the AzureDatabricks resource', () => {
  it(
    'is asked for tokens as they near expiry, through a run that outlives several tokens',
    { timeout: 30_000 },
    async () => {
      entra.lifetimeSeconds = 2;
      const server = await contractServer({ users: [entra.clientId], runMs: 5000 });
      const ws = await workspace(server, { credential: new ManagedIdentityCredential() });
      const before = entra.issuedFor(DATABRICKS);
      const run = await runNotebook(ws, 0.1);
      expect(run.status).toBe('Finished');

      // every request was let in with a live token of the identity: none expired on the way
      const requests = server.requests;
      expect(requests.length).toBeGreaterThan(10);
      expect(requests.filter((request) => request.status !== 200)).toEqual([]);
      expect(new Set(requests.map((request) => request.identity))).toEqual(new Set([entra.clientId]));
      // tokens were renewed (the run lasted more than two of their lives) but not asked for on every request
      const issued = entra.issuedFor(DATABRICKS) - before;
      expect(issued).toBeGreaterThanOrEqual(3);
      expect(issued).toBeLessThan(requests.length);
      expect(entra.issuedFor(MANAGEMENT)).toBe(0);

      const config = JSON.parse(JSON.stringify(ws.config.computeTargets.databricks));
      expect(config.options).toEqual({
        workspaceUrl: server.url,
        credential: 'in-process',
        retryDelayMs: 20,
      });
      const target = (await ws.getComputeTarget('databricks')) as DatabricksComputeTarget;
      expect(target.describe().credential).toBe(
        'Microsoft Entra ID tokens from a ManagedIdentityCredential given to attachDatabricksCompute',
      );
      await ws.close();
      expectNoTokenIn(dir);
    },
  );

  it('is kept for this process only: a reopened workspace uses it, another process is told to attach again', async () => {
    const server = await contractServer({ users: [entra.clientId] });
    const ws = await workspace(server, { credential: new ManagedIdentityCredential() });
    await ws.close();
    const reopened = Workspace.open(dir);
    open.push(reopened);
    expect((await runNotebook(reopened)).status).toBe('Finished');

    const elsewhere = tempDir();
    let error: unknown;
    try {
      databricksComputeProvider().createTarget(
        'databricks',
        { workspaceUrl: server.url, credential: 'in-process' },
        { workspaceDir: elsewhere, secret: () => undefined },
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('WORKSPACE_CONFIG_INVALID');
    expect((error as SluiceError).message).toMatch(
      /credential objects are not saved with the workspace\. In this process, attach it again with attachDatabricksCompute\(ws, 'databricks', \{ workspaceUrl, credential \}\), or save credential: 'default'/,
    );
  });

  it('gets new tokens once when the workspace refuses the one it holds (revoked early)', async () => {
    const server = await contractServer({ users: [entra.clientId] });
    // a credential that asks the identity endpoint on every call (no cache of its own)
    const received: string[] = [];
    let revokeAtOnce = false;
    const direct: TokenCredential = {
      async getToken(scopes): Promise<AccessToken> {
        const resource = String(scopes).replace(/\/\.default$/, '');
        const url = `${entra.endpoint}?api-version=2019-08-01&resource=${encodeURIComponent(resource)}`;
        const answer = await fetch(url, { headers: { 'X-IDENTITY-HEADER': entra.identityHeader } });
        const body = (await answer.json()) as { access_token: string; expires_on: string };
        received.push(body.access_token);
        if (revokeAtOnce) entra.revoke(body.access_token);
        return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
      },
    };
    const client = new DatabricksClient({ workspaceUrl: server.url, credential: direct, retryDelayMs: 10 });
    const { run_id: runId } = await client.submitRun({
      tasks: [{ task_key: 't', existing_cluster_id: 'c', notebook_task: { notebook_path: '/n' } }],
    });
    await client.getRun(runId);
    expect(received).toHaveLength(1);
    entra.revoke(received[0]!);
    await expect(client.getRun(runId)).resolves.toMatchObject({ run_id: runId });
    expect(server.requests.slice(-2).map((request) => request.status)).toEqual([403, 200]);
    expect(received).toHaveLength(2);
    // a new token refused too: one renewal per request, then a coded error
    revokeAtOnce = true;
    entra.revoke(received[1]!);
    const before = server.requests.length;
    const refused = await client.getRun(runId).then(
      () => undefined,
      (caught: unknown) => caught as SluiceError,
    );
    expect(refused?.code).toBe('COMPUTE_AUTH_FAILED');
    expect(server.requests.length - before).toBe(2);
    expect(received).toHaveLength(3);
  });

  it('fails with COMPUTE_AUTH_FAILED, saying where the token was to come from, when none can be had', async () => {
    const server = await contractServer({ users: [entra.clientId] });
    const secret = 'client-secret-value-42';
    const failing: TokenCredential = {
      async getToken(): Promise<AccessToken | null> {
        throw new Error('AADSTS7000215: Invalid client secret provided.');
      },
    };
    const client = new DatabricksClient({
      workspaceUrl: server.url,
      credential: failing,
      credentialSource: 'the test',
    });
    const error = await client.getRun(1).then(
      () => undefined,
      (caught: unknown) => caught as SluiceError,
    );
    expect(error?.code).toBe('COMPUTE_AUTH_FAILED');
    expect(error?.message).toMatch(
      /^Could not get a Microsoft Entra ID token for Azure Databricks \(2ff814a6-3304-4ab8-85cb-cd0e6f879c1d\) from the test: AADSTS7000215: Invalid client secret provided\. Sign in with `az login`/,
    );
    expect(error?.message).not.toContain(secret);
    expect(server.requests).toEqual([]);
    expect(AZURE_DATABRICKS_SCOPE).toBe(`${DATABRICKS}/.default`);
  });
});

describe('a service principal that is not a workspace user', () => {
  it('is let in with its management token and the workspace resource id when workspaceResourceId is given', async () => {
    const server = await contractServer({
      users: [],
      contributors: [entra.clientId],
      workspaceResourceId: RESOURCE_ID,
    });
    const ws = await workspace(server, {
      credential: new ManagedIdentityCredential(),
      workspaceResourceId: RESOURCE_ID,
    });
    const run = await runNotebook(ws);
    expect(run.status).toBe('Finished');
    expect(server.requests.every((request) => request.status === 200 && request.spHeaders)).toBe(true);
    expect(entra.issuedFor(MANAGEMENT)).toBeGreaterThanOrEqual(1);
    const target = (await ws.getComputeTarget('databricks')) as DatabricksComputeTarget;
    expect(target.describe()).toMatchObject({
      workspaceResourceId: RESOURCE_ID,
      credential:
        'Microsoft Entra ID tokens from a ManagedIdentityCredential given to attachDatabricksCompute, with the service principal management token',
    });
    await ws.close();
    expectNoTokenIn(dir);
  });

  it('is refused without workspaceResourceId, or with another workspace’s, and the error says what to give', async () => {
    const server = await contractServer({
      users: [],
      contributors: [entra.clientId],
      workspaceResourceId: RESOURCE_ID,
    });
    const ws = await workspace(server, { credential: new ManagedIdentityCredential() });
    const run = await runNotebook(ws);
    expect(run.status).toBe('Failed');
    const error = run.findStepRun('notebook').record.error!;
    expect(error).toMatch(
      /^COMPUTE_AUTH_FAILED: Databricks at http:\/\/127\.0\.0\.1:\d+ refused the Microsoft Entra ID token \(HTTP 403 PERMISSION_DENIED: .* is not a user of this workspace.*\)\. The Microsoft Entra ID token comes from a ManagedIdentityCredential given to attachDatabricksCompute\. Add the identity to the workspace .*or give workspaceResourceId/,
    );
    for (const token of entra.issued.keys()) expect(error).not.toContain(token);

    const other = RESOURCE_ID.replace('my-databricks', 'another-workspace');
    await attachDatabricksCompute(ws, 'databricks', {
      workspaceUrl: server.url,
      credential: new ManagedIdentityCredential(),
      workspaceResourceId: other,
    });
    const again = await runNotebook(ws);
    expect(again.findStepRun('notebook').record.error).toMatch(
      /HTTP 403 PERMISSION_DENIED: The workspace resource id .*another-workspace is not this workspace/,
    );
  });
});

describe("credential: 'default'", () => {
  it('uses DefaultAzureCredential, is saved as such, and works again in a reopened workspace', async () => {
    const server = await contractServer({ users: [entra.clientId] });
    const ws = await workspace(server, { credential: 'default' });
    expect(ws.config.computeTargets.databricks!.options).toMatchObject({ credential: 'default' });
    expect((await runNotebook(ws)).status).toBe('Finished');
    await ws.close();
    const reopened = Workspace.open(dir);
    open.push(reopened);
    const run = await runNotebook(reopened);
    expect(run.status).toBe('Finished');
    expect(server.requests.every((request) => request.identity === entra.clientId)).toBe(true);
    const target = (await reopened.getComputeTarget('databricks')) as DatabricksComputeTarget;
    expect(target.describe().credential).toBe('Microsoft Entra ID tokens from DefaultAzureCredential');
  });

  it('fails the step with COMPUTE_AUTH_FAILED and what to do when no identity is available', async () => {
    const server = await contractServer({ users: [entra.clientId] });
    const ws = await workspace(server, { credential: 'default' });
    const env = { ...process.env };
    // only the environment credential, with nothing in the environment
    for (const name of Object.keys(process.env)) {
      if (/^(AZURE_|IDENTITY_|MSI_)/.test(name)) delete process.env[name];
    }
    process.env.AZURE_TOKEN_CREDENTIALS = 'EnvironmentCredential';
    try {
      const run = await runNotebook(ws);
      expect(run.status).toBe('Failed');
      expect(run.findStepRun('notebook').record.error).toMatch(
        /^COMPUTE_AUTH_FAILED: Could not get a Microsoft Entra ID token for Azure Databricks \(2ff814a6-3304-4ab8-85cb-cd0e6f879c1d\) from DefaultAzureCredential: .+\. Sign in with `az login`, set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET/,
      );
      expect(server.requests).toEqual([]);
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in env)) delete process.env[name];
      Object.assign(process.env, env);
    }
  });
});

describe('compute options', () => {
  const workspaceUrl = 'https://adb-1234567890123456.7.azuredatabricks.net';
  const code = (run: () => unknown): { code: string; message: string } => {
    try {
      run();
    } catch (error) {
      return error as SluiceError;
    }
    throw new Error('expected an error');
  };

  it('refuse a credential object in the saved config, both kinds of credential at once, and bad resource ids', () => {
    const objectError = code(() =>
      databricksCompute({ workspaceUrl, credential: new ManagedIdentityCredential() as never }),
    );
    expect(objectError).toMatchObject({ code: 'WORKSPACE_CONFIG_INVALID' });
    expect(objectError.message).toMatch(/a TokenCredential object cannot be saved in the workspace config/);
    expect(
      code(() => databricksCompute({ workspaceUrl, credential: 'default', accessToken: { env: 'X' } }))
        .message,
    ).toMatch(/give accessToken .* or credential .*, not both/);
    expect(
      code(() =>
        databricksCompute({ workspaceUrl, credential: 'default', workspaceResourceId: '/subscriptions/x' }),
      ).message,
    ).toMatch(/is not an Azure Databricks workspace resource id/);
    expect(
      code(() =>
        databricksCompute({ workspaceUrl, accessToken: { env: 'X' }, workspaceResourceId: RESOURCE_ID }),
      ).message,
    ).toMatch(/workspaceResourceId goes with credential/);
    expect(code(() => databricksCompute({ workspaceUrl, credential: 'managed' as never })).message).toMatch(
      /credential must be 'default' \(DefaultAzureCredential\) or 'in-process'/,
    );
    expect(
      databricksCompute({ workspaceUrl, credential: 'default', workspaceResourceId: RESOURCE_ID }),
    ).toEqual({
      provider: 'databricks',
      options: { workspaceUrl, credential: 'default', workspaceResourceId: RESOURCE_ID },
    });
  });

  it('refuse a credential that cannot give tokens when attaching', async () => {
    const ws = Workspace.create(dir);
    open.push(ws);
    const error = await attachDatabricksCompute(ws, 'databricks', {
      workspaceUrl,
      credential: { token: 'x' } as never,
    }).then(
      () => undefined,
      (caught: unknown) => caught as SluiceError,
    );
    expect(error?.code).toBe('WORKSPACE_CONFIG_INVALID');
    expect(error?.message).toMatch(
      /credential must be 'default' .* or a TokenCredential .*; got an object without getToken/,
    );
    expect(ws.listComputeTargets().map((target) => target.name)).not.toContain('databricks');
  });
});
