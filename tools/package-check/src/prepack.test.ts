// `npm pack` (and so `npm publish`) of a package in a checkout where nothing is built ships its code: each
// package's `prepack` builds it, and nx builds what it depends on first.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { coldCheckout } from '../../cold-checkout.mjs';

const ROOT = resolve(__dirname, '../../..');
const scratch = mkdtempSync(join(tmpdir(), 'sluice-prepack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

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
    const checkout = coldCheckout(ROOT, join(scratch, 'checkout'));
    const packed = join(scratch, 'packed');
    mkdirSync(packed);
    execFileSync('npm', ['pack', '--pack-destination', packed], {
      cwd: join(checkout, 'packages', 'step-python'),
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const [tarball] = readdirSync(packed);
    const files = execFileSync('tar', ['-tzf', join(packed, tarball!)], { encoding: 'utf8' }).split('\n');
    expect(files).toEqual(
      expect.arrayContaining([
        'package/dist/index.js',
        'package/dist/index.d.ts',
        'package/python/sluice/__init__.py',
        'package/package.json',
      ]),
    );
  });
});
