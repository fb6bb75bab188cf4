import {
  SluiceError,
  type ComputeConfiguration,
  type ComputeProviderPlugin,
  type ComputeTarget,
  type PluginContext,
} from '@sluice/core';
import { ComputeTarget as ComputeTargets, type Workspace } from '@sluice/runtime';
import { ADLA_JOB_DNS_SUFFIX, ADLA_TOKEN_SCOPE, AdlaJobClient } from './job-client.js';
import { CORE_RANGE, PACKAGE_NAME, STEP_ADLA_VERSION } from './version.js';

/** The provider (and compute target) kind of Data Lake Analytics accounts. */
export const ADLA_COMPUTE_KIND = 'adla';

/**
 * Where a secret is found: a workspace secret (`ws.setSecret(name, value)`, kept in `.sluice/secrets.json`
 * or given as the environment variable `SLUICE_SECRET_<NAME>`), or an environment variable.
 */
export type SecretReference = { secret: string } | { env: string };

/** How requests are authenticated, as saved in the workspace config: never a token itself. */
export type AdlaCredential = { token: SecretReference } | 'default';

/** The options of an `adla` compute target as saved in `sluice.workspace.json`. */
export interface AdlaComputeOptions {
  /** The Data Lake Analytics account name (3–24 lower-case letters and digits). */
  accountName: string;
  /** The account's resource group (shown by `describe()`; the job API does not need it). */
  resourceGroup: string;
  /** The account's subscription (shown by `describe()`). */
  subscriptionId?: string;
  /** The job endpoint; default `https://<accountName>.azuredatalakeanalytics.net`. For other clouds and tests. */
  jobEndpoint?: string;
  /** A bearer token from a secret or an environment variable, or `'default'` for DefaultAzureCredential. */
  credential: AdlaCredential;
  /** Milliseconds between reads of a running job's state (default 5000). */
  pollIntervalMs?: number;
}

/** The options of `attachAdlaCompute`: like the saved ones, but a token may be given as a string. */
export interface AttachAdlaComputeOptions extends Omit<AdlaComputeOptions, 'credential'> {
  /** A literal token is stored with `ws.setSecret` as `compute/<name>/token`; only the reference is saved. */
  credential: { token: string | SecretReference } | 'default';
}

const DEFAULT_POLL_INTERVAL_MS = 5000;
const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;
const TARGET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function invalid(target: string, message: string): SluiceError {
  return new SluiceError('WORKSPACE_CONFIG_INVALID', `Data Lake Analytics compute "${target}": ${message}`, {
    details: { computeTarget: target },
  });
}

/**
 * The configuration of a Data Lake Analytics compute target, for `ComputeTarget.attach(ws, name, …)` or
 * `ws.saveComputeTarget`. A token must be a reference here; `attachAdlaCompute` stores a literal one for you.
 */
export function adlaCompute(options: AdlaComputeOptions): ComputeConfiguration<AdlaComputeOptions> {
  return { provider: ADLA_COMPUTE_KIND, options: checkOptions('adla', options) };
}

/** Check saved options and return a clean copy; WORKSPACE_CONFIG_INVALID says what is wrong. */
function checkOptions(target: string, options: AdlaComputeOptions): AdlaComputeOptions {
  if (!options || typeof options !== 'object') throw invalid(target, 'options are missing.');
  const { accountName, resourceGroup, subscriptionId, jobEndpoint, credential, pollIntervalMs } = options;
  if (typeof accountName !== 'string' || !ACCOUNT_NAME.test(accountName)) {
    throw invalid(
      target,
      `accountName ${JSON.stringify(accountName)} is not a Data Lake Analytics account name: 3–24 lower-case letters and digits.`,
    );
  }
  if (typeof resourceGroup !== 'string' || resourceGroup.trim() === '') {
    throw invalid(target, `resourceGroup is needed: the resource group of account "${accountName}".`);
  }
  if (subscriptionId !== undefined && (typeof subscriptionId !== 'string' || subscriptionId.trim() === '')) {
    throw invalid(target, 'subscriptionId, when given, must be a non-empty string.');
  }
  if (jobEndpoint !== undefined) checkEndpoint(target, jobEndpoint);
  if (
    pollIntervalMs !== undefined &&
    (typeof pollIntervalMs !== 'number' || !Number.isFinite(pollIntervalMs) || pollIntervalMs < 0)
  ) {
    throw invalid(
      target,
      `pollIntervalMs must be a number of milliseconds ≥ 0; got ${String(pollIntervalMs)}.`,
    );
  }
  return {
    accountName,
    resourceGroup,
    ...(subscriptionId === undefined ? {} : { subscriptionId }),
    ...(jobEndpoint === undefined ? {} : { jobEndpoint: jobEndpoint.replace(/\/+$/, '') }),
    credential: checkCredential(target, credential),
    ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
  };
}

