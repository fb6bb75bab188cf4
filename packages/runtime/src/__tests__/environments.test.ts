import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Environment, Pipeline, RunConfiguration, defineStep, type StepDefinition } from '@sluice/core';
import {
  ENVIRONMENTS_DIR,
  listEnvironments,
  materialiseEnvironment,
  pruneEnvironments,
  stepRunEnvironment,
} from '../environments.js';
import { collectGarbage } from '../gc.js';
import { Experiment, Workspace } from '../index.js';
import { tempDir, waitFor } from './fixtures.js';
// @ts-expect-error -- a plain JavaScript module shared with runner processes
import { pythonCodeStep } from './python-step.mjs';
import { buildFolders, buildWheel } from './wheels.js';

const step = (name: string, code: string, environment?: Environment): StepDefinition =>
  pythonCodeStep(defineStep, {
    name,
    code,
    environment,
    runConfiguration: RunConfiguration,
  }) as StepDefinition;

const PRINT_VERSION = 'import tinypkg.greet; print(tinypkg.greet.greet())';

let root: string;
let wheels: string;
let ws: Workspace;
const cacheEntries = (workspace: Workspace = ws): string[] =>
  readdirSync(join(workspace.dataDir, ENVIRONMENTS_DIR)).sort();

beforeAll(() => {
  root = tempDir('sluice-environments-');
  wheels = join(root, 'wheels');
  buildWheel(wheels, 'tinypkg', '1.0');
  ws = Workspace.create(join(root, 'ws'), { name: 'environments' });
});

afterAll(async () => {
  await ws.close();
  rmSync(root, { recursive: true, force: true });
});

const offline = (name: string, pip: string[], folder = wheels): Environment =>
  new Environment({ name, pip, findLinks: [folder], noIndex: true });

async function runStep(
  workspace: Workspace,
  definition: StepDefinition,
  experiment = 'env',
  onProgress?: (text: string) => void,
): Promise<ReturnType<Awaited<ReturnType<Experiment['submit']>>['findStepRun']>> {
  const run = await new Experiment(workspace, experiment).submit(new Pipeline({ steps: [definition] }));
  run.on((event) => {
    if (event.type === 'step-progress') onProgress?.(event.text);
  });
  await run.waitForCompletion({ raiseOnError: false });
  return run.findStepRun(definition.name);
}

