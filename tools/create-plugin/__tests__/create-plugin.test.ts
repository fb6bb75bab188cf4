import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../create-plugin.mjs', import.meta.url));
const CORE_VERSION = (
  JSON.parse(readFileSync(join(REPO, 'packages/core/package.json'), 'utf8')) as { version: string }
).version;

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A small monorepo like this one: packages/, .changeset/, the shared configs, and this repo's node_modules. */
function monorepo(): string {
  const root = mkdtempSync(join(tmpdir(), 'sluice-create-plugin-'));
  roots.push(root);
  mkdirSync(join(root, 'packages'));
  mkdirSync(join(root, '.changeset'));
  for (const file of ['tsconfig.base.json', '.prettierrc.json', 'eslint.config.js']) {
    copyFileSync(join(REPO, file), join(root, file));
  }
  writeFileSync(
    join(root, 'package.json'),
    '{ "name": "test-monorepo", "private": true, "type": "module" }\n',
  );
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

/** Run a command; the environment is this process's without vitest's own variables. */
function run(
  command: string,
  args: string[],
  cwd: string,
): { status: number | null; stdout: string; stderr: string } {
  const env = {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !key.startsWith('VITEST') && key !== 'NODE_OPTIONS' && key !== 'FORCE_COLOR',
      ),
    ),
    NO_COLOR: '1',
  };
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const createPlugin = (root: string, ...args: string[]) =>
  run(process.execPath, [SCRIPT, ...args, '--root', root], root);
const tool = (root: string, bin: string, ...args: string[]) =>
  run(process.execPath, [join(REPO, 'node_modules', ...bin.split('/')), ...args], root);

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

const CASES = [
  {
    name: 'step-shell',
    kind: 'step',
    source: 'shell-step.ts',
    exports: ['ShellStep', 'shellStep', 'SHELL_KIND', 'sluicePlugins'],
  },
  {
    name: 'compute-batch',
    kind: 'compute',
    source: 'batch-compute.ts',
    exports: ['BatchComputeTarget', 'batchCompute', 'batchComputeProvider', 'BATCH_KIND', 'sluicePlugins'],
  },
  {
    name: 'datastore-memory-blob',
    kind: 'datastore',
    source: 'memory-blob-datastore.ts',
    exports: ['MemoryBlobDatastore', 'memoryBlobDatastoreProvider', 'MEMORY_BLOB_KIND', 'sluicePlugins'],
  },
] as const;

