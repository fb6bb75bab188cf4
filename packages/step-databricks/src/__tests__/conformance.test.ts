/**
 * The shared conformance suites of @sluice/testing, run against the local Jobs API contract server (see
 * contract-server.ts): the step kind runs real pipelines, with a simulated job standing in for the
 * notebook that writes the text it was given to `result.txt` in its output.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testComputeProvider, testStepKind } from '@sluice/testing';
import {
  DatabricksStep,
  attachDatabricksCompute,
  databricksComputeProvider,
  databricksStep,
} from '../index.js';
import { ContractServer } from './contract-server.js';

const token = `dapi${randomBytes(16).toString('hex')}`;

testStepKind('databricks', async () => {
  const server = await ContractServer.start({
    token,
    job: ({ parameters, outputs }) => {
      const text = parameters.find((parameter) => parameter.key === 'text')?.value ?? '';
      for (const output of outputs) {
        mkdirSync(output, { recursive: true });
        writeFileSync(join(output, 'result.txt'), text);
      }
    },
  });
  server.outcome('/conformance/fail', 'fail').outcome('/conformance/sleep', 'hang');
  return {
    plugin: databricksStep(),
    makeStep: ({ name, behaviour, output, text, allowReuse }) =>
      new DatabricksStep({
        name,
        outputs: [output],
        numWorkers: 1,
        notebookPath: `/conformance/${behaviour}`,
        notebookParams: { text },
        computeTarget: 'databricks',
        allowReuse,
        pollIntervalSeconds: 0.05,
      }),
    prepareWorkspace: async (ws) => {
      await attachDatabricksCompute(ws, 'databricks', { workspaceUrl: server.url, accessToken: token });
    },
    cleanup: () => server.close(),
  };
});

testComputeProvider('databricks', () => ({
  provider: databricksComputeProvider(),
  options: {
    workspaceUrl: 'https://adb-1234567890123456.7.azuredatabricks.net',
    accessToken: { secret: 'databricks-token' },
  },
  secrets: { 'databricks-token': token },
}));
