import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { studioAssets as StudioAssets } from '../index.js';

describe('the built package', () => {
  it('points at the built app, whose page loads no inline script', async () => {
    // the build's entry, as a package that installs the studio loads it
    const entry = '../../dist/index.js';
    const { studioAssets } = (await import(entry)) as { studioAssets: typeof StudioAssets };
    const { root } = studioAssets();
    expect(root.endsWith(join('dist', 'app'))).toBe(true);
    const html = readFileSync(join(root, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/src="\.\/assets\//);
      expect(body!.trim()).toBe('');
    }
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)![1]!;
    expect(existsSync(join(root, script))).toBe(true);
  });
});