describe('create-plugin', () => {
  it.each(CASES)(
    'scaffolds a $kind plugin that type-checks, lints, is formatted and passes its conformance suite',
    ({ name, kind, source, exports }) => {
      const root = monorepo();
      const created = createPlugin(root, name);
      expect(created.stderr).toBe('');
      expect(created.status).toBe(0);
      expect(created.stdout).toContain(`Created @sluice/${name}`);
      expect(created.stdout).toContain('npm install');
      expect(created.stdout).toContain(`npx --no nx test @sluice/${name}`);

      const dir = join(root, 'packages', name);
      expect(files(dir)).toEqual(
        [
          'README.md',
          'package.json',
          `src/${source}`,
          'src/__tests__/conformance.test.ts',
          'src/index.ts',
          'tsconfig.json',
          'tsup.config.ts',
          'vitest.config.ts',
        ].sort(),
      );
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      expect(pkg).toMatchObject({
        name: `@sluice/${name}`,
        version: '0.1.0',
        type: 'module',
        exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
        scripts: {
          build: 'tsup && publint',
          bundle: 'tsup --no-dts',
          prepack: 'nx build',
          test: 'vitest run',
          typecheck: 'tsc -p tsconfig.json',
        },
        peerDependencies: { '@sluice/core': `^${CORE_VERSION}` },
        devDependencies: { '@sluice/core': `^${CORE_VERSION}`, '@sluice/testing': '*' },
      });
      expect(pkg.private).toBeUndefined();
      expect(JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')).extends).toBe(
        '../../tsconfig.base.json',
      );
      const index = readFileSync(join(dir, 'src/index.ts'), 'utf8');
      for (const name of exports) expect(index).toContain(name);
      const test = readFileSync(join(dir, 'src/__tests__/conformance.test.ts'), 'utf8');
      expect(test).toContain(
        { step: 'testStepKind', compute: 'testComputeProvider', datastore: 'testDatastore' }[kind],
      );
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      expect(readme.split('\n')[0]).toBe(`# @sluice/${name}`);
      for (const heading of ['## Install', '## Usage', '## Options', '## Errors'])
        expect(readme).toContain(heading);
      expect(readFileSync(join(root, '.changeset', `${name}-initial.md`), 'utf8')).toMatch(
        new RegExp(`^---\\n'@sluice/${name}': minor\\n---\\n\\nNew package \`@sluice/${name}\`: `),
      );

      const checks = [
        tool(root, 'typescript/bin/tsc', '-p', join(dir, 'tsconfig.json')),
        tool(root, 'eslint/bin/eslint.js', join(dir, 'src')),
        tool(root, 'prettier/bin/prettier.cjs', '--check', dir, join(root, '.changeset')),
      ];
      for (const check of checks)
        expect(check.stdout + check.stderr, check.stdout + check.stderr).not.toMatch(/error|warn/i);
      expect(checks.map((check) => check.status)).toEqual([0, 0, 0]);

      const tests = run(process.execPath, [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run'], dir);
      expect(tests.status, tests.stdout + tests.stderr).toBe(0);
      expect(tests.stdout).toMatch(/Tests\s+\d+ passed( \| \d+ skipped)? \(\d+\)/);
    },
  );

  it('takes the kind from --kind, and a scope from the name', () => {
    const root = monorepo();
    expect(createPlugin(root, 'runner', '--kind', 'compute').status).toBe(0);
    expect(files(join(root, 'packages/runner/src'))).toContain('runner-compute.ts');

    expect(createPlugin(root, '@acme/sluice-step-lint').status).toBe(0);
    const dir = join(root, 'packages/sluice-step-lint');
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name).toBe('@acme/sluice-step-lint');
    expect(readFileSync(join(dir, 'src/lint-step.ts'), 'utf8')).toContain('export class LintStep');
    expect(existsSync(join(root, '.changeset/sluice-step-lint-initial.md'))).toBe(true);

    expect(createPlugin(root, 'tool').status).toBe(0);
    expect(files(join(root, 'packages/tool/src'))).toContain('tool-step.ts');
  });

  it('refuses a bad name, a bad kind, an existing folder or changeset, and writes nothing', () => {
    const root = monorepo();
    mkdirSync(join(root, 'packages/step-taken'));
    writeFileSync(join(root, '.changeset/step-noted-initial.md'), 'already here\n');
    const refusals: Array<[string[], RegExp]> = [
      [[], /Give the plugin a name/],
      [['Step_Shell'], /"Step_Shell" is not a valid plugin name/],
      [['step--double'], /is not a valid plugin name/],
      [['9lives'], /is not a valid plugin name/],
      [['step-'], /is not a valid plugin name/],
      [['step-compute'], /leaves no name for the step/],
      [['shell', '--kind', 'engine'], /--kind must be step, compute or datastore/],
      [['datastore-local'], /"local" is the runtime's own datastore provider/],
      [['step-taken'], /packages\/step-taken already exists/],
      [['step-noted'], /\.changeset\/step-noted-initial\.md already exists/],
      [['a', 'b'], /One name only/],
      [['--unknown', 'x'], /Unknown option '--unknown'/],
    ];
    for (const [args, message] of refusals) {
      const result = createPlugin(root, ...args);
      expect(result.status, args.join(' ')).toBe(1);
      expect(result.stderr).toMatch(/^create-plugin: /);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readdirSync(join(root, 'packages'))).toEqual(['step-taken']);
    expect(readdirSync(join(root, '.changeset'))).toEqual(['step-noted-initial.md']);
    expect(createPlugin(join(root, 'packages'), 'step-shell').stderr).toMatch(/has no packages\/ folder/);
  });
});
