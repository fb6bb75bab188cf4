import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
export { launchChromium } from '../../chromium.mjs';

const require = createRequire(import.meta.url);

/** The built `sluice` command, run with this Node. */
export const BIN = join(dirname(require.resolve('@sluice/cli/package.json')), 'dist', 'bin.js');
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const IRIS = fileURLToPath(new URL('../../../examples/iris/pipeline.ts', import.meta.url));
/** Where the suite saves its screenshots (a CI artifact). */
export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

/** Run `sluice …` to its end; a non-zero exit throws with the output, unless `allowFailure`. */
export function sluice(args: readonly string[], options: { allowFailure?: boolean } = {}): string {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 120_000,
  });
  if (result.status !== 0 && !options.allowFailure) {
    throw new Error(`sluice ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

export interface Studio {
  workspace: string;
  url: string;
  readToken: string;
  submitToken: string;
  server: ChildProcess;
  /** GET an API route with the submit token. */
  api<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

const token = (workspace: string, scope: 'read' | 'submit'): string =>
  (JSON.parse(sluice(['token', 'create', '--scope', scope, '--json', '-w', workspace])) as { token: string })
    .token;

/**
 * A real workspace as a team would have it: the iris pipeline run three times (all ran, all reused, then a
 * parameter changed), a step that printed 100 MiB, a run whose step fails, a published pipeline behind an endpoint, and two tokens; then a
 * real `sluice serve` on a free port of 127.0.0.1, serving the studio.
 */
export async function startStudio(): Promise<Studio> {
  const workspace = join(mkdtempSync(join(tmpdir(), 'sluice-studio-e2e-')), 'ws');
  sluice(['init', workspace, '--name', 'studio-e2e']);
  sluice(['run', IRIS, '-w', workspace]);
  sluice(['run', IRIS, '-w', workspace]);
  sluice(['run', IRIS, '-w', workspace, '--param', 'learning_rate=0.5']);
  sluice(['run', join(FIXTURES, 'loud.mjs'), '-w', workspace]);
  sluice(['run', join(FIXTURES, 'failing.mjs'), '-w', workspace], { allowFailure: true });
  sluice([
    'publish',
    join(FIXTURES, 'slow.mjs'),
    '--name',
    'slow',
    '--pipeline-version',
    '1.0',
    '--endpoint',
    'slow-endpoint',
    '--default',
    '-w',
    workspace,
  ]);
  const readToken = token(workspace, 'read');
  const submitToken = token(workspace, 'submit');

  const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '-w', workspace], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sluice serve did not start:\n${output}`)), 60_000);
    const look = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    server.stdout!.on('data', look);
    server.stderr!.on('data', look);
    server.once('exit', (code) => reject(new Error(`sluice serve exited ${code}:\n${output}`)));
  });

  return {
    workspace,
    url,
    readToken,
    submitToken,
    server,
    async api<T>(path: string): Promise<T> {
      const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${submitToken}` } });
      if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    },
    async stop() {
      if (server.exitCode !== null) return;
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    },
  };
}

/** Sign in through the studio's form with a token. */
export async function signIn(page: Page, url: string, secret: string): Promise<void> {
  await page.goto(`${url}/`);
  const form = page.getByTestId('signin-form');
  await form.locator('input').fill(secret);
  await form.locator('button[type=submit], button').first().click();
  await page.getByTestId('runs-table').waitFor();
}

/** Save a screenshot of the page as a test artifact. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
