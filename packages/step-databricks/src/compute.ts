import { resolve } from 'node:path';
import type { TokenCredential } from '@azure/identity';
import {
  SluiceError,
  type AnyPlugin,
  type ComputeConfiguration,
  type ComputeProviderPlugin,
  type PluginContext,
} from '@sluice/core';
import { ComputeTarget, type Workspace } from '@sluice/runtime';
import { WORKSPACE_RESOURCE_ID, defaultAzureCredential, isTokenCredential } from './auth.js';
import { DatabricksClient, ENTRA_HINT, credentialName, normaliseWorkspaceUrl } from './client.js';
import { databricksStep } from './plugin.js';
import { DATABRICKS_KIND, DatabricksComputeTarget } from './target.js';
import { CORE_RANGE, PACKAGE_NAME, STEP_DATABRICKS_VERSION } from './version.js';

/** The environment variable read for the token when a compute names no `accessToken` and has no secret. */
export const DEFAULT_TOKEN_VARIABLE = 'DATABRICKS_TOKEN';

/**
 * Where a secret is found: a workspace secret (`ws.setSecret(name, value)`, kept in `.sluice/secrets.json`,
 * or the environment variable `SLUICE_SECRET_<NAME>`), or an environment variable.
 */
export type SecretReference = { secret: string } | { env: string };

/** The options of a Databricks compute target as saved in `sluice.workspace.json`: never a token itself. */
export interface DatabricksComputeOptions {
  /** `https://adb-<workspace id>.<n>.azuredatabricks.net`: the URL on the workspace's overview page. */
  workspaceUrl?: string;
  /** The Azure Databricks workspace's name (with `domain`, forms the URL; otherwise only shown). */
  workspaceName?: string;
  /** The Azure resource group of the workspace (shown; Sluice does not call Azure Resource Manager). */
  resourceGroup?: string;
  /** An Azure region: the legacy regional URL `https://<region>.azuredatabricks.net` is used. */
  region?: string;
  /** A domain under which the workspace is `https://<workspaceName>.<domain>` (e.g. `cloud.databricks.com`). */
  domain?: string;
  /**
   * Where the personal access token is found. Without it: the workspace secret
   * `compute/<name>/accessToken`, else the environment variable `DATABRICKS_TOKEN`.
   */
  accessToken?: SecretReference;
  /**
   * Microsoft Entra ID instead of a personal access token: `'default'` for `DefaultAzureCredential` from
   * `@azure/identity`; `'in-process'` for the `TokenCredential` given to `attachDatabricksCompute` in this
   * process (credential objects are never saved).
   */
  credential?: 'default' | 'in-process';
  /**
   * With `credential`: the workspace's Azure resource id,
   * `/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Databricks/workspaces/<name>`. Requests
   * then carry the service principal's headers (`X-Databricks-Azure-Workspace-Resource-Id` and an Azure
   * management token), for an identity that has Contributor or Owner on the workspace but is not a user of it.
   */
  workspaceResourceId?: string;
  /** Attempts per request on 429, transient 5xx and network errors (default 6). */
  maxAttempts?: number;
  /** The first wait between attempts in milliseconds (default 1000), doubled each time up to 30 s. */
  retryDelayMs?: number;
}

/** The workspace secret `attachDatabricksCompute` stores a compute's token under. */
export function accessTokenSecretName(compute: string): string {
  return `compute/${compute}/accessToken`;
}

/**
 * The configuration of a Databricks compute target, for `ComputeTarget.attach(ws, name, …)` (like
 * `DatabricksCompute.attach_configuration`). The token is named by reference only; to store a token
 * you have as a string, use `attachDatabricksCompute`.
 */
export function databricksCompute(
  options: DatabricksComputeOptions,
): ComputeConfiguration<DatabricksComputeOptions> {
  const saved = checkOptions('databricksCompute', options);
  workspaceUrlOf('databricksCompute', saved);
  return { provider: DATABRICKS_KIND, options: saved };
}

