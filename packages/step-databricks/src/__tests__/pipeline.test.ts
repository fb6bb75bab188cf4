/**
 * DatabricksStep end to end: pipelines submitted with `new Experiment(ws, …).submit(pipeline)` run against
 * the local contract server (see contract-server.ts). The workspace's datastores are local folders, so
 * inputs and outputs reach the job as `file://` URIs; the server's simulated job (the stand-in for the
 * notebook or script) reads the inputs and writes the outputs there when a run succeeds, which is what the
 * runtime checks after a remote-data step finishes.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataReference, Pipeline, PipelineData, PipelineParameter, SluiceError } from '@sluice/core';
import { Experiment, Workspace, type PipelineRun } from '@sluice/runtime';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AUTH_FAILED_CODE,
  DatabricksStep,
  attachDatabricksCompute,
  snapshotDbfsFolder,
  type DatabricksStepOptions,
} from '../index.js';
import { ContractServer, type RecordedRequest } from './contract-server.js';
import { filesContaining, tempDir, writeTree } from './helpers.js';

const SUBMIT = '/api/2.1/jobs/runs/submit';
const NOTEBOOK = '/Users/someone@example.com/databricks-notebook';

const token = `dapi${randomBytes(16).toString('hex')}`;
let server: ContractServer;
let ws: Workspace;

beforeAll(async () => {
  server = await ContractServer.start({ token });
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  ws = Workspace.create(tempDir());
  const data = writeTree(tempDir(), { 'dbtest/a.csv': 'x,y\n1,2\n', 'dbtest/b.csv': 'x,y\n3,4\n' });
  await ws.getDefaultDatastore().uploadDirectory(join(data, 'dbtest'), { targetPath: 'dbtest' });
  // the compute target of the article: attach_configuration(resource_group, workspace_name, access_token)
  await attachDatabricksCompute(ws, 'databricks_compute', {
    workspaceUrl: server.url,
    workspaceName: 'my-databricks-workspace',
    resourceGroup: 'my-resource-group',
    accessToken: token,
    retryDelayMs: 20,
  });
});
afterEach(async () => {
  await ws.close();
});

/** The article's DatabricksStep, with its DataReference input and PipelineData output. */
function seedStep(options: Partial<DatabricksStepOptions> = {}): DatabricksStep {
  const defBlobStore = ws.getDefaultDatastore();
  const step1Input = new DataReference({
    datastore: defBlobStore,
    pathOnDatastore: 'dbtest',
    dataReferenceName: 'input',
  });
  const step1Output = new PipelineData('output', { datastore: defBlobStore });
  return new DatabricksStep({
    name: 'databricksmodule',
    inputs: [step1Input],
    outputs: [step1Output],
    numWorkers: 1,
    notebookPath: NOTEBOOK,
    notebookParams: { myparam: 'testparam' },
    runName: 'demo run name',
    computeTarget: 'databricks_compute',
    allowReuse: false,
    pollIntervalSeconds: 0.02,
    ...options,
  });
}

async function run(steps: DatabricksStep[], parameters?: Record<string, unknown>): Promise<PipelineRun> {
  const pipeline = new Pipeline({ workspace: ws, name: 'databricks', steps });
  const submitted = await new Experiment(ws, 'databricks').submit(pipeline, parameters ? { parameters } : {});
  await submitted.waitForCompletion({ raiseOnError: false });
  return submitted;
}

function submitsSince(count: number): RecordedRequest[] {
  return server.requestsTo(SUBMIT).slice(count);
}

