import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '@sluice/core';
import { Experiment, Workspace } from '@sluice/runtime';

/**
 * The snippets run end to end, as a user would run them: in a folder holding a workspace, the data and the
 * script folders, with python3.
 */
const example = fileURLToPath(new URL('../../', import.meta.url));
const cwd = process.cwd();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-porting-'));
  for (const entry of [
    'iris.csv',
    'environment.yml',
    'dataprep_src',
    'train_src',
    'compare_src',
    'project',
  ]) {
    cpSync(join(example, entry), join(dir, entry), { recursive: true });
  }
  Workspace.create(dir, { name: 'porting' });
  process.chdir(dir);
});

afterAll(async () => {
  const { ws } = await import('../workspace.js');
  await ws.close();
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

describe('the ported article', () => {
  it('prepares, trains and compares; every output lands where its OutputFileDatasetConfig says', async () => {
    const { pipelineRun1 } = await import('../submit.js');
    const { outputData1, outputDataDataset } = await import('../outputs.js');
    const { ws } = await import('../workspace.js');
    expect(pipelineRun1.status).toBe('Finished');
    const steps = pipelineRun1.getSteps();
    expect(steps.map((step) => [step.name, step.displayName, step.status])).toEqual([
      ['prepare.py', 'prepare.py', 'Finished'],
      ['train.py', 'train.py', 'Finished'],
      ['Compare_models', 'Compare models', 'Finished'],
    ]);
    // data given only in the arguments became inputs and outputs, and ordered the steps
    expect(outputData1.name).toBe('prepare_py_output_1');
    expect(outputDataDataset).toBe(outputData1);
    // {run-id} is the step run's id, as in the original SDK
    const prepare = pipelineRun1.findStepRun('prepare.py');
    expect(prepare.getOutputData('prepare_py_output_1').pathOnDatastore).toBe(`outputdataset/${prepare.id}`);
    const train = pipelineRun1.findStepRun('train.py');
    expect(train.getOutputData('training_results').pathOnDatastore).toBe(
      `dataset/${train.id}/training_results`,
    );
    expect(pipelineRun1.findStepRun('Compare models').getMetrics()).toMatchObject({ beats_baseline: true });
    expect(ws.computeTargets['aml-compute']).toEqual({ name: 'aml-compute', provider: 'local' });
  });

  it('publishes the run, and its endpoint runs it again, reusing every step', async () => {
    const { publishedPipeline1, runByDefault, runOfVersion0 } = await import('../publish.js');
    expect(publishedPipeline1).toMatchObject({ name: 'My_Published_Pipeline', version: '1.0' });
    for (const run of [runByDefault, runOfVersion0]) {
      expect(await run.waitForCompletion()).toBe('Finished');
      expect(run.getSteps().map((step) => step.status)).toEqual(['Reused', 'Reused', 'Reused']);
    }
  });

  it("reads the conda environment file as the original's Environment.from_conda_specification", async () => {
    const { condaRunConfig, dataprepEnvironment } = await import('../conda-environment.js');
    expect(condaRunConfig.environment).toBe(dataprepEnvironment);
    expect(dataprepEnvironment.python.version).toBe('3.11');
    expect(dataprepEnvironment.pip).toEqual(['azureml-dataprep[fuse,pandas]']);
    expect(dataprepEnvironment.condaPackages).toEqual(['pandas', 'scikit-learn']);
    expect(dataprepEnvironment.condaChannels).toEqual(['conda-forge']);
    // it installs packages, so it is built (with conda) rather than run as the interpreter is
    expect(dataprepEnvironment.inherits).toBe(false);
  });

  it('runs the dataset, parameter and Hello World steps', async () => {
    const { datasetConsumingStep } = await import('../dataset-step.js');
    const { paramTrainStep } = await import('../parameters.js');
    const { step } = await import('../hello-world.js');
    const { ws } = await import('../workspace.js');
    const pipeline = new Pipeline({ steps: [datasetConsumingStep, paramTrainStep, step] });
    const run = await new Experiment(ws, 'More_Steps').submit(pipeline, {
      parameters: { pipeline_arg: 'from submit' },
    });
    expect(await run.waitForCompletion()).toBe('Finished');
    expect(await run.findStepRun('iris_train.py').getStdout()).toContain('150 iris rows');
    expect(await run.findStepRun('train.py').getStdout()).toContain('param1 = from submit');
    expect(await run.findStepRun('Hello World').getStdout()).toContain('Hello World');
  });
});
