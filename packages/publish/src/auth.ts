import { SluiceError } from '@sluice/core';

/** What a caller may do: `read` allows GETs; `submit` allows GETs and POSTs (submissions). */
export type Scope = 'read' | 'submit';

/** Who made a request, as a verifier established it. */
export interface Principal {
  /** A stable name for audit records, e.g. `token:1a2b3c4d5e6f`. */
  subject: string;
  scopes: readonly Scope[];
  /** The verifier that recognised the credentials. */
  verifier: string;
}

/** The credentials of a request's `Authorization` header. */
export interface AuthCredentials {
  /** The scheme as sent, e.g. `Bearer`. */
  scheme: string;
  /** What follows the scheme: the token. */
  value: string;
  request: Request;
}

/**
 * Checks one kind of credentials. `verify` answers a principal for credentials it accepts, null for
 * credentials that are not its kind (the next verifier is asked), and throws AUTH_INVALID for credentials
 * of its kind that it rejects (bad, expired, revoked). Workspace tokens are one verifier; others (Microsoft
 * Entra ID JWTs) plug in beside it.
 */
export interface AuthVerifier {
  readonly name: string;
  verify(credentials: AuthCredentials): Principal | null | Promise<Principal | null>;
}

/** The principal of a request, asked of each verifier in turn; AUTH_REQUIRED / AUTH_INVALID otherwise. */
export async function authenticate(request: Request, verifiers: readonly AuthVerifier[]): Promise<Principal> {
  const header = request.headers.get('authorization');
  const match = header ? /^\s*(\S+)\s+(\S+)\s*$/.exec(header) : null;
  if (!header) {
    throw new SluiceError(
      'AUTH_REQUIRED',
      'This server needs credentials: send "Authorization: Bearer <token>" (create a token with createToken or `sluice token create`).',
    );
  }
  if (!match) {
    throw new SluiceError(
      'AUTH_INVALID',
      'The Authorization header must be "<scheme> <token>", e.g. "Bearer slc_…".',
    );
  }
  const credentials: AuthCredentials = { scheme: match[1]!, value: match[2]!, request };
  for (const verifier of verifiers) {
    const principal = await verifier.verify(credentials);
    if (principal) return principal;
  }
  throw new SluiceError(
    'AUTH_INVALID',
    `The ${credentials.scheme} credentials are not of a kind this server accepts${verifiers.length ? ` (it accepts: ${verifiers.map((verifier) => verifier.name).join(', ')})` : ''}.`,
  );
}

/** Fail with AUTH_FORBIDDEN unless the principal holds the scope. */
export function authorize(principal: Principal, scope: Scope): void {
  if (!principal.scopes.includes(scope)) {
    throw new SluiceError(
      'AUTH_FORBIDDEN',
      `These credentials allow ${principal.scopes.join(', ') || 'nothing'}; this request needs the "${scope}" scope. Use credentials that grant "${scope}" (for workspace tokens: \`sluice token create --scope ${scope}\`).`,
      { details: { needed: scope, granted: [...principal.scopes] } },
    );
  }
}
