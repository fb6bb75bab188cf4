/**
 * A real `sluice serve` process (the built CLI): malformed requests do not end it, SIGTERM shuts it down
 * gracefully (exit 0, no run left Running, what was running recorded Canceled, queued runs kept), and the
 * next `serve` takes up what the last one left. Its own options are checked before anything is opened.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { Workspace } from '@sluice/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../index.js';

const BIN = resolve(__dirname, '../../dist/bin.js');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(50);
  }
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A workspace with a published endpoint `held`: `prepare` → `hold`, which waits for `<hold>/release`. */
function project(): { dir: string; ws: string; hold: string; token: string; holding: () => number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-serve-stop-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(resolve(__dirname, '../../../../node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  const hold = join(dir, 'hold');
  mkdirSync(hold);
  mkdirSync(join(dir, 'src'));
  writeFileSync(
    join(dir, 'src', 'prepare.py'),
    'import os, sys\nopen(os.path.join(sys.argv[1], "data.txt"), "w").write("prepared")\n',
  );
  writeFileSync(
    join(dir, 'src', 'hold.py'),
    `import os, sys, time
hold = ${JSON.stringify(hold)}
open(os.path.join(hold, "pid-%d" % os.getpid()), "w").write(sys.argv[2])
for _ in range(1200):
    if os.path.exists(os.path.join(hold, "release")):
        break
    time.sleep(0.05)
print("held", sys.argv[2], open(os.path.join(sys.argv[1], "data.txt")).read())
`,
  );
  writeFileSync(
    join(dir, 'pipeline.mjs'),
    `import { Pipeline, PipelineData, PipelineParameter } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
const n = new PipelineParameter({ name: 'n', defaultValue: 0 });
const data = new PipelineData('data');
const src = new URL('./src', import.meta.url).pathname;
const prepare = new PythonScriptStep({ name: 'prepare', scriptName: 'prepare.py', sourceDirectory: src,
  arguments: [data], outputs: [data] });
const held = new PythonScriptStep({ name: 'hold', scriptName: 'hold.py', sourceDirectory: src,
  arguments: [data, n], inputs: [data] });
export default new Pipeline({ name: 'held', steps: [prepare, held] });`,
  );
  const ws = join(dir, 'ws');
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [BIN, ...args, '-w', ws], { cwd: dir, encoding: 'utf8' });
  expect(spawnSync(process.execPath, [BIN, 'init', ws], { cwd: dir }).status).toBe(0);
  expect(cli('publish', 'pipeline.mjs', '--name', 'held', '--endpoint', 'held').status).toBe(0);
  const token = cli('token', 'create', '--scope', 'submit').stdout.trim();
  const holding = (): number[] =>
    readdirSync(hold)
      .filter((name) => name.startsWith('pid-'))
      .map((name) => Number(name.slice(4)));
  return { dir, ws, hold, token, holding };
}

interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  output: () => string;
}

async function startServe(dir: string, ws: string, ...args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '-w', ws, ...args], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const url = await new Promise<string>((done, fail) => {
    const look = (): void => {
      const match = /at (http:\/\/\S+)/.exec(out);
      if (match) done(match[1]!);
    };
    child.stdout.on('data', look);
    child.once('exit', () => fail(new Error(`sluice serve exited: ${out}`)));
  });
  return { child, url, output: () => out };
}

/** `sluice serve` with options it refuses: it exits without serving. */
function serveOnce(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [BIN, 'serve', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
}

async function stop(served: Served, signals = 1): Promise<number | null> {
  const exited = once(served.child, 'exit');
  served.child.kill('SIGTERM');
  for (let sent = 1; sent < signals; sent++) {
    await until(() => served.output().includes('Stopping'));
    served.child.kill('SIGTERM');
  }
  const [code] = (await exited) as [number | null];
  return code;
}

/** Raw bytes to the server; resolves with the status of its answer (0 for none). */
function raw(url: string, text: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(Number(port), hostname, () => socket.write(text));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
  });
}

function rest(url: string, token: string) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  return {
    submit: async (n: number): Promise<string> => {
      const response = await fetch(`${url}/endpoints/held`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ExperimentName: 'held', ParameterAssignments: { n } }),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { Id: string }).Id;
    },
    run: async (id: string) =>
      (await (await fetch(`${url}/runs/${id}`, { headers })).json()) as {
        Status: { StatusDetail: string };
        ResumedAs?: string;
        ResumedFrom?: string;
        Error: string | null;
        Steps: Array<{ Name: string; Status: string; ReusedFrom: string | null }>;
      },
  };
}

