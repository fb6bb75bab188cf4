/**
 * End to end: pipelines with an AdlaStep submitted through `new Experiment(ws, …).submit(pipeline)` to the
 * local contract server (contract-server.ts), which implements the documented Data Lake Analytics job API.
 * When a job ends well the server copies each `FROM "file://…"` of the script to each `TO "file://…"`: that
 * stands in for the U-SQL job, and it writes the step's outputs to the test workspace's local datastore.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DataReference, Pipeline, PipelineData, PipelineParameter, type SluiceError } from '@sluice/core';
import { Experiment, Workspace, type PipelineRun, type SubmitOptions } from '@sluice/runtime';
import {
  AdlaStep,
  adlaJobId,
  adlaStep,
  attachAdlaCompute,
  computeSecretName,
  type AdlaStepOptions,
  type AttachAdlaComputeOptions,
} from '../index.js';
import { ContractServer, failed } from './contract-server.js';
import { dedent, expectCode, tempDir } from './helpers.js';

const ORDERS_CSV = 'id,region,amount\n1,EU,12.5\n2,US,8\n3,EU,30\n';

const SCRIPT = dedent(`
  @orders =
      EXTRACT id int, region string, amount decimal
      FROM "@@orders@@"
      USING Extractors.Csv(skipFirstLines: 1);

  @selected =
      SELECT * FROM @orders WHERE region == "@@region@@" AND amount >= @@minAmount@@;

  OUTPUT @selected
      TO "@@summary@@/orders.csv"
      USING Outputters.Csv(outputHeader: true);
`);

const opened: Workspace[] = [];
const servers: ContractServer[] = [];
afterEach(async () => {
  // registered after helpers' afterEach, so it runs first: close the run store before its folder is removed
  await Promise.all(opened.splice(0).map((ws) => ws.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

interface Fixture {
  ws: Workspace;
  server: ContractServer;
  sourceDirectory: string;
  region: PipelineParameter;
  pipeline(options?: Partial<AdlaStepOptions>): Pipeline;
  submit(pipeline: Pipeline, options?: SubmitOptions): Promise<PipelineRun>;
}

async function fixture(
  options: { script?: string; token?: string; credential?: AttachAdlaComputeOptions['credential'] } = {},
): Promise<Fixture> {
  const dir = await tempDir();
  const ws = Workspace.create(path.join(dir, 'workspace'));
  opened.push(ws);
  const server = await ContractServer.start(options.token);
  servers.push(server);
  await attachAdlaCompute(ws, 'adla', {
    accountName: 'contosoadla',
    resourceGroup: 'analytics',
    jobEndpoint: server.url,
    credential: options.credential ?? { token: server.token },
    pollIntervalMs: 5,
  });
  await writeFile(path.join(dir, 'orders.csv'), ORDERS_CSV);
  await ws.getDefaultDatastore().uploadFiles([path.join(dir, 'orders.csv')], { targetPath: 'raw' });
  const sourceDirectory = path.join(dir, 'usql');
  await mkdir(sourceDirectory, { recursive: true });
  await writeFile(path.join(sourceDirectory, 'process.usql'), options.script ?? SCRIPT);
  const region = new PipelineParameter({ name: 'region', defaultValue: 'EU' });
  const experiment = new Experiment(ws, 'orders');
  return {
    ws,
    server,
    sourceDirectory,
    region,
    pipeline: (overrides = {}) =>
      new Pipeline({
        name: 'orders',
        steps: [
          new AdlaStep({
            name: 'summarise',
            scriptName: 'process.usql',
            sourceDirectory,
            computeTarget: 'adla',
            inputs: [
              new DataReference({
                datastore: 'workspaceblobstore',
                pathOnDatastore: 'raw/orders.csv',
                name: 'orders',
              }),
            ],
            outputs: [new PipelineData('summary')],
            params: { region, minAmount: 10 },
            degreeOfParallelism: 4,
            priority: 100,
            ...overrides,
          }),
        ],
      }),
    async submit(pipeline, submitOptions) {
      const run = await experiment.submit(pipeline, submitOptions);
      await run.waitForCompletion({ raiseOnError: false });
      return run;
    },
  };
}

/** Every file below `dir`. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe('AdlaStep in a pipeline', () => {
  it('submits the script with every placeholder filled in, waits for the job and records its output', async () => {
    const { ws, server, submit, pipeline } = await fixture();
    const run = await submit(pipeline());
    expect(run.status).toBe('Finished');
    const step = run.findStepRun('summarise');
    expect(step.status).toBe('Finished');

    expect(server.jobs.size).toBe(1);
    const [job] = [...server.jobs.values()];
    expect(job!.info.jobId).toBe(adlaJobId(step.id));
    expect(job!.info).toMatchObject({ type: 'USql', degreeOfParallelism: 4, priority: 100 });
    expect(job!.info.name).toContain('summarise');
    const output = step.getOutputData('summary');
    const outputUri = ws.getDefaultDatastore().uri!(output.pathOnDatastore);
    expect(job!.script).not.toContain('@@');
    expect(job!.script).toContain(`FROM "${ws.getDefaultDatastore().uri!('raw/orders.csv')}"`);
    expect(job!.script).toContain(`TO "${outputUri}/orders.csv"`);
    expect(job!.script).toContain('WHERE region == "EU" AND amount >= 10;');
    // the submitted script is kept beside the step's logs
    expect(await readFile(path.join(step.record.logDir!, 'script.usql'), 'utf8')).toBe(job!.script);
    expect(await step.getSluiceLog()).toMatch(
      /Compiling[\s\S]*Queued[\s\S]*Running[\s\S]*Ended[\s\S]*succeeded/,
    );

    // the output the "job" wrote is recorded like any step output
    expect(output.datastoreName).toBe('workspaceblobstore');
    const local = ws.getDefaultDatastore().localPath!(`${output.pathOnDatastore}/orders.csv`);
    expect(await readFile(local, 'utf8')).toBe(ORDERS_CSV);
  });

  it('is reused on a second submit, re-runs for a new parameter value, and explain() names a changed script', async () => {
    const { server, submit, pipeline, sourceDirectory } = await fixture();
    await submit(pipeline());
    const again = await submit(pipeline());
    expect(again.findStepRun('summarise').status).toBe('Reused');
    expect(server.jobs.size).toBe(1);
    expect(server.count('PUT')).toBe(1);

    const us = await submit(pipeline(), { parameters: { region: 'US' } });
    expect(us.findStepRun('summarise').status).toBe('Finished');
    expect(us.findStepRun('summarise').explain().reasons).toContain('parameter region EU → US');
    expect([...server.jobs.values()][1]!.script).toContain('region == "US"');

    await writeFile(
      path.join(sourceDirectory, 'process.usql'),
      SCRIPT.replace('>= @@minAmount@@', '> @@minAmount@@'),
    );
    const changed = await submit(pipeline());
    const explained = changed.findStepRun('summarise').explain();
    expect(explained.decision).toBe('RAN');
    expect(explained.reasons.join('; ')).toMatch(/source file process\.usql changed/);
    expect(server.jobs.size).toBe(3);

    const priority = await submit(pipeline({ priority: 5 }));
    expect(priority.findStepRun('summarise').explain().reasons).toContain('priority 100 → 5');
  });

  it('fails with the U-SQL errors in the logs when the job fails', async () => {
    const { server, submit, pipeline } = await fixture();
    server.outcome = () =>
      failed('E_CSC_USER_SYNTAXERROR', 'syntax error. Expected one of: identifier', {
        lineNumber: 7,
        resolution: 'Correct the script syntax.',
      });
    const run = await submit(pipeline());
    expect(run.status).toBe('Failed');
    const step = run.findStepRun('summarise');
    expect(step.status).toBe('Failed');
    expect(step.record.error).toMatch(
      /U-SQL job .* failed: E_CSC_USER_SYNTAXERROR: syntax error\. Expected one of: identifier/,
    );
    const stderr = await step.getStderr();
    expect(stderr).toContain('[Error] E_CSC_USER_SYNTAXERROR (line 7): syntax error');
    expect(stderr).toContain('resolution: Correct the script syntax.');
  });

  it('cancels the job when the run is canceled', async () => {
    const { server, pipeline, ws } = await fixture();
    server.holdAt = 'Running';
    const run = await new Experiment(ws, 'orders').submit(pipeline());
    for (let i = 0; i < 400 && [...server.jobs.values()][0]?.info.state !== 'Running'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await run.cancel();
    expect(run.status).toBe('Canceled');
    expect(run.findStepRun('summarise').status).toBe('Canceled');
    expect(server.count('POST', /\/CancelJob$/)).toBe(1);
    expect([...server.jobs.values()][0]!.info).toMatchObject({ state: 'Ended', result: 'Cancelled' });
    expect(await run.findStepRun('summarise').getSluiceLog()).toMatch(/cancel requested/);
  });

  it('reports a job cancelled in the service as Canceled', async () => {
    const { server, submit, pipeline } = await fixture();
    server.outcome = () => ({ result: 'Cancelled' });
    const run = await submit(pipeline());
    expect(run.findStepRun('summarise').status).toBe('Canceled');
  });

  it('rides out 429 with Retry-After, transient 5xx and a lost create answer, making one job', async () => {
    const { server, submit, pipeline } = await fixture();
    server.inject({ status: 503 }, { method: 'PUT', after: true });
    server.inject({ status: 429, retryAfter: '1' }, { method: 'PUT' });
    server.inject({ status: 500 }, { method: 'GET', times: 2 });
    const run = await submit(pipeline());
    expect(run.status).toBe('Finished');
    expect(server.jobs.size).toBe(1);
    expect(server.requests.filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([503, 429, 409]);
  });

  it('fails before submitting anything when the script uses an unknown placeholder', async () => {
    const { server, submit, pipeline, ws } = await fixture({
      script: `${SCRIPT}\n// @@nope@@ and @@region@@\n`,
    });
    const error = (await submit(pipeline()).catch((caught: unknown) => caught)) as SluiceError;
    expect(error).toMatchObject({ code: 'PARAMETER_UNKNOWN' });
    expect(error.message).toMatch(/^Step "summarise": process\.usql uses @@nope@@/);
    expect(error.message).toContain('Known: @@orders@@, @@summary@@, @@region@@, @@minAmount@@');
    expect(ws.store.listRuns()).toEqual([]);
    expect(server.requests).toEqual([]);
  });

  it('says what to do when the token is refused, without showing it', async () => {
    const { server, submit, pipeline } = await fixture({ credential: { token: 'expired-token-123' } });
    const run = await submit(pipeline());
    expect(run.status).toBe('Failed');
    const error = run.findStepRun('summarise').record.error!;
    expect(error).toMatch(/401 Unauthorized.*Store a fresh token with attachAdlaCompute/);
    expect(error).toContain(`workspace secret "${computeSecretName('adla')}"`);
    expect(error).not.toContain('expired-token-123');
    expect(server.jobs.size).toBe(0);
  });

  it('is refused at submit when an AdlaStep is given a compute target that is not an ADLA account', async () => {
    const { submit, pipeline } = await fixture();
    await expect(submit(pipeline({ computeTarget: 'local' }))).rejects.toMatchObject({
      code: 'STEP_INVALID',
      message: expect.stringMatching(/runs on adla compute, but its compute target "local" is local/),
    });
  });
});

describe('credentials', () => {
  it('keep the token out of the workspace config, describe(), logs and the run store', async () => {
    const { ws, server, submit, pipeline } = await fixture();
    await submit(pipeline());
    server.outcome = () => failed('E_X', 'boom');
    await submit(pipeline({ priority: 7 }));
    const target = await ws.getComputeTarget('adla');
    expect(JSON.stringify(target.describe())).not.toContain(server.token);
    expect(target.describe()).toMatchObject({
      accountName: 'contosoadla',
      resourceGroup: 'analytics',
      jobEndpoint: server.url,
      credential: `workspace secret "compute/adla/token"`,
    });
    expect(ws.config.computeTargets.adla!.options).toMatchObject({
      credential: { token: { secret: 'compute/adla/token' } },
    });
    expect(ws.config.plugins).toContain('@sluice/step-adla');
    const secrets = path.join(ws.dataDir, 'secrets.json');
    expect(await readFile(secrets, 'utf8')).toContain(server.token);
    expect((await stat(secrets)).mode & 0o077).toBe(0);
    const files = await filesBelow(ws.dir);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      if (file === secrets) continue;
      expect((await readFile(file)).includes(server.token), file).toBe(false);
    }
  });

  it('read a token from an environment variable, storing nothing', async () => {
    const variable = 'SLUICE_ADLA_TEST_TOKEN';
    process.env[variable] = 'env-token-abc';
    try {
      const { ws, submit, pipeline } = await fixture({
        token: 'env-token-abc',
        credential: { token: { env: variable } },
      });
      expect(ws.config.computeTargets.adla!.options).toMatchObject({
        credential: { token: { env: variable } },
      });
      expect((await ws.getComputeTarget('adla')).describe().credential).toBe(
        `environment variable ${variable}`,
      );
      const secrets = await readFile(path.join(ws.dataDir, 'secrets.json'), 'utf8').catch(() => '');
      expect(secrets).not.toContain('env-token-abc');
      expect((await submit(pipeline())).status).toBe('Finished');
    } finally {
      delete process.env[variable];
    }
  });

  it('refuse a reference to a token that is not there', async () => {
    const { ws } = await fixture();
    const error = await expectCode(
      () =>
        attachAdlaCompute(ws, 'other', {
          accountName: 'contosoadla',
          resourceGroup: 'analytics',
          credential: { token: { env: 'SLUICE_ADLA_UNSET_VARIABLE' } },
        }),
      'WORKSPACE_CONFIG_INVALID',
    );
    expect(error.message).toMatch(
      /environment variable SLUICE_ADLA_UNSET_VARIABLE holding the token is not set/,
    );
  });
});

// Reopening a workspace loads this package by name with `ws.ready()`, resolved from the workspace folder:
// the test links the built package into the workspace's node_modules (so it needs `npm run build` first).
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(path.join(PACKAGE_DIR, 'dist', 'index.js'));

describe.skipIf(!built)('a reopened workspace', () => {
  it('loads the plugins named in its config and runs the step with the saved token reference', async () => {
    const { ws, server, pipeline } = await fixture();
    await mkdir(path.join(ws.dir, 'node_modules', '@sluice'), { recursive: true });
    await symlink(PACKAGE_DIR, path.join(ws.dir, 'node_modules', '@sluice', 'step-adla'), 'dir');
    await ws.close();
    opened.splice(opened.indexOf(ws), 1);

    const reopened = Workspace.open(ws.dir);
    opened.push(reopened);
    // this copy's step kind runs against the built copy's compute target: the two find each other
    reopened.registry.use(adlaStep());
    const run = await new Experiment(reopened, 'orders').submit(pipeline({ priority: 3 }));
    expect(await run.waitForCompletion()).toBe('Finished');
    expect(server.jobs.size).toBe(1);
    expect(reopened.registry.list().filter((plugin) => plugin.kind === 'adla')).toHaveLength(2);
  });
});
