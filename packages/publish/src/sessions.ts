import { createHash, randomBytes } from 'node:crypto';
import { SluiceError } from '@sluice/core';
import type { Principal } from './auth.js';

/** The cookie a browser signed in to the studio carries. */
export const SESSION_COOKIE = 'sluice_session';
/** The header a cookie-authenticated request that changes anything must carry (a cross-site form cannot). */
export const STUDIO_HEADER = 'x-sluice-studio';
/** A session ends after this long without a request. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** A one-time sign-in code is good for this long. */
export const LOGIN_CODE_TTL_MS = 10 * 60 * 1000;
/** The most sessions kept at once; the longest idle one ends when another starts. */
const MAX_SESSIONS = 1000;
const MAX_CODES = 100;

interface Session {
  principal: Principal;
  lastSeen: number;
  /** Checks the credentials the session was made from again (a revoked token ends its sessions). */
  recheck?: () => Promise<Principal>;
}

const digest = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/**
 * The studio's browser sessions, kept in the server's memory (a restart signs everyone out): a random
 * 256-bit id in an HttpOnly, SameSite=Strict cookie stands for a principal and its scope; one-time codes
 * (the link `sluice studio` prints) turn into `submit` sessions. Ids and codes are kept as SHA-256 hashes.
 */
export class StudioSessions {
  readonly #sessions = new Map<string, Session>();
  readonly #codes = new Map<string, number>();

  /** Start a session; returns the cookie value. */
  start(principal: Principal, recheck?: () => Promise<Principal>): string {
    this.#prune();
    if (this.#sessions.size >= MAX_SESSIONS) {
      const idlest = [...this.#sessions].sort((a, b) => a[1].lastSeen - b[1].lastSeen)[0]!;
      this.#sessions.delete(idlest[0]);
    }
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(digest(id), {
      principal: { ...principal, verifier: 'session' },
      lastSeen: Date.now(),
      ...(recheck ? { recheck } : {}),
    });
    return id;
  }

  /** The principal of a live session (its idle time starts again), or AUTH_REQUIRED. */
  async principal(id: string): Promise<Principal> {
    const key = digest(id);
    const session = this.#sessions.get(key);
    if (!session || Date.now() - session.lastSeen > SESSION_IDLE_MS) {
      this.#sessions.delete(key);
      throw new SluiceError(
        'AUTH_REQUIRED',
        'The studio session has ended (signed out, idle for 12 hours, or the server restarted); sign in again.',
      );
    }
    if (session.recheck) {
      try {
        await session.recheck();
      } catch (error) {
        this.#sessions.delete(key);
        throw error;
      }
    }
    session.lastSeen = Date.now();
    return session.principal;
  }

  end(id: string): void {
    this.#sessions.delete(digest(id));
  }

  /** A new single-use sign-in code, good for 10 minutes. */
  loginCode(): string {
    this.#prune();
    if (this.#codes.size >= MAX_CODES) this.#codes.delete(this.#codes.keys().next().value!);
    const code = randomBytes(32).toString('base64url');
    this.#codes.set(digest(code), Date.now() + LOGIN_CODE_TTL_MS);
    return code;
  }

  /** Use a sign-in code up: true when it was valid (it is not any more). */
  redeem(code: string): boolean {
    const key = digest(code);
    const expires = this.#codes.get(key);
    this.#codes.delete(key);
    return expires !== undefined && expires > Date.now();
  }

  clear(): void {
    this.#sessions.clear();
    this.#codes.clear();
  }

  #prune(): void {
    const now = Date.now();
    for (const [key, session] of this.#sessions)
      if (now - session.lastSeen > SESSION_IDLE_MS) this.#sessions.delete(key);
    for (const [key, expires] of this.#codes) if (expires <= now) this.#codes.delete(key);
  }
}

/** The value of a cookie in a request's `Cookie` header. */
export function cookie(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at !== -1 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** The `Set-Cookie` of a session (an empty value with Max-Age=0 ends it). */
export function sessionCookie(value: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}${value === '' ? '; Max-Age=0' : ''}`;
}