/**
 * What `attachDatabricksCompute` takes: a token may be given as a string (it is stored as a secret), and a
 * Microsoft Entra ID credential as an object.
 */
export interface AttachDatabricksComputeOptions extends Omit<
  DatabricksComputeOptions,
  'accessToken' | 'credential'
> {
  /** The personal access token (stored with `ws.setSecret`), or where to find it. */
  accessToken?: string | SecretReference;
  /**
   * Microsoft Entra ID instead of a personal access token: `'default'` (`DefaultAzureCredential`, saved as
   * such) or any `TokenCredential` from `@azure/identity` (kept in memory for this process only).
   */
  credential?: 'default' | TokenCredential;
}

/**
 * TokenCredentials given to `attachDatabricksCompute`, by workspace folder and compute name. Kept on
 * `globalThis`, so that the copy of this package a workspace loads for its plugins (`ws.ready()`) finds what
 * the copy the program imported was given.
 */
const inProcessCredentials: Map<string, TokenCredential> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('@sluice/step-databricks:in-process-credentials')
] ??= new Map<string, TokenCredential>()) as Map<string, TokenCredential>;

function credentialKey(workspaceDir: string, compute: string): string {
  return `${resolve(workspaceDir)}\0${compute}`;
}

const COMPUTE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * Attach a Databricks workspace as a named compute target (`ComputeTarget.attach` with
 * `DatabricksCompute.attach_configuration`). A token given as a string goes to the workspace's secrets
 * (`compute/<name>/accessToken`); the workspace config keeps only a reference. The provider is registered
 * and the package is named in the workspace's `plugins`, so a reopened workspace loads it.
 */
export async function attachDatabricksCompute(
  ws: Workspace,
  name: string,
  options: AttachDatabricksComputeOptions,
): Promise<DatabricksComputeTarget> {
  if (typeof name !== 'string' || !COMPUTE_NAME.test(name)) {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      `attachDatabricksCompute needs a compute name (letters, digits, '_', '.', '-'), not ${JSON.stringify(name)}.`,
    );
  }
  const { accessToken, credential, ...rest } = options ?? ({} as AttachDatabricksComputeOptions);
  if (accessToken !== undefined && typeof accessToken === 'string' && accessToken.trim() === '') {
    throw invalid(name, 'accessToken is empty; give the personal access token, or { env } / { secret }.');
  }
  const given = credential !== undefined && credential !== 'default' ? credential : undefined;
  if (given !== undefined && !isTokenCredential(given)) {
    throw invalid(
      name,
      `credential must be 'default' (DefaultAzureCredential) or a TokenCredential from @azure/identity (an object with getToken); got ${describe(given)}.`,
    );
  }
  const secretName = accessTokenSecretName(name);
  const reference: SecretReference | undefined =
    typeof accessToken === 'string' ? { secret: secretName } : accessToken;
  const configuration = databricksCompute({
    ...rest,
    ...(reference ? { accessToken: reference } : {}),
    ...(credential === undefined ? {} : { credential: given ? 'in-process' : 'default' }),
  });

  ws.registry.ensure(databricksComputeProvider());
  ws.registry.ensure(databricksStep());
  ws.addPluginPackage(PACKAGE_NAME);
  if (typeof accessToken === 'string') ws.setSecret(secretName, accessToken);
  else if (accessToken !== undefined || credential !== undefined) ws.deleteSecret(secretName);

  // a credential object cannot be saved: it is kept for this process, by workspace folder and compute name
  const key = credentialKey(ws.dir, name);
  const before = inProcessCredentials.get(key);
  if (given) inProcessCredentials.set(key, given);
  let target: Awaited<ReturnType<typeof ComputeTarget.attach>>;
  try {
    target = await ComputeTarget.attach(ws, name, configuration);
  } catch (error) {
    if (given && before) inProcessCredentials.set(key, before);
    else if (given) inProcessCredentials.delete(key);
    throw error;
  }
  if (!(target instanceof DatabricksComputeTarget)) {
    throw invalid(
      name,
      `the workspace made a ${target.kind} target of it; a different "databricks" provider is registered.`,
    );
  }
  return target;
}

