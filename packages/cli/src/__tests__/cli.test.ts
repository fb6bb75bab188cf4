import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from './in-process.js';

const BIN = resolve(__dirname, '../../dist/bin.js');
const ROOT_MODULES = resolve(__dirname, '../../../../node_modules');

const SCRIPT = `
import argparse, os
from sluice import Run
parser = argparse.ArgumentParser()
parser.add_argument('--rate', type=float)
parser.add_argument('--out')
parser.add_argument('--input', default=None)
args = parser.parse_args()
run = Run.get_context()
os.makedirs(args.out, exist_ok=True)
text = open(os.path.join(args.input, 'value.txt')).read() if args.input else 'seed'
with open(os.path.join(args.out, 'value.txt'), 'w') as f:
    f.write(text + ':' + str(args.rate))
run.log('rate', args.rate)
print('wrote', text)
`;

const PIPELINE = (ext: 'mjs' | 'ts') => `
import { Pipeline, PipelineData, PipelineParameter } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
const src = new URL('./src', import.meta.url).pathname;
const first = new PipelineData('first');
const second = new PipelineData('second');
const rate = new PipelineParameter({ name: 'rate', defaultValue: 0.1 });
export const experimentName = 'cli-${ext}';
export default function ({ workspace }${ext === 'ts' ? ': { workspace: unknown }' : ''}) {
  void workspace;
  return new Pipeline({
    name: 'cli',
    steps: [
      new PythonScriptStep({ name: 'make', scriptName: 'step.py', sourceDirectory: src, arguments: ['--rate', '1', '--out', first], outputs: [first] }),
      new PythonScriptStep({ name: 'tune', scriptName: 'step.py', sourceDirectory: src,
        arguments: ['--rate', rate, '--input', first, '--out', second], inputs: [first], outputs: [second] }),
    ],
  });
}
`;

let dir: string;

function cli(...args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: join(dir, 'ws'),
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return {
    status: result.status ?? -1,
    stdout: stripVTControlCharacters(result.stdout),
    stderr: stripVTControlCharacters(result.stderr),
  };
}

function inProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runInProcess(join(dir, 'ws'), ...args);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  symlinkSync(ROOT_MODULES, join(dir, 'node_modules'));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'step.py'), SCRIPT);
  writeFileSync(join(dir, 'pipeline.mjs'), PIPELINE('mjs'));
  writeFileSync(join(dir, 'pipeline.ts'), PIPELINE('ts'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  mkdirSync(join(dir, 'ws'));
  expect(cli('init', '.').stdout).toMatch(/Created workspace/);
});

