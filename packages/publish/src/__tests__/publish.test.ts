/**
 * The seed article's publish and endpoint code, translated to TypeScript, against a real workspace and real
 * python3 PythonScriptSteps.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Experiment, PipelineRun } from '@sluice/runtime';
import { PipelineEndpoint, PublishedPipeline, publishPipeline, publishRun } from '../index.js';
import { compareScript, fixture, statuses } from './helpers.js';

describe('published pipelines', () => {
  it('pipelineRun.publishPipeline() is the original spelling of publishRun', async () => {
    const f = await fixture();
    const pipelineRun1 = await new Experiment(f.ws, 'Compare_Models_Exp').submit(f.pipeline());
    expect(await pipelineRun1.waitForCompletion()).toBe('Finished');
    const published = await pipelineRun1.publishPipeline({
      name: 'My_Published_Pipeline',
      description: 'My Published Pipeline Description',
      version: '1.0',
    });
    // the built @sluice/publish, loaded when called: its PublishedPipeline, found again by id
    expect(published.constructor.name).toMatch(/PublishedPipeline$/);
    expect(PublishedPipeline.get(f.ws, { id: published.id }).sourceRunId).toBe(pipelineRun1.id);
    expect(published).toMatchObject({
      name: 'My_Published_Pipeline',
      version: '1.0',
      sourceRunId: pipelineRun1.id,
    });
    // a run read back from the store publishes the same way
    const again = await PipelineRun.get(f.ws, pipelineRun1.id).publishPipeline({ name: 'again' });
    expect((again as PublishedPipeline).spec.steps).toEqual((published as PublishedPipeline).spec.steps);
    await expect(pipelineRun1.publishPipeline({ name: '' })).rejects.toMatchObject({
      code: 'PIPELINE_INVALID',
    });
  });

  it('publishes a pipeline run (publish_pipeline) and runs it with a parameter', async () => {
    const f = await fixture();
    // pipeline_run1 = Experiment(ws, 'Compare_Models_Exp').submit(pipeline1)
    const pipelineRun1 = await new Experiment(f.ws, 'Compare_Models_Exp').submit(f.pipeline());
    expect(await pipelineRun1.waitForCompletion()).toBe('Finished');

    // published_pipeline1 = pipeline_run1.publish_pipeline(name=…, description=…, version="1.0")
    const publishedPipeline1 = await publishRun(f.ws, pipelineRun1, {
      name: 'My_Published_Pipeline',
      description: 'My Published Pipeline Description',
      version: '1.0',
    });
    expect(publishedPipeline1).toMatchObject({
      name: 'My_Published_Pipeline',
      description: 'My Published Pipeline Description',
      version: '1.0',
      status: 'Active',
      sourceRunId: pipelineRun1.id,
    });
    expect(publishedPipeline1.endpoint).toBe(`/pipelines/${publishedPipeline1.id}`);
    expect(publishedPipeline1.parameters).toEqual([
      { name: 'pipeline_arg', type: 'number', defaultValue: 10 },
    ]);
    // every step runs from the snapshot its run took
    const snapshots = pipelineRun1.getSteps().map((step) => step.record.snapshot);
    expect(publishedPipeline1.spec.steps.map((step) => step.source)).toEqual(snapshots);

    expect(PublishedPipeline.get(f.ws, { id: publishedPipeline1.id }).name).toBe('My_Published_Pipeline');
    expect(PublishedPipeline.get(f.ws, { name: 'My_Published_Pipeline' }).id).toBe(publishedPipeline1.id);
    expect(PublishedPipeline.list(f.ws).map((entry) => entry.id)).toEqual([publishedPipeline1.id]);

    const run = await publishedPipeline1.submit('My_Pipeline', { parameters: { pipeline_arg: 20 } });
    expect(await run.waitForCompletion()).toBe('Finished');
    // the same content: prepare is reused, compare runs with the new parameter
    expect(statuses(run)).toEqual({ prepare: 'Reused', compare: 'Finished' });
    expect(await run.findStepRun('compare').getStdout()).toBe('compare v1 param1=20\n');
    expect(run.record.parameters).toEqual({ pipeline_arg: 20 });
  });

  it('runs the published snapshot, not the source folder as it is now', async () => {
    const f = await fixture();
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'snapshot' });
    writeFileSync(join(f.projectFolder, 'compare.py'), compareScript('v2'));

    const fromPublished = await published.submit('snapshots');
    expect(await fromPublished.waitForCompletion()).toBe('Finished');
    expect(await fromPublished.findStepRun('compare').getStdout()).toBe('compare v1 param1=10\n');

    const fromFolder = await new Experiment(f.ws, 'snapshots').submit(f.pipeline());
    expect(await fromFolder.waitForCompletion()).toBe('Finished');
    // both steps share the folder, so both see the change
    expect(statuses(fromFolder)).toEqual({ prepare: 'Finished', compare: 'Finished' });
    expect(await fromFolder.findStepRun('compare').getStdout()).toBe('compare v2 param1=10\n');
    expect(fromFolder.findStepRun('compare').explain().reasons.join(' ')).toMatch(/compare\.py/);
    expect(readFileSync(join(f.projectFolder, 'compare.py'), 'utf8')).toContain('v2');
  });

  it('refuses submissions while disabled and lists the pipeline as Disabled', async () => {
    const f = await fixture();
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'toggled', version: '1' });

    // p = PublishedPipeline.get(ws, id="…"); p.disable()
    const p = PublishedPipeline.get(f.ws, published.id);
    p.disable();
    expect(published.status).toBe('Disabled');
    expect(PublishedPipeline.list(f.ws).map((entry) => [entry.name, entry.status])).toEqual([
      ['toggled', 'Disabled'],
    ]);
    expect(PublishedPipeline.list(f.ws, { activeOnly: true })).toEqual([]);
    await expect(published.submit('toggled')).rejects.toMatchObject({ code: 'PUBLISHED_PIPELINE_DISABLED' });
    expect(f.ws.store.listRuns()).toEqual([]);

    p.enable();
    const run = await published.submit('toggled');
    expect(await run.waitForCompletion()).toBe('Finished');

    expect(() => PublishedPipeline.get(f.ws, { id: 'nope' })).toThrow(
      expect.objectContaining({ code: 'PUBLISHED_PIPELINE_NOT_FOUND' }),
    );
    expect(() => PublishedPipeline.get(f.ws, { name: 'toggled', version: '2' })).toThrow(
      expect.objectContaining({ code: 'PUBLISHED_PIPELINE_NOT_FOUND' }),
    );
    await expect(published.submit('toggled', { parameters: { nope: 1 } })).rejects.toMatchObject({
      code: 'PARAMETER_UNKNOWN',
    });
  });

  it('refuses to publish a run whose steps did not all start', async () => {
    const f = await fixture();
    writeFileSync(join(f.projectFolder, 'prepare.py'), 'raise SystemExit(3)\n');
    const run = await new Experiment(f.ws, 'broken').submit(f.pipeline());
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    await expect(publishRun(f.ws, PipelineRun.get(f.ws, run.id), { name: 'broken' })).rejects.toMatchObject({
      code: 'PIPELINE_INVALID',
      details: { steps: ['compare'] },
    });
  });
});

describe('pipeline endpoints', () => {
  it('publishes, versions, sets the default and submits by version', async () => {
    const f = await fixture();
    const first = await publishPipeline(f.ws, f.pipeline(), { name: 'My_Published_Pipeline' });

    // published_pipeline = PublishedPipeline.get(workspace=ws, name="My_Published_Pipeline")
    const publishedPipeline = PublishedPipeline.get(f.ws, { name: 'My_Published_Pipeline' });
    // pipeline_endpoint = PipelineEndpoint.publish(workspace=ws, name="PipelineEndpointTest", pipeline=…, description=…)
    const pipelineEndpoint = await PipelineEndpoint.publish(f.ws, {
      name: 'PipelineEndpointTest',
      pipeline: publishedPipeline,
      description: 'Test description Notebook',
    });
    expect(pipelineEndpoint).toMatchObject({
      name: 'PipelineEndpointTest',
      description: 'Test description Notebook',
      status: 'Active',
      defaultVersion: '0',
      endpoint: '/endpoints/PipelineEndpointTest',
    });
    await expect(
      PipelineEndpoint.publish(f.ws, { name: 'PipelineEndpointTest', pipeline: first }),
    ).rejects.toMatchObject({ code: 'ENDPOINT_EXISTS' });

    writeFileSync(join(f.projectFolder, 'compare.py'), compareScript('v2'));
    const second = await publishPipeline(f.ws, f.pipeline(), { name: 'My_Published_Pipeline', version: '2' });
    expect(pipelineEndpoint.add(second)).toBe('1');
    expect(pipelineEndpoint.add(second)).toBe('1');
    expect(pipelineEndpoint.defaultVersion).toBe('0');
    expect(pipelineEndpoint.listVersions()).toEqual([
      { version: '0', pipelineId: first.id, isDefault: true },
      { version: '1', pipelineId: second.id, isDefault: false },
    ]);
    expect(() => pipelineEndpoint.setDefaultVersion('7')).toThrow(
      expect.objectContaining({ code: 'ENDPOINT_VERSION_NOT_FOUND' }),
    );

    // pipeline_endpoint_by_name = PipelineEndpoint.get(workspace=ws, name="PipelineEndpointTest")
    const pipelineEndpointByName = PipelineEndpoint.get(f.ws, { name: 'PipelineEndpointTest' });
    // run_id = pipeline_endpoint_by_name.submit("PipelineEndpointExperiment")
    const byDefault = await pipelineEndpointByName.submit('PipelineEndpointExperiment');
    expect(await byDefault.waitForCompletion()).toBe('Finished');
    expect(await byDefault.findStepRun('compare').getStdout()).toBe('compare v1 param1=10\n');
    // run_id = pipeline_endpoint_by_name.submit("PipelineEndpointExperiment", pipeline_version="1")
    const byVersion = await pipelineEndpointByName.submit('PipelineEndpointExperiment', {
      pipelineVersion: '1',
      parameters: { pipeline_arg: 5 },
    });
    expect(await byVersion.waitForCompletion()).toBe('Finished');
    expect(await byVersion.findStepRun('compare').getStdout()).toBe('compare v2 param1=5\n');

    pipelineEndpointByName.setDefaultVersion('1');
    expect(pipelineEndpointByName.getPipeline().id).toBe(second.id);
    expect(pipelineEndpointByName.getPipeline('0').id).toBe(first.id);
    await expect(pipelineEndpointByName.submit('x', { pipelineVersion: '9' })).rejects.toMatchObject({
      code: 'ENDPOINT_VERSION_NOT_FOUND',
    });

    const third = await publishPipeline(f.ws, f.pipeline(), { name: 'third' });
    expect(pipelineEndpointByName.addDefault(third)).toBe('2');
    expect(pipelineEndpointByName.defaultVersion).toBe('2');

    pipelineEndpointByName.disable();
    expect(PipelineEndpoint.list(f.ws).map((entry) => entry.status)).toEqual(['Disabled']);
    await expect(pipelineEndpointByName.submit('x')).rejects.toMatchObject({ code: 'ENDPOINT_DISABLED' });
    pipelineEndpointByName.archive();
    expect(pipelineEndpointByName.status).toBe('Archived');
    await expect(pipelineEndpointByName.submit('x')).rejects.toMatchObject({ code: 'ENDPOINT_DISABLED' });
    pipelineEndpointByName.enable();
    third.disable();
    await expect(pipelineEndpointByName.submit('x')).rejects.toMatchObject({
      code: 'PUBLISHED_PIPELINE_DISABLED',
    });
    expect(() => PipelineEndpoint.get(f.ws, 'nope')).toThrow(
      expect.objectContaining({ code: 'ENDPOINT_NOT_FOUND' }),
    );
  });

  it('publishes a plain pipeline as version 0 of a new endpoint', async () => {
    const f = await fixture();
    const endpoint = await PipelineEndpoint.publish(f.ws, {
      name: 'fresh',
      pipeline: f.pipeline(),
      description: 'd',
    });
    const published = endpoint.getPipeline('0');
    expect(published).toMatchObject({ name: 'fresh', description: 'd' });
    expect(PublishedPipeline.list(f.ws).map((entry) => entry.id)).toEqual([published.id]);
    const run = await endpoint.submit('fresh', { parameters: { pipeline_arg: '7' } });
    expect(await run.waitForCompletion()).toBe('Finished');
    expect(run.record.parameters).toEqual({ pipeline_arg: 7 });
  });
});