describe('sluice serve', () => {
  it('survives malformed requests, stops on SIGTERM with exit 0, and the next serve finishes its work', async () => {
    const { dir, ws, hold, token, holding } = project();
    const first = await startServe(dir, ws, '--concurrency', '1', '--grace-period', '1');
    const api = rest(first.url, token);
    const running = await api.submit(1);
    const queued = await api.submit(2);
    await until(() => holding().length === 1);
    const [stepPid] = holding();

    // requests that used to end the process
    expect(await raw(first.url, 'GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toBe(401);
    expect(await raw(first.url, 'GET /pipelines HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n')).toBe(
      401,
    );
    expect(await raw(first.url, 'hello\r\n\r\n')).toBe(400);
    expect(first.child.exitCode).toBeNull();
    expect((await api.run(running)).Status.StatusDetail).toBe('Running');

    expect(await stop(first)).toBe(0);
    expect(first.output()).toMatch(/Stopping: running steps have 1 s to finish/);
    expect(first.output()).not.toMatch(/TypeError|not open|unexpected error/);
    expect(alive(stepPid!)).toBe(false);

    const workspace = Workspace.open(ws);
    try {
      expect(workspace.store.listRuns().filter((run) => run.status === 'Running')).toEqual([]);
      expect(workspace.store.getRun(running)).toMatchObject({
        status: 'Canceled',
        error: 'the server shut down before the run finished',
      });
      expect(workspace.store.getStepRuns(running).map((step) => [step.stepName, step.status])).toEqual([
        ['prepare', 'Finished'],
        ['hold', 'Canceled'],
      ]);
      // the queued one was never started, and waits in the queue
      expect(workspace.store.getRun(queued)).toBeUndefined();
      const row = workspace.store
        .prepare('SELECT status FROM publish_queue WHERE run_id = ?')
        .get(queued) as { status: string };
      expect(row.status).toBe('queued');
    } finally {
      await workspace.close();
    }

    writeFileSync(join(hold, 'release'), '');
    const second = await startServe(dir, ws);
    const api2 = rest(second.url, token);
    const resumedAs = (await api2.run(running)).ResumedAs!;
    expect(resumedAs).toBeDefined();
    await until(async () => (await api2.run(resumedAs)).Status.StatusDetail === 'Finished');
    await until(async () => (await api2.run(queued)).Status.StatusDetail === 'Finished');
    expect((await api2.run(resumedAs)).Steps.map((step) => [step.Name, step.Status])).toEqual([
      ['prepare', 'Reused'],
      ['hold', 'Finished'],
    ]);
    expect(await stop(second)).toBe(0);
  });

  it('cancels running steps at once on a second SIGTERM during the grace period', async () => {
    const { dir, ws, token, holding } = project();
    const served = await startServe(dir, ws);
    const id = await rest(served.url, token).submit(1);
    await until(() => holding().length === 1);
    const [stepPid] = holding();
    // the default grace period is 30 s and the step holds for 60 s: only the second signal ends it
    expect(await stop(served, 2)).toBe(0);
    expect(served.output()).toMatch(/Stopping: running steps have 30 s to finish/);
    expect(served.output()).toMatch(/Canceling the running steps now/);
    expect(alive(stepPid!)).toBe(false);
    const workspace = Workspace.open(ws);
    try {
      expect(workspace.store.getRun(id)).toMatchObject({ status: 'Canceled' });
      expect(workspace.store.getStepRuns(id).map((step) => step.status)).toEqual(['Finished', 'Canceled']);
    } finally {
      await workspace.close();
    }
  });

  it('refuses options it cannot use before opening anything, as OPTION_INVALID with exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-serve-options-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // no workspace here: an option checked after opening it would fail with WORKSPACE_NOT_FOUND instead
    const missing = join(dir, 'no-workspace');
    const cases: Array<[string[], RegExp]> = [
      [['--port', '99999'], /--port must be a whole number from 0 to 65535/],
      [['--port', 'abc'], /--port must be a whole number/],
      [['--port=-1'], /--port must be a whole number/],
      [['--port', '80.5'], /--port must be a whole number/],
      [['--concurrency', '0'], /--concurrency must be a whole number from 1/],
      [['--concurrency', 'many'], /--concurrency must be a whole number/],
      [['--host', 'not a host'], /The host "not a host" is not valid/],
      [['--host', '[::1]'], /The host "\[::1\]" is not valid/],
      [['--grace-period=-5'], /--grace-period must be a number of seconds/],
      [['--grace-period', 'soon'], /--grace-period must be a number of seconds/],
      [
        ['--public-url', 'ftp://sluice.example.com'],
        /The public URL "ftp:\/\/sluice.example.com" is not valid/,
      ],
      [
        ['--public-url', 'https://sluice.example.com/api'],
        /The public URL "https:\/\/sluice.example.com\/api" is not valid/,
      ],
      [['--entra-issuer', 'https://issuer.example'], /Entra ID tokens need all three of --entra-issuer/],
    ];
    for (const [args, message] of cases) {
      let stdout = '';
      let stderr = '';
      const io = {
        stdout: { write: (text: string) => ((stdout += text), true) } as unknown as NodeJS.WritableStream,
        stderr: { write: (text: string) => ((stderr += text), true) } as unknown as NodeJS.WritableStream,
      };
      const code = await main(['node', 'sluice', 'serve', ...args, '-w', missing], io);
      expect([args, code, stripVTControlCharacters(stderr), stdout]).toEqual([
        args,
        2,
        expect.stringMatching(new RegExp(`^error OPTION_INVALID: ${message.source}`)),
        '',
      ]);
      expect(existsSync(missing)).toBe(false);
    }
    // the built command: exit code 2, no stack trace
    const result = serveOnce(dir, '--port', '99999', '-w', missing);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      'error OPTION_INVALID: --port must be a whole number from 0 to 65535 (0 picks a free port); got "99999".\n',
    );
  });

  it('refuses an address it cannot listen on with a coded error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-serve-listen-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const ws = join(dir, 'ws');
    spawnSync(process.execPath, [BIN, 'init', ws], { cwd: dir });
    // 192.0.2.1 (TEST-NET-1) is not an address of this machine
    const result = serveOnce(dir, '--host', '192.0.2.1', '-w', ws);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /^error OPTION_INVALID: Cannot listen on 192\.0\.2\.1:8765: 192\.0\.2\.1 is not an address of this machine/,
    );
  });
});
