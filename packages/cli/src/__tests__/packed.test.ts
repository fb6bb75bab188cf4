// The CLI as a user installs it: core, runtime, step-python and cli packed with `npm pack`, installed from
// the tarballs into a new project outside this repository (third-party dependencies come from npm, from
// its cache when it can), without @sluice/publish. The project's TypeScript, strict and checking library
// types, compiles against the packed declarations; `sluice` runs a Python pipeline; the commands that need
// @sluice/publish say which package to install.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PACKAGES = resolve(__dirname, '../../..');
const require = createRequire(join(PACKAGES, 'runtime', 'package.json'));
const SQLITE = resolve(require.resolve('better-sqlite3/package.json'), '..');

let project: string;

/** The environment of a command run in the project: none of the npm settings this test runs under. */
function outside(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_|^INIT_CWD$/i.test(name)));
}

function sluice(...args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(join(project, 'node_modules', '.bin', 'sluice'), args, {
    cwd: project,
    encoding: 'utf8',
    env: { ...outside(), NO_COLOR: '1' },
  });
  return {
    status: result.status ?? -1,
    stdout: stripVTControlCharacters(result.stdout),
    stderr: stripVTControlCharacters(result.stderr),
  };
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'sluice-packed-'));
  const packed = join(project, 'packed');
  mkdirSync(packed);
  for (const name of ['core', 'runtime', 'step-python', 'cli']) {
    // built already (this test runs after the build); `prepack` has its own test
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', packed], {
      cwd: join(PACKAGES, name),
      env: outside(),
      stdio: 'ignore',
    });
  }
  const sqliteVersion = (
    JSON.parse(readFileSync(join(SQLITE, 'package.json'), 'utf8')) as { version: string }
  ).version;
  writeFileSync(
    join(project, 'package.json'),
    // better-sqlite3 pinned to the version installed here, whose compiled addon is copied in below
    JSON.stringify({
      name: 'consumer',
      private: true,
      type: 'module',
      overrides: { 'better-sqlite3': sqliteVersion },
    }),
  );
  execFileSync(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      ...readdirSync(packed).map((file) => join(packed, file)),
      '@types/node@20',
    ],
    { cwd: project, env: outside(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Compiling better-sqlite3's addon (its install script) takes minutes where its prebuilt binaries
  // cannot be downloaded; the same version's addon, compiled for this Node, is taken from this checkout.
  const addon = join('build', 'Release', 'better_sqlite3.node');
  mkdirSync(join(project, 'node_modules', 'better-sqlite3', 'build', 'Release'), { recursive: true });
  copyFileSync(join(SQLITE, addon), join(project, 'node_modules', 'better-sqlite3', addon));
}, 300_000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('the packed CLI, installed without @sluice/publish', () => {
  it('installs no @sluice/publish, and the packages hold their built code', () => {
    expect(readdirSync(join(project, 'node_modules', '@sluice')).sort()).toEqual([
      'cli',
      'core',
      'runtime',
      'step-python',
    ]);
  });

  it("type-checks a consumer's strict TypeScript against the packed declarations, library types included", () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        include: ['uses.ts'],
      }),
    );
    writeFileSync(
      join(project, 'uses.ts'),
      `import { Pipeline, SluiceError } from '@sluice/core';
import { Experiment, RunStore, Workspace, type StoreStatement } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import { createProgram, main, type CliIO } from '@sluice/cli';

export async function integrity(ws: Workspace): Promise<string[]> {
  const statement: StoreStatement = ws.store.prepare('SELECT 1 AS one');
  statement.get();
  return ws.store.checkIntegrity();
}
export const used = [Pipeline, SluiceError, Experiment, RunStore, PythonScriptStep, createProgram, main];
export type Io = CliIO;
`,
    );
    const tsc = createRequire(__filename).resolve('typescript/bin/tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('creates a workspace and runs a Python pipeline', () => {
    expect(sluice('init', 'ws')).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/Created workspace "ws"/),
    });
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'src', 'hello.py'), 'print("hello from a packed install")\n');
    writeFileSync(
      join(project, 'pipeline.ts'),
      `import { Pipeline } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';

export default new Pipeline({
  name: 'hello',
  steps: [new PythonScriptStep({ name: 'hello', scriptName: 'hello.py', sourceDirectory: new URL('./src', import.meta.url).pathname })],
});
`,
    );
    const run = sluice('run', 'pipeline.ts', '--logs', '-w', 'ws');
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('[hello] hello from a packed install');
    expect(run.stdout).toMatch(/Run hello_\S+: ✔ Finished/);
    expect(run.status).toBe(0);
  });

  it.each([['serve'], ['publish', 'pipeline.ts', '--name', 'hello'], ['token', 'list']])(
    '`sluice %s` says which package to install',
    (...args) => {
      const command = args[0] === 'token' ? 'token list' : args[0];
      expect(sluice(...args, '-w', 'ws')).toEqual({
        status: 2,
        stdout: '',
        stderr: `error PLUGIN_NOT_INSTALLED: sluice ${command} needs @sluice/publish; install it with npm install @sluice/publish\n`,
      });
    },
  );
});
