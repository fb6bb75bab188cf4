import { SluiceError } from '@sluice/core';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type ProtectedHeaderParameters,
} from 'jose';
import type { AuthVerifier, Principal, Scope } from './auth.js';

export interface EntraIdVerifierOptions {
  /**
   * The issuer the token's `iss` must equal: `https://login.microsoftonline.com/<tenant id>/v2.0` for v2
   * access tokens, `https://sts.windows.net/<tenant id>/` for v1. Several may be given.
   */
  issuer: string | readonly string[];
  /** The API the token is for, as its `aud` names it: the app's client id or Application ID URI. Several may be given. */
  audience: string | readonly string[];
  /**
   * Where the tenant publishes its signing keys, e.g.
   * `https://login.microsoftonline.com/<tenant id>/discovery/v2.0/keys`. Fetched when first needed, kept
   * (10 minutes), and fetched again for a key id it does not have (at most every 30 seconds).
   */
  jwksUri?: string | URL;
  /** A JSON Web Key Set (`{ keys: [...] }`) instead of `jwksUri`: fixed keys, no fetching. */
  jwks?: JSONWebKeySet;
  /**
   * Which app roles (`roles`) or delegated scopes (`scp`) grant Sluice's scopes (default: `Sluice.Submit`
   * grants submit, `Sluice.Read` grants read). Submit includes read, as with workspace tokens.
   */
  scopes?: { submit?: readonly string[]; read?: readonly string[] };
  /** Leeway for `exp` and `nbf`, in seconds (default 60). */
  clockToleranceSeconds?: number;
  /** The signing algorithms accepted (default `['RS256']`, what Entra ID signs with). */
  algorithms?: readonly string[];
}

const NAME = 'entra-id';
const DEFAULT_SCOPES = { submit: ['Sluice.Submit'], read: ['Sluice.Read'] } as const;
/** Three base64url parts (the last empty for an unsigned token, which is refused as a JWT, not passed on). */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/**
 * The verifier of Microsoft Entra ID (Azure AD) access tokens: JWT bearer tokens whose signature verifies
 * with the tenant's signing keys and whose issuer, audience and lifetime are this server's. A bearer token
 * that is not a JWT is left to the next verifier, so workspace tokens and Entra ID tokens can both be
 * accepted. The principal's subject is `entra:<oid>` (or `entra:<sub>` when the token has no `oid`).
 */
export function entraIdVerifier(options: EntraIdVerifierOptions): AuthVerifier {
  const issuer = listOption(options?.issuer, 'issuer');
  const audience = listOption(options?.audience, 'audience');
  const algorithms = listOption(options.algorithms ?? ['RS256'], 'algorithms');
  const grants = {
    submit: listOption(options.scopes?.submit ?? DEFAULT_SCOPES.submit, 'scopes.submit', true),
    read: listOption(options.scopes?.read ?? DEFAULT_SCOPES.read, 'scopes.read', true),
  };
  const clockTolerance = options.clockToleranceSeconds ?? 60;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0) {
    throw invalidOption(
      `clockToleranceSeconds must be a number of seconds, 0 or more; got ${JSON.stringify(options.clockToleranceSeconds)}.`,
    );
  }
  const { getKey, keySource } = keyResolver(options);

  return {
    name: NAME,
    async verify({ scheme, value }): Promise<Principal | null> {
      if (scheme.toLowerCase() !== 'bearer' || !JWT_SHAPE.test(value)) return null;
      let header: ProtectedHeaderParameters;
      try {
        header = decodeProtectedHeader(value);
      } catch {
        return null; // dots, but not a JWT's header: not ours
      }
      if (typeof header.alg !== 'string') return null;

      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(value, getKey, {
          issuer: [...issuer],
          audience: [...audience],
          algorithms: [...algorithms],
          clockTolerance,
          requiredClaims: ['exp'],
        }));
      } catch (error) {
        throw refusal(error, { header, issuer, audience, algorithms, keySource, remote: !options.jwks });
      }

      const id = [payload.oid, payload.sub].find((claim) => typeof claim === 'string' && claim !== '');
      if (id === undefined) {
        throw new SluiceError('AUTH_INVALID', 'The Entra ID token has neither an "oid" nor a "sub" claim.', {
          details: { verifier: NAME, check: 'subject' },
        });
      }
      const subject = `entra:${String(id)}`;
      const roles = Array.isArray(payload.roles)
        ? payload.roles.filter((role): role is string => typeof role === 'string')
        : [];
      const scp = typeof payload.scp === 'string' ? payload.scp.split(' ').filter(Boolean) : [];
      const held = new Set([...roles, ...scp]);
      const scopes: Scope[] = grants.submit.some((name) => held.has(name))
        ? ['read', 'submit']
        : grants.read.some((name) => held.has(name))
          ? ['read']
          : [];
      if (scopes.length === 0) {
        const wanted = [
          grants.submit.length ? `${grants.submit.join(' or ')} (submit)` : '',
          grants.read.length ? `${grants.read.join(' or ')} (read)` : '',
        ].filter(Boolean);
        throw new SluiceError(
          'AUTH_FORBIDDEN',
          `The Entra ID token of ${subject} grants no access to this server: it needs the app role or scope ${wanted.join(', or ')}; it has ${held.size ? [...held].join(', ') : 'none'}. Assign the role (or consent to the scope) in the app registration.`,
          { details: { verifier: NAME, subject, roles, scp, grants } },
        );
      }
      return { subject, scopes, verifier: NAME };
    },
  };
}

