import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../dist/bin.js');

it('publishes a pipeline, creates a token, serves it, and runs it over REST', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-serve-'));
  symlinkSync(resolve(__dirname, '../../../../node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'hello.py'), 'import sys\nprint("hello", sys.argv[1])\n');
  writeFileSync(
    join(dir, 'pipeline.mjs'),
    `import { Pipeline, PipelineParameter } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
const who = new PipelineParameter({ name: 'who', defaultValue: 'world' });
export default new Pipeline({ name: 'hello', steps: [new PythonScriptStep({ name: 'hello', scriptName: 'hello.py',
  sourceDirectory: new URL('./src', import.meta.url).pathname, arguments: [who] })] });`,
  );
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [BIN, ...args, '-w', join(dir, 'ws')], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
  spawnSync(process.execPath, [BIN, 'init', join(dir, 'ws')], { cwd: dir });
  const published = JSON.parse(
    cli('publish', 'pipeline.mjs', '--name', 'hello', '--endpoint', 'hello', '--json').stdout,
  );
  expect(published).toMatchObject({ name: 'hello', pipelineEndpoint: 'hello', endpointVersion: '0' });
  const token = cli('token', 'create', '--scope', 'submit').stdout.trim();
  expect(token).toMatch(/^slc_/);
  expect(cli('token', 'list').stdout).toMatch(/submit\s+active/);

  const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '-w', join(dir, 'ws')], { cwd: dir });
  try {
    const url = await new Promise<string>((done, fail) => {
      let out = '';
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /at (http:\/\/\S+)/.exec(out);
        if (match) done(match[1]!);
      });
      server.once('exit', () => fail(new Error(`sluice serve exited: ${out}`)));
    });
    const refused = await fetch(`${url}/endpoints/hello`, { method: 'POST', body: '{}' });
    expect(refused.status).toBe(401);
    const accepted = await fetch(`${url}/endpoints/hello`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ExperimentName: 'greetings', ParameterAssignments: { who: 'rest' } }),
    });
    expect(accepted.status).toBe(200);
    const { Id } = (await accepted.json()) as { Id: string };
    let status = 'Queued';
    for (let i = 0; i < 100 && !['Finished', 'Failed'].includes(status); i++) {
      await new Promise((r) => setTimeout(r, 200));
      const run = await fetch(`${url}/runs/${Id}`, { headers: { authorization: `Bearer ${token}` } });
      status = ((await run.json()) as { Status: { StatusDetail: string } }).Status.StatusDetail;
    }
    expect(status).toBe('Finished');
    expect(cli('logs', Id, 'hello').stdout).toContain('hello rest');
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
});
