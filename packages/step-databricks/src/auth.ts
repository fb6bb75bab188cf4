import type { AccessToken, TokenCredential } from '@azure/identity';
import { SluiceError } from '@sluice/core';
import { AUTH_FAILED_CODE } from './errors.js';

/** The application id of Azure Databricks in Microsoft Entra ID (the resource its tokens are issued for). */
export const AZURE_DATABRICKS_APP_ID = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';
/** The scope of Microsoft Entra ID tokens for the Azure Databricks REST APIs. */
export const AZURE_DATABRICKS_SCOPE = `${AZURE_DATABRICKS_APP_ID}/.default`;
/** The scope of the Azure management token a service principal sends when it is not a workspace user. */
export const AZURE_MANAGEMENT_SCOPE = 'https://management.core.windows.net//.default';

/** `/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Databricks/workspaces/<name>`. */
export const WORKSPACE_RESOURCE_ID =
  /^\/subscriptions\/[^/\s]+\/resourceGroups\/[^/\s]+\/providers\/Microsoft\.Databricks\/workspaces\/[^/\s]+$/i;

/** Start getting a new token this long before the one held expires (or half its life, when shorter). */
const REFRESH_WINDOW_MS = 2 * 60_000;
/** A token this close to expiry is not sent, even when getting a new one failed. */
const EXPIRY_MARGIN_MS = 1000;

/** How a client proves who it is to a Databricks workspace: the headers of each request. */
export interface DatabricksAuth {
  /** What is sent, in words: `the access token`, `the Microsoft Entra ID token`. */
  readonly what: string;
  /** The headers for the next request; tokens are renewed ahead of their expiry. */
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  /** Forget held tokens after the workspace refused them; false when there is nothing to renew. */
  renew(): boolean;
}

/** A personal access token (or any static bearer token the workspace accepts). */
export function staticTokenAuth(token: string): DatabricksAuth {
  return {
    what: 'the access token',
    headers: async () => ({ Authorization: `Bearer ${token}` }),
    renew: () => false,
  };
}

export interface EntraAuthOptions {
  /** Where the credential comes from, in words, for error messages (never a secret). */
  source: string;
  /**
   * The workspace's Azure resource id: the service principal's headers are added
   * (`X-Databricks-Azure-Workspace-Resource-Id`, `X-Databricks-Azure-SP-Management-Token`), so an identity
   * with Contributor or Owner on the workspace that is not yet a workspace user is let in.
   */
  workspaceResourceId?: string | undefined;
}

/**
 * Microsoft Entra ID tokens from a `TokenCredential` for the AzureDatabricks resource (and, with a workspace
 * resource id, for Azure management), each kept until shortly before it expires or its
 * `refreshAfterTimestamp`, so a run that outlives a token keeps working.
 */
export function entraAuth(credential: TokenCredential, options: EntraAuthOptions): DatabricksAuth {
  const databricks = new CachedToken(credential, AZURE_DATABRICKS_SCOPE, options.source);
  const management = options.workspaceResourceId
    ? new CachedToken(credential, AZURE_MANAGEMENT_SCOPE, options.source)
    : undefined;
  const resourceId = options.workspaceResourceId;
  return {
    what: resourceId ? 'the Microsoft Entra ID tokens' : 'the Microsoft Entra ID token',
    async headers(signal) {
      const [token, managementToken] = await Promise.all([databricks.get(signal), management?.get(signal)]);
      return {
        Authorization: `Bearer ${token}`,
        ...(resourceId && managementToken
          ? {
              'X-Databricks-Azure-Workspace-Resource-Id': resourceId,
              'X-Databricks-Azure-SP-Management-Token': managementToken,
            }
          : {}),
      };
    },
    renew() {
      databricks.forget();
      management?.forget();
      return true;
    },
  };
}

/** One scope's token from a credential, renewed ahead of expiry; concurrent callers share one request. */
class CachedToken {
  readonly #credential: TokenCredential;
  readonly #scope: string;
  readonly #source: string;
  #held: { token: AccessToken; obtainedAt: number } | undefined;
  #pending: Promise<AccessToken> | undefined;

  constructor(credential: TokenCredential, scope: string, source: string) {
    this.#credential = credential;
    this.#scope = scope;
    this.#source = source;
  }

  async get(signal?: AbortSignal): Promise<string> {
    const held = this.#held;
    if (held && !this.#due(held)) return held.token.token;
    try {
      return (await abortable(this.#refresh(), signal)).token;
    } catch (error) {
      // a token still valid for a while is better than none when the identity service hiccups
      if (!signal?.aborted && held && held.token.expiresOnTimestamp - EXPIRY_MARGIN_MS > Date.now()) {
        return held.token.token;
      }
      throw error;
    }
  }

  forget(): void {
    this.#held = undefined;
  }

  #due({ token, obtainedAt }: { token: AccessToken; obtainedAt: number }): boolean {
    const now = Date.now();
    if (token.refreshAfterTimestamp !== undefined && now >= token.refreshAfterTimestamp) return true;
    const lifetime = token.expiresOnTimestamp - obtainedAt;
    return now >= token.expiresOnTimestamp - Math.min(REFRESH_WINDOW_MS, lifetime / 2);
  }

  #refresh(): Promise<AccessToken> {
    this.#pending ??= this.#request().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #request(): Promise<AccessToken> {
    const obtainedAt = Date.now();
    let token: AccessToken | null;
    try {
      token = await this.#credential.getToken(this.#scope);
    } catch (error) {
      throw this.#failed(error);
    }
    if (!token || typeof token.token !== 'string' || token.token === '') {
      throw this.#failed(new Error('the credential returned no token'));
    }
    this.#held = { token, obtainedAt };
    return token;
  }

  #failed(error: unknown): SluiceError {
    const resource =
      this.#scope === AZURE_DATABRICKS_SCOPE
        ? `Azure Databricks (${AZURE_DATABRICKS_APP_ID})`
        : 'Azure management (https://management.core.windows.net/)';
    const reason = firstLine((error as Error | undefined)?.message ?? String(error)).replace(/\.+$/, '');
    return new SluiceError(
      AUTH_FAILED_CODE,
      `Could not get a Microsoft Entra ID token for ${resource} from ${this.#source}: ${reason}. Sign in with \`az login\`, set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or a certificate) for a service principal, or run where a managed identity is available.`,
      { cause: error, details: { reason: 'credential', scope: this.#scope } },
    );
  }
}

/** `DefaultAzureCredential`, loaded from `@azure/identity` on first use. */
export function defaultAzureCredential(): TokenCredential {
  let loaded: Promise<TokenCredential> | undefined;
  return {
    async getToken(scopes, options) {
      loaded ??= import('@azure/identity').then((identity) => new identity.DefaultAzureCredential());
      return (await loaded).getToken(scopes, options);
    },
  };
}

/** Is this an object that can give tokens (`@azure/identity`'s `TokenCredential`)? */
export function isTokenCredential(value: unknown): value is TokenCredential {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getToken?: unknown }).getToken === 'function'
  );
}

/** Wait for `promise`, or fail as soon as `signal` aborts (the promise itself goes on for other callers). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
