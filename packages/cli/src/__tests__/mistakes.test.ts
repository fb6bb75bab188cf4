// A user's own mistakes: every one is `error CODE: message` with exit code 2, never a stack trace, and none
// leaves a run behind.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../index.js';

const BIN = resolve(__dirname, '../../dist/bin.js');
const ROOT_MODULES = resolve(__dirname, '../../../../node_modules');

let dir: string;

// as typed in a shell: under npm (`npm test`) the commands the CLI suggests would be `npx --no sluice …`
delete process.env.npm_command;

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

/** The CLI in this process (quicker than a new process): same output, same exit code. */
async function inProcess(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (text: string) => ((stdout += text), true) } as unknown as NodeJS.WritableStream,
    stderr: { write: (text: string) => ((stderr += text), true) } as unknown as NodeJS.WritableStream,
  };
  const status = await main(['node', 'sluice', ...args], io);
  return { status, stdout: stripVTControlCharacters(stdout), stderr: stripVTControlCharacters(stderr) };
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
  // prints its argument and 300 kB more
  writeFileSync(
    join(dir, 'src', 'step.py'),
    'import sys\nprint(sys.argv[1:])\nfor i in range(3000): print("x" * 99)\n',
  );
  writeFileSync(
    join(dir, 'pipeline.mjs'),
    `import { Pipeline, PipelineParameter } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
const text = new PipelineParameter({ name: 'text', defaultValue: 'plain' });
export default new Pipeline({ name: 'one', steps: [new PythonScriptStep({ name: 'only', scriptName: 'step.py', sourceDirectory: new URL('./src', import.meta.url).pathname, arguments: [text] })] });
`,
  );
  writeFileSync(join(dir, 'throws.mjs'), 'throw new Error("broken module");\n');
  writeFileSync(join(dir, 'empty.mjs'), 'export const nothing = 1;\n');
  mkdirSync(join(dir, 'folder.mjs'));
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
  ])('refuses %j', async (config, message) => {
    const ws = workspaceWith(config);
    expectCoded(await inProcess(['runs', '-w', ws]), 'WORKSPACE_CONFIG_INVALID', message);
  });
});

describe('commander usage errors', () => {
  it.each([
    [
      ['runs', '-n', 'abc'],
      /^error OPTION_INVALID: option '-n, --limit <n>' argument 'abc' is invalid\. Expected a whole number ≥ 1\.\nRun `sluice runs --help` for usage\.\n$/,
    ],
    [
      ['runs', '--bogus'],
      /^error OPTION_INVALID: unknown option '--bogus'\nRun `sluice runs --help` for usage\.\n$/,
    ],
    [['bogus'], /^error OPTION_INVALID: unknown command 'bogus'\n[^]*Run `sluice --help` for usage\.\n$/],
    [
      ['run'],
      /^error OPTION_INVALID: missing required argument 'pipeline'\nRun `sluice run --help` for usage\.\n$/,
    ],
    [
      ['run', '../pipeline.mjs', '-p', 'text'],
      /^error OPTION_INVALID: option '-p, --param <name=value>' argument 'text' is invalid/,
    ],
    [
      ['gc', '--older-than', 'nonsense'],
      /^error OPTION_INVALID: option '--older-than <age>' argument 'nonsense' is invalid\. "nonsense" is not a duration/,
    ],
    [
      ['gc', '--keep-last', '1.5'],
      /^error OPTION_INVALID: option '--keep-last <n>' argument '1\.5' is invalid\. Expected a whole number\./,
    ],
    [
      ['token', 'create', '--scope', 'admin'],
      /^error OPTION_INVALID: option '--scope <scope>' argument 'admin' is invalid\. Allowed choices are read, submit\.\nRun `sluice token create --help` for usage\.\n$/,
    ],
    [
      ['token', 'create', '--scope', 'read', '--expires', 'later'],
      /^error OPTION_INVALID: option '--expires <age>' argument 'later' is invalid/,
    ],
    [['runs', 'extra'], /^error OPTION_INVALID: too many arguments for 'runs'/],
  ])('sluice %j → OPTION_INVALID with exit 2 and where to read the usage', async (args, message) => {
    const result = await inProcess(args);
    expect(result.stderr).toMatch(message);
    expectCoded(result, 'OPTION_INVALID');
  });
});

