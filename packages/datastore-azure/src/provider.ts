import {
  SluiceError,
  type AnyPlugin,
  type DatastoreContext,
  type DatastoreProviderPlugin,
} from '@sluice/core';
import type { Workspace, WorkspaceDatastore } from '@sluice/runtime';
import { AzureBlobDatastore, accountNameFromUrl, type AzureBlobCredential } from './azure-blob-datastore.js';
import { CORE_RANGE, DATASTORE_AZURE_VERSION, PACKAGE_NAME } from './version.js';

export const AZURE_BLOB_KIND = 'azure-blob';

/**
 * Where a secret is found: a workspace secret (`ws.setSecret(name, value)`, kept in `.sluice/secrets.json`
 * or given as the environment variable `SLUICE_SECRET_<NAME>`), or an environment variable.
 */
export type SecretReference = { secret: string } | { env: string };

export { accountNameFromUrl };

/** The options of an `azure-blob` datastore as saved in `sluice.workspace.json`: never a secret itself. */
export interface AzureBlobDatastoreOptions {
  containerName: string;
  accountUrl?: string;
  accountName?: string;
  /** Exactly one of the next four says how to authenticate. */
  connectionString?: SecretReference;
  accountKey?: SecretReference;
  sasToken?: SecretReference;
  credential?: 'default';
  pathPrefix?: string;
  createContainerIfMissing?: boolean;
  concurrency?: number;
  /** The account has a hierarchical namespace (ADLS Gen2): `abfss://` addresses are offered too. */
  hierarchicalNamespace?: boolean;
}

const SECRET_FIELDS = ['connectionString', 'accountKey', 'sasToken'] as const;
type SecretField = (typeof SECRET_FIELDS)[number];

/** The provider of `azure-blob` datastores; `ws.ready()` registers it for workspaces that list this package. */
export function azureBlobDatastore(): DatastoreProviderPlugin<AzureBlobDatastoreOptions> {
  return {
    type: 'datastore',
    kind: AZURE_BLOB_KIND,
    name: PACKAGE_NAME,
    version: DATASTORE_AZURE_VERSION,
    coreRange: CORE_RANGE,
    createDatastore(name, options, context) {
      return createFromOptions(name, options, context);
    },
  };
}

/** The plugins of this package, for `ws.ready()` (which loads packages named in the workspace config). */
export const sluicePlugins = (): AnyPlugin[] => [azureBlobDatastore()];

function invalid(name: string, message: string): SluiceError {
  return new SluiceError('WORKSPACE_CONFIG_INVALID', `Azure datastore "${name}": ${message}`, {
    details: { datastore: name },
  });
}

