// What the CLI prints speaks CLI: the commands it suggests run where they are printed, every column has a
// header, step output keeps its lines whole, and a folder is named where a folder is meant.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../dist/bin.js');
const ROOT_MODULES = resolve(__dirname, '../../../../node_modules');

let dir: string;

/** `sluice …` in a new process, as a user's shell starts it (not under npm) unless `env` says otherwise. */
function sluice(
  args: string[],
  env: Record<string, string> = {},
): { status: number; stdout: string; stderr: string } {
  const { npm_command: _command, INIT_CWD: _initCwd, ...outside } = process.env;
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...outside, NO_COLOR: '1', ...env },
  });
  return {
    status: result.status ?? -1,
    stdout: stripVTControlCharacters(result.stdout),
    stderr: stripVTControlCharacters(result.stderr),
  };
}

function pipeline(file: string, step: { name: string; script: string; source: string }): string {
  writeFileSync(join(step.source, `${step.name}.py`), step.script);
  writeFileSync(
    join(dir, file),
    `import { Pipeline } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
export default new Pipeline({ name: ${JSON.stringify(step.name)}, steps: [new PythonScriptStep({
  name: ${JSON.stringify(step.name)}, scriptName: ${JSON.stringify(`${step.name}.py`)},
  sourceDirectory: ${JSON.stringify(step.source)} })] });
`,
  );
  return file;
}

beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sluice-messages-')));
  symlinkSync(ROOT_MODULES, join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  mkdirSync(join(dir, 'src'));
  expect(sluice(['init', 'ws']).status).toBe(0);
});

describe('the CLI speaks CLI', () => {
  it('`token revoke` of an unknown id points to `sluice token list`', () => {
    const result = sluice(['token', 'revoke', 'nosuchtoken', '-w', 'ws']);
    expect(result.stderr).toBe(
      'error TOKEN_NOT_FOUND: No token has id "nosuchtoken"; list the tokens with `sluice token list -w ws`.\n',
    );
    expect(result.status).toBe(2);
  });

  it('`init` in a workspace says how to run pipelines in it, not which API option to pass', () => {
    const result = sluice(['init', 'ws']);
    expect(result.stderr).toBe(
      `error WORKSPACE_EXISTS: ${join(dir, 'ws')} is already a Sluice workspace; run pipelines in it with \`sluice run <pipeline.ts> -w ws\`, or create one in another folder.\n`,
    );
    expect(result.stderr).not.toMatch(/existOk|Workspace\./);
    expect(result.status).toBe(2);
  });

  it('`token list` puts a header over every column', () => {
    expect(
      sluice(['token', 'create', '--scope', 'read', '--description', 'for the dashboard', '-w', 'ws']).status,
    ).toBe(0);
    const [header, row] = sluice(['token', 'list', '-w', 'ws']).stdout.split('\n');
    expect(header).toMatch(/^ID\s+SCOPE\s+STATE\s+EXPIRES\s+DESCRIPTION$/);
    expect(row!.indexOf('for the dashboard')).toBe(header!.indexOf('DESCRIPTION'));
  });

  it('`run --logs` prints a line the step wrote in pieces as one line, and the last unfinished one at the end', () => {
    const file = pipeline('pieces.mjs', {
      name: 'pieces',
      source: join(dir, 'src'),
      script: `import sys, time
sys.stdout.write('first half, '); sys.stdout.flush(); time.sleep(0.5)
print('second half')
sys.stderr.write('warning: '); sys.stderr.flush(); time.sleep(0.5); sys.stderr.write('on stderr\\n')
sys.stdout.write('no newline at the end'); sys.stdout.flush()
`,
    });
    const result = sluice(['run', file, '--logs', '-w', 'ws']);
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines).toContain('[pieces] first half, second half');
    expect(lines).toContain('[pieces] warning: on stderr');
    expect(lines).toContain('[pieces] no newline at the end');
    expect(lines.filter((line) => line.startsWith('[pieces]'))).toHaveLength(3);
    // the unfinished line comes before the line saying the step ended
    expect(lines.indexOf('[pieces] no newline at the end')).toBeLessThan(
      lines.findIndex((line) => /pieces Finished/.test(line)),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^STEP\s+STATUS\s+TIME\s+NOTE$/));
  });

  it("`show` names the folder of the step's git checkout, and its origin on a line of its own", () => {
    const checkout = join(dir, 'checkout');
    mkdirSync(checkout);
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', checkout, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        encoding: 'utf8',
      }).trim();
    git('init', '--quiet', '--initial-branch', 'main');
    git('remote', 'add', 'origin', 'https://example.com/team/iris.git');
    const file = pipeline('checked-in.mjs', {
      name: 'checked_in',
      source: checkout,
      script: 'print("from a checkout")\n',
    });
    git('add', '.');
    git('commit', '--quiet', '-m', 'step');
    expect(sluice(['run', file, '-w', 'ws']).status).toBe(0);
    const lines = sluice(['show', 'latest', '-w', 'ws']).stdout.split('\n');
    const commit = git('rev-parse', 'HEAD').slice(0, 12);
    expect(lines).toContain(`  git     ${checkout} main ${commit}`);
    expect(lines).toContain('  origin  https://example.com/team/iris.git');
  });

  it('under npm, a suggested command is `npx --no sluice …` naming the workspace, and it runs as printed', () => {
    const file = pipeline('hint.mjs', { name: 'hint', source: join(dir, 'src'), script: 'print("hi")\n' });
    const from = join(dir, 'src');
    const result = sluice(['run', file, '-w', join(dir, 'ws')], {
      npm_command: 'exec',
      INIT_CWD: from,
    });
    expect(result.status).toBe(0);
    const hint = /Why each step ran or was reused: (.*)$/m.exec(result.stdout)?.[1];
    expect(hint).toMatch(/^npx --no sluice explain hint_\S+ -w \.\.\/ws$/);
    // typed in the folder the user was in
    const typed = spawnSync('sh', ['-c', hint!], {
      cwd: from,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(typed.stderr).toBe('');
    expect(stripVTControlCharacters(typed.stdout)).toMatch(/hint\s+RAN/);
  });
});