/** The provider of `databricks` compute targets; `ws.ready()` registers it for workspaces that list this package. */
export function databricksComputeProvider(): ComputeProviderPlugin<DatabricksComputeOptions> {
  return {
    type: 'compute',
    kind: DATABRICKS_KIND,
    name: PACKAGE_NAME,
    version: STEP_DATABRICKS_VERSION,
    coreRange: CORE_RANGE,
    createTarget(name, options, context) {
      return createTarget(name, options, context);
    },
  };
}

function createTarget(
  name: string,
  options: DatabricksComputeOptions,
  context: Pick<PluginContext, 'secret' | 'workspaceDir'>,
): DatabricksComputeTarget {
  const saved = checkOptions(`Databricks compute "${name}"`, options);
  const workspaceUrl = workspaceUrlOf(`Databricks compute "${name}"`, saved);
  const retry = {
    ...(saved.maxAttempts === undefined ? {} : { maxAttempts: saved.maxAttempts }),
    ...(saved.retryDelayMs === undefined ? {} : { retryDelayMs: saved.retryDelayMs }),
  };
  const facts = {
    workspaceName: saved.workspaceName,
    resourceGroup: saved.resourceGroup,
    workspaceResourceId: saved.workspaceResourceId,
  };
  if (saved.credential !== undefined) {
    const { credential, source } = resolveCredential(name, saved.credential, context);
    const client = new DatabricksClient({
      workspaceUrl,
      credential,
      credentialSource: source,
      ...(saved.workspaceResourceId ? { workspaceResourceId: saved.workspaceResourceId } : {}),
      ...retry,
      credentialHint: `The Microsoft Entra ID token comes from ${source}. ${ENTRA_HINT}`,
    });
    const headers = saved.workspaceResourceId ? ', with the service principal management token' : '';
    return new DatabricksComputeTarget(name, {
      client,
      credential: `Microsoft Entra ID tokens from ${source}${headers}`,
      ...facts,
    });
  }
  const { token, source, replace } = resolveToken(name, saved.accessToken, context);
  const client = new DatabricksClient({
    workspaceUrl,
    token,
    ...retry,
    credentialHint: `The token comes from ${source}. Create a personal access token in the Databricks workspace (Settings → Developer → Access tokens) and ${replace}.`,
  });
  return new DatabricksComputeTarget(name, { client, credential: `access token from ${source}`, ...facts });
}

function resolveCredential(
  name: string,
  credential: 'default' | 'in-process',
  context: Pick<PluginContext, 'workspaceDir'>,
): { credential: TokenCredential; source: string } {
  if (credential === 'default') {
    return { credential: defaultAzureCredential(), source: 'DefaultAzureCredential' };
  }
  const given = inProcessCredentials.get(credentialKey(context.workspaceDir, name));
  if (!given) {
    throw invalid(
      name,
      `it authenticates with a TokenCredential given to attachDatabricksCompute, and credential objects are not saved with the workspace. In this process, attach it again with attachDatabricksCompute(ws, '${name}', { workspaceUrl, credential }), or save credential: 'default' to use DefaultAzureCredential.`,
    );
  }
  return { credential: given, source: `${credentialName(given)} given to attachDatabricksCompute` };
}

