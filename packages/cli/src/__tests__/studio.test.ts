/**
 * `sluice studio`: the server with the studio's files on 127.0.0.1 and a one-time sign-in link. The
 * studio's package is an optional peer: without it the command says which package to install.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import * as publish from '@sluice/publish';
import { Workspace } from '@sluice/runtime';
import { DEFAULT_STUDIO_PORT, findOpener, startStudio } from '../commands/studio.js';

const BIN = resolve(__dirname, '../../dist/bin.js');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-studio-'));
  dirs.push(dir);
  return dir;
}

/** A built app as the studio's package ships it. */
function builtApp(dir: string): string {
  const root = join(dir, 'app');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Sluice</title>');
  writeFileSync(join(root, 'assets', 'app-0f.js'), 'export {};');
  return root;
}

it('serves the studio with a link that signs one browser in, once', async () => {
  const dir = tempDir();
  const ws = Workspace.create(join(dir, 'ws'));
  const root = builtApp(dir);
  const { server, link } = await startStudio(
    ws,
    { port: 0 },
    { publish, studio: { studioAssets: () => ({ root }) } },
  );
  try {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(link).toMatch(new RegExp(`^${server.url}/login\\?code=[A-Za-z0-9_-]{43}$`));
    expect(await (await fetch(`${server.url}/`)).text()).toContain('<title>Sluice</title>');
    const signIn = await fetch(link, { redirect: 'manual' });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const whoami = await fetch(`${server.url}/whoami`, { headers: { cookie } });
    expect(await whoami.json()).toMatchObject({ scope: 'submit', via: 'session' });
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(401);
  } finally {
    await server.close();
    await ws.close();
  }
});

it('finds the platform opener on the PATH, and none when there is none', () => {
  const bin = tempDir();
  writeFileSync(join(bin, 'xdg-open'), '#!/bin/sh\n');
  chmodSync(join(bin, 'xdg-open'), 0o755);
  expect(findOpener('linux', bin)).toEqual({ command: join(bin, 'xdg-open'), args: [] });
  expect(findOpener('linux', tempDir())).toBeUndefined();
  expect(findOpener('win32', '')).toMatchObject({ command: 'cmd' });
  expect(DEFAULT_STUDIO_PORT).toBe(7270);
});

it('refuses a bad port, and names the package to install when the studio is missing', async () => {
  const dir = tempDir();
  spawnSync(process.execPath, [BIN, 'init', join(dir, 'ws')], { cwd: dir });
  const badPort = spawnSync(process.execPath, [BIN, 'studio', '--port', 'x', '-w', join(dir, 'ws')], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  expect([badPort.status, badPort.stderr]).toEqual([
    2,
    expect.stringMatching(/^error OPTION_INVALID: --port/),
  ]);

  let installed = true;
  try {
    createRequire(BIN).resolve('@sluice/studio');
  } catch {
    installed = false;
  }
  const bin = tempDir();
  writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$1" > ${join(bin, 'opened')}\n`);
  chmodSync(join(bin, 'xdg-open'), 0o755);
  const studio = spawn(process.execPath, [BIN, 'studio', '--port', '0', '--open', '-w', join(dir, 'ws')], {
    env: { ...process.env, NO_COLOR: '1', PATH: `${bin}:${process.env.PATH}` },
  });
  let out = '';
  let err = '';
  studio.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  studio.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  if (!installed) {
    const code = await new Promise((done) => studio.once('exit', done));
    expect(code).toBe(2);
    expect(err).toContain(
      'error PLUGIN_NOT_INSTALLED: sluice studio needs @sluice/studio; install it with npm install @sluice/studio',
    );
    return;
  }
  try {
    const link = await new Promise<string>((done, fail) => {
      studio.stdout.on('data', () => {
        const match = /Studio: (http:\/\/127\.0\.0\.1:\d+\/login\?code=\S+)/.exec(out);
        if (match) done(match[1]!);
      });
      studio.once('exit', () => fail(new Error(`sluice studio exited: ${out}${err}`)));
    });
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(303);
  } finally {
    studio.kill('SIGTERM');
    await new Promise((done) => studio.once('exit', done));
  }
  expect(out).toContain('Stopped.');
});