function checkCredential(target: string, credential: unknown): AdlaCredential {
  if (credential === 'default') return 'default';
  const token = (credential as { token?: unknown } | undefined)?.token;
  if (credential && typeof credential === 'object' && Object.keys(credential).length === 1) {
    if (typeof token === 'string') {
      throw invalid(
        target,
        'the token is written in plain text; tokens are not kept in the workspace config. Use attachAdlaCompute(ws, name, { credential: { token } }), which stores it with ws.setSecret, or give { token: { secret: "<name>" } } / { token: { env: "<VARIABLE>" } }.',
      );
    }
    if (isReference(token)) return { token: { ...token } };
  }
  throw invalid(
    target,
    `credential must be 'default' (DefaultAzureCredential) or { token: { secret: '<name>' } } / { token: { env: '<VARIABLE>' } }.`,
  );
}

function isReference(value: unknown): value is SecretReference {
  if (!value || typeof value !== 'object') return false;
  const keys = Object.keys(value);
  if (keys.length !== 1) return false;
  const field = (value as Record<string, unknown>)[keys[0]!];
  return (keys[0] === 'secret' || keys[0] === 'env') && typeof field === 'string' && field !== '';
}

function checkEndpoint(target: string, endpoint: unknown): void {
  let url: URL;
  try {
    url = new URL(String(endpoint));
  } catch {
    throw invalid(target, `jobEndpoint ${JSON.stringify(endpoint)} is not a URL.`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(
      target,
      `jobEndpoint ${url.origin} must use https (plain http is allowed only for localhost): tokens are sent to it.`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw invalid(target, 'jobEndpoint must be a plain base URL, without credentials, query or fragment.');
  }
}

function secretVariable(name: string): string {
  return `SLUICE_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The workspace secret that holds the token of a compute target attached with a literal token. */
export function computeSecretName(target: string): string {
  return `compute/${target}/token`;
}

interface TokenSource {
  getToken(signal?: AbortSignal): Promise<string>;
  /** Where the token comes from, in words (shown by describe() and in errors). */
  source: string;
  /** What to do when the service refuses it. */
  fix: string;
}

function tokenSource(target: string, credential: AdlaCredential, context: PluginContext): TokenSource {
  if (credential === 'default') return defaultCredential();
  const reference = credential.token;
  if ('secret' in reference) {
    const name = reference.secret;
    const missing = (): SluiceError =>
      invalid(
        target,
        `the secret "${name}" holding the token is not set in this workspace; store it with attachAdlaCompute(ws, '${target}', { …, credential: { token } }) or ws.setSecret('${name}', token), or set the environment variable ${secretVariable(name)}.`,
      );
    if (!context.secret(name)) throw missing();
    return {
      source: `workspace secret "${name}"`,
      fix: `Store a fresh token with attachAdlaCompute(ws, '${target}', { …, credential: { token } }) or ws.setSecret('${name}', token), or use credential: 'default'.`,
      // read on every request, so a rotated secret is picked up
      getToken: async () => {
        const value = context.secret(name);
        if (!value) throw missing();
        return value;
      },
    };
  }
  const variable = reference.env;
  const missing = (): SluiceError =>
    invalid(target, `the environment variable ${variable} holding the token is not set.`);
  if (!process.env[variable]) throw missing();
  return {
    source: `environment variable ${variable}`,
    fix: `Put a fresh token in ${variable}, or use credential: 'default'.`,
    getToken: async () => {
      const value = process.env[variable];
      if (!value) throw missing();
      return value;
    },
  };
}

/** DefaultAzureCredential, loaded on first use; tokens are kept until five minutes before they expire. */
function defaultCredential(): TokenSource {
  let credential: Promise<{ getToken(scope: string, options?: object): Promise<unknown> }> | undefined;
  let cached: { token: string; expiresOnTimestamp: number } | undefined;
  return {
    source: 'DefaultAzureCredential',
    fix: 'Check the identity DefaultAzureCredential picks (az login, AZURE_CLIENT_ID / AZURE_TENANT_ID, managed identity).',
    async getToken(signal) {
      if (cached && cached.expiresOnTimestamp - Date.now() > 5 * 60_000) return cached.token;
      credential ??= import('@azure/identity').then((identity) => new identity.DefaultAzureCredential());
      try {
        const token = (await (
          await credential
        ).getToken(ADLA_TOKEN_SCOPE, signal ? { abortSignal: signal } : {})) as {
          token: string;
          expiresOnTimestamp: number;
        } | null;
        if (!token) throw new Error('no token was returned');
        cached = token;
        return token.token;
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new SluiceError(
          'COMPUTE_AUTH_FAILED',
          `DefaultAzureCredential could not get a token for https://datalake.azure.net/: ${(error as Error)?.message ?? String(error)}. Sign in with \`az login\`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and a client secret or certificate, or run where a managed identity is available.`,
          { cause: error },
        );
      }
    },
  };
}