describe('DatabricksStep in a pipeline', () => {
  it('runs the article’s notebook step: inputs and outputs reach the notebook as parameters', async () => {
    const before = server.requestsTo(SUBMIT).length;
    const pipelineRun = await run([seedStep()]);
    expect(pipelineRun.status).toBe('Finished');
    const stepRun = pipelineRun.findStepRun('databricksmodule');
    expect(stepRun.status).toBe('Finished');

    const [submit] = submitsSince(before);
    const store = ws.getDefaultDatastore();
    const output = stepRun.getOutputData('output');
    expect(submit?.body).toEqual({
      run_name: 'demo run name',
      tasks: [
        {
          task_key: 'databricksmodule',
          new_cluster: { spark_version: '15.4.x-scala2.12', node_type_id: 'Standard_DS3_v2', num_workers: 1 },
          notebook_task: {
            notebook_path: NOTEBOOK,
            base_parameters: {
              myparam: 'testparam',
              input: store.uri!('dbtest'),
              output: store.uri!(output.pathOnDatastore),
            },
          },
        },
      ],
      idempotency_token: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // what the notebook wrote is the step's output
    const written = readFileSync(join(store.localPath!(output.pathOnDatastore), 'part-00000.txt'), 'utf8');
    expect(written).toBe('parameter myparam=testparam\nread a.csv: 8 bytes\nread b.csv: 8 bytes\n');
    expect(await stepRun.getStdout()).toBe('{"inputs":1,"outputs":1}\n');
    expect(stepRun.getMetrics()).toMatchObject({ notebook_result: '{"inputs":1,"outputs":1}' });
    const log = await stepRun.getSluiceLog();
    for (const state of ['PENDING', 'RUNNING', 'TERMINATING', 'TERMINATED SUCCESS']) {
      expect(log).toMatch(new RegExp(`Databricks run \\d+: ${state}`));
    }
    expect(log).toMatch(/Databricks run page: http:\/\/127\.0\.0\.1:\d+\/\?o=0#job\/0\/run\/\d+/);

    // allow_reuse=False, as in the article: the next submit runs it again
    const again = await run([seedStep()]);
    expect(again.findStepRun('databricksmodule').status).toBe('Finished');
    expect(submitsSince(before)).toHaveLength(2);
  });

  it('is reused on the next submit when nothing changed, and its output feeds the next step', async () => {
    const steps = (): DatabricksStep[] => {
      const first = seedStep({ allowReuse: true });
      const second = new DatabricksStep({
        name: 'summarise',
        inputs: [first.outputs[0]!],
        outputs: [new PipelineData('summary')],
        existingClusterId: '0123-456789-abcdefgh',
        notebookPath: '/Users/someone@example.com/summarise',
        computeTarget: 'databricks_compute',
        pollIntervalSeconds: 0.02,
      });
      return [first, second];
    };
    const before = server.requestsTo(SUBMIT).length;
    const one = await run(steps());
    expect(one.status).toBe('Finished');
    const [, summarise] = submitsSince(before);
    const task = (summarise?.body as { tasks: Array<Record<string, unknown>> }).tasks[0]!;
    expect(task.existing_cluster_id).toBe('0123-456789-abcdefgh');
    const upstream = one.findStepRun('databricksmodule').getOutputData('output');
    expect(task.notebook_task).toMatchObject({
      base_parameters: { output: ws.getDefaultDatastore().uri!(upstream.pathOnDatastore) },
    });

    const two = await run(steps());
    expect(two.status).toBe('Finished');
    expect(two.findStepRun('databricksmodule').status).toBe('Reused');
    expect(two.findStepRun('summarise').status).toBe('Reused');
    expect(submitsSince(before)).toHaveLength(2);

    // a changed notebook parameter runs the step again
    const three = await run([seedStep({ allowReuse: true, notebookParams: { myparam: 'changed' } })]);
    expect(three.findStepRun('databricksmodule').status).toBe('Finished');
    expect(three.findStepRun('databricksmodule').explain().reasons.join('\n')).toMatch(/parameters/);
  });

  it('resolves pipeline parameters in notebook parameters when the step runs', async () => {
    const myparam = new PipelineParameter({ name: 'myparam', defaultValue: 'testparam' });
    const before = server.requestsTo(SUBMIT).length;
    const pipelineRun = await run([seedStep({ notebookParams: { myparam } })], { myparam: 'from-submit' });
    expect(pipelineRun.status).toBe('Finished');
    const [submit] = submitsSince(before);
    expect(submit?.body).toMatchObject({
      tasks: [{ notebook_task: { base_parameters: { myparam: 'from-submit' } } }],
    });
  });

  it('uploads the source snapshot to DBFS for pythonScriptName and runs the script from there', async () => {
    const big = randomBytes(1_500_000);
    const source = writeTree(tempDir(), {
      'train.py': 'import sys\nprint(sys.argv)\n',
      'lib/util.py': 'def f():\n    return 1\n',
      'model.bin': big,
      'notes.txt': 'not uploaded',
      '.amlignore': 'notes.txt\n',
    });
    const rate = new PipelineParameter({ name: 'learning_rate', defaultValue: 0.1 });
    const step = seedStep({
      name: 'train',
      notebookPath: undefined,
      notebookParams: undefined,
      pythonScriptName: 'train.py',
      sourceDirectory: source,
      pythonScriptParams: ['--learning-rate', rate],
      libraries: [{ pypi: { package: 'pandas' } }],
    });
    const before = server.requests.length;
    const pipelineRun = await run([step]);
    expect(pipelineRun.status).toBe('Finished');
    const folder = snapshotDbfsFolder(pipelineRun.id, 'train').slice('dbfs:'.length);
    expect(server.files.get(`${folder}/train.py`)?.toString()).toBe('import sys\nprint(sys.argv)\n');
    expect(server.files.get(`${folder}/lib/util.py`)?.toString()).toBe('def f():\n    return 1\n');
    expect(server.files.get(`${folder}/model.bin`)?.equals(big)).toBe(true);
    expect(server.files.has(`${folder}/notes.txt`)).toBe(false);
    const calls = server.requests.slice(before).map((request) => request.path.split('/').slice(-1)[0]);
    expect(calls.filter((call) => call === 'add-block')).toHaveLength(3);
    expect(calls).toContain('close');

    const submit = server.requests.slice(before).find((request) => request.path === SUBMIT)!;
    const store = ws.getDefaultDatastore();
    const output = pipelineRun.findStepRun('train').getOutputData('output');
    expect(submit.body).toMatchObject({
      tasks: [
        {
          spark_python_task: {
            python_file: `dbfs:${folder}/train.py`,
            parameters: [
              '--learning-rate',
              '0.1',
              '--input',
              store.uri!('dbtest'),
              '--output',
              store.uri!(output.pathOnDatastore),
            ],
          },
          libraries: [{ pypi: { package: 'pandas' } }],
        },
      ],
    });
    expect(await pipelineRun.findStepRun('train').getStdout()).toBe(
      `ran dbfs:${folder}/train.py with 6 parameter(s)\n`,
    );
  });

  it('runs JAR and Python-file tasks with data as --name <uri> pairs after their parameters', async () => {
    const iterations = new PipelineParameter({ name: 'iterations', defaultValue: 10 });
    const store = ws.getDefaultDatastore();
    const before = server.requestsTo(SUBMIT).length;
    const jarRun = await run([
      seedStep({
        notebookPath: undefined,
        notebookParams: undefined,
        mainClassName: 'com.example.ComputeModels',
        jarParams: ['--iterations', iterations],
        jarLibraries: ['dbfs:/jars/models.jar'],
      }),
    ]);
    expect(jarRun.status).toBe('Finished');
    const jarOutput = jarRun.findStepRun('databricksmodule').getOutputData('output');
    // a script already on DBFS (the server fails runs of python files it does not have, as Databricks would)
    server.files.set('/scripts/prepare.py', Buffer.from('print("prepare")\n'));
    const pythonRun = await run([
      seedStep({
        notebookPath: undefined,
        notebookParams: undefined,
        numWorkers: undefined,
        minWorkers: 2,
        maxWorkers: 8,
        pythonScriptPath: 'dbfs:/scripts/prepare.py',
      }),
    ]);
    expect(pythonRun.status).toBe('Finished');
    const [jar, python] = submitsSince(before).map(
      (request) => (request.body as { tasks: unknown[] }).tasks[0],
    );
    expect(jar).toMatchObject({
      spark_jar_task: {
        main_class_name: 'com.example.ComputeModels',
        parameters: [
          '--iterations',
          '10',
          '--input',
          store.uri!('dbtest'),
          '--output',
          store.uri!(jarOutput.pathOnDatastore),
        ],
      },
      libraries: [{ jar: 'dbfs:/jars/models.jar' }],
    });
    expect(python).toMatchObject({
      new_cluster: { autoscale: { min_workers: 2, max_workers: 8 } },
      spark_python_task: {
        python_file: 'dbfs:/scripts/prepare.py',
        parameters: ['--input', store.uri!('dbtest'), '--output', expect.any(String)],
      },
    });
    expect(await jarRun.findStepRun('databricksmodule').getStdout()).toBe(
      'ran com.example.ComputeModels with 6 parameter(s)\n',
    );
  });

  it('fails at submit time when pythonScriptName is not in the source directory', async () => {
    const source = writeTree(tempDir(), { 'other.py': '' });
    const step = seedStep({
      notebookPath: undefined,
      notebookParams: undefined,
      pythonScriptName: 'train.py',
      sourceDirectory: source,
    });
    const runsBefore = ws.store.listRuns().length;
    const submitsBefore = server.requestsTo(SUBMIT).length;
    await expect(run([step])).rejects.toMatchObject({
      code: 'SCRIPT_NOT_FOUND',
      message: expect.stringContaining(`"train.py" is not a file in the source directory ${source}.`),
    });
    expect(ws.store.listRuns()).toHaveLength(runsBefore);
    expect(server.requestsTo(SUBMIT)).toHaveLength(submitsBefore);
  });
});

describe('DatabricksStep when things go wrong', () => {
  it('reports a failed run with its state message, and the error and trace in stderr', async () => {
    server.outcome('/Users/someone@example.com/broken', 'fail');
    const pipelineRun = await run([seedStep({ notebookPath: '/Users/someone@example.com/broken' })]);
    expect(pipelineRun.status).toBe('Failed');
    const stepRun = pipelineRun.findStepRun('databricksmodule');
    expect(stepRun.status).toBe('Failed');
    expect(stepRun.record.error).toMatch(
      /^Databricks run \d+ failed \(RUN_EXECUTION_ERROR, CLIENT_ERROR\): Task databricksmodule failed with message: Workload failed, see run output for details\.: ZeroDivisionError: division by zero$/,
    );
    const stderr = await stepRun.getStderr();
    expect(stderr).toContain('ZeroDivisionError: division by zero\n');
    expect(stderr).toContain('----> 1 1 / 0');
    expect(stepRun.getOutputs()).toEqual([]);
  });

  it('reports a run that timed out', async () => {
    server.outcome('/Users/someone@example.com/slow', 'hang');
    const pipelineRun = await run([
      seedStep({ notebookPath: '/Users/someone@example.com/slow', timeoutSeconds: 1 }),
    ]);
    expect(pipelineRun.status).toBe('Failed');
    const stepRun = pipelineRun.findStepRun('databricksmodule');
    expect(stepRun.record.error).toMatch(
      /^timed out after 1s \(Databricks run \d+\): Run timed out after 1 seconds$/,
    );
    const submit = server.requestsTo(SUBMIT).at(-1)!;
    expect(submit.body?.timeout_seconds).toBe(1);
  });

  it('cancels the Databricks run when the pipeline run is canceled', async () => {
    server.outcome('/Users/someone@example.com/endless', 'hang');
    const pipeline = new Pipeline({
      name: 'cancel',
      steps: [seedStep({ notebookPath: '/Users/someone@example.com/endless' })],
    });
    const runsBefore = server.runs.size;
    const pipelineRun = await new Experiment(ws, 'databricks').submit(pipeline);
    const deadline = Date.now() + 20_000;
    while (
      ![...server.runs.values()]
        .slice(runsBefore)
        .some((candidate) => candidate.state.life_cycle_state === 'RUNNING')
    ) {
      if (Date.now() > deadline) throw new Error('the run never started');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await pipelineRun.cancel();
    expect(await pipelineRun.waitForCompletion({ raiseOnError: false })).toBe('Canceled');
    const simulated = [...server.runs.values()].at(-1)!;
    const cancels = server.requestsTo('/api/2.1/jobs/runs/cancel');
    expect(cancels.at(-1)?.body).toEqual({ run_id: simulated.runId });
    expect(pipelineRun.findStepRun('databricksmodule').status).toBe('Canceled');
    expect(await pipelineRun.findStepRun('databricksmodule').getSluiceLog()).toMatch(
      new RegExp(`asked Databricks to cancel run ${simulated.runId}`),
    );
  });

  it('rides out rate limiting (429 with Retry-After) and transient 5xx', async () => {
    server.fault(SUBMIT, { type: 'status', status: 429, retryAfter: '1' });
    server.fault('/api/2.1/jobs/runs/get', { type: 'status', status: 503 }, 2);
    server.fault('/api/2.1/jobs/runs/get-output', { type: 'status', status: 500 });
    const pipelineRun = await run([seedStep()]);
    expect(pipelineRun.status).toBe('Finished');
    expect(pipelineRun.findStepRun('databricksmodule').getMetrics()).toMatchObject({
      notebook_result: '{"inputs":1,"outputs":1}',
    });
  });

  it('starts one Databricks run even when the submit is repeated: the idempotency token is the step run’s', async () => {
    const runsBefore = server.runs.size;
    const before = server.requestsTo(SUBMIT).length;
    server.fault(SUBMIT, { type: 'drop', afterHandling: true });
    const pipelineRun = await run([seedStep()]);
    expect(pipelineRun.status).toBe('Finished');
    const submits = submitsSince(before);
    expect(submits).toHaveLength(2);
    const tokens = submits.map((request) => request.body?.idempotency_token);
    expect(tokens[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(tokens[1]).toBe(tokens[0]);
    expect(server.runs.size - runsBefore).toBe(1);
    // another step run has another token
    await run([seedStep()]);
    expect(submitsSince(before).at(-1)?.body?.idempotency_token).not.toBe(tokens[0]);
  });

  it('fails with a clear, coded message when Databricks refuses the token', async () => {
    const wrong = `dapi${randomBytes(16).toString('hex')}`;
    await attachDatabricksCompute(ws, 'databricks_compute', { workspaceUrl: server.url, accessToken: wrong });
    const pipelineRun = await run([seedStep()]);
    expect(pipelineRun.status).toBe('Failed');
    const error = pipelineRun.findStepRun('databricksmodule').record.error!;
    expect(error).toMatch(
      new RegExp(
        `^${AUTH_FAILED_CODE}: Databricks at http://127\\.0\\.0\\.1:\\d+ refused the access token \\(HTTP 403 PERMISSION_DENIED: Invalid access token\\.\\)\\. The token comes from the workspace secret compute/databricks_compute/accessToken\\. Create a personal access token`,
      ),
    );
    expect(error).not.toContain(wrong);
  });

  it('fails at submit time with COMPUTE_NOT_FOUND for an unknown compute target', async () => {
    const pipeline = new Pipeline({
      name: 'unknown',
      steps: [seedStep({ computeTarget: 'no_such_compute' })],
    });
    const error = await new Experiment(ws, 'databricks').submit(pipeline).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('COMPUTE_NOT_FOUND');
  });

  it('is refused at submit, with a coded message, on a compute target that is not Databricks', async () => {
    const runsBefore = ws.store.listRuns().length;
    await expect(run([seedStep({ computeTarget: 'local' })])).rejects.toMatchObject({
      code: 'STEP_INVALID',
      message: expect.stringMatching(
        /^Step "databricksmodule" \(databricks\) runs on databricks compute, but its compute target "local" is local/,
      ),
    });
    expect(ws.store.listRuns()).toHaveLength(runsBefore);
  });

  it('never writes the token into the workspace: config, run store, logs', async () => {
    server.outcome('/Users/someone@example.com/broken', 'fail');
    await run([seedStep()]);
    await run([seedStep({ notebookPath: '/Users/someone@example.com/broken' })]);
    const described = JSON.stringify((await ws.getComputeTarget('databricks_compute')).describe());
    expect(described).not.toContain(token);
    const dir = ws.dir;
    await ws.close();
    expect(filesContaining(dir, token).map((file) => file.slice(dir.length))).toEqual([
      '/.sluice/secrets.json',
    ]);
    ws = Workspace.open(dir); // for afterEach
  });
});