/** Build the datastore from saved options, looking the secrets up now. */
export function createFromOptions(
  name: string,
  options: AzureBlobDatastoreOptions,
  context: Pick<DatastoreContext, 'secret'>,
): AzureBlobDatastore {
  if (!options || typeof options !== 'object') throw invalid(name, 'options are missing.');
  const given = credentialFields(name, options);
  const resolveSecret = (field: SecretField): { value: string; source: string } => {
    const reference = options[field] as unknown;
    if (typeof reference === 'string') {
      throw invalid(
        name,
        `${field} is written in plain text in the workspace config; secrets are not kept there. Register the datastore again with registerAzureBlobContainer (which stores it with ws.setSecret) or use { "secret": "<name>" } / { "env": "<VARIABLE>" }.`,
      );
    }
    if (
      reference &&
      typeof reference === 'object' &&
      typeof (reference as { secret?: unknown }).secret === 'string'
    ) {
      const secretName = (reference as { secret: string }).secret;
      const value = context.secret(secretName);
      if (!value) {
        throw invalid(
          name,
          `the secret "${secretName}" (${field}) is not set in this workspace; store it with ws.setSecret('${secretName}', …) or set the environment variable ${secretVariable(secretName)}.`,
        );
      }
      return { value, source: `secret ${secretName}` };
    }
    if (
      reference &&
      typeof reference === 'object' &&
      typeof (reference as { env?: unknown }).env === 'string'
    ) {
      const variable = (reference as { env: string }).env;
      const value = process.env[variable];
      if (!value) throw invalid(name, `the environment variable ${variable} (${field}) is not set.`);
      return { value, source: `environment variable ${variable}` };
    }
    throw invalid(name, `${field} must be { "secret": "<name>" } or { "env": "<VARIABLE>" }.`);
  };
  let credential: AzureBlobCredential;
  let credentialSource: string;
  let accountUrl = options.accountUrl;
  switch (given) {
    case 'connectionString': {
      const { value, source } = resolveSecret('connectionString');
      credential = { kind: 'connectionString', connectionString: value };
      credentialSource = `connection string from ${source}`;
      break;
    }
    case 'accountKey': {
      const { value, source } = resolveSecret('accountKey');
      const accountName = options.accountName ?? (accountUrl ? accountNameFromUrl(accountUrl) : undefined);
      if (!accountName)
        throw invalid(name, 'an account key needs accountName (or an accountUrl it can be read from).');
      accountUrl ??= `https://${accountName}.blob.core.windows.net`;
      credential = { kind: 'sharedKey', accountName, accountKey: value };
      credentialSource = `account key from ${source}`;
      break;
    }
    case 'sasToken': {
      const { value, source } = resolveSecret('sasToken');
      credential = { kind: 'sas', sasToken: value };
      credentialSource = `SAS token from ${source}`;
      break;
    }
    default:
      credential = { kind: 'default' };
      credentialSource = 'DefaultAzureCredential';
  }
  if (given !== 'connectionString') {
    if (!accountUrl && options.accountName)
      accountUrl = `https://${options.accountName}.blob.core.windows.net`;
    if (!accountUrl) throw invalid(name, 'accountUrl (or accountName) is needed.');
    checkAccountUrl(name, accountUrl);
  }
  return new AzureBlobDatastore(name, {
    containerName: options.containerName,
    ...(accountUrl ? { accountUrl } : {}),
    credential,
    credentialSource,
    ...(options.pathPrefix ? { pathPrefix: options.pathPrefix } : {}),
    ...(options.createContainerIfMissing ? { createContainerIfMissing: true } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.accountName ? { accountName: options.accountName } : {}),
    ...(hierarchicalNamespace(name, options.hierarchicalNamespace) ? { hierarchicalNamespace: true } : {}),
  });
}

function hierarchicalNamespace(name: string, value: unknown): boolean {
  if (value === undefined || typeof value === 'boolean') return value === true;
  throw invalid(name, `hierarchicalNamespace must be true or false, not ${JSON.stringify(value)}.`);
}

/** Which credential the options name; exactly one is allowed. */
function credentialFields(
  name: string,
  options: { connectionString?: unknown; accountKey?: unknown; sasToken?: unknown; credential?: unknown },
): SecretField | 'default' {
  const present: Array<SecretField | 'default'> = SECRET_FIELDS.filter(
    (field) => options[field] !== undefined,
  );
  if (options.credential !== undefined) {
    if (options.credential !== 'default') {
      throw invalid(name, `credential must be 'default' (DefaultAzureCredential) when given.`);
    }
    present.push('default');
  }
  if (present.length !== 1) {
    throw invalid(
      name,
      present.length === 0
        ? `say how to authenticate: connectionString, accountName + accountKey, sasToken, or credential: 'default'.`
        : `give one way to authenticate, not ${present.join(' and ')}.`,
    );
  }
  return present[0]!;
}

function checkAccountUrl(name: string, url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(name, `accountUrl "${url}" is not a URL.`);
  }
  if (parsed.searchParams.has('sig')) {
    throw invalid(
      name,
      'accountUrl carries a SAS signature; give the token as sasToken so it is kept as a secret.',
    );
  }
}

