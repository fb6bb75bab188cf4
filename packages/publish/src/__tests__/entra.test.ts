/**
 * Microsoft Entra ID access tokens over real HTTP on loopback: keys made with jose, the key set served by a
 * local node:http server (not a live tenant), tokens signed as Entra ID signs them (RS256, kid, iss, aud,
 * exp, oid, roles / scp), beside workspace tokens.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createSluiceClient,
  entraIdVerifier,
  publishPipeline,
  serve,
  tokenVerifier,
  type EntraIdVerifierOptions,
} from '../index.js';
import { fixture, onCleanup, type Fixture } from './helpers.js';

const TENANT = '8f6c2b3e-1d4a-4c5b-9e7f-0a1b2c3d4e5f';
const ISSUER = `https://login.microsoftonline.com/${TENANT}/v2.0`;
const AUDIENCE = 'api://sluice-test';
const OID = '5b1d6a0e-3c2f-4e8d-9a7b-6c5d4e3f2a1b';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A key set served like login.microsoftonline.com/<tenant>/discovery/v2.0/keys, counting its fetches. */
async function keySetServer(keys: SigningKey[]): Promise<{
  url: string;
  fetches: () => number;
  serveKeys(keys: SigningKey[]): void;
}> {
  let served = keys;
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: served.map((key) => key.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${TENANT}/discovery/v2.0/keys`,
    fetches: () => fetches,
    serveKeys: (next) => {
      served = next;
    },
  };
}

interface TokenOptions {
  claims?: JWTPayload;
  issuer?: string;
  audience?: string;
  /** Seconds from now (negative: already expired). */
  expiresIn?: number;
  notBefore?: number;
  /** The kid in the header (default: the signing key's). */
  kid?: string;
  alg?: string;
}

/** An access token as Entra ID issues it for an app role (`roles`) or a delegated scope (`scp`). */
function entraToken(key: SigningKey, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ oid: OID, tid: TENANT, ver: '2.0', roles: ['Sluice.Submit'], ...options.claims })
    .setProtectedHeader({ alg: options.alg ?? 'RS256', typ: 'JWT', kid: options.kid ?? key.kid })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setSubject('AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ')
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600));
  if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
  return jwt.sign(key.privateKey);
}

interface Answer {
  status: number;
  body: Record<string, unknown> & {
    error?: { code: string; message: string; details: Record<string, unknown> };
  };
  headers: Headers;
}

function queueRows(f: Fixture): number {
  return (f.ws.store.prepare('SELECT COUNT(*) AS n FROM publish_queue').get() as { n: number }).n;
}

async function setup(
  options: { keys?: SigningKey[]; verifier?: Partial<EntraIdVerifierOptions>; jwksUri?: string } = {},
) {
  const f = await fixture();
  const published = await publishPipeline(f.ws, f.pipeline(), { name: 'entra' });
  const key = await signingKey('key-1');
  const keySet = await keySetServer(options.keys ?? [key]);
  const rest = await serve({
    workspace: f.ws,
    auth: [
      tokenVerifier(f.ws),
      entraIdVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUri: options.jwksUri ?? keySet.url,
        ...options.verifier,
      }),
    ],
  });
  onCleanup(() => rest.close());
  const call = async (method: 'GET' | 'POST', path: string, token: string): Promise<Answer> => {
    const response = await fetch(rest.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(method === 'POST'
        ? { body: JSON.stringify({ ExperimentName: 'entra', ParameterAssignments: { pipeline_arg: 7 } }) }
        : {}),
    });
    return {
      status: response.status,
      body: (await response.json()) as Answer['body'],
      headers: response.headers,
    };
  };
  const submitPath = `/pipelines/${published.id}`;
  return { f, published, key, keySet, rest, call, submitPath };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('entraIdVerifier', () => {
  it('submits with the Sluice.Submit app role; the run finishes, accepted by the token’s oid', async () => {
    const { f, key, keySet, rest, call, submitPath } = await setup();
    const token = await entraToken(key);

    const accepted = await call('POST', submitPath, token);
    expect(accepted.status).toBe(200);
    const id = accepted.body.Id as string;
    const client = createSluiceClient({ baseUrl: rest.url, token });
    const done = await client.waitForRun(id, { timeoutMs: 20_000, pollIntervalMs: 50 });
    expect(done).toMatchObject({
      Id: id,
      Status: { StatusDetail: 'Finished' },
      ParameterAssignments: { pipeline_arg: 7 },
    });
    const row = f.ws.store.prepare('SELECT accepted_by FROM publish_queue WHERE run_id = ?').get(id) as {
      accepted_by: string;
    };
    expect(row.accepted_by).toBe(`entra:${OID}`);

    // a delegated token (scp, space-separated) without an oid: its sub names it
    const delegated = await entraToken(key, {
      claims: { oid: undefined, roles: undefined, scp: 'User.Read Sluice.Submit' },
    });
    const second = await call('POST', submitPath, delegated);
    expect(second.status).toBe(200);
    const secondId = second.body.Id as string;
    expect((await client.waitForRun(secondId, { pollIntervalMs: 50 })).Status.StatusDetail).toBe('Finished');
    expect(
      f.ws.store.prepare('SELECT accepted_by FROM publish_queue WHERE run_id = ?').get(secondId),
    ).toEqual({
      accepted_by: 'entra:AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
    });
    // the key set was fetched once and kept
    expect(keySet.fetches()).toBe(1);
  });

  it('lets a Sluice.Read token GET but not POST (403), and a token without a granted role nothing', async () => {
    const { f, published, key, call, submitPath } = await setup();
    const reader = await entraToken(key, { claims: { roles: undefined, scp: 'Sluice.Read' } });
    const listed = await call('GET', '/pipelines', reader);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([expect.objectContaining({ Id: published.id })]);
    expect((await call('GET', submitPath, reader)).status).toBe(200);

    const refused = await call('POST', submitPath, reader);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({
      code: 'AUTH_FORBIDDEN',
      details: { needed: 'submit', granted: ['read'] },
    });

    const nobody = await entraToken(key, { claims: { roles: ['Other.Role'], scp: 'User.Read' } });
    for (const [method, path] of [
      ['GET', '/pipelines'],
      ['POST', submitPath],
    ] as const) {
      const answer = await call(method, path, nobody);
      expect(answer.status).toBe(403);
      expect(answer.body.error?.code).toBe('AUTH_FORBIDDEN');
      expect(answer.body.error?.message).toMatch(/Sluice\.Submit \(submit\), or Sluice\.Read \(read\)/);
      expect(answer.body.error?.message).toMatch(/it has Other\.Role, User\.Read/);
    }
    expect(f.ws.store.listRuns()).toEqual([]);
    expect(queueRows(f)).toBe(0);
  });

  it('refuses a wrong audience, wrong issuer, expired, not yet valid, badly signed or unknown-kid token with 401, naming the check, and runs nothing', async () => {
    const { f, key, call, submitPath } = await setup();
    const other = await signingKey('key-1'); // same kid, another key: a forged signature
    const stranger = await signingKey('key-unknown');
    const rs512 = await signingKey('key-1', 'RS512');
    const cases: Array<[string, Promise<string>, RegExp]> = [
      [
        'aud',
        entraToken(key, { audience: 'api://someone-else' }),
        /audience "api:\/\/someone-else", not this server's/,
      ],
      [
        'iss',
        entraToken(key, { issuer: 'https://login.microsoftonline.com/another-tenant/v2.0' }),
        /issued by "https:\/\/login\.microsoftonline\.com\/another-tenant\/v2\.0", not by/,
      ],
      ['exp', entraToken(key, { expiresIn: -120 }), /expired at \d{4}-\d\d-\d\dT/],
      ['nbf', entraToken(key, { notBefore: 600 }), /not valid before/],
      ['signature', entraToken(other), /signature that does not verify/],
      ['kid', entraToken(stranger), /key id "key-unknown", which is not among the signing keys/],
      ['alg', entraToken(rs512, { alg: 'RS512' }), /signed with "RS512"; this server accepts "RS256"/],
    ];
    for (const [check, pending, message] of cases) {
      const token = await pending;
      for (const method of ['POST', 'GET'] as const) {
        const answer = await call(method, method === 'POST' ? submitPath : '/pipelines', token);
        expect(answer.status, check).toBe(401);
        expect(answer.headers.get('www-authenticate')).toBe('Bearer');
        expect(answer.body.error, check).toMatchObject({
          code: 'AUTH_INVALID',
          details: { verifier: 'entra-id', check },
        });
        expect(answer.body.error?.message, check).toMatch(message);
        for (const part of token.split('.')) expect(answer.body.error?.message).not.toContain(part);
      }
    }
    // within the tolerance of 60 seconds, an expired token still passes
    expect((await call('GET', '/pipelines', await entraToken(key, { expiresIn: -30 }))).status).toBe(200);

    expect(f.ws.store.listRuns()).toEqual([]);
    expect(queueRows(f)).toBe(0);
  });

  it('keeps workspace tokens working beside it, and leaves other bearer tokens to the other verifiers', async () => {
    const { f, key, rest, call, submitPath } = await setup();
    const workspaceToken = f.token('submit');
    const accepted = await call('POST', submitPath, workspaceToken);
    expect(accepted.status).toBe(200);
    const client = createSluiceClient({ baseUrl: rest.url, token: workspaceToken });
    expect(
      (await client.waitForRun(accepted.body.Id as string, { pollIntervalMs: 50 })).Status.StatusDetail,
    ).toBe('Finished');
    expect((await call('GET', '/pipelines', await entraToken(key))).status).toBe(200);

    // neither a workspace token nor a JWT: no verifier takes it
    for (const stranger of ['not-a-token', 'a.b', 'x.y.z']) {
      const answer = await call('GET', '/pipelines', stranger);
      expect(answer.status).toBe(401);
      expect(answer.body.error?.message).toMatch(
        /not of a kind this server accepts \(it accepts: sluice-token, entra-id\)/,
      );
    }
    // an unsigned JWT is a JWT: refused by the Entra ID verifier, not passed on
    const payload = (await entraToken(key)).split('.')[1];
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    const answer = await call('GET', '/pipelines', unsigned);
    expect(answer.status).toBe(401);
    expect(answer.body.error?.details).toEqual({ verifier: 'entra-id', check: 'alg' });
  });

  it('picks up a rotated key: a new kid is fetched once the key set changes', async () => {
    const { key, keySet, call } = await setup();
    expect((await call('GET', '/pipelines', await entraToken(key))).status).toBe(200);
    expect((await call('GET', '/pipelines', await entraToken(key))).status).toBe(200);
    expect(keySet.fetches()).toBe(1);

    // the tenant rolls its keys: key-2 is published and signs from now on, key-1 is withdrawn
    const next = await signingKey('key-2');
    keySet.serveKeys([next]);
    const rotated = await entraToken(next);
    // an unknown kid makes the verifier fetch the key set again, at most every 30 seconds (jose's cooldown,
    // which keeps made-up kids from hammering the tenant): right after the last fetch it is still refused…
    const early = await call('GET', '/pipelines', rotated);
    expect(early.status).toBe(401);
    expect(early.body.error?.details).toMatchObject({ check: 'kid' });
    expect(keySet.fetches()).toBe(1);

    // …and once the cooldown has passed the new key is fetched and used
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 31_000);
    expect((await call('GET', '/pipelines', await entraToken(next))).status).toBe(200);
    expect(keySet.fetches()).toBe(2);
    expect((await call('GET', '/pipelines', await entraToken(next))).status).toBe(200);
    expect(keySet.fetches()).toBe(2);
    // the withdrawn key is refused (refetching is cooling down again)
    const withdrawn = await call('GET', '/pipelines', await entraToken(key));
    expect(withdrawn.status).toBe(401);
    expect(withdrawn.body.error?.details).toMatchObject({ check: 'kid' });
    expect(keySet.fetches()).toBe(2);
  });

  it('takes a fixed key set (jwks) and other role names (scopes)', async () => {
    const f = await fixture();
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'entra' });
    const key = await signingKey('fixed');
    const rest = await serve({
      workspace: f.ws,
      auth: entraIdVerifier({
        issuer: [ISSUER, `https://sts.windows.net/${TENANT}/`],
        audience: [AUDIENCE, '11111111-2222-3333-4444-555555555555'],
        jwks: { keys: [key.jwk] },
        scopes: { submit: ['Pipelines.Run'], read: [] },
      }),
    });
    onCleanup(() => rest.close());
    const status = async (method: string, path: string, token: string): Promise<number> =>
      (
        await fetch(rest.url + path, {
          method,
          headers: { authorization: `Bearer ${token}` },
          ...(method === 'POST' ? { body: JSON.stringify({ ExperimentName: 'fixed' }) } : {}),
        })
      ).status;
    // a v1 token (sts.windows.net issuer, client id audience) with the configured role
    const v1 = await entraToken(key, {
      issuer: `https://sts.windows.net/${TENANT}/`,
      audience: '11111111-2222-3333-4444-555555555555',
      claims: { roles: ['Pipelines.Run'], ver: '1.0' },
    });
    const client = createSluiceClient({ baseUrl: rest.url, token: v1 });
    const accepted = await client.submitPipeline(published.id, { ExperimentName: 'fixed' });
    expect((await client.waitForRun(accepted.Id, { pollIntervalMs: 50 })).Status.StatusDetail).toBe(
      'Finished',
    );
    // the default role names grant nothing here
    expect(await status('GET', '/pipelines', await entraToken(key))).toBe(403);
    expect(
      await status('GET', '/pipelines', await entraToken(key, { claims: { roles: ['Sluice.Read'] } })),
    ).toBe(403);
  });

  it('answers 503 when the key set cannot be fetched, and checks its options', async () => {
    const url = 'http://127.0.0.1:1/keys'; // nothing listens there
    const { call } = await setup({ jwksUri: url });
    const key = await signingKey('key-1');
    const answer = await call('GET', '/pipelines', await entraToken(key));
    expect(answer.status).toBe(503);
    expect(answer.body.error?.code).toBe('SERVICE_UNAVAILABLE');
    expect(answer.body.error?.message).toMatch(
      /Could not get the signing keys of Entra ID tokens from the key set at http:\/\/127\.0\.0\.1:1\//,
    );

    const base = { issuer: ISSUER, audience: AUDIENCE };
    expect(() => entraIdVerifier(base)).toThrow(/give either jwksUri .* or jwks/);
    expect(() => entraIdVerifier({ ...base, jwksUri: url, jwks: { keys: [] } })).toThrow(
      /not both or neither/,
    );
    expect(() => entraIdVerifier({ ...base, issuer: '', jwksUri: url })).toThrow(/issuer must be a string/);
    expect(() => entraIdVerifier({ ...base, audience: [], jwksUri: url })).toThrow(/audience must be/);
    expect(() => entraIdVerifier({ ...base, jwksUri: 'not a url' })).toThrow(/jwksUri must be a URL/);
    expect(() => entraIdVerifier({ ...base, jwks: { keys: 'no' } as never })).toThrow(
      /jwks is not a JSON Web Key Set/,
    );
    expect(() => entraIdVerifier({ ...base, jwksUri: url, clockToleranceSeconds: -1 })).toThrow(
      /clockToleranceSeconds/,
    );
    const thrown = ((): unknown => {
      try {
        return entraIdVerifier(base);
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toMatchObject({ name: 'SluiceError', code: 'PARAMETER_INVALID' });
  });
});