describe('a built environment', { timeout: 300_000 }, () => {
  it('is built once from a local wheelhouse, and its step imports the wheel', async () => {
    const environment = offline('tiny', ['tinypkg']);
    const progress: string[] = [];
    const first = await runStep(ws, step('greet', PRINT_VERSION, environment), 'env', (text) =>
      progress.push(text),
    );
    expect(first.status).toBe('Finished');
    // progress while it was built
    expect(progress).toEqual([
      'environment tiny:1: python -m venv',
      'environment tiny:1: pip install tinypkg',
      'environment tiny:1: pip freeze',
      expect.stringMatching(/^environment tiny:1 built in [\d.]+ s \(1 packages\)$/),
    ]);
    expect(await first.getStdout()).toBe('tinypkg 1.0\n');
    const used = stepRunEnvironment(ws, first.id);
    expect(used).toMatchObject({ name: 'tiny', version: '1', lock: { packages: ['tinypkg==1.0'] } });
    expect(used?.lock.python).toBe(
      execFileSync('python3', ['-c', 'import platform; print(platform.python_version())'], {
        encoding: 'utf8',
      }).trim(),
    );
    const [listed] = await listEnvironments(ws);
    expect(listed).toMatchObject({ name: 'tiny', key: used!.key, uses: 1 });
    expect(readdirSync(listed!.path)).toEqual(
      expect.arrayContaining(['env', 'build.log', 'environment.json']),
    );

    // again: the cached environment, and the step is reused
    const again = await runStep(ws, step('greet', PRINT_VERSION, environment));
    expect(again.status).toBe('Reused');
    expect(buildFolders(cacheEntries())).toHaveLength(1);
  });

  it('names the package when the wheelhouse has no version that matches, and keeps the build log', async () => {
    const environment = offline('pinned', ['tinypkg==9.9']);
    const failed = await runStep(ws, step('pinned', PRINT_VERSION, environment));
    expect(failed.status).toBe('Failed');
    expect(failed.record.error).toMatch(/^ENVIRONMENT_PACKAGE_NOT_FOUND: .*tinypkg==9\.9/);
    // pip's own words are in the message, its whole output is the step's stderr
    expect(failed.record.error).toContain('No matching distribution found for tinypkg==9.9');
    expect(await failed.getStderr()).toContain('pip install');
    const error = await materialiseEnvironment(ws, environment).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ENVIRONMENT_PACKAGE_NOT_FOUND', details: { package: 'tinypkg' } });
    // nothing half-built is left for a step to use
    expect((await listEnvironments(ws)).map((entry) => entry.name)).toEqual(['tiny']);
    expect(buildFolders(cacheEntries())).toHaveLength(1);
  });

  it('a new version of a wheel changes the fingerprint, and explain names the package', async () => {
    const folder = join(root, 'moving-wheels');
    buildWheel(folder, 'tinypkg', '1.0');
    const environment = offline('moving', ['tinypkg'], folder);
    const first = await runStep(ws, step('moving', PRINT_VERSION, environment), 'moving');
    expect(await first.getStdout()).toBe('tinypkg 1.0\n');
    // a newer wheel arrives; the environment is built again (sluice env build --rebuild)
    buildWheel(folder, 'tinypkg', '2.0');
    const rebuilt = await materialiseEnvironment(ws, environment, { rebuild: true });
    expect(rebuilt).toMatchObject({ built: true, lock: { packages: ['tinypkg==2.0'] } });
    const second = await runStep(ws, step('moving', PRINT_VERSION, environment), 'moving');
    expect(second.status).toBe('Finished');
    expect(second.record.fingerprint).not.toBe(first.record.fingerprint);
    expect(await second.getStdout()).toBe('tinypkg 2.0\n');
    expect(second.explain().reasons).toEqual(['environment: tinypkg 1.0 → 2.0']);
  });

  it('an inherited interpreter runs as it is, with its version and distributions recorded', async () => {
    const ran = await runStep(ws, step('inherited', 'import sys; print(sys.prefix)'));
    expect(ran.status).toBe('Finished');
    const prefix = execFileSync('python3', ['-c', 'import sys; print(sys.prefix)'], { encoding: 'utf8' });
    expect(await ran.getStdout()).toBe(prefix);
    const used = stepRunEnvironment(ws, ran.id)!;
    expect(used.name).toBe('sluice-default');
    const pip = execFileSync('python3', ['-m', 'pip', '--version'], { encoding: 'utf8' }).split(' ')[1];
    expect(used.lock.packages).toContain(`pip==${pip}`);
  });

  it('an inherited interpreter whose distributions change re-runs its step, naming the package', async () => {
    const venv = join(root, 'inherited-venv');
    execFileSync('python3', ['-m', 'venv', '--without-pip', venv]);
    const environment = new Environment({
      name: 'own',
      python: { interpreter: join(venv, 'bin', 'python') },
    });
    const code = 'import sys; print(sys.prefix)';
    const first = await runStep(ws, step('own', code, environment), 'own');
    expect(first.status).toBe('Finished');
    expect(stepRunEnvironment(ws, first.id)?.lock.packages).toEqual([]);
    expect((await runStep(ws, step('own', code, environment), 'own')).status).toBe('Reused');
    // a distribution installed into it (with the runner's pip) is noticed without a rebuild
    execFileSync('python3', [
      '-m',
      'pip',
      '--python',
      join(venv, 'bin', 'python'),
      'install',
      '--no-index',
      '--find-links',
      wheels,
      'tinypkg',
    ]);
    const after = await runStep(ws, step('own', code, environment), 'own');
    expect(after.status).toBe('Finished');
    expect(after.explain().reasons).toEqual(['environment: tinypkg 1.0 added']);
    // the probe is kept in the workspace for the next process
    expect(readdirSync(join(ws.dataDir, ENVIRONMENTS_DIR, 'probes')).length).toBeGreaterThan(0);
  });

  it('steps starting together share one look at their interpreter', async () => {
    // an interpreter that counts how often it is started (a script, so it is not remembered across processes)
    const counter = join(root, 'started.txt');
    const interpreter = join(root, 'counting-python');
    writeFileSync(interpreter, `#!/bin/sh\necho started >> ${JSON.stringify(counter)}\nexec python3 "$@"\n`, {
      mode: 0o755,
    });
    const environment = new Environment({ name: 'counted', python: { interpreter } });
    const made = await Promise.all(Array.from({ length: 20 }, () => materialiseEnvironment(ws, environment)));
    expect(new Set(made.map((entry) => entry.lock.python)).size).toBe(1);
    expect(readFileSync(counter, 'utf8')).toBe('started\n');
  });

  it('is refused with a coded error when it needs conda and none is installed', async () => {
    const spec = join(root, 'conda.yml');
    writeFileSync(spec, 'dependencies:\n  - python=3.11\n  - scikit-learn\n  - pip:\n    - tinypkg\n');
    const environment = Environment.fromCondaSpecification('conda', spec);
    const error = await materialiseEnvironment(ws, environment).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'CONDA_NOT_INSTALLED' });
    expect((error as Error).message).toContain('micromamba');
  });

  it('a pip-only conda file builds with venv when the Python pin matches', async () => {
    const spec = join(root, 'pip-only.yml');
    const version = execFileSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
      encoding: 'utf8',
    }).trim();
    writeFileSync(spec, `dependencies:\n  - python=${version}\n  - pip\n  - pip:\n    - tinypkg==1.0\n`);
    const fromFile = Environment.fromCondaSpecification('from-conda', spec);
    const environment = new Environment({ ...fromFile.toJSON(), findLinks: [wheels], noIndex: true });
    const built = await materialiseEnvironment(ws, environment);
    expect(built.lock.packages).toEqual(['tinypkg==1.0']);
    const wrong = new Environment({ name: 'old', python: { version: '2.7' } });
    await expect(materialiseEnvironment(ws, wrong)).rejects.toMatchObject({
      code: 'ENVIRONMENT_PYTHON_MISMATCH',
    });
  });
});

