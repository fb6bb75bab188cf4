// `npm pack` (and so `npm publish`) of a package in a checkout where nothing is built ships its code: each
// package's `prepack` builds it, and nx builds what it depends on first. A JavaScript-only bundle in
// `dist/` (what `npm run demo` builds) is never taken for the full build.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coldCheckout } from '../../cold-checkout.mjs';

const ROOT = resolve(__dirname, '../../..');
const NX_ENV = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const scratch = mkdtempSync(join(tmpdir(), 'sluice-prepack-'));
let checkout: string;

beforeAll(() => {
  checkout = coldCheckout(ROOT, join(scratch, 'checkout'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function nx(...args: string[]): void {
  execFileSync(process.execPath, [join(checkout, 'node_modules', 'nx', 'bin', 'nx.js'), ...args], {
    cwd: checkout,
    env: NX_ENV,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** `npm pack` of one of the checkout's packages: the paths in the tarball. */
function pack(name: string): string[] {
  const packed = mkdtempSync(join(scratch, 'packed-'));
  execFileSync('npm', ['pack', '--pack-destination', packed], {
    cwd: join(checkout, 'packages', name),
    env: NX_ENV,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const [tarball] = readdirSync(packed);
  return execFileSync('tar', ['-tzf', join(packed, tarball!)], { encoding: 'utf8' }).split('\n');
}

describe('npm pack', () => {
  it('of every package builds it first', () => {
    for (const name of readdirSync(join(ROOT, 'packages'))) {
      const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8')) as {
        scripts?: Record<string, string>;
      };
      expect(manifest.scripts?.prepack, name).toBe('nx build');
    }
  });

  it('of a package in a fresh checkout ships its built code and declarations', () => {
    expect(pack('core')).toEqual(
      expect.arrayContaining(['package/dist/index.js', 'package/dist/index.d.ts', 'package/package.json']),
    );
  });

  it('after a JavaScript-only bundle (what the demo builds) still ships the declarations', () => {
    nx('run', '@sluice/core:bundle');
    expect(existsSync(join(checkout, 'packages', 'core', 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(checkout, 'packages', 'core', 'dist', 'index.d.ts'))).toBe(false);
    expect(pack('core')).toEqual(
      expect.arrayContaining(['package/dist/index.js', 'package/dist/index.d.ts']),
    );
  });
});
