import { Environment, Pipeline, RunConfiguration, SluiceError } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AmlCompute,
  ComputeTarget,
  ComputeTargetException,
  Datastore,
  Experiment,
  Workspace,
  localCompute,
} from '../index.js';
import { loadOptional } from '../optional.js';
import { tempDir, writeTree } from './fixtures.js';
import { nodeStep } from './node-step.js';

let ws: Workspace;
beforeEach(() => {
  ws = Workspace.create(tempDir());
});
afterEach(async () => {
  await ws.close();
});

describe('names a user of the original SDK looks for', () => {
  it('ws.computeTargets and ws.datastores are records by name', async () => {
    expect('aml-compute' in ws.computeTargets).toBe(false);
    expect('toString' in ws.computeTargets).toBe(false);
    await ComputeTarget.create(ws, 'aml-compute', localCompute());
    expect('aml-compute' in ws.computeTargets).toBe(true);
    expect(ws.computeTargets['aml-compute']).toEqual({ name: 'aml-compute', provider: 'local' });
    expect(Object.keys(ws.datastores)).toEqual(['workspaceblobstore', 'workspacefilestore']);
    expect(ws.datastores.workspaceblobstore!.name).toBe('workspaceblobstore');
    expect(Datastore.get(ws, 'workspacefilestore')).toBe(ws.datastore('workspacefilestore'));
    expect(Datastore.getDefault(ws)).toBe(ws.getDefaultDatastore());
    expect(() => Datastore.get(ws, 'nope')).toThrow(expect.objectContaining({ code: 'DATASTORE_NOT_FOUND' }));
  });

  it('AmlCompute.provisioningConfiguration creates a target that runs maxNodes steps at once', async () => {
    const config = AmlCompute.provisioningConfiguration({ vmSize: 'STANDARD_NC6', minNodes: 0, maxNodes: 4 });
    expect(config).toEqual({ provider: 'local', options: { maxConcurrency: 4 } });
    const target = await ComputeTarget.create(ws, 'aml-compute', config);
    expect(target.name).toBe('aml-compute');
    expect(() => AmlCompute.provisioningConfiguration({ minNodes: 3, maxNodes: 2 })).toThrow(
      expect.objectContaining({ code: 'OPTION_INVALID' }),
    );
  });

  it('a missing compute target is a ComputeTargetException', async () => {
    let caught: unknown;
    try {
      await ComputeTarget.get(ws, 'databricks');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SluiceError);
    expect(caught instanceof ComputeTargetException).toBe(true);
    expect(new Error('other') instanceof ComputeTargetException).toBe(false);
    expect(new SluiceError('DATASTORE_NOT_FOUND', 'x') instanceof ComputeTargetException).toBe(false);
  });

  it('Environment.get finds a registered environment', () => {
    ws.registerEnvironment(new Environment({ name: 'train-env', version: '2', packages: ['numpy'] }));
    expect(Environment.get(ws, 'train-env').packages).toEqual(['numpy']);
    expect(() => Environment.get(ws, 'AzureML-Tutorial')).toThrow(
      expect.objectContaining({ code: 'ENVIRONMENT_NOT_FOUND' }),
    );
  });

  it("a RunConfiguration's target and adjusted environment reach the step run", async () => {
    const src = writeTree(tempDir(), { 'hello.js': "console.log('hello')" });
    await ComputeTarget.create(ws, 'aml-compute', AmlCompute.provisioningConfiguration({ maxNodes: 2 }));
    const runConfig = new RunConfiguration();
    runConfig.target = ws.computeTargets['aml-compute'];
    runConfig.environment.name = 'MyEnvironment';
    runConfig.environment.version = '1.0';
    const step = nodeStep({ name: 'Say hello', script: 'hello.js', sourceDirectory: src, runConfig });
    expect(step.computeTarget).toBe('aml-compute');
    const run = await new Experiment(ws, 'v1').submit(new Pipeline({ steps: [step] }));
    expect(await run.waitForCompletion()).toBe('Finished');
    expect(ws.getEnvironment('MyEnvironment', '1.0').name).toBe('MyEnvironment');
    const stepRun = run.findStepRun('Say hello');
    expect(stepRun.name).toBe('Say_hello');
    expect(stepRun.displayName).toBe('Say hello');
    expect(run.findStepRun('Say_hello').id).toBe(stepRun.id);
    expect(stepRun.explain()).toMatchObject({ step: 'Say_hello', displayName: 'Say hello' });
    expect(run.getGraph().nodes).toEqual([
      expect.objectContaining({ name: 'Say_hello', displayName: 'Say hello', computeTarget: 'aml-compute' }),
    ]);
    // the steps of a run know their names as given: one read of the run for all of them, not one per look
    const reads = vi.spyOn(ws.store, 'getRun');
    const steps = run.getSteps();
    expect(steps.map((each) => each.displayName)).toEqual(['Say hello']);
    expect(steps.map((each) => each.displayName)).toEqual(['Say hello']);
    expect(reads).toHaveBeenCalledTimes(1);
    reads.mockRestore();
  });

  it('an optional package that is not installed is named in a coded error', async () => {
    const error = await loadOptional('@sluice/not-installed-package', 'pipelineRun.publishPipeline()').catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({
      code: 'PLUGIN_NOT_INSTALLED',
      details: { package: '@sluice/not-installed-package' },
    });
    expect((error as Error).message).toContain('npm install @sluice/not-installed-package');
  });
});
