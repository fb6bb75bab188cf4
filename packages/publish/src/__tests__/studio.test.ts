/**
 * What the studio needs of the server, over real HTTP on loopback: browser sign-in (token or one-time link)
 * with a session cookie and the CSRF header, the studio's static files, and live events of runs.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StudioEvent, WhoAmI } from '../api-types.js';
import { Pipeline } from '@sluice/core';
import { Experiment } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import { createToken, publishRun, revokeToken, serve, type SluiceServer } from '../index.js';
import { fixture, onCleanup, tempDir, writeScripts, type Fixture } from './helpers.js';

async function server(f: Fixture, studioRoot?: string): Promise<SluiceServer> {
  const started = await serve({ workspace: f.ws, ...(studioRoot ? { studio: { root: studioRoot } } : {}) });
  onCleanup(() => started.close({ graceMs: 0 }));
  return started;
}

/** A built app as Vite leaves it: index.html, a hashed asset, a favicon. */
function builtApp(): string {
  const root = join(tempDir(), 'app');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(
    join(root, 'index.html'),
    '<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>',
  );
  writeFileSync(join(root, 'assets', 'app-1a2b.js'), 'console.log("studio");');
  writeFileSync(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(root, '..', 'secret.txt'), 'not served');
  symlinkSync(join(root, '..', 'secret.txt'), join(root, 'assets', 'link.js'));
  return root;
}