function invalidOption(message: string): SluiceError {
  return new SluiceError('PARAMETER_INVALID', `entraIdVerifier: ${message}`);
}

/** A string or list of strings as a non-empty list (empty allowed for `allowEmpty`). */
function listOption(value: unknown, name: string, allowEmpty = false): readonly string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(list) ||
    (!allowEmpty && list.length === 0) ||
    !list.every((entry) => typeof entry === 'string' && entry !== '')
  ) {
    throw invalidOption(
      `${name} must be ${allowEmpty ? 'a list of' : 'a string or a non-empty list of'} non-empty strings; got ${JSON.stringify(value)}.`,
    );
  }
  return [...(list as string[])];
}

function keyResolver(options: EntraIdVerifierOptions): { getKey: JWTVerifyGetKey; keySource: string } {
  const { jwksUri, jwks } = options;
  if ((jwksUri === undefined) === (jwks === undefined)) {
    throw invalidOption(
      'give either jwksUri (e.g. https://login.microsoftonline.com/<tenant id>/discovery/v2.0/keys) or jwks (a JSON Web Key Set), not both or neither.',
    );
  }
  if (jwks !== undefined) {
    try {
      return { getKey: createLocalJWKSet(jwks), keySource: 'the configured key set' };
    } catch (error) {
      throw new SluiceError(
        'PARAMETER_INVALID',
        `entraIdVerifier: jwks is not a JSON Web Key Set ({ "keys": [...] }): ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  let url: URL;
  try {
    url = new URL(jwksUri!);
  } catch (error) {
    throw new SluiceError(
      'PARAMETER_INVALID',
      `entraIdVerifier: jwksUri must be a URL; got ${JSON.stringify(String(jwksUri))}.`,
      { cause: error },
    );
  }
  return { getKey: createRemoteJWKSet(url), keySource: `the key set at ${url.href}` };
}

interface RefusalContext {
  header: ProtectedHeaderParameters;
  issuer: readonly string[];
  audience: readonly string[];
  algorithms: readonly string[];
  keySource: string;
  remote: boolean;
}

const quote = (value: unknown): string => JSON.stringify(value) ?? 'nothing';
const either = (values: readonly string[]): string => values.map(quote).join(' or ');
const isoTime = (seconds: unknown): string =>
  typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : quote(seconds);

/** What a failed jwtVerify means for the caller: AUTH_INVALID naming the check (never the token). */
function refusal(error: unknown, context: RefusalContext): SluiceError {
  const invalid = (check: string, message: string): SluiceError =>
    new SluiceError('AUTH_INVALID', `The Entra ID token ${message}`, {
      cause: error,
      details: { verifier: NAME, check },
    });
  const kid = context.header.kid === undefined ? 'none' : quote(context.header.kid);
  if (error instanceof errors.JWTExpired) {
    return invalid('exp', `expired at ${isoTime(error.payload.exp)}; request a new one.`);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason, payload } = error;
    if (reason === 'missing') return invalid(claim, `has no "${claim}" claim.`);
    switch (claim) {
      case 'iss':
        return invalid(
          'iss',
          `was issued by ${quote(payload.iss)}, not by ${either(context.issuer)}: request it from the configured tenant.`,
        );
      case 'aud':
        return invalid(
          'aud',
          `is for the audience ${quote(payload.aud)}, not this server's (${either(context.audience)}): request a token for this API.`,
        );
      case 'nbf':
        return invalid(
          'nbf',
          `is not valid before ${isoTime(payload.nbf)}; check this machine's clock if that time has passed.`,
        );
      default:
        return invalid(claim, `has an invalid "${claim}" claim (${error.message}).`);
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid(
      'signature',
      `has a signature that does not verify with the signing key (kid ${kid}) of ${context.keySource}: it was not signed by the issuer.`,
    );
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return invalid(
      'kid',
      `is signed with key id ${kid}, which is not among the signing keys of ${context.keySource}${context.remote ? ' (fetched again for an unknown key id at most every 30 seconds)' : ''}.`,
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return invalid(
      'alg',
      `is signed with ${quote(context.header.alg)}; this server accepts ${either(context.algorithms)}.`,
    );
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported
  ) {
    return invalid('format', `cannot be read as a signed JWT: ${(error as Error).message}.`);
  }
  if (context.remote) {
    // the key set could not be fetched or read: the server's trouble, not the caller's
    return new SluiceError(
      'SERVICE_UNAVAILABLE',
      `Could not get the signing keys of Entra ID tokens from ${context.keySource}: ${(error as Error)?.message ?? String(error)}. Try again shortly.`,
      { cause: error, details: { verifier: NAME } },
    );
  }
  return error instanceof SluiceError
    ? error
    : new SluiceError('INTERNAL_ERROR', `Verifying an Entra ID token failed: ${String(error)}`, {
        cause: error,
      });
}