function resolveToken(
  name: string,
  reference: SecretReference | undefined,
  context: Pick<PluginContext, 'secret'>,
): { token: string; source: string; replace: string } {
  const attachAgain = `attach the compute again with attachDatabricksCompute(ws, '${name}', { workspaceUrl, accessToken: '<token>' })`;
  if (reference === undefined) {
    const secretName = accessTokenSecretName(name);
    const stored = context.secret(secretName);
    if (stored) {
      return { token: stored, source: `the workspace secret ${secretName}`, replace: attachAgain };
    }
    const fromEnv = process.env[DEFAULT_TOKEN_VARIABLE];
    if (fromEnv) {
      return {
        token: fromEnv,
        source: `the environment variable ${DEFAULT_TOKEN_VARIABLE}`,
        replace: `set ${DEFAULT_TOKEN_VARIABLE} to it`,
      };
    }
    throw invalid(
      name,
      `no access token. Give one with attachDatabricksCompute(ws, '${name}', { workspaceUrl, accessToken: '<personal access token>' }) (stored as the workspace secret ${secretName}), or set the environment variable ${DEFAULT_TOKEN_VARIABLE} (or ${secretVariable(secretName)}), or save accessToken: { env: '<VARIABLE>' } in the compute's options.`,
    );
  }
  if ('secret' in reference) {
    const token = context.secret(reference.secret);
    if (!token) {
      throw invalid(
        name,
        `the access token secret "${reference.secret}" is not set in this workspace. Store it with ws.setSecret('${reference.secret}', '<personal access token>'), set the environment variable ${secretVariable(reference.secret)}, or ${attachAgain}.`,
      );
    }
    return {
      token,
      source: `the workspace secret ${reference.secret}`,
      replace: `store it with ws.setSecret('${reference.secret}', …) or ${attachAgain}`,
    };
  }
  const token = process.env[reference.env];
  if (!token) {
    throw invalid(
      name,
      `the environment variable ${reference.env}, which should hold the Databricks personal access token, is not set. Set it, or ${attachAgain}.`,
    );
  }
  return {
    token,
    source: `the environment variable ${reference.env}`,
    replace: `set ${reference.env} to it`,
  };
}

/** Check saved options (or those about to be saved) and return a clean copy. */
function checkOptions(who: string, options: DatabricksComputeOptions): DatabricksComputeOptions {
  if (!options || typeof options !== 'object') {
    throw new SluiceError('WORKSPACE_CONFIG_INVALID', `${who}: options are missing.`);
  }
  const token = options.accessToken as unknown;
  if (typeof token === 'string') {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      `${who}: accessToken is a token in plain text, which is never saved in the workspace config. Use attachDatabricksCompute(ws, name, { …, accessToken: '<token>' }) (it stores the token as a workspace secret), or give { env: '<VARIABLE>' } / { secret: '<name>' }.`,
    );
  }
  if (token !== undefined && !isReference(token)) {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      `${who}: accessToken must be { env: '<VARIABLE>' } or { secret: '<name>' }.`,
    );
  }
  const saved: DatabricksComputeOptions = {};
  for (const field of ['workspaceUrl', 'workspaceName', 'resourceGroup', 'region', 'domain'] as const) {
    const value = options[field] as unknown;
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.trim() === '') {
      throw new SluiceError('WORKSPACE_CONFIG_INVALID', `${who}: ${field} must be a non-empty string.`);
    }
    saved[field] = value.trim();
  }
  if (token !== undefined) saved.accessToken = { ...(token as SecretReference) };
  const credential = options.credential as unknown;
  if (credential !== undefined) {
    if (credential !== 'default' && credential !== 'in-process') {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        isTokenCredential(credential)
          ? `${who}: a TokenCredential object cannot be saved in the workspace config. Give it to attachDatabricksCompute(ws, name, { …, credential }), which keeps it for this process, or use credential: 'default' (DefaultAzureCredential).`
          : `${who}: credential must be 'default' (DefaultAzureCredential) or 'in-process'; got ${describe(credential)}.`,
      );
    }
    if (token !== undefined) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `${who}: give accessToken (a personal access token) or credential (Microsoft Entra ID), not both.`,
      );
    }
    saved.credential = credential;
  }
  const resourceId = options.workspaceResourceId as unknown;
  if (resourceId !== undefined) {
    if (typeof resourceId !== 'string' || !WORKSPACE_RESOURCE_ID.test(resourceId.trim())) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `${who}: workspaceResourceId ${describe(resourceId)} is not an Azure Databricks workspace resource id; copy it from the workspace's Properties in the Azure portal: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Databricks/workspaces/<name>.`,
      );
    }
    if (credential === undefined) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `${who}: workspaceResourceId goes with credential (Microsoft Entra ID): it lets a service principal in through its Azure management token, which a personal access token does not have.`,
      );
    }
    saved.workspaceResourceId = resourceId.trim();
  }
  if (options.maxAttempts !== undefined) {
    if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) {
      throw new SluiceError('WORKSPACE_CONFIG_INVALID', `${who}: maxAttempts must be a whole number ≥ 1.`);
    }
    saved.maxAttempts = options.maxAttempts;
  }
  if (options.retryDelayMs !== undefined) {
    if (typeof options.retryDelayMs !== 'number' || !(options.retryDelayMs >= 0)) {
      throw new SluiceError('WORKSPACE_CONFIG_INVALID', `${who}: retryDelayMs must be a number ≥ 0.`);
    }
    saved.retryDelayMs = options.retryDelayMs;
  }
  return saved;
}