const runtimeDist = pathToFileURL(resolve(__dirname, '../../dist/index.js')).href;
const coreDist = pathToFileURL(resolve(__dirname, '../../../core/dist/index.js')).href;
const pythonStepModule = pathToFileURL(resolve(__dirname, 'python-step.mjs')).href;

/** A runner process: opens the workspace and runs one step of the environment, printing what happened. */
function startRunner(dir: string, name: string): { pid: number; exited: Promise<string> } {
  const script = `
import { Environment, Pipeline, RunConfiguration, defineStep } from ${JSON.stringify(coreDist)};
import { Experiment, Workspace } from ${JSON.stringify(runtimeDist)};
import { pythonCodeStep } from ${JSON.stringify(pythonStepModule)};
const ws = Workspace.open(${JSON.stringify(dir)});
const environment = new Environment({ name: 'shared', pip: ['tinypkg'], findLinks: [${JSON.stringify(wheels)}], noIndex: true });
const step = pythonCodeStep(defineStep, { name: ${JSON.stringify(name)}, code: ${JSON.stringify(`${PRINT_VERSION}  # ${name}`)}, environment, runConfiguration: RunConfiguration });
const run = await new Experiment(ws, ${JSON.stringify(name)}).submit(new Pipeline({ steps: [step] }));
const status = await run.waitForCompletion();
const stepRun = run.findStepRun(${JSON.stringify(name)});
console.log(JSON.stringify({ status, stdout: await stepRun.getStdout(), log: await stepRun.getSluiceLog() }));
await ws.close();
`;
  const file = join(root, `${name}.mjs`);
  writeFileSync(file, script);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { pid: child.pid!, exited: new Promise((done) => child.once('exit', () => done(text))) };
}

describe('building across processes', { timeout: 300_000 }, () => {
  it('a runner killed while it builds leaves no environment a step would use; the next run builds it', async () => {
    const dir = join(root, 'killed');
    const workspace = Workspace.create(dir, { name: 'killed' });
    try {
      const runner = startRunner(dir, 'killed');
      const cache = join(workspace.dataDir, ENVIRONMENTS_DIR);
      // the build is under way once its virtual environment has an interpreter
      const building = await waitFor(
        () =>
          existsSync(cache) &&
          buildFolders(readdirSync(cache)).some((folder) =>
            existsSync(join(cache, folder, 'env', 'bin', 'python')),
          ),
        { tries: 3000 },
      );
      expect(building).toBe(true);
      process.kill(-runner.pid, 'SIGKILL');
      await runner.exited;
      expect(buildFolders(cacheEntries(workspace))).toHaveLength(1);
      expect(await listEnvironments(workspace)).toEqual([]);

      // the lease of the killed build is taken over; the environment is built complete
      const next = await runStep(workspace, step('next', PRINT_VERSION, offline('shared', ['tinypkg'])));
      expect(await next.getStdout()).toBe('tinypkg 1.0\n');
      const [built] = await listEnvironments(workspace);
      expect(built).toMatchObject({ name: 'shared', key: stepRunEnvironment(workspace, next.id)!.key });
      expect(readlinkSync(join(cache, built!.key))).toBe(built!.path.split('/').pop());
      // the killed build's folder is what prune removes
      const pruned = await pruneEnvironments(workspace);
      expect(pruned.map((item) => item.reason)).toEqual(['unfinished or replaced environment build']);
      expect(buildFolders(cacheEntries(workspace))).toEqual([built!.path.split('/').pop()]);
    } finally {
      await workspace.close();
    }
  });

  it('two runs needing the same environment at once build it once', async () => {
    const dir = join(root, 'concurrent');
    const workspace = Workspace.create(dir, { name: 'concurrent' });
    try {
      const runners = [startRunner(dir, 'first'), startRunner(dir, 'second')];
      const results = (await Promise.all(runners.map((runner) => runner.exited))).map(
        (text) => JSON.parse(text) as { status: string; stdout: string; log: string },
      );
      expect(results.map((result) => [result.status, result.stdout])).toEqual([
        ['Finished', 'tinypkg 1.0\n'],
        ['Finished', 'tinypkg 1.0\n'],
      ]);
      expect(buildFolders(cacheEntries(workspace))).toHaveLength(1);
      expect(await listEnvironments(workspace)).toMatchObject([{ name: 'shared', uses: 2 }]);
      // one built it, the other said in its log that it waited
      const logs = results.map((result) => result.log);
      expect(logs.filter((log) => log.includes('environment shared:1 built in'))).toHaveLength(1);
      expect(
        logs.filter((log) => /waiting for environment shared:1: run \S+ \(pid \d+/.test(log)),
      ).toHaveLength(1);
    } finally {
      await workspace.close();
    }
  });
});

describe('gc and prune', { timeout: 300_000 }, () => {
  it('keep the environments kept runs used unless asked', async () => {
    // the newest run uses the first environment (its step is reused, its environment still used)
    expect((await runStep(ws, step('greet', PRINT_VERSION, offline('tiny', ['tinypkg'])), 'gc')).status).toBe(
      'Reused',
    );
    // every run so far is older than a cut-off of 0 ms; the newest one is kept (keepLast 1)
    const before = await listEnvironments(ws);
    expect(before.length).toBeGreaterThan(1);
    const report = await collectGarbage(ws, { keepLast: 1, olderThanMs: 0 });
    const removed = report.deleted.filter((item) => item.reason.startsWith('environment'));
    const after = await listEnvironments(ws);
    expect(after.length).toBeLessThan(before.length);
    expect(removed).toHaveLength(before.length - after.length);
    expect(removed.every((item) => item.path.startsWith('.sluice/environments/'))).toBe(true);
    // what is left, the newest run used
    const newest = ws.store.listRuns({ limit: 1 })[0]!;
    const usedByNewest = ws.store.getStepRuns(newest.id).map((run) => stepRunEnvironment(ws, run.id)?.key);
    expect(after.map((entry) => entry.key)).toEqual(usedByNewest);
    const all = await collectGarbage(ws, { keepLast: 1, olderThanMs: 0, allEnvironments: true });
    expect(all.deleted.some((item) => item.reason === 'environment removed on request')).toBe(true);
    expect(await listEnvironments(ws)).toEqual([]);
  });
});
