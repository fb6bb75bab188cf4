/**
 * Secrets end to end: a Python step that prints its whole environment, run by the real runtime. The step
 * gets only the secret its environment names, and no secret value reaches any file of the workspace
 * (the run store included), its logs or the run's events.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Environment, Pipeline, PipelineData, RunConfiguration } from '@sluice/core';
import { Experiment, Workspace } from '@sluice/runtime';
import { PythonScriptStep } from '../index.js';
import { tempDir } from './helpers.js';

const API_KEY = 'sk-live-5f2b9c0e7d41a3';
const RUNNER_TOKEN = 'runner-only-token-8c1d22';

const SCRIPT = `
import hashlib, json, os, sys, time
out, expected = sys.argv[1], sys.argv[2]
key = os.environ.get("API_KEY", "")
with open(os.path.join(out, "checks.json"), "w") as f:
    json.dump({
        "injected": hashlib.sha256(key.encode()).hexdigest() == expected,
        "runner_secrets": sorted(k for k in os.environ if k.startswith("SLUICE_SECRET_")),
    }, f)
print(json.dumps(dict(os.environ), sort_keys=True), flush=True)
# the value split across two writes (two chunks of output)
sys.stdout.write("key=" + key[:6]); sys.stdout.flush(); time.sleep(0.2)
sys.stdout.write(key[6:] + "\\n"); sys.stdout.flush()
print("stderr has it too:", key, file=sys.stderr)
`;

/** Every file below `dir` (the run store, its WAL, logs, snapshots, datastores), but the secrets file. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return filesBelow(file);
    return name === 'secrets.json' ? [] : [file];
  });
}

let previous: string | undefined;
beforeEach(() => {
  previous = process.env.SLUICE_SECRET_RUNNER_TOKEN;
  process.env.SLUICE_SECRET_RUNNER_TOKEN = RUNNER_TOKEN;
});
afterEach(() => {
  if (previous === undefined) delete process.env.SLUICE_SECRET_RUNNER_TOKEN;
  else process.env.SLUICE_SECRET_RUNNER_TOKEN = previous;
});

describe('secret environment variables', () => {
  it('reach the step by name only, masked wherever the step prints them', async () => {
    const dir = await tempDir();
    const ws = Workspace.create(path.join(dir, 'workspace'));
    try {
      ws.setSecret('api-key', API_KEY);
      const src = path.join(ws.dir, 'src');
      await mkdir(src);
      await writeFile(path.join(src, 'show.py'), SCRIPT);
      const environment = (secret: string) =>
        new Environment({
          name: 'py',
          version: secret,
          environmentVariables: { PLAIN: 'visible' },
          secretEnvironmentVariables: { API_KEY: secret },
        });
      const out = new PipelineData('out');
      const pipeline = (secret: string) =>
        new Pipeline({
          name: 'secrets',
          steps: [
            new PythonScriptStep({
              name: 'show',
              scriptName: 'show.py',
              sourceDirectory: src,
              arguments: [out, createHash('sha256').update(API_KEY).digest('hex')],
              outputs: [out],
              runConfig: new RunConfiguration({ environment: environment(secret) }),
            }),
          ],
        });
      const experiment = new Experiment(ws, 'secrets');
      const run = await experiment.submit(pipeline('api-key'));
      const events: string[] = [];
      run.on((event) => events.push(JSON.stringify(event)));
      expect(await run.waitForCompletion()).toBe('Finished');

      const step = run.findStepRun('show');
      const target = await step.getOutputData('out').download(path.join(dir, 'download'));
      expect(JSON.parse(readFileSync(path.join(target, 'checks.json'), 'utf8'))).toEqual({
        injected: true,
        runner_secrets: [],
      });
      const stdout = await step.getStdout();
      const printed = JSON.parse(stdout.split('\n')[0]!) as Record<string, string>;
      expect(printed).toMatchObject({ API_KEY: '***', PLAIN: 'visible' });
      expect(Object.keys(printed).filter((key) => key.startsWith('SLUICE_SECRET_'))).toEqual([]);
      expect(stdout).toContain('\nkey=***\n');
      expect(await step.getStderr()).toBe('stderr has it too: ***\n');
      expect(events.some((event) => event.includes('***'))).toBe(true);

      // fingerprinted by name: a new value of the same secret is still reused
      ws.setSecret('api-key', `${API_KEY}-rotated`);
      const again = await experiment.submit(pipeline('api-key'));
      expect(await again.waitForCompletion()).toBe('Finished');
      expect(again.findStepRun('show').status).toBe('Reused');
      ws.setSecret('api-key', API_KEY);

      for (const value of [API_KEY, RUNNER_TOKEN]) {
        expect(events.filter((event) => event.includes(value))).toEqual([]);
        const holding = filesBelow(ws.dir).filter((file) => readFileSync(file).includes(Buffer.from(value)));
        expect(holding, `files holding ${value}`).toEqual([]);
      }
      const stored = ws.store.listEnvironments().map((entry) => entry.definition);
      expect(stored[0]).toMatchObject({ secretEnvironmentVariables: { API_KEY: 'api-key' } });
    } finally {
      await ws.close();
    }
  });

  it('refuses at submit a secret that is not set (SECRET_NOT_FOUND), recording no run', async () => {
    const dir = await tempDir();
    const ws = Workspace.create(path.join(dir, 'workspace'));
    try {
      const src = path.join(ws.dir, 'src');
      await mkdir(src);
      await writeFile(path.join(src, 'show.py'), 'print(1)\n');
      const step = new PythonScriptStep({
        name: 'show',
        scriptName: 'show.py',
        sourceDirectory: src,
        runConfig: new RunConfiguration({
          environment: new Environment({ name: 'py', secretEnvironmentVariables: { TOKEN: 'db-token' } }),
        }),
      });
      await expect(
        new Experiment(ws, 'secrets').submit(new Pipeline({ name: 'missing', steps: [step] })),
      ).rejects.toMatchObject({
        code: 'SECRET_NOT_FOUND',
        message: expect.stringContaining(
          `gives TOKEN the workspace secret "db-token", which is not set. Set it with ws.setSecret('db-token', …) or the runner's environment variable SLUICE_SECRET_DB_TOKEN.`,
        ),
      });
      expect(ws.store.listRuns()).toEqual([]);
    } finally {
      await ws.close();
    }
  });
});