/** The session cookie's `name=value` from a response. */
function sessionOf(response: Response): string {
  const header = response.headers.get('set-cookie') ?? '';
  expect(header).toMatch(/^sluice_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
  return header.split(';')[0]!;
}

describe('studio sign-in', () => {
  it('turns a token into a session cookie; cookie POSTs need the X-Sluice-Studio header', async () => {
    const f = await fixture();
    const rest = await server(f);
    const bad = await fetch(`${rest.url}/login`, {
      method: 'POST',
      body: JSON.stringify({ token: 'slc_000000000000_' + 'x'.repeat(43) }),
    });
    expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).toEqual([
      401,
      'AUTH_INVALID',
    ]);
    for (const body of ['', '[]', '{"token": 5}', '{"token": "a", "extra": 1}', 'not json']) {
      const answer = await fetch(`${rest.url}/login`, { method: 'POST', body });
      expect([body, answer.status]).toEqual([body, 400]);
    }

    const read = await fetch(`${rest.url}/login`, {
      method: 'POST',
      body: JSON.stringify({ token: f.token('read') }),
    });
    expect(read.status).toBe(200);
    const readCookie = sessionOf(read);
    expect(await read.json()).toMatchObject({ scope: 'read', via: 'session' });
    const whoami = await fetch(`${rest.url}/whoami`, { headers: { cookie: readCookie } });
    expect(((await whoami.json()) as WhoAmI).via).toBe('session');

    const login = await fetch(`${rest.url}/login`, {
      method: 'POST',
      body: JSON.stringify({ token: f.token('submit') }),
    });
    const cookie = sessionOf(login);
    const first = await new Experiment(f.ws, 'exp').submit(f.pipeline());
    await first.waitForCompletion();
    const published = await publishRun(f.ws, first, { name: 'seed' });
    const noHeader = await fetch(`${rest.url}/pipelines/${published.id}/disable`, {
      method: 'POST',
      headers: { cookie },
    });
    const refused = (await noHeader.json()) as { error: { code: string; details: { header: string } } };
    expect([noHeader.status, refused.error.code, refused.error.details.header]).toEqual([
      403,
      'AUTH_FORBIDDEN',
      'X-Sluice-Studio',
    ]);
    expect(published.status).toBe('Active');
    const readOnly = await fetch(`${rest.url}/pipelines/${published.id}/disable`, {
      method: 'POST',
      headers: { cookie: readCookie, 'x-sluice-studio': '1' },
    });
    expect(readOnly.status).toBe(403);
    const allowed = await fetch(`${rest.url}/pipelines/${published.id}/disable`, {
      method: 'POST',
      headers: { cookie, 'x-sluice-studio': '1' },
    });
    expect([allowed.status, await allowed.json()]).toEqual([200, { status: 'Disabled' }]);

    const logoutWithoutHeader = await fetch(`${rest.url}/logout`, { method: 'POST', headers: { cookie } });
    expect(logoutWithoutHeader.status).toBe(403);
    const logout = await fetch(`${rest.url}/logout`, {
      method: 'POST',
      headers: { cookie, 'x-sluice-studio': '1' },
    });
    expect(logout.status).toBe(204);
    expect(logout.headers.get('set-cookie')).toMatch(/^sluice_session=; .*Max-Age=0/);
    const after = await fetch(`${rest.url}/whoami`, { headers: { cookie } });
    expect([after.status, ((await after.json()) as { error: { code: string } }).error.code]).toEqual([
      401,
      'AUTH_REQUIRED',
    ]);
    const forged = await fetch(`${rest.url}/whoami`, { headers: { cookie: 'sluice_session=forged' } });
    expect(forged.status).toBe(401);
  });

  it('ends the sessions of a revoked token', async () => {
    const f = await fixture();
    const rest = await server(f);
    const created = createToken(f.ws, { scope: 'read' });
    const cookie = sessionOf(
      await fetch(`${rest.url}/login`, { method: 'POST', body: JSON.stringify({ token: created.token }) }),
    );
    expect((await fetch(`${rest.url}/whoami`, { headers: { cookie } })).status).toBe(200);
    revokeToken(f.ws, created.id);
    expect((await fetch(`${rest.url}/whoami`, { headers: { cookie } })).status).toBe(401);
  });

  it('exchanges a one-time code for a submit session and a redirect to the studio', async () => {
    const f = await fixture();
    const rest = await server(f);
    const code = rest.loginCode();
    const first = await fetch(`${rest.url}/login?code=${code}`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe(`${rest.url}/`);
    const cookie = sessionOf(first);
    const whoami = (await (await fetch(`${rest.url}/whoami`, { headers: { cookie } })).json()) as WhoAmI;
    expect(whoami).toEqual({ subject: 'studio-link', scope: 'submit', via: 'session' });
    const again = await fetch(`${rest.url}/login?code=${code}`, { redirect: 'manual' });
    expect([again.status, ((await again.json()) as { error: { code: string } }).error.code]).toEqual([
      401,
      'AUTH_INVALID',
    ]);
    expect((await fetch(`${rest.url}/login`, { redirect: 'manual' })).status).toBe(401);
    expect((await fetch(`${rest.url}/login?code=x&other=1`)).status).toBe(400);
    expect((await fetch(`${rest.url}/logout`)).status).toBe(405);
  });
});

describe('studio files', () => {
  it('serves the app without credentials, with strict headers, and nothing outside its folder', async () => {
    const f = await fixture();
    const rest = await server(f, builtApp());
    const index = await fetch(`${rest.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(await index.text()).toContain('/assets/app-1a2b.js');
    const asset = await fetch(`${rest.url}/assets/app-1a2b.js`);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${rest.url}/favicon.svg`)).status).toBe(200);
    expect((await fetch(`${rest.url}/index.html`)).status).toBe(200);
    for (const path of [
      '/assets/missing.js',
      '/assets/link.js',
      '/assets/..%2F..%2Fsecret.txt',
      '/assets/a%00b.js',
    ]) {
      const answer = await fetch(`${rest.url}${path}`);
      expect([path, answer.status]).toEqual([path, 404]);
    }
    // pages are hash routes: other paths are the API's, and need credentials
    expect((await fetch(`${rest.url}/runs`)).status).toBe(401);
    expect((await fetch(`${rest.url}/secret.txt`)).status).toBe(401);
  });

  it('refuses a studio folder without index.html', async () => {
    const f = await fixture();
    await expect(serve({ workspace: f.ws, studio: { root: tempDir() } })).rejects.toMatchObject({
      code: 'OPTION_INVALID',
      details: { option: 'studio.root' },
    });
  });
});

/** Read server-sent events from a response until `done` says so. */
async function readEvents(
  response: Response,
  done: (events: StudioEvent[]) => boolean,
): Promise<{ events: StudioEvent[]; text: string }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const events: StudioEvent[] = [];
  while (!done(events)) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    text += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = text.indexOf('\n\n')) !== -1) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const data = block.split('\n').find((line) => line.startsWith('data: '));
      if (data) events.push(JSON.parse(data.slice(6)) as StudioEvent);
    }
  }
  await reader.cancel();
  return { events, text };
}

