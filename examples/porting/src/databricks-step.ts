import { Pipeline, PipelineData } from '@sluice/core';
import { DatabricksStep } from '@sluice/step-databricks';
import { blobInputData } from './datasets.js';
import { ws } from './workspace.js';

const step1Input = blobInputData;
const step1Output = new PipelineData('step_1_output');
const notebookPath = '/Users/someone@example.com/notebook';
const databricksCompute = process.env.AML_DATABRICKS_COMPUTE_NAME ?? 'databricks';

const dbStep = new DatabricksStep({
  name: 'databricksmodule',
  inputs: [step1Input],
  outputs: [step1Output],
  numWorkers: 1,
  notebookPath,
  notebookParams: { myparam: 'testparam' },
  runName: 'demo run name',
  computeTarget: databricksCompute,
  allowReuse: false,
});
// List of steps to run
const steps = [dbStep];

// Build the pipeline
export const databricksPipeline = new Pipeline({ workspace: ws, steps });
