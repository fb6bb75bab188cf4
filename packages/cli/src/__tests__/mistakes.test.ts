// A user's own mistakes: every one is `error CODE: message` with exit code 2, never a stack trace, and none
// leaves a run behind.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../dist/bin.js');
const ROOT_MODULES = resolve(__dirname, '../../../../node_modules');

let dir: string;

function sluice(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? join(dir, 'ws'),
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    maxBuffer: 16 * 1024 * 1024,
  });
  return {
    status: result.status ?? -1,
    stdout: stripVTControlCharacters(result.stdout),
    stderr: stripVTControlCharacters(result.stderr),
  };
}

/** A workspace folder holding only this config. */
function workspaceWith(config: unknown): string {
  const ws = mkdtempSync(join(dir, 'config-'));
  writeFileSync(join(ws, 'sluice.workspace.json'), JSON.stringify(config));
  return ws;
}

function expectCoded(result: { status: number; stderr: string }, code: string, message?: RegExp): void {
  expect(result.stderr).toMatch(new RegExp(`^error ${code}: `));
  if (message) expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at |unexpected error/);
  expect(result.status).toBe(2);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-mistakes-'));
  symlinkSync(ROOT_MODULES, join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'step.py'), 'print("ran")\n');
  writeFileSync(
    join(dir, 'pipeline.mjs'),
    `import { Pipeline } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
export default new Pipeline({ name: 'one', steps: [new PythonScriptStep({ name: 'only', scriptName: 'step.py', sourceDirectory: new URL('./src', import.meta.url).pathname })] });
`,
  );
  mkdirSync(join(dir, 'ws'));
  expect(sluice(['init', '.']).status).toBe(0);
});

describe('a wrong workspace config', () => {
  it('stops `sluice run` before anything runs, naming the key (maxConcurrency 0 no longer hangs)', () => {
    const ws = workspaceWith({
      name: 'w',
      computeTargets: { local: { provider: 'local', options: { maxConcurrency: 0 } } },
    });
    const result = sluice(['run', '../pipeline.mjs', '-w', ws]);
    expectCoded(
      result,
      'WORKSPACE_CONFIG_INVALID',
      /computeTargets\.local\.options\.maxConcurrency must be an integer ≥ 1 \(got 0\)/,
    );
    expect(existsSync(join(ws, '.sluice')), 'no run store, no run').toBe(false);
  });

  it.each([
    [{ name: 'w', datastores: 5 }, /datastores must be an object \(got 5\)/],
    [
      { name: 'w', datastores: { d: { provider: 'local', options: { path: 5 } } } },
      /datastores\.d\.options\.path must be a non-empty string \(got 5\)/,
    ],
    [{ name: 'w', plugins: [1] }, /plugins\[0\] must be a non-empty string \(got 1\)/],
  ])('refuses %j', (config, message) => {
    const ws = workspaceWith(config);
    expectCoded(sluice(['runs', '-w', ws]), 'WORKSPACE_CONFIG_INVALID', message);
  });
});