describe('mistakes in what the user gives', () => {
  it.each([
    [['run', 'folder.mjs'], 'PIPELINE_FILE_INVALID', /folder\.mjs is not a file; give the pipeline module/],
    [['run', 'throws.mjs'], 'PIPELINE_FILE_INVALID', /broken module/],
    [['run', 'empty.mjs'], 'PIPELINE_FILE_INVALID', /it exported nothing/],
    [['init', 'pipeline.mjs'], 'WORKSPACE_NOT_FOUND', /a file is in the way/],
    [['run', 'pipeline.mjs', '-p', 'size=3'], 'PARAMETER_UNKNOWN', /no parameter "size"/],
    [['run', 'pipeline.mjs', '-c', 'cluster'], 'COMPUTE_NOT_FOUND', /No compute target "cluster"/],
  ])('sluice %j → %s', async (args, code, message) => {
    const [command, file, ...rest] = args as [string, string, ...string[]];
    const workspace = command === 'init' ? [] : ['-w', join(dir, 'ws')];
    expectCoded(await inProcess([command, join(dir, file), ...rest, ...workspace]), code, message);
  });

  it('a dataset that is not registered is DATASET_NOT_FOUND, like every other name that is not found', async () => {
    expectCoded(
      await inProcess(['datasets', 'no-such-dataset', '-w', join(dir, 'ws')]),
      'DATASET_NOT_FOUND',
      /No dataset named "no-such-dataset"/,
    );
  });

  it('reports unreadable config and secrets files', async () => {
    const ws = mkdtempSync(join(dir, 'unreadable-'));
    mkdirSync(join(ws, 'sluice.workspace.json'));
    expectCoded(
      await inProcess(['runs', '-w', ws]),
      'WORKSPACE_CONFIG_INVALID',
      /Cannot read .*sluice\.workspace\.json/,
    );
    const broken = workspaceWith({ name: 'w' });
    mkdirSync(join(broken, '.sluice'));
    writeFileSync(join(broken, '.sluice', 'secrets.json'), '{ "token": "s3cr3t-value", ');
    writeFileSync(
      join(dir, 'secret.mjs'),
      `export default function ({ workspace }) { workspace.setSecret('other', 'x'); }\n`,
    );
    const result = await inProcess(['run', join(dir, 'secret.mjs'), '-w', broken]);
    expectCoded(result, 'WORKSPACE_CONFIG_INVALID', /secrets\.json must be a JSON object of secret names/);
    expect(result.stderr, 'no part of the file is quoted').not.toContain('s3cr3t');
  });

  it('refuses a parameter value no process can take (ARGUMENT_INVALID) before the run starts', async () => {
    const ws = mkdtempSync(join(dir, 'args-'));
    expect((await inProcess(['init', ws])).status).toBe(0);
    expectCoded(
      await inProcess(['run', join(dir, 'pipeline.mjs'), '-p', 'text=a\0b', '-w', ws]),
      'ARGUMENT_INVALID',
      /parameter "text"\) holds a NUL byte/,
    );
    expect((await inProcess(['runs', '--json', '-w', ws])).stdout.trim()).toBe('[]');
  });

  it('reports a store locked by another process as RUN_STORE_BUSY, and writes no run', async () => {
    const ws = mkdtempSync(join(dir, 'locked-'));
    expect((await inProcess(['init', ws])).status).toBe(0);
    const sqlite = createRequire(join(ROOT_MODULES, '@sluice/runtime/package.json')).resolve(
      'better-sqlite3',
    );
    const holder = spawn(process.execPath, [
      '-e',
      `const db = new (require(${JSON.stringify(sqlite)}))(${JSON.stringify(join(ws, '.sluice', 'runs.db'))});
       db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked');
       process.stdin.on('data', () => { db.exec('COMMIT'); process.exit(0); });`,
    ]);
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    const result = sluice(['run', '../pipeline.mjs', '-w', ws], { env: { SLUICE_BUSY_TIMEOUT_MS: '100' } });
    await new Promise((resolve) => {
      holder.once('exit', resolve);
      holder.stdin.write('go');
    });
    expectCoded(
      result,
      'RUN_STORE_BUSY',
      /runs\.db is locked by another process and stayed locked for 100 ms/,
    );
    expect((await inProcess(['runs', '--json', '-w', ws])).stdout.trim()).toBe('[]');
  });

  it('stops quietly when the reader of its output goes away (`sluice logs | head`)', async () => {
    expect((await inProcess(['run', join(dir, 'pipeline.mjs'), '-w', join(dir, 'ws')])).status).toBe(0);
    const child = spawn(process.execPath, [BIN, 'logs', 'latest'], { cwd: join(dir, 'ws') });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const status = await new Promise<number | null>((resolve) =>
      child.once('close', (code) => resolve(code)),
    );
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });
});
