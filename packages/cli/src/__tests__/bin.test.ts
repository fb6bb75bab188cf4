// The `sluice` command npm links at install time is a committed file, so the link exists in a fresh
// clone before anything is built; it runs the built CLI, and says how to build it when it is not built.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const PACKAGE = resolve(__dirname, '../..');
const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  files: string[];
};

describe('the sluice bin', () => {
  it('is a committed, executable file that npm links and packs', () => {
    expect(manifest.bin).toEqual({ sluice: './bin/sluice.js' });
    expect(manifest.files).toContain('bin');
    const [mode] = execFileSync('git', ['ls-files', '--stage', 'bin/sluice.js'], {
      cwd: PACKAGE,
      encoding: 'utf8',
    })
      .trim()
      .split(' ');
    expect(mode).toBe('100755');
  });

  it('runs the built CLI', () => {
    const result = spawnSync(join(PACKAGE, 'bin', 'sluice.js'), ['--version'], { encoding: 'utf8' });
    expect(result.stdout).toBe(`${manifest.version}\n`);
    expect(result.status).toBe(0);
  });

  it('says how to build the CLI where it is not built, and exits 2', () => {
    const unbuilt = mkdtempSync(join(tmpdir(), 'sluice-unbuilt-'));
    mkdirSync(join(unbuilt, 'bin'));
    copyFileSync(join(PACKAGE, 'bin', 'sluice.js'), join(unbuilt, 'bin', 'sluice.js'));
    const result = spawnSync(process.execPath, [join(unbuilt, 'bin', 'sluice.js'), 'runs'], {
      encoding: 'utf8',
    });
    expect(result.stderr).toBe(
      'sluice: @sluice/cli is not built yet; build it with `npm run build` in the repository root, then try again.\n',
    );
    expect(result.status).toBe(2);
  });
});