/**
 * The Data Lake Analytics target behind a compute target a step was given, if it is one (the runtime hands
 * steps their target; recognised by kind and job client also when it comes from another copy of this package).
 */
export function adlaTargetOf(compute: ComputeTarget): AdlaComputeTarget | undefined {
  if (compute instanceof AdlaComputeTarget) return compute;
  if (compute.kind !== ADLA_COMPUTE_KIND) return undefined;
  const jobs = (compute as { jobs?: unknown }).jobs;
  return jobs && typeof jobs === 'object' ? (compute as AdlaComputeTarget) : undefined;
}

/** A Data Lake Analytics account where AdlaSteps submit their U-SQL jobs. */
export class AdlaComputeTarget implements ComputeTarget {
  readonly kind = ADLA_COMPUTE_KIND;
  readonly name: string;
  readonly accountName: string;
  readonly jobEndpoint: string;
  readonly pollIntervalMs: number;
  /** The job API of the account. */
  readonly jobs: AdlaJobClient;
  readonly #facts: Readonly<Record<string, unknown>>;

  constructor(name: string, options: AdlaComputeOptions, context: PluginContext) {
    const checked = checkOptions(name, options);
    const token = tokenSource(name, checked.credential, context);
    this.name = name;
    this.accountName = checked.accountName;
    this.jobEndpoint = checked.jobEndpoint ?? `https://${checked.accountName}.${ADLA_JOB_DNS_SUFFIX}`;
    this.pollIntervalMs = checked.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.jobs = new AdlaJobClient({
      endpoint: this.jobEndpoint,
      accountName: checked.accountName,
      getToken: (signal) => token.getToken(signal),
      credentialHint: { source: token.source, fix: token.fix },
    });
    this.#facts = Object.freeze({
      provider: ADLA_COMPUTE_KIND,
      accountName: checked.accountName,
      resourceGroup: checked.resourceGroup,
      ...(checked.subscriptionId === undefined ? {} : { subscriptionId: checked.subscriptionId }),
      jobEndpoint: this.jobEndpoint,
      credential: token.source,
      pollIntervalMs: this.pollIntervalMs,
    });
  }

  /** Account, endpoint and where the token comes from; never the token. */
  describe(): Record<string, unknown> {
    return this.#facts as Record<string, unknown>;
  }
}

/** The provider of `adla` compute targets; `ws.ready()` registers it for workspaces that list this package. */
export function adlaComputeProvider(): ComputeProviderPlugin<AdlaComputeOptions> {
  return {
    type: 'compute',
    kind: ADLA_COMPUTE_KIND,
    name: PACKAGE_NAME,
    version: STEP_ADLA_VERSION,
    coreRange: CORE_RANGE,
    createTarget: (name, options, context) => new AdlaComputeTarget(name, options, context),
  };
}

/**
 * Attach a Data Lake Analytics account as a compute target of the workspace (`ComputeTarget.attach` with
 * `AdlaCompute.attach_configuration` in the original SDK). A literal token goes to the workspace's secret
 * store (`.sluice/secrets.json`, owner-only) and the config keeps only a reference; the workspace config
 * names this package so that reopened workspaces load the provider.
 */
export async function attachAdlaCompute(
  ws: Workspace,
  name: string,
  options: AttachAdlaComputeOptions,
): Promise<AdlaComputeTarget> {
  if (typeof name !== 'string' || !TARGET_NAME.test(name)) {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      `attachAdlaCompute needs a compute target name (letters, digits, '_', '.', '-'), not ${JSON.stringify(name)}.`,
    );
  }
  const token = options?.credential === 'default' ? undefined : options?.credential?.token;
  const literal = typeof token === 'string';
  if (literal && token.trim() === '') throw invalid(name, 'the token is empty.');
  const secretName = computeSecretName(name);
  // everything is checked before anything is written
  const saved = checkOptions(name, {
    ...options,
    credential: literal ? { token: { secret: secretName } } : (options.credential as AdlaCredential),
  });
  if (literal) ws.setSecret(secretName, token);
  else ws.deleteSecret(secretName);
  ws.registry.ensure(adlaComputeProvider());
  ws.addPluginPackage(PACKAGE_NAME);
  return (await ComputeTargets.attach(ws, name, {
    provider: ADLA_COMPUTE_KIND,
    options: saved,
  })) as AdlaComputeTarget;
}