describe('sluice CLI', () => {
  it('runs, reuses, re-runs on a parameter change and explains why', async () => {
    const first = cli('run', '../pipeline.mjs');
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/make\s+✔ Finished/);
    expect(first.stdout).toMatch(/tune\s+✔ Finished/);

    const second = cli('run', '../pipeline.mjs');
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/make\s+↺ Reused/);
    expect(second.stdout).toMatch(/tune\s+↺ Reused/);

    const third = cli('run', '../pipeline.mjs', '--param', 'rate=0.5');
    expect(third.status).toBe(0);
    expect(third.stdout).toMatch(/make\s+↺ Reused/);
    expect(third.stdout).toMatch(/tune\s+✔ Finished/);

    const explained = await inProcess('explain', 'latest');
    expect(explained.code).toBe(0);
    expect(explained.stdout).toMatch(/make\s+REUSED\s+from cli-mjs_\S+\.make/);
    expect(explained.stdout).toMatch(/tune\s+RAN/);
    expect(explained.stdout).toContain('• parameter rate 0.1 → 0.5');

    const json = JSON.parse((await inProcess('explain', 'latest', 'tune', '--json')).stdout);
    expect(json.steps).toEqual([
      expect.objectContaining({ step: 'tune', decision: 'RAN', reasons: ['parameter rate 0.1 → 0.5'] }),
    ]);

    const runs = JSON.parse((await inProcess('runs', '--json')).stdout);
    expect(runs.map((run: { status: string }) => run.status)).toEqual(['Finished', 'Finished', 'Finished']);
    expect(runs[0].parameters).toEqual({ rate: 0.5 });
    // `sluice run` records its runs as the CLI's, submitted by the user running it
    expect(runs[0]).toMatchObject({ runSource: 'CLI', submittedBy: expect.stringMatching(/^user:./) });

    const show = await inProcess('show', runs[0].id);
    expect(show.stdout).toContain('Graph');
    expect(show.stdout).toMatch(/tune ← make:first/);
    expect(show.stdout).toContain('Timeline');
    expect(show.stdout).toContain('metric  rate = 0.5');

    const logs = await inProcess('logs', runs[0].id, 'tune');
    expect(logs.stdout).toContain('wrote seed:1.0');
    const reusedLogs = await inProcess('logs', runs[0].id, 'make');
    expect(reusedLogs.stdout).toContain('(reused: logs of');
  });

  it('loads TypeScript pipeline modules', () => {
    const result = cli('run', '../pipeline.ts', '--json');
    expect(result.stderr).toBe('');
    const run = JSON.parse(result.stdout);
    expect(run.experiment).toBe('cli-ts');
    expect(run.status).toBe('Finished');
  });

  it('reports mistakes as coded errors with exit code 2, never a stack trace', async () => {
    const missing = cli('run', '../nope.ts');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^error PIPELINE_FILE_INVALID: .*nope\.ts does not exist/);
    const unknown = cli('run', '../pipeline.mjs', '-p', 'speed=3');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(
      /^error PARAMETER_UNKNOWN: The pipeline has no parameter "speed". Known parameters: rate\./,
    );
    const badType = cli('run', '../pipeline.mjs', '-p', 'rate=fast');
    expect(badType.stderr).toMatch(/^error PARAMETER_TYPE/);
    const noRun = await inProcess('explain', 'does-not-exist');
    expect(noRun.code).toBe(2);
    expect(noRun.stderr).toMatch(/error RUN_NOT_FOUND/);
    const outside = spawnSync(process.execPath, [BIN, 'runs'], { cwd: tmpdir(), encoding: 'utf8' });
    expect(outside.status).toBe(2);
    expect(outside.stderr).toMatch(/WORKSPACE_NOT_FOUND.*sluice init/);
    expect(missing.stderr + unknown.stderr + outside.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 1 and shows the failure when a step fails', () => {
    writeFileSync(
      join(dir, 'broken.mjs'),
      `
import { Pipeline } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
import { writeFileSync, mkdirSync } from 'node:fs';
const src = new URL('./broken', import.meta.url).pathname;
mkdirSync(src, { recursive: true });
writeFileSync(src + '/boom.py', 'raise SystemExit("boom")');
export default new Pipeline({ name: 'broken', steps: [new PythonScriptStep({ name: 'boom', scriptName: 'boom.py', sourceDirectory: src })] });
`,
    );
    const result = cli('run', '../broken.mjs');
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/boom\s+✖ Failed\s+\S+\s+python exited with code 1/);
    const logs = cli('logs', 'latest', 'boom', '--stderr');
    expect(logs.stdout).toContain('boom');
  });

  it('gc previews and deletes unreferenced outputs, and lists datasets', async () => {
    const preview = await inProcess('gc', '--keep-last', '1', '--older-than', '0s', '--dry-run');
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/Would delete \d+ items?/);
    const before = JSON.parse(
      (await inProcess('gc', '--keep-last', '1', '--older-than', '0s', '--dry-run', '--json')).stdout,
    );
    const report = JSON.parse(
      (await inProcess('gc', '--keep-last', '1', '--older-than', '0s', '--json')).stdout,
    );
    expect(before.deleted.length).toBeGreaterThan(0);
    expect(report.deleted).toEqual(before.deleted);
    const after = JSON.parse(
      (await inProcess('gc', '--keep-last', '1', '--older-than', '0s', '--dry-run', '--json')).stdout,
    );
    expect(after.deleted).toEqual([]);
    const bad = await inProcess('gc', '--older-than', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /error OPTION_INVALID: option '--older-than <age>' argument 'soon' is invalid/,
    );
    expect((await inProcess('datasets')).stdout).toContain('No datasets registered yet.');
  });
  it('shows where an output with a fixed destination was published, and whether it still holds it', async () => {
    writeFileSync(
      join(dir, 'publish.mjs'),
      `
import { OutputFileDatasetConfig, Pipeline, PipelineParameter } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
const src = new URL('./src', import.meta.url).pathname;
export const experimentName = 'cli-publish';
export default function () {
  const out = new OutputFileDatasetConfig({ name: 'out', destination: ['workspaceblobstore', 'shared/latest'] });
  const rate = new PipelineParameter({ name: 'rate', defaultValue: 1 });
  return new Pipeline({ name: 'publish', steps: [
    new PythonScriptStep({ name: 'make', scriptName: 'step.py', sourceDirectory: src, arguments: ['--rate', rate, '--out', out], outputs: [out] }),
  ]});
}
`,
    );
    expect(cli('run', '../publish.mjs').status).toBe(0);
    const first = JSON.parse((await inProcess('runs', '--json', '-e', 'cli-publish')).stdout)[0].id;
    expect(cli('run', '../publish.mjs', '--param', 'rate=2').status).toBe(0);
    const shown = await inProcess('show', 'latest');
    expect(shown.stdout).toMatch(/published to workspaceblobstore:shared\/latest \(holds this output\)/);
    const earlier = await inProcess('show', first);
    expect(earlier.stdout).toMatch(
      /published to workspaceblobstore:shared\/latest \(since replaced by cli-publish_\S+\.make at /,
    );
    const json = JSON.parse((await inProcess('show', first, '--json')).stdout);
    expect(json.steps[0].outputs[0].published).toMatchObject({ path: 'shared/latest', current: false });
  });

  it('shows a step by the name it was given ("Hello World"), in run, show, explain and logs', async () => {
    writeFileSync(
      join(dir, 'hello.mjs'),
      `
import { Pipeline, PipelineData } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
const src = new URL('./src', import.meta.url).pathname;
export const experimentName = 'cli-hello';
export default function () {
  return new Pipeline({ name: 'hello', steps: [
    new PythonScriptStep({ name: 'Hello World', scriptName: 'step.py', sourceDirectory: src, arguments: ['--rate', '1', '--out', new PipelineData('greeting')] }),
  ]});
}
`,
    );
    const ran = cli('run', '../hello.mjs', '--logs');
    expect(ran.status).toBe(0);
    expect(ran.stdout).toMatch(/Hello World Finished/);
    expect(ran.stdout).toContain('[Hello World] wrote seed');
    const shown = (await inProcess('show', 'latest')).stdout;
    expect(shown).toMatch(/^✔ Finished Hello World$/m); // the graph
    expect(shown).toMatch(/^Hello World │█+│/m); // the timeline
    expect(shown).toMatch(/^Hello World +✔ Finished/m); // the table
    expect((await inProcess('explain', 'latest')).stdout).toMatch(/^ {2}Hello World {2}RAN/m);
    expect((await inProcess('explain', 'latest', 'Hello World')).stdout).toContain('Hello World');
    expect((await inProcess('logs', 'latest', 'Hello_World')).stdout).toContain('── Hello World stdout');
  });
});
