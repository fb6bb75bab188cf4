/**
 * The REST API over real HTTP on loopback: the seed's `requests.post(endpoint, headers=aad_token, json=…)`
 * (as python3's urllib, byte for byte the same JSON), the client, endpoints by version, data paths, and reuse
 * between REST and SDK runs.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Pipeline } from '@sluice/core';
import { Experiment, PipelineRun } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import {
  PipelineEndpoint,
  createSluiceClient,
  publishPipeline,
  publishRun,
  serve,
  type SluiceServer,
} from '../index.js';
import { compareScript, fixture, onCleanup, statuses, type Fixture } from './helpers.js';

const run = promisify(execFile);

async function server(f: Fixture): Promise<SluiceServer> {
  const started = await serve({ workspace: f.ws });
  onCleanup(() => started.close());
  return started;
}

/** The seed's Python, with urllib standing in for requests (same headers, same JSON). */
const SEED_CLIENT = `
import json, sys, urllib.request
endpoint, token = sys.argv[1], sys.argv[2]
aad_token = {"Authorization": "Bearer " + token}
# response = requests.post(published_pipeline1.endpoint, headers=aad_token,
#                          json={"ExperimentName": "My_Pipeline", "ParameterAssignments": {"pipeline_arg": 20}})
body = json.dumps({"ExperimentName": "My_Pipeline", "ParameterAssignments": {"pipeline_arg": 20}}).encode("utf-8")
request = urllib.request.Request(endpoint, data=body, method="POST",
                                 headers=dict(aad_token, **{"Content-Type": "application/json"}))
with urllib.request.urlopen(request) as response:
    print(response.status, json.loads(response.read())["Id"])
`;

