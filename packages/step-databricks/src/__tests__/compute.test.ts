import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '@sluice/core';
import { ComputeTarget, WORKSPACE_CONFIG_FILE, Workspace } from '@sluice/runtime';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import {
  DEFAULT_TOKEN_VARIABLE,
  DatabricksComputeTarget,
  attachDatabricksCompute,
  databricksCompute,
  databricksComputeProvider,
  sluicePlugins,
} from '../index.js';
import { ContractServer } from './contract-server.js';
import { filesContaining, tempDir } from './helpers.js';

const token = `dapi${randomBytes(16).toString('hex')}`;
let server: ContractServer;
const open: Workspace[] = [];
beforeAll(async () => {
  server = await ContractServer.start({ token });
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
  delete process.env.SLUICE_TEST_DATABRICKS_TOKEN;
});

function workspace(dir = tempDir()): Workspace {
  const ws = Workspace.create(dir, { existOk: true });
  open.push(ws);
  return ws;
}

function thrown(run: () => unknown): SluiceError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    return error as SluiceError;
  }
  throw new Error('expected an error');
}

async function rejected(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

/** Set or clear an environment variable for the length of `run`. */
async function withEnv<T>(name: string, value: string | undefined, run: () => Promise<T>): Promise<T> {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

describe('databricksCompute', () => {
  it('is a configuration for the databricks provider that names its token by reference', () => {
    expect(
      databricksCompute({
        workspaceUrl: 'https://adb-1.2.azuredatabricks.net/',
        accessToken: { env: 'DB_TOKEN' },
      }),
    ).toEqual({
      provider: 'databricks',
      options: { workspaceUrl: 'https://adb-1.2.azuredatabricks.net/', accessToken: { env: 'DB_TOKEN' } },
    });
  });

  it('refuses a token in plain text, which would be saved in the workspace config', () => {
    const error = thrown(() => databricksCompute({ workspaceUrl: server.url, accessToken: token as never }));
    expect(error.code).toBe('WORKSPACE_CONFIG_INVALID');
    expect(error.message).toMatch(/never saved in the workspace config\. Use attachDatabricksCompute/);
    expect(error.message).not.toContain(token);
  });

  it('forms the URL from a region or a domain, and says what to give when it cannot', () => {
    const provider = databricksComputeProvider();
    const context = { workspaceDir: '.', secret: () => token };
    const regional = provider.createTarget(
      'a',
      { region: 'westeurope', accessToken: { secret: 's' } },
      context,
    );
    expect((regional as DatabricksComputeTarget).workspaceUrl).toBe('https://westeurope.azuredatabricks.net');
    const named = provider.createTarget(
      'b',
      { workspaceName: 'dbc-1234', domain: 'cloud.databricks.com', accessToken: { secret: 's' } },
      context,
    );
    expect((named as DatabricksComputeTarget).workspaceUrl).toBe('https://dbc-1234.cloud.databricks.com');
    const error = thrown(() =>
      databricksCompute({ workspaceName: 'my-databricks', resourceGroup: 'rg', accessToken: { env: 'X' } }),
    );
    expect(error.code).toBe('WORKSPACE_CONFIG_INVALID');
    expect(error.message).toMatch(
      /Give workspaceUrl .*; workspaceName and resourceGroup alone are not enough/,
    );
    expect(thrown(() => databricksCompute({ workspaceUrl: 'ftp://x' })).message).toMatch(
      /must start with https:\/\//,
    );
  });
});

describe('attachDatabricksCompute', () => {
  it('keeps the token as a workspace secret and only a reference in the config', async () => {
    const ws = workspace();
    const target = await attachDatabricksCompute(ws, 'databricks_compute', {
      workspaceUrl: server.url,
      workspaceName: 'my-databricks',
      resourceGroup: 'my-rg',
      accessToken: token,
    });
    expect(target).toBeInstanceOf(DatabricksComputeTarget);
    expect(target.kind).toBe('databricks');
    expect(target.describe()).toEqual({
      kind: 'databricks',
      name: 'databricks_compute',
      workspaceUrl: server.url,
      workspaceName: 'my-databricks',
      resourceGroup: 'my-rg',
      credential: 'access token from the workspace secret compute/databricks_compute/accessToken',
    });
    const config = JSON.parse(readFileSync(join(ws.dir, WORKSPACE_CONFIG_FILE), 'utf8')) as {
      plugins: string[];
      computeTargets: Record<string, unknown>;
    };
    expect(config.plugins).toContain('@sluice/step-databricks');
    expect(config.computeTargets.databricks_compute).toEqual({
      provider: 'databricks',
      options: {
        workspaceUrl: server.url,
        workspaceName: 'my-databricks',
        resourceGroup: 'my-rg',
        accessToken: { secret: 'compute/databricks_compute/accessToken' },
      },
    });
    expect(filesContaining(ws.dir, token).map((file) => file.slice(ws.dir.length))).toEqual([
      '/.sluice/secrets.json',
    ]);
    // the token works: the client authenticates
    await target.client.submitRun({
      tasks: [{ task_key: 't', existing_cluster_id: 'c', notebook_task: { notebook_path: '/n' } }],
    });
    expect(server.requests.at(-1)?.authorized).toBe(true);
  });

  it('is found again in a reopened workspace, with the token read from the secrets', async () => {
    const dir = tempDir();
    const first = workspace(dir);
    await attachDatabricksCompute(first, 'db', { workspaceUrl: server.url, accessToken: token });
    await first.close();
    open.splice(open.indexOf(first), 1);
    const again = Workspace.open(dir);
    open.push(again);
    // what ws.ready() does for a workspace that lists the package in its plugins
    for (const plugin of sluicePlugins()) again.registry.ensure(plugin);
    const target = (await ComputeTarget.get(again, 'db')) as DatabricksComputeTarget;
    expect(target.describe().credential).toBe(
      'access token from the workspace secret compute/db/accessToken',
    );
    const { run_id: runId } = await target.client.submitRun({
      tasks: [{ task_key: 't', existing_cluster_id: 'c', notebook_task: { notebook_path: '/n' } }],
    });
    expect((await target.client.getRun(runId)).state!.life_cycle_state).toBe('PENDING');
  });

  it('saves an environment variable reference as such, and says so when it is not set', async () => {
    const ws = workspace();
    const error = await rejected(
      attachDatabricksCompute(ws, 'db', {
        workspaceUrl: server.url,
        accessToken: { env: 'SLUICE_TEST_DATABRICKS_TOKEN' },
      }),
    );
    expect(error.code).toBe('WORKSPACE_CONFIG_INVALID');
    expect(error.message).toMatch(
      /the environment variable SLUICE_TEST_DATABRICKS_TOKEN, which should hold the Databricks personal access token, is not set/,
    );
    process.env.SLUICE_TEST_DATABRICKS_TOKEN = token;
    const target = await attachDatabricksCompute(ws, 'db', {
      workspaceUrl: server.url,
      accessToken: { env: 'SLUICE_TEST_DATABRICKS_TOKEN' },
    });
    expect(target.describe().credential).toBe(
      'access token from the environment variable SLUICE_TEST_DATABRICKS_TOKEN',
    );
    expect(filesContaining(ws.dir, token)).toEqual([]);
  });

  it('without a token falls back to DATABRICKS_TOKEN, else says how to provide one', async () => {
    const ws = workspace();
    ws.registry.ensure(databricksComputeProvider());
    const error = await withEnv(DEFAULT_TOKEN_VARIABLE, undefined, () =>
      rejected(ComputeTarget.attach(ws, 'db', databricksCompute({ workspaceUrl: server.url }))),
    );
    expect(error.code).toBe('WORKSPACE_CONFIG_INVALID');
    expect(error.message).toMatch(
      /Databricks compute "db": no access token\. Give one with attachDatabricksCompute\(ws, 'db', \{ workspaceUrl, accessToken: '<personal access token>' \}\) .* or set the environment variable DATABRICKS_TOKEN/,
    );
    // a target its provider refused is not saved
    expect((await rejected(ComputeTarget.get(ws, 'db'))).code).toBe('COMPUTE_NOT_FOUND');
    const target = await withEnv(DEFAULT_TOKEN_VARIABLE, token, () =>
      ComputeTarget.attach(ws, 'db', databricksCompute({ workspaceUrl: server.url })),
    );
    expect(target.describe().credential).toBe('access token from the environment variable DATABRICKS_TOKEN');
  });

  it('says when a named secret is missing', async () => {
    const ws = workspace();
    ws.registry.ensure(databricksComputeProvider());
    const error = await rejected(
      ComputeTarget.attach(
        ws,
        'db',
        databricksCompute({ workspaceUrl: server.url, accessToken: { secret: 'team/token' } }),
      ),
    );
    expect(error.message).toMatch(
      /the access token secret "team\/token" is not set in this workspace\. Store it with ws\.setSecret\('team\/token'/,
    );
  });

  it('checks the compute name and an empty token', async () => {
    const ws = workspace();
    expect((await rejected(attachDatabricksCompute(ws, 'bad name', { workspaceUrl: server.url }))).code).toBe(
      'WORKSPACE_CONFIG_INVALID',
    );
    expect(
      (await rejected(attachDatabricksCompute(ws, 'db', { workspaceUrl: server.url, accessToken: ' ' })))
        .message,
    ).toMatch(/accessToken is empty/);
  });
});

describe('sluicePlugins', () => {
  it('gives the compute provider and the step kind, made for the core in the peer range', () => {
    const plugins = sluicePlugins();
    expect(plugins.map((plugin) => `${plugin.type}:${plugin.kind}`)).toEqual([
      'compute:databricks',
      'step:databricks',
    ]);
    for (const plugin of plugins) {
      expect(plugin.name).toBe('@sluice/step-databricks');
      expect(plugin.version).toBe(pkg.version);
      expect(plugin.coreRange).toBe(pkg.peerDependencies['@sluice/core']);
    }
  });
});
