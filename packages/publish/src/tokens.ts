import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SluiceError } from '@sluice/core';
import { parseDuration, type Workspace } from '@sluice/runtime';
import type { AuthVerifier, Principal, Scope } from './auth.js';

import { publishStore, type TokenRecord } from './store.js';

export type { TokenRecord } from './store.js';

export interface CreateTokenOptions {
  scope: Scope;
  /** Lifetime: seconds, or a duration such as '90m', '12h', '30d'. No expiry when omitted. */
  expiresIn?: number | string;
  description?: string;
}

/** A new token: `token` is shown only here; the store keeps a hash of its secret. */
export interface CreatedToken extends TokenRecord {
  token: string;
}

const TOKEN = /^slc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Create a bearer token for the REST server. The returned `token` cannot be recovered later. */
export function createToken(ws: Workspace, options: CreateTokenOptions): CreatedToken {
  if (options?.scope !== 'read' && options?.scope !== 'submit') {
    throw new SluiceError(
      'PARAMETER_INVALID',
      `A token needs a scope: 'read' (GET requests) or 'submit' (GET and POST); got ${JSON.stringify(options?.scope)}.`,
    );
  }
  let expiresAt: string | null = null;
  if (options.expiresIn !== undefined) {
    const ms =
      typeof options.expiresIn === 'number' ? options.expiresIn * 1000 : parseDuration(options.expiresIn);
    if (!Number.isFinite(ms) || ms <= 0) {
      throw new SluiceError(
        'PARAMETER_INVALID',
        `expiresIn must be a positive number of seconds or a duration like '30d'; got ${JSON.stringify(options.expiresIn)}.`,
      );
    }
    expiresAt = new Date(Date.now() + ms).toISOString();
  }
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record = publishStore(ws).insertToken(
    { id, scope: options.scope, description: options.description ?? '', expiresAt },
    sha256(secret).toString('hex'),
  );
  return { ...record, token: `slc_${id}_${secret}` };
}

/** Revoke a token by id (the part after `slc_`); requests with it are refused from now on. */
export function revokeToken(ws: Workspace, id: string): void {
  if (!publishStore(ws).revokeToken(id)) {
    throw new SluiceError('TOKEN_NOT_FOUND', `No token has id "${id}"; list them with listTokens(ws).`, {
      details: { id },
    });
  }
}

/** Every token, without secrets. */
export function listTokens(ws: Workspace): TokenRecord[] {
  return publishStore(ws).listTokens();
}

/** The verifier of the workspace's own bearer tokens (`slc_<id>_<secret>`). */
export function tokenVerifier(ws: Workspace): AuthVerifier {
  const store = publishStore(ws);
  // compared against when the id is unknown, so a miss costs the same as a wrong secret
  const decoy = sha256(randomBytes(32).toString('base64url'));
  return {
    name: 'sluice-token',
    verify({ scheme, value }): Principal | null {
      if (scheme.toLowerCase() !== 'bearer') return null;
      const match = TOKEN.exec(value);
      if (!match) return null;
      const [, id, secret] = match as unknown as [string, string, string];
      const record = store.getToken(id);
      const matches = timingSafeEqual(
        record ? Buffer.from(record.secretSha256, 'hex') : decoy,
        sha256(secret),
      );
      if (!record || !matches) throw new SluiceError('AUTH_INVALID', 'The bearer token is not valid.');
      if (record.revokedAt) {
        throw new SluiceError('AUTH_INVALID', `The bearer token ${id} was revoked at ${record.revokedAt}.`);
      }
      if (record.expiresAt && Date.parse(record.expiresAt) <= Date.now()) {
        throw new SluiceError('AUTH_INVALID', `The bearer token ${id} expired at ${record.expiresAt}.`);
      }
      return {
        subject: `token:${id}`,
        scopes: record.scope === 'submit' ? ['read', 'submit'] : ['read'],
        verifier: 'sluice-token',
      };
    },
  };
}