describe('REST', () => {
  it("takes the seed's requests.post of a published pipeline and runs it", async () => {
    const f = await fixture();
    const pipelineRun1 = await new Experiment(f.ws, 'Compare_Models_Exp').submit(f.pipeline());
    await pipelineRun1.waitForCompletion();
    const publishedPipeline1 = await publishRun(f.ws, pipelineRun1, {
      name: 'My_Published_Pipeline',
      description: 'My Published Pipeline Description',
      version: '1.0',
    });
    const rest = await server(f);
    const token = f.token('submit');

    const script = join(f.dir, 'seed_client.py');
    writeFileSync(script, SEED_CLIENT);
    const { stdout } = await run('python3', [script, rest.url + publishedPipeline1.endpoint, token]);
    const [status, id] = stdout.trim().split(' ');
    expect(status).toBe('200');

    const client = createSluiceClient({ baseUrl: rest.url, token });
    const done = await client.waitForRun(id!, { timeoutMs: 20_000, pollIntervalMs: 50 });
    expect(done).toMatchObject({
      Id: id,
      Status: { StatusDetail: 'Finished' },
      ExperimentName: 'My_Pipeline',
      PipelineId: publishedPipeline1.id,
      RunSource: 'REST',
      ParameterAssignments: { pipeline_arg: 20 },
      Error: null,
    });
    expect(done.Steps.map((step) => [step.Name, step.Status])).toEqual([
      ['prepare', 'Reused'],
      ['compare', 'Finished'],
    ]);
    const recorded = PipelineRun.get(f.ws, id!);
    expect(recorded.record.runSource).toBe('REST');
    expect(await recorded.findStepRun('compare').getStdout()).toBe('compare v1 param1=20\n');

    expect(await client.listPipelines()).toEqual([
      expect.objectContaining({
        Id: publishedPipeline1.id,
        Name: 'My_Published_Pipeline',
        Version: '1.0',
        Status: 'Active',
        Url: rest.url + publishedPipeline1.endpoint,
        Parameters: [{ Name: 'pipeline_arg', Type: 'number', DefaultValue: 10 }],
        DataPaths: [
          { Name: 'input_data', DataStoreName: 'workspaceblobstore', RelativePath: 'data/input.txt' },
        ],
      }),
    ]);
  });

  it('answers 200 with the run, its Id and its Url; SDK and REST runs of the same content reuse each other', async () => {
    const f = await fixture();
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'reuse' });
    const rest = await server(f);
    const client = createSluiceClient({ baseUrl: rest.url, token: f.token() });

    const response = await fetch(`${rest.url}/pipelines/${published.id}/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        ExperimentName: 'reuse',
        ParameterAssignments: { pipeline_arg: '3' },
        RunSource: 'API',
        Description: 'from a test',
        Tags: { team: 'ml' },
        ContinueOnStepFailure: true,
      }),
    });
    expect(response.status).toBe(200);
    const accepted = (await response.json()) as { Id: string; Status: { StatusDetail: string }; Url: string };
    expect(accepted).toMatchObject({
      Status: { StatusDetail: 'Queued' },
      Url: `${rest.url}/runs/${accepted.Id}`,
    });
    expect(response.headers.get('location')).toBe(accepted.Url);
    expect(accepted.Id).toMatch(/^reuse_\d{8}_\d{6}_[0-9a-f]{6}$/);

    const done = await client.waitForRun(accepted.Id, { pollIntervalMs: 50 });
    expect(done).toMatchObject({
      Status: { StatusDetail: 'Finished' },
      RunSource: 'API',
      Description: 'from a test',
      Tags: { team: 'ml' },
      ParameterAssignments: { pipeline_arg: 3 },
    });

    // the same pipeline from its source folder, through the SDK: same content, same fingerprints
    const sdk = await new Experiment(f.ws, 'reuse').submit(f.pipeline(), { parameters: { pipeline_arg: 3 } });
    expect(await sdk.waitForCompletion()).toBe('Finished');
    expect(statuses(sdk)).toEqual({ prepare: 'Reused', compare: 'Reused' });
    expect(sdk.findStepRun('compare').reusedFrom).toBe(`${accepted.Id}.compare`);
    // and the other way round: a REST run reuses an SDK run
    const sdkOnly = await new Experiment(f.ws, 'reuse').submit(f.pipeline(), {
      parameters: { pipeline_arg: 4 },
    });
    await sdkOnly.waitForCompletion();
    const again = await client.submitPipeline(published.id, {
      ExperimentName: 'reuse',
      ParameterAssignments: { pipeline_arg: 4 },
    });
    const reused = await client.waitForRun(again.Id, { pollIntervalMs: 50 });
    expect(reused.Steps.map((step) => [step.Status, step.ReusedFrom])).toEqual([
      ['Reused', expect.any(String)],
      ['Reused', `${sdkOnly.id}.compare`],
    ]);
  });

  it('submits to endpoints by default version and by version (path and query)', async () => {
    const f = await fixture();
    const first = await publishPipeline(f.ws, f.pipeline(), { name: 'v1' });
    const endpoint = await PipelineEndpoint.publish(f.ws, { name: 'PipelineEndpointTest', pipeline: first });
    writeFileSync(join(f.projectFolder, 'compare.py'), compareScript('v2'));
    endpoint.add(await publishPipeline(f.ws, f.pipeline(), { name: 'v2' }));
    const rest = await server(f);
    const client = createSluiceClient({ baseUrl: rest.url, token: f.token() });

    // rest_endpoint = pipeline_endpoint_by_name.endpoint; requests.post(rest_endpoint, headers=aad_token, json={…})
    const byDefault = await client.submitEndpoint('PipelineEndpointTest', {
      ExperimentName: 'PipelineEndpointExperiment',
      RunSource: 'API',
      ParameterAssignments: { pipeline_arg: 1 },
    });
    expect(byDefault).toMatchObject({ PipelineEndpoint: 'PipelineEndpointTest', PipelineVersion: '0' });
    const byPath = await client.submitEndpoint(
      'PipelineEndpointTest',
      { ExperimentName: 'PipelineEndpointExperiment', ParameterAssignments: { pipeline_arg: 2 } },
      { version: '1' },
    );
    expect(byPath.PipelineVersion).toBe('1');
    const byQuery = await fetch(`${rest.url}${endpoint.endpoint}?version=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${f.token()}` },
      body: JSON.stringify({ ExperimentName: 'PipelineEndpointExperiment' }),
    });
    expect(byQuery.status).toBe(200);
    const queried = (await byQuery.json()) as { Id: string; PipelineVersion: string };
    expect(queried.PipelineVersion).toBe('1');

    const outputs: string[] = [];
    for (const id of [byDefault.Id, byPath.Id, queried.Id]) {
      expect((await client.waitForRun(id, { pollIntervalMs: 50 })).Status.StatusDetail).toBe('Finished');
      outputs.push(await PipelineRun.get(f.ws, id).findStepRun('compare').getStdout());
    }
    expect(outputs).toEqual(['compare v1 param1=1\n', 'compare v2 param1=2\n', 'compare v2 param1=10\n']);

    expect(await client.listEndpoints()).toEqual([
      expect.objectContaining({
        Name: 'PipelineEndpointTest',
        Status: 'Active',
        DefaultVersion: '0',
        Url: `${rest.url}/endpoints/PipelineEndpointTest`,
        Versions: [
          { Version: '0', PipelineId: first.id, IsDefault: true },
          { Version: '1', PipelineId: expect.any(String), IsDefault: false },
        ],
      }),
    ]);
  });

  it('keeps the Id of an accepted run that cannot start, as Failed with the reason', async () => {
    const f = await fixture();
    const step = new PythonScriptStep({
      name: 'gpu_step',
      scriptName: 'prepare.py',
      sourceDirectory: f.projectFolder,
      computeTarget: 'gpu-cluster',
    });
    const published = await publishPipeline(f.ws, new Pipeline({ name: 'gpu', steps: [step] }), {
      name: 'gpu',
    });
    const rest = await server(f);
    const client = createSluiceClient({ baseUrl: rest.url, token: f.token() });
    const accepted = await client.submitPipeline(published.id, { ExperimentName: 'gpu' });
    const failed = await client.waitForRun(accepted.Id, { pollIntervalMs: 50 });
    expect(failed).toMatchObject({
      Id: accepted.Id,
      Status: { StatusDetail: 'Failed' },
      ErrorCode: 'COMPUTE_NOT_FOUND',
      Steps: [],
    });
    expect(failed.Error).toMatch(/gpu-cluster/);
    expect(f.ws.store.getRun(accepted.Id)).toBeUndefined();
  });

  it('moves a DataReference input with DataPathAssignments', async () => {
    const f = await fixture();
    const other = join(f.dir, 'other.txt');
    writeFileSync(other, 'other data\n');
    await f.ws.datastore('workspacefilestore').uploadFiles([other], { targetPath: 'elsewhere' });
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'paths' });
    const rest = await server(f);
    const client = createSluiceClient({ baseUrl: rest.url, token: f.token() });

    const accepted = await client.submitPipeline(published.id, {
      ExperimentName: 'paths',
      DataPathAssignments: {
        input_data: { DataStoreName: 'workspacefilestore', RelativePath: 'elsewhere/other.txt' },
      },
    });
    expect((await client.waitForRun(accepted.Id, { pollIntervalMs: 50 })).Status.StatusDetail).toBe(
      'Finished',
    );
    expect(await PipelineRun.get(f.ws, accepted.Id).findStepRun('prepare').getStdout()).toBe(
      'prepared 11 bytes\n',
    );
    const result = await PipelineRun.get(f.ws, accepted.Id)
      .findStepRun('compare')
      .getOutputData('out_data3')
      .download(join(f.dir, 'out'));
    expect(readFileSync(join(result, 'result.txt'), 'utf8')).toBe('v1 10 OTHER DATA\n');
  });
});