describe('live events', () => {
  it('tells a client a run went Running → Finished, with its steps, without polling', async () => {
    const f = await fixture();
    const first = await new Experiment(f.ws, 'exp').submit(f.pipeline());
    await first.waitForCompletion();
    const published = await publishRun(f.ws, first, { name: 'seed' });
    const rest = await server(f);
    const token = f.token('submit');
    expect((await fetch(`${rest.url}/events`)).status).toBe(401);
    const unknown = await fetch(`${rest.url}/events?run=nope`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(unknown.status).toBe(404);

    const stream = await fetch(`${rest.url}/events`, { headers: { authorization: `Bearer ${token}` } });
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const submitted = await fetch(`${rest.url}/pipelines/${published.id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ ExperimentName: 'live', ParameterAssignments: { pipeline_arg: 42 } }),
    });
    const runId = ((await submitted.json()) as { Id: string }).Id;
    const { events } = await readEvents(stream, (seen) =>
      seen.some((event) => event.type === 'run' && event.run.id === runId && event.run.status === 'Finished'),
    );
    const runStatuses = events.flatMap((event) =>
      event.type === 'run' && event.run.id === runId ? [event.run.status] : [],
    );
    expect(runStatuses).toContain('Running');
    expect(runStatuses.at(-1)).toBe('Finished');
    expect(runStatuses.indexOf('Running')).toBeLessThan(runStatuses.indexOf('Finished'));
    const finished = events.find(
      (event) => event.type === 'run' && event.run.id === runId && event.run.status === 'Finished',
    );
    expect(finished).toMatchObject({ run: { steps: { total: 2, ran: 1, reused: 1 } } });
    const steps = events.flatMap((event) => (event.type === 'step' && event.runId === runId ? [event] : []));
    expect(steps).toContainEqual(
      expect.objectContaining({ step: 'prepare', status: 'Reused', reusedFrom: first.id }),
    );
    expect(steps).toContainEqual(expect.objectContaining({ step: 'compare', status: 'Finished' }));
    expect(events.every((event) => event.type !== 'run' || event.run.id === runId)).toBe(true);
  });

  it("streams one run's events, with the growth of a running step's log", async () => {
    const f = await fixture();
    const folder = writeScripts(join(f.dir, 'slow'), {
      'slow.py': `
        import time
        for n in range(6):
            print("tick {}".format(n), flush=True)
            time.sleep(0.3)
      `,
    });
    const rest = await server(f);
    const other = await new Experiment(f.ws, 'exp').submit(f.pipeline());
    await other.waitForCompletion();
    const pipeline = new Pipeline({
      name: 'slow',
      steps: [new PythonScriptStep({ name: 'slow', scriptName: 'slow.py', sourceDirectory: folder })],
    });
    const run = await new Experiment(f.ws, 'exp').submit(pipeline);
    const stream = await fetch(`${rest.url}/events?run=${run.id}`, {
      headers: { authorization: `Bearer ${f.token('read')}` },
    });
    const second = await new Experiment(f.ws, 'exp').submit(f.pipeline());
    const { events } = await readEvents(stream, (seen) =>
      seen.some((event) => event.type === 'run' && event.run.status === 'Finished'),
    );
    await second.waitForCompletion();
    expect(events.every((event) => (event.type === 'run' ? event.run.id : event.runId) === run.id)).toBe(
      true,
    );
    const sizes = events.flatMap((event) =>
      event.type === 'log' && event.stream === 'stdout' ? [event.size] : [],
    );
    expect(sizes.length).toBeGreaterThanOrEqual(2);
    expect([...sizes].sort((a, b) => a - b)).toEqual(sizes);
    const log = await fetch(`${rest.url}/runs/${run.id}/steps/slow/logs/stdout`, {
      headers: { authorization: `Bearer ${f.token('read')}` },
    });
    expect(Number(log.headers.get('x-log-size'))).toBeGreaterThanOrEqual(sizes.at(-1)!);
  });

  it('ends event streams when the server closes', async () => {
    const f = await fixture();
    const rest = await serve({ workspace: f.ws });
    const stream = await fetch(`${rest.url}/events`, {
      headers: { authorization: `Bearer ${f.token('read')}` },
    });
    const reading = readEvents(stream, () => false);
    await rest.close({ graceMs: 0 });
    const { text } = await reading;
    expect(text).toBe('');
  });
});
