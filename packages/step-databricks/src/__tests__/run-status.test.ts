/**
 * How a run's progress and outcome are read: from the `status` object of runs/get (`state`,
 * `termination_details { code, type, message }`), which Databricks introduced in place of the deprecated
 * `state` object, and from `state` when a workspace sends no `status`. The contract server can leave either
 * out.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DataReference, Pipeline, PipelineData } from '@sluice/core';
import { Experiment, Workspace, type PipelineRun } from '@sluice/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { DatabricksStep, attachDatabricksCompute } from '../index.js';
import { ContractServer, type ContractServerOptions } from './contract-server.js';
import { tempDir, writeTree } from './helpers.js';

const token = `dapi${randomBytes(16).toString('hex')}`;
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const closable of open.splice(0).reverse()) await closable.close();
});

async function setUp(
  options: Partial<ContractServerOptions> = {},
): Promise<{ server: ContractServer; ws: Workspace }> {
  const server = await ContractServer.start({ token, ...options });
  const ws = Workspace.create(tempDir());
  open.push(server, ws);
  const data = writeTree(tempDir(), { 'dbtest/a.csv': 'x,y\n1,2\n' });
  await ws.getDefaultDatastore().uploadDirectory(join(data, 'dbtest'), { targetPath: 'dbtest' });
  await attachDatabricksCompute(ws, 'databricks', {
    workspaceUrl: server.url,
    accessToken: token,
    retryDelayMs: 20,
  });
  return { server, ws };
}

function step(notebookPath: string, timeoutSeconds?: number): DatabricksStep {
  return new DatabricksStep({
    name: 'notebook',
    inputs: [
      new DataReference({ datastore: 'workspaceblobstore', pathOnDatastore: 'dbtest', name: 'input' }),
    ],
    outputs: [new PipelineData('output')],
    numWorkers: 1,
    notebookPath,
    computeTarget: 'databricks',
    allowReuse: false,
    pollIntervalSeconds: 0.02,
    ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
  });
}

/** The run's status once it has ended (whether or not waiting raises for a failed run). */
async function settled(run: PipelineRun): Promise<string> {
  await run.waitForCompletion({ raiseOnError: false });
  return run.status;
}

async function submit(ws: Workspace, notebookPath: string, timeoutSeconds?: number): Promise<PipelineRun> {
  return new Experiment(ws, 'status').submit(
    new Pipeline({ name: 'status', steps: [step(notebookPath, timeoutSeconds)] }),
  );
}

describe('a workspace that answers runs/get with status only', () => {
  it(
    'follows the run by status.state and finishes on termination code SUCCESS',
    { timeout: 20_000 },
    async () => {
      const { server, ws } = await setUp({ legacyState: false });
      const run = await submit(ws, '/Users/someone@example.com/ok');
      expect(await settled(run)).toBe('Finished');
      const log = await run.findStepRun('notebook').getSluiceLog();
      expect(log).toMatch(/: PENDING\n[\s\S]*: RUNNING\n[\s\S]*: TERMINATING\n[\s\S]*: TERMINATED SUCCESS\n/);
      // the answers really had no deprecated state object
      const gets = server.requestsTo('/api/2.1/jobs/runs/get');
      expect(gets.length).toBeGreaterThanOrEqual(4);
      expect([...server.runs.values()][0]!.state.life_cycle_state).toBe('TERMINATED');
    },
  );

  it('fails with the termination code, type and message', { timeout: 20_000 }, async () => {
    const { server, ws } = await setUp({ legacyState: false });
    server.outcome('/Users/someone@example.com/broken', 'fail');
    const run = await submit(ws, '/Users/someone@example.com/broken');
    expect(await settled(run)).toBe('Failed');
    expect(run.findStepRun('notebook').record.error).toMatch(
      /^Databricks run \d+ failed \(RUN_EXECUTION_ERROR, CLIENT_ERROR\): Task notebook failed with message: Workload failed, see run output for details\.: ZeroDivisionError: division by zero$/,
    );
  });

  it(
    'fails a run Databricks canceled at its timeout (CANCELED), with its message',
    { timeout: 20_000 },
    async () => {
      const { server, ws } = await setUp({ legacyState: false });
      server.outcome('/Users/someone@example.com/slow', 'hang');
      const run = await submit(ws, '/Users/someone@example.com/slow', 1);
      expect(await settled(run)).toBe('Failed');
      expect(run.findStepRun('notebook').record.error).toMatch(
        /^Databricks canceled run \d+ \(CANCELED\): Run timed out after 1 seconds$/,
      );
    },
  );

  it(
    'is Canceled when a user cancels the run in the workspace (USER_CANCELED)',
    { timeout: 20_000 },
    async () => {
      const { server, ws } = await setUp({ legacyState: false });
      server.outcome('/Users/someone@example.com/endless', 'hang');
      const run = await submit(ws, '/Users/someone@example.com/endless');
      const deadline = Date.now() + 15_000;
      while (![...server.runs.values()].some((candidate) => candidate.state.life_cycle_state === 'RUNNING')) {
        if (Date.now() > deadline) throw new Error('the run never started');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      server.cancelInWorkspace([...server.runs.values()][0]!.runId);
      await settled(run);
      expect(run.findStepRun('notebook').status).toBe('Canceled');
      expect(run.findStepRun('notebook').record.error).toMatch(
        /^Databricks run \d+ was canceled by a user: Run canceled by user$/,
      );
    },
  );
});

describe('a workspace that answers with both', () => {
  it('says a run stopped at its timeout timed out, as the deprecated state tells', async () => {
    const { server, ws } = await setUp();
    server.outcome('/Users/someone@example.com/slow', 'hang');
    const run = await submit(ws, '/Users/someone@example.com/slow', 1);
    expect(await settled(run)).toBe('Failed');
    expect(run.findStepRun('notebook').record.error).toMatch(
      /^timed out after 1s \(Databricks run \d+\): Run timed out after 1 seconds$/,
    );
  });
});

describe('a workspace that answers with the deprecated state only', () => {
  it('still follows the run and reports its result state', async () => {
    const { server, ws } = await setUp({ status: false });
    const ok = await submit(ws, '/Users/someone@example.com/ok');
    expect(await settled(ok)).toBe('Finished');
    server.outcome('/Users/someone@example.com/broken', 'fail');
    const broken = await submit(ws, '/Users/someone@example.com/broken');
    expect(await settled(broken)).toBe('Failed');
    expect(broken.findStepRun('notebook').record.error).toMatch(
      /^Databricks run \d+ FAILED: Task notebook failed with message/,
    );
  });
});