function secretVariable(name: string): string {
  return `SLUICE_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

// ---------------------------------------------------------------------------------------------------------

export interface RegisterAzureBlobContainerOptions {
  /** The datastore's name in the workspace. */
  name: string;
  containerName: string;
  /** `https://<account>.blob.core.windows.net`; derived from accountName when not given. */
  accountUrl?: string;
  /** A storage connection string (stored as the secret `datastore/<name>/connectionString`). */
  connectionString?: string | SecretReference;
  accountName?: string;
  /** The account's access key (stored as the secret `datastore/<name>/accountKey`). */
  accountKey?: string | SecretReference;
  /** A SAS token (stored as the secret `datastore/<name>/sasToken`). */
  sasToken?: string | SecretReference;
  /** Authenticate with DefaultAzureCredential from @azure/identity. */
  credential?: 'default';
  pathPrefix?: string;
  createContainerIfMissing?: boolean;
  /** Files moved at once by default. */
  concurrency?: number;
  /** The account has a hierarchical namespace (ADLS Gen2): steps on Spark get `abfss://` addresses. */
  hierarchicalNamespace?: boolean;
  /** Make it the workspace's default datastore. */
  setDefault?: boolean;
}

const CONTAINER_NAME = /^(?:\$root|(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9])$/;

/** The name under which a datastore's secret field is stored in the workspace. */
export function datastoreSecretName(datastore: string, field: SecretField): string {
  return `datastore/${datastore}/${field}`;
}

/**
 * Register an Azure blob container as a datastore of the workspace (`Datastore.register_azure_blob_container`).
 * Secrets go to the workspace's secret store (`.sluice/secrets.json`, owner-only); the workspace config keeps
 * only references to them, and names this package so that reopened workspaces load the provider.
 */
export function registerAzureBlobContainer(
  ws: Workspace,
  options: RegisterAzureBlobContainerOptions,
): WorkspaceDatastore {
  const name = options?.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new SluiceError(
      'WORKSPACE_CONFIG_INVALID',
      `registerAzureBlobContainer needs a datastore name (letters, digits, '_', '.', '-'), not ${JSON.stringify(name)}.`,
    );
  }
  if (typeof options.containerName !== 'string' || !CONTAINER_NAME.test(options.containerName)) {
    throw invalid(
      name,
      `"${String(options.containerName)}" is not a container name: 3–63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit.`,
    );
  }
  const kind = credentialFields(name, options);
  if (kind !== 'connectionString' && !options.accountUrl && !options.accountName) {
    throw invalid(name, 'give accountUrl or accountName.');
  }
  if (options.accountUrl) checkAccountUrl(name, options.accountUrl);
  hierarchicalNamespace(name, options.hierarchicalNamespace);

  for (const field of SECRET_FIELDS) {
    const value = options[field];
    if (value === undefined) continue;
    if (typeof value === 'string' ? !value : !isReference(value)) invalidReference(name, field);
  }

  ws.registry.ensure(azureBlobDatastore());
  ws.addPluginPackage(PACKAGE_NAME);

  const saved: AzureBlobDatastoreOptions = { containerName: options.containerName };
  if (options.accountUrl) saved.accountUrl = options.accountUrl;
  if (options.accountName) saved.accountName = options.accountName;
  for (const field of SECRET_FIELDS) {
    const value = options[field];
    const secretName = datastoreSecretName(name, field);
    if (value === undefined) {
      ws.deleteSecret(secretName);
    } else if (typeof value === 'string') {
      ws.setSecret(secretName, value);
      saved[field] = { secret: secretName };
    } else {
      ws.deleteSecret(secretName);
      saved[field] = { ...value };
    }
  }
  if (options.credential) saved.credential = options.credential;
  if (options.pathPrefix) saved.pathPrefix = options.pathPrefix;
  if (options.createContainerIfMissing) saved.createContainerIfMissing = true;
  if (options.concurrency) saved.concurrency = options.concurrency;
  if (options.hierarchicalNamespace) saved.hierarchicalNamespace = true;

  return ws.registerDatastore(
    name,
    { provider: AZURE_BLOB_KIND, options: saved as unknown as Record<string, unknown> },
    { setDefault: options.setDefault ?? false },
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

function invalidReference(name: string, field: string): never {
  throw invalid(name, `${field} must be a non-empty string or { secret: '<name>' } / { env: '<VARIABLE>' }.`);
}

/** `Datastore.registerAzureBlobContainer(ws, {...})`, as in the original SDK. */
export const Datastore = { registerAzureBlobContainer } as const;
