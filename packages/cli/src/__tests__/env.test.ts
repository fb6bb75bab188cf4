import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from '@sluice/runtime';
import { runInProcess } from './in-process.js';

const ROOT_MODULES = resolve(__dirname, '../../../../node_modules');

// one step in python3 as it is, one in a virtual environment of its own (built, with nothing installed)
const PIPELINE = `
import { Environment, Pipeline, RunConfiguration } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
const src = new URL('./src', import.meta.url).pathname;
const clean = new Environment({ name: 'clean', inherit: false });
export const experimentName = 'env-cli';
export default function () {
  return new Pipeline({
    name: 'env-cli',
    steps: [
      new PythonScriptStep({ name: 'system', scriptName: 'where.py', sourceDirectory: src }),
      new PythonScriptStep({ name: 'isolated', scriptName: 'where.py', sourceDirectory: src,
        runConfig: new RunConfiguration({ environment: clean }) }),
    ],
  });
}
`;

let dir: string;

const sluice = (...args: string[]): ReturnType<typeof runInProcess> => runInProcess(join(dir, 'ws'), ...args);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-env-'));
  symlinkSync(ROOT_MODULES, join(dir, 'node_modules'));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'where.py'), 'import sys\nprint(sys.prefix)\n');
  writeFileSync(join(dir, 'pipeline.mjs'), PIPELINE);
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  Workspace.create(join(dir, 'ws'), { name: 'env-cli' }).close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice env, show and gc with environments', { timeout: 300_000 }, () => {
  it('builds, lists, shows per step and prunes environments', async () => {
    const run = await sluice('run', join(dir, 'pipeline.mjs'));
    expect(run.code).toBe(0);
    // the build was shown while it went on
    expect(run.stdout).toMatch(/isolated: environment clean:1: python -m venv/);

    const list = await sluice('env', 'list', '--json');
    const [built] = JSON.parse(list.stdout) as Array<{ name: string; path: string; uses: number }>;
    expect(built).toMatchObject({ name: 'clean', uses: 1 });
    expect((await sluice('logs', 'latest', 'isolated')).stdout).toContain(built!.path);

    const show = await sluice('show', 'latest');
    expect(show.stdout).toMatch(
      /isolated\n {2}env {5}clean:1 \(Python 3\.[\d.]+, [0-9a-f]{12}\)\n {2}lock {4}\(no packages\)/,
    );
    expect(show.stdout).toMatch(
      /system\n {2}env {5}sluice-default:1 \(Python 3\.[\d.]+, [0-9a-f]{12}\)\n {2}lock {4}\S+==/,
    );
    const steps = JSON.parse((await sluice('show', 'latest', '--json')).stdout).steps as Array<{
      stepName: string;
      environment: { name: string; lock: { packages: string[] } };
    }>;
    expect(steps.find((step) => step.stepName === 'system')?.environment.lock.packages).toContainEqual(
      expect.stringMatching(/^pip==/),
    );

    // built already: nothing to do; --rebuild builds it again beside the first
    const again = await sluice('env', 'build', 'clean');
    expect(again.stdout).toContain('Environment clean:1 already built in');
    const rebuilt = await sluice('env', 'build', 'clean', '--rebuild');
    expect(rebuilt.stdout).toContain('Environment clean:1 built in');
    expect(rebuilt.stderr).toContain('environment clean:1: python -m venv');

    // the replaced build goes; the environment a run used stays unless asked
    const pruned = await sluice('env', 'prune');
    expect(pruned.stdout).toContain('unfinished or replaced environment build');
    expect(pruned.stdout).toMatch(/Removed 1 folder/);
    const gc = await sluice('gc', '--keep-last', '1', '--older-than', '1s', '--dry-run');
    expect(gc.stdout).not.toContain('.sluice/environments/');
    const asked = await sluice(
      'gc',
      '--keep-last',
      '1',
      '--older-than',
      '1s',
      '--dry-run',
      '--all-environments',
    );
    expect(asked.stdout).toMatch(
      /\.sluice\/environments\/[0-9a-f]{32}\.[0-9a-f]{12}\s.*environment removed on request/,
    );
    const all = await sluice('env', 'prune', '--all');
    expect(all.stdout).toContain('environment removed on request');
    expect(
      readdirSync(join(dir, 'ws', '.sluice', 'environments')).filter((entry) => entry !== 'logs'),
    ).toEqual([]);

    const unknown = await sluice('env', 'build', 'nothing');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('ENVIRONMENT_NOT_FOUND');
  });
});