/** The workspace URL: given, or formed from a region or a domain. */
function workspaceUrlOf(who: string, options: DatabricksComputeOptions): string {
  if (options.workspaceUrl) {
    try {
      return normaliseWorkspaceUrl(options.workspaceUrl);
    } catch (error) {
      throw new SluiceError('WORKSPACE_CONFIG_INVALID', `${who}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  if (options.region) {
    if (!/^[a-z0-9]+$/.test(options.region)) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `${who}: region ${JSON.stringify(options.region)} is not an Azure region name (e.g. westeurope).`,
      );
    }
    return `https://${options.region}.azuredatabricks.net`;
  }
  if (options.domain) {
    if (!options.workspaceName || !/^[A-Za-z0-9-]+$/.test(options.workspaceName)) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `${who}: domain needs workspaceName (letters, digits and '-'): the URL is https://<workspaceName>.<domain>.`,
      );
    }
    if (!/^[A-Za-z0-9.-]+$/.test(options.domain)) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `${who}: domain ${JSON.stringify(options.domain)} is not a host name.`,
      );
    }
    return `https://${options.workspaceName}.${options.domain}`;
  }
  throw new SluiceError(
    'WORKSPACE_CONFIG_INVALID',
    `${who}: say where the Databricks workspace is. Give workspaceUrl (the URL on the workspace's overview page in the Azure portal, e.g. https://adb-1234567890123456.7.azuredatabricks.net)${options.workspaceName ? `; workspaceName and resourceGroup alone are not enough, as Sluice does not look workspaces up in Azure Resource Manager (or add region, for the legacy regional URL)` : ''}.`,
  );
}

function isReference(value: unknown): value is SecretReference {
  if (!value || typeof value !== 'object') return false;
  const keys = Object.keys(value);
  return (
    keys.length === 1 &&
    ((keys[0] === 'secret' && typeof (value as { secret: unknown }).secret === 'string') ||
      (keys[0] === 'env' && typeof (value as { env: unknown }).env === 'string'))
  );
}

/** A value in words for a message: strings quoted (short), objects by kind; never their fields. */
function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object without getToken';
}

function invalid(name: string, message: string): SluiceError {
  return new SluiceError('WORKSPACE_CONFIG_INVALID', `Databricks compute "${name}": ${message}`, {
    details: { computeTarget: name },
  });
}

function secretVariable(name: string): string {
  return `SLUICE_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The plugins of this package, for `ws.ready()` (which loads packages named in the workspace config). */
export const sluicePlugins = (): AnyPlugin[] => [databricksComputeProvider(), databricksStep()];
