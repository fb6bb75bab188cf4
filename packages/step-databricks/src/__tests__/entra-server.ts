/**
 * A local stand-in for Microsoft Entra ID as a managed identity meets it: the App Service managed identity
 * endpoint (`GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=<resource>` with the
 * `X-IDENTITY-HEADER` secret, answering `{ access_token, expires_on, resource, token_type, client_id }`).
 * `@azure/identity`'s `ManagedIdentityCredential`, and `DefaultAzureCredential` through it, ask this endpoint
 * for tokens when the environment variables IDENTITY_ENDPOINT and IDENTITY_HEADER are set, over plain HTTP,
 * so the real credential classes run against it.
 *
 * Tokens are random strings that expire after `lifetimeSeconds` (whole seconds, as `expires_on` is);
 * `check(token)` tells the Databricks contract server whose token it is, for which resource, and whether
 * it has expired.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface IssuedToken {
  readonly clientId: string;
  readonly resource: string;
  /** Milliseconds since the epoch, as the client is told (`expires_on` × 1000). */
  readonly expiresAt: number;
}

export class EntraServer {
  /** The managed identity endpoint (IDENTITY_ENDPOINT). */
  readonly endpoint: string;
  /** The secret the endpoint wants in `X-IDENTITY-HEADER` (IDENTITY_HEADER). */
  readonly identityHeader = randomUUID();
  /** The identity's client (application) id. */
  readonly clientId: string;
  /** How long new tokens live, in whole seconds. */
  lifetimeSeconds: number;
  /** Every token issued, by value (the test's own memory; kept to look for leaks). */
  readonly issued = new Map<string, IssuedToken>();
  readonly #server: Server;

  private constructor(server: Server, endpoint: string, clientId: string, lifetimeSeconds: number) {
    this.#server = server;
    this.endpoint = endpoint;
    this.clientId = clientId;
    this.lifetimeSeconds = lifetimeSeconds;
  }

  static async start(options: { clientId?: string; lifetimeSeconds?: number } = {}): Promise<EntraServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const instance = new EntraServer(
      server,
      `http://127.0.0.1:${port}/msi/token`,
      options.clientId ?? randomUUID(),
      options.lifetimeSeconds ?? 3600,
    );
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', instance.endpoint);
      const resource = url.searchParams.get('resource');
      const fail = (status: number, error: string, description: string): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error, error_description: description }));
      };
      if (req.method !== 'GET' || url.pathname !== '/msi/token') {
        fail(404, 'not_found', 'No such endpoint.');
      } else if (req.headers['x-identity-header'] !== instance.identityHeader) {
        fail(401, 'unauthorized_client', 'The X-IDENTITY-HEADER is missing or wrong.');
      } else if (url.searchParams.get('api-version') !== '2019-08-01' || !resource) {
        fail(400, 'invalid_request', 'api-version 2019-08-01 and resource are required.');
      } else {
        const token = `entra-${randomBytes(24).toString('hex')}`;
        const expiresOn = Math.floor(Date.now() / 1000) + instance.lifetimeSeconds;
        instance.issued.set(token, {
          clientId: instance.clientId,
          resource,
          expiresAt: expiresOn * 1000,
        });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            access_token: token,
            expires_on: String(expiresOn),
            resource,
            token_type: 'Bearer',
            client_id: instance.clientId,
          }),
        );
      }
    });
    return instance;
  }

  /** The environment variables that point a managed identity credential at this endpoint. */
  env(): Record<string, string> {
    return { IDENTITY_ENDPOINT: this.endpoint, IDENTITY_HEADER: this.identityHeader };
  }

  /** Whose token this is and for which resource; undefined for a token this server did not issue. */
  check(token: string): (IssuedToken & { expired: boolean }) | undefined {
    const issued = this.issued.get(token);
    return issued && { ...issued, expired: Date.now() >= issued.expiresAt };
  }

  /** Revoke a token before it expires: it is then unknown, as a token this server never issued. */
  revoke(token: string): void {
    this.issued.delete(token);
  }

  /** How many tokens were issued for a resource. */
  issuedFor(resource: string): number {
    return [...this.issued.values()].filter((token) => token.resource === resource).length;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
