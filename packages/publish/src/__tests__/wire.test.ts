/**
 * The REST wire against Azure ML's public contract, over real HTTP on loopback. Each request is one a
 * public Azure ML sample posts with `requests.post(url, headers=aad_token, json=body)`, sent here by
 * python3's urllib with the same headers and the same JSON bytes (see AZURE_CLIENT). Sources:
 *
 * - [nb-rest] Azure/MachineLearningNotebooks, how-to-use-azureml/machine-learning-pipelines/intro-to-pipelines/
 *   aml-pipelines-publish-and-run-using-rest-endpoint.ipynb (cells 32–33: the POST, `response.json().get('Id')`)
 * - [nb-endpoint] …/aml-pipelines-setup-versioned-pipeline-endpoints.ipynb (cells 42–46: `endpoint + "/" +
 *   version`, `…/PipelineEndpointSubmit/Name?name=…&pipelineVersion=…`, the POST)
 * - [nb-datapath] …/aml-pipelines-showcasing-datapath-and-pipelineparameter.ipynb (cell 32)
 * - [nb-dataset] …/aml-pipelines-showcasing-dataset-and-pipelineparameter.ipynb (cell 35)
 * - [docs] MicrosoftDocs/azure-ai-docs, articles/machine-learning/v1/how-to-deploy-pipelines.md ("Run a
 *   published pipeline": the body keys; the Java sample treats any answer but 200 as a failure)
 * - [recorded] grecoe/AMLSBatchScoringRestApi, BatchScoring/RunStatus.cs: a pipeline run entity "ACTUAL RETURN
 *   FROM REST", and BatchScoring/PipelineUrl.cs: GET `…/PipelineRuns/{runId}`, `…/PipelineRuns/Pipeline/{id}`
 * - [sdk] azureml-pipeline-core (PyPI), azureml/pipeline/core/_aeva_provider.py,
 *   `_AevaPipelineRunProvider.get_status`: StatusCode 0 NotStarted, 1 Running, 2 Failed, 3 Finished, 4 Canceled
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DataReference, Pipeline, PipelineParameter } from '@sluice/core';
import { Dataset, PipelineRun } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import { PipelineEndpoint, publishPipeline, serve, type SluiceServer } from '../index.js';
import { compareScript, fixture, onCleanup, writeScripts, type Fixture } from './helpers.js';

const execFileAsync = promisify(execFile);

/**
 * `requests.post(url, headers=aad_token, json=body)` with urllib: requests' default headers, the bearer
 * header, `Content-Type: application/json` and `json.dumps(body)` as UTF-8 (what requests sends for `json=`).
 * It sends each request of a plan read from stdin; then, for each with `wait`, it GETs the run (Azure's
 * `…/PipelineRuns/{Id}`) until its StatusCode is final by the SDK's table (all within 60 s).
 */
const AZURE_CLIENT = `
import json, sys, time, urllib.error, urllib.request

# requests' default headers (urllib always adds its own "Connection: close")
REQUESTS_HEADERS = {"User-Agent": "python-requests/2.32.3", "Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
FINAL = {2: "Failed", 3: "Finished", 4: "Canceled"}  # azureml-pipeline-core _AevaPipelineRunProvider.get_status

def call(method, url, aad_token, body=None):
    headers = dict(REQUESTS_HEADERS, **aad_token)
    data = None
    if body is not None:
        data = json.dumps(body, allow_nan=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())

plan = json.load(sys.stdin)
results = []
for step in plan:
    aad_token = {"Authorization": "Bearer " + step["token"]}
    status, headers, body = call(step["method"], step["url"], aad_token, step.get("json"))
    results.append({"status": status, "contentType": headers.get("Content-Type"), "body": body})
deadline = time.time() + 60
for step, result in zip(plan, results):
    if not step.get("wait") or result["status"] != 200:
        continue
    aad_token = {"Authorization": "Bearer " + step["token"]}
    while True:
        code, _, run = call("GET", step["wait"].replace("{Id}", result["body"]["Id"]), aad_token)
        if code != 200 or run["Status"]["StatusCode"] in FINAL or time.time() > deadline:
            break
        time.sleep(0.05)
    result["final"] = run
print(json.dumps(results))
`;

interface PlannedRequest {
  method: 'POST' | 'GET';
  url: string;
  token: string;
  json?: unknown;
  /** GET this URL (`{Id}` replaced) until the run ends. */
  wait?: string;
}
interface Answer {
  status: number;
  contentType: string | null;
  body: Record<string, unknown> & { Id?: string; error?: { code: string; details: Record<string, unknown> } };
  final?: Record<string, unknown>;
}

/** Send a plan of requests with the Python client; the answers in order. */
async function python(f: Fixture, plan: PlannedRequest[]): Promise<Answer[]> {
  const script = join(f.dir, 'azure_client.py');
  writeFileSync(script, AZURE_CLIENT);
  const child = execFileAsync('python3', [script], { timeout: 120_000 });
  child.child.stdin!.end(JSON.stringify(plan));
  const { stdout } = await child;
  return JSON.parse(stdout) as Answer[];
}

async function server(f: Fixture): Promise<SluiceServer> {
  const started = await serve({ workspace: f.ws });
  onCleanup(() => started.close({ graceMs: 0 }));
  return started;
}

/** An Azure URL's workspace path: the Sluice server serves it with only the host changed. */
const WORKSPACE =
  '/pipelines/v1.0/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';

/**
 * [recorded] the run entity Azure returned (its keys Sluice also answers with, and their JSON types; Sluice
 * fills StatusDetail with its status word where Azure had null, and Description with a string).
 */
const RECORDED_ENTITY = {
  Description: 'dangbatchtest_sched',
  Status: {
    StatusCode: 1,
    StatusDetail: null,
    CreationTime: '2019-10-22T15:29:26.2249236+00:00',
    EndTime: null,
  },
  ParameterAssignments: {},
  RunHistoryExperimentName: 'exp_191018132824',
  PipelineId: 'b4895c69-cf70-4a57-b486-c78e1a9e5436',
  RunSource: 'Unavailable',
  TotalRunSteps: 15,
  tags: {},
  Properties: {},
  Id: '36e23636-b719-479f-9b8c-9348b8e50316',
  CreatedDate: '1970-01-01T00:00:00',
};

/** The JSON type of a value: 'null', 'array', 'object', 'string', 'number', 'boolean'. */
const jsonType = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;

/** Check an answer carries the recorded entity's keys with the same JSON types (null where Azure may). */
function expectAzureEntity(entity: Record<string, unknown>): void {
  const nullable = new Set(['Status.StatusDetail', 'Status.EndTime', 'Description']);
  const check = (recorded: Record<string, unknown>, ours: Record<string, unknown>, path: string): void => {
    for (const [key, value] of Object.entries(recorded)) {
      const where = `${path}${key}`;
      expect(ours, `${where} is answered`).toHaveProperty([key]);
      const type = jsonType(ours[key]);
      if (nullable.has(where) && type === 'null') continue;
      if (nullable.has(where)) expect(type, where).toBe('string');
      else expect(type, where).toBe(jsonType(value));
      if (type === 'object' && jsonType(value) === 'object' && key === 'Status') {
        check(value as Record<string, unknown>, ours[key] as Record<string, unknown>, `${where}.`);
      }
    }
  };
  check(RECORDED_ENTITY, entity, '');
  expect(Number.isInteger((entity.Status as { StatusCode: unknown }).StatusCode)).toBe(true);
  expect(Number.isNaN(Date.parse((entity.Status as { CreationTime: string }).CreationTime))).toBe(false);
  expect(Number.isNaN(Date.parse(entity.CreatedDate as string))).toBe(false);
}

const stdoutOf = (f: Fixture, runId: string, step: string): Promise<string> =>
  PipelineRun.get(f.ws, runId).findStepRun(step).getStdout();

describe('the Azure ML wire', () => {
  it("answers [nb-rest]'s POST to PipelineSubmit with 200 and Azure's run entity, and runs it with its parameter", async () => {
    const f = await fixture();
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'My_New_Pipeline' });
    const rest = await server(f);
    const token = f.token();
    // rest_endpoint1 = published_pipeline.endpoint, with the Sluice server's host
    const endpoint = `${rest.url}${WORKSPACE}/PipelineRuns/PipelineSubmit/${published.id}`;

    const [answer] = await python(f, [
      {
        method: 'POST',
        url: endpoint,
        token,
        json: {
          ExperimentName: 'My_Pipeline1',
          RunSource: 'SDK',
          ParameterAssignments: { pipeline_arg: 45 },
        },
        wait: `${rest.url}${WORKSPACE}/PipelineRuns/{Id}`,
      },
    ]);

    // [docs] anything but 200 is a failure; [nb-rest] run_id = response.json().get('Id')
    expect(answer!.status).toBe(200);
    expect(answer!.contentType).toMatch(/^application\/json/);
    const accepted = answer!.body;
    expectAzureEntity(accepted);
    expect(accepted).toMatchObject({
      Id: expect.stringMatching(/^My_Pipeline1_/),
      Status: { StatusCode: 0, StatusDetail: 'Queued', EndTime: null },
      RunHistoryExperimentName: 'My_Pipeline1',
      PipelineId: published.id,
      RunSource: 'SDK',
      ParameterAssignments: { pipeline_arg: 45 },
      Url: `${rest.url}/runs/${accepted.Id}`,
    });

    // GET …/PipelineRuns/{runId} until the SDK's table says Finished: the same entity, ended
    const final = answer!.final!;
    expectAzureEntity(final);
    expect(final).toMatchObject({
      Id: accepted.Id,
      Status: {
        StatusCode: 3,
        StatusDetail: 'Finished',
        CreationTime: (accepted.Status as { CreationTime: string }).CreationTime,
      },
      RunHistoryExperimentName: 'My_Pipeline1',
      PipelineId: published.id,
      CreatedDate: accepted.CreatedDate,
    });
    expect(Date.parse((final.Status as { EndTime: string }).EndTime)).toBeGreaterThanOrEqual(
      Date.parse((final.Status as { CreationTime: string }).CreationTime),
    );
    expect(Object.keys(final).sort()).toEqual(Object.keys(accepted).sort());
    expect(await stdoutOf(f, accepted.Id!, 'compare')).toBe('compare v1 param1=45\n');
  });

  it('answers the submission and GET of the run alike, on both URL forms, and lists the runs of a pipeline', async () => {
    const f = await fixture();
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'alike' });
    const rest = await server(f);
    const token = f.token();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const posted = await fetch(`${rest.url}/PipelineRuns/PipelineSubmit/${published.id}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ExperimentName: 'alike', Tags: { team: 'ml' }, Description: 'from a test' }),
    });
    expect(posted.status).toBe(200);
    const accepted = (await posted.json()) as Record<string, unknown> & { Id: string };
    expect(posted.headers.get('location')).toBe(accepted.Url);
    for (const url of [
      `${rest.url}/runs/${accepted.Id}`,
      `${rest.url}${WORKSPACE}/PipelineRuns/${accepted.Id}`,
    ]) {
      const got = (await (await fetch(url, { headers })).json()) as Record<string, unknown>;
      expect(Object.keys(got).sort()).toEqual(Object.keys(accepted).sort());
      for (const key of [
        'Id',
        'RunHistoryExperimentName',
        'PipelineId',
        'CreatedDate',
        'Description',
        'Tags',
        'tags',
        'ParameterAssignments',
        'TotalRunSteps',
      ])
        expect(got[key], key).toEqual(accepted[key]);
      expect((got.Status as { CreationTime: string }).CreationTime).toBe(
        (accepted.Status as { CreationTime: string }).CreationTime,
      );
    }
    expect(accepted).toMatchObject({
      Description: 'from a test',
      Tags: { team: 'ml' },
      tags: { team: 'ml' },
      ParameterAssignments: { pipeline_arg: 10 },
      TotalRunSteps: 2,
    });

    // [recorded] PipelineUrl.cs: "For all run statuses append /Pipeline/[PIPELINE_ID]"
    for (const url of [
      `${rest.url}${WORKSPACE}/PipelineRuns/Pipeline/${published.id}`,
      `${rest.url}/pipelines/${published.id}/runs`,
    ]) {
      const listed = (await (await fetch(url, { headers })).json()) as Array<{ Id: string }>;
      expect(listed.map((run) => run.Id)).toEqual([accepted.Id]);
    }
  });

  it("serves [nb-endpoint]'s versioned URLs and runs the version named, or answers 404 naming the versions", async () => {
    const f = await fixture();
    const first = await publishPipeline(f.ws, f.pipeline(), { name: 'v1' });
    const endpoint = await PipelineEndpoint.publish(f.ws, { name: 'NewName', pipeline: first });
    writeScriptsV2(f);
    endpoint.add(await publishPipeline(f.ws, f.pipeline(), { name: 'v2' }));
    const rest = await server(f);
    const token = f.token();
    // rest_endpoint_id = pipeline_endpoint_by_name.endpoint (Sluice names endpoints by name: Id/{name})
    const restEndpointId = `${rest.url}${WORKSPACE}/PipelineRuns/PipelineEndpointSubmit/Id/NewName`;
    // rest_endpoint_name = rest_endpoint_id.split("Id", 1)[0] + "Name?name=" + pipeline_endpoint_by_name.name
    const restEndpointName = `${restEndpointId.split('Id', 1)[0]}Name?name=NewName`;
    const wait = `${rest.url}${WORKSPACE}/PipelineRuns/{Id}`;
    // [nb-endpoint] cell 45's body, with this pipeline's parameter for its "1" and "2" (see the next test)
    const body = (value: number) => ({
      ExperimentName: 'default_pipeline',
      RunSource: 'SDK',
      ParameterAssignments: { pipeline_arg: String(value) },
    });

    const answers = await python(f, [
      { method: 'POST', url: restEndpointId, token, json: body(1), wait },
      { method: 'POST', url: `${restEndpointId}/1`, token, json: body(2), wait },
      { method: 'POST', url: restEndpointName, token, json: body(3), wait },
      { method: 'POST', url: `${restEndpointName}&pipelineVersion=1`, token, json: body(4), wait },
      { method: 'POST', url: `${rest.url}/endpoints/NewName?pipelineVersion=1`, token, json: body(5), wait },
      { method: 'POST', url: `${rest.url}/endpoints/NewName?pipelineVersion=7`, token, json: body(6) },
      { method: 'POST', url: `${restEndpointName}&pipelineVersion=7`, token, json: body(7) },
      { method: 'POST', url: `${restEndpointId}/7`, token, json: body(8) },
    ]);

    const ran = answers.slice(0, 5);
    expect(ran.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(ran.map((answer) => [answer.body.PipelineEndpointId, answer.body.PipelineVersion])).toEqual([
      ['NewName', '0'],
      ['NewName', '1'],
      ['NewName', '0'],
      ['NewName', '1'],
      ['NewName', '1'],
    ]);
    for (const answer of ran) expect(answer.final).toMatchObject({ Status: { StatusCode: 3 } });
    const outputs = await Promise.all(ran.map((answer) => stdoutOf(f, answer.body.Id!, 'compare')));
    expect(outputs).toEqual([
      'compare v1 param1=1\n',
      'compare v2 param1=2\n',
      'compare v1 param1=3\n',
      'compare v2 param1=4\n',
      'compare v2 param1=5\n',
    ]);

    // a version that does not exist: 404, naming the versions; nothing queued
    for (const answer of answers.slice(5)) {
      expect(answer.status).toBe(404);
      expect(answer.body.error).toMatchObject({
        code: 'ENDPOINT_VERSION_NOT_FOUND',
        details: { endpoint: 'NewName', version: '7', versions: ['0', '1'] },
      });
    }
    const queued = f.ws.store.prepare('SELECT COUNT(*) AS n FROM publish_queue').get() as { n: number };
    expect(queued.n).toBe(5);
  });

  it('refuses query parameters it would otherwise drop, and two versions that disagree', async () => {
    const f = await fixture();
    const first = await publishPipeline(f.ws, f.pipeline(), { name: 'v1' });
    const endpoint = await PipelineEndpoint.publish(f.ws, { name: 'ep', pipeline: first });
    endpoint.add(await publishPipeline(f.ws, f.pipeline(), { name: 'v2' }));
    const rest = await server(f);
    const token = f.token();
    const body = { ExperimentName: 'e' };
    const answers = await python(f, [
      // a misspelt parameter name
      { method: 'POST', url: `${rest.url}/endpoints/ep?pipelineVerison=1`, token, json: body },
      { method: 'POST', url: `${rest.url}/endpoints/ep?version=0&pipelineVersion=1`, token, json: body },
      { method: 'POST', url: `${rest.url}/endpoints/ep/versions/0?pipelineVersion=1`, token, json: body },
      {
        method: 'POST',
        url: `${rest.url}/PipelineRuns/PipelineEndpointSubmit/Id/ep/0?pipelineVersion=1`,
        token,
        json: body,
      },
      { method: 'POST', url: `${rest.url}/endpoints/ep?pipelineVersion=`, token, json: body },
      {
        method: 'POST',
        url: `${rest.url}/endpoints/ep?pipelineVersion=1&pipelineVersion=0`,
        token,
        json: body,
      },
      // a published pipeline has one version
      {
        method: 'POST',
        url: `${rest.url}/PipelineRuns/PipelineSubmit/${first.id}?pipelineVersion=1`,
        token,
        json: body,
      },
      {
        method: 'POST',
        url: `${rest.url}/PipelineRuns/PipelineEndpointSubmit/Name?pipelineVersion=1`,
        token,
        json: body,
      },
      // the same version twice is one version
      { method: 'POST', url: `${rest.url}/endpoints/ep/versions/1?pipelineVersion=1`, token, json: body },
      // Azure matches routes and query names without regard to case
      {
        method: 'POST',
        url: `${rest.url}/pipelineruns/pipelineendpointsubmit/name?Name=ep&PipelineVersion=1`,
        token,
        json: body,
      },
    ]);
    expect(answers.slice(0, 8).map((answer) => [answer.status, answer.body.error?.code])).toEqual([
      ...Array.from({ length: 8 }, () => [400, 'REQUEST_INVALID']),
    ]);
    expect(answers[0]!.body.error!.details).toMatchObject({ known: ['version', 'pipelineVersion'] });
    expect(answers[1]!.body.error!.details).toMatchObject({ versions: ['0', '1'] });
    expect(answers.slice(8).map((answer) => [answer.status, answer.body.PipelineVersion])).toEqual([
      [200, '1'],
      [200, '1'],
    ]);
  });

  it("takes [nb-datapath]'s DataPathAssignments and ParameterAssignments as posted", async () => {
    const f = await fixture();
    const store = f.ws.getDefaultDatastore();
    for (const [folder, text] of [
      ['sample_datapath1', 'one'],
      ['sample_datapath3', 'three'],
    ]) {
      writeFileSync(join(f.dir, 'sample.txt'), `${text}\n`);
      await store.uploadFiles([join(f.dir, 'sample.txt')], { targetPath: folder });
    }
    const source = writeScripts(join(f.dir, 'datapath'), {
      'train.py': `
        import argparse, os
        parser = argparse.ArgumentParser()
        parser.add_argument("--input_datapath")
        parser.add_argument("--input_string")
        args = parser.parse_args()
        with open(os.path.join(args.input_datapath, "sample.txt")) as data:
            print("input_string={} data={}".format(args.input_string, data.read().strip()))
      `,
    });
    // data_path = DataPath(datastore=def_blob_store, path_on_datastore='sample_datapath1')
    const dataPath = new DataReference({
      datastore: store,
      pathOnDatastore: 'sample_datapath1',
      name: 'input_datapath',
    });
    const inputString = new PipelineParameter({ name: 'input_string', defaultValue: 'sample_string1' });
    const train = new PythonScriptStep({
      name: 'train_step',
      scriptName: 'train.py',
      arguments: ['--input_datapath', dataPath, '--input_string', inputString],
      inputs: [dataPath],
      sourceDirectory: source,
    });
    const published = await publishPipeline(f.ws, new Pipeline({ steps: [train] }), {
      name: 'DataPath_Pipeline',
    });
    const rest = await server(f);

    const [answer] = await python(f, [
      {
        method: 'POST',
        url: `${rest.url}${WORKSPACE}/PipelineRuns/PipelineSubmit/${published.id}`,
        token: f.token(),
        json: {
          ExperimentName: 'MyRestPipeline',
          RunSource: 'SDK',
          DataPathAssignments: {
            input_datapath: { DataStoreName: store.name, RelativePath: 'sample_datapath3' },
          },
          ParameterAssignments: { input_string: 'sample_string3' },
        },
        wait: `${rest.url}${WORKSPACE}/PipelineRuns/{Id}`,
      },
    ]);
    expect(answer!.status).toBe(200);
    expectAzureEntity(answer!.body);
    expect(answer!.body.DataPathAssignments).toEqual({
      input_datapath: { DataStoreName: 'workspaceblobstore', RelativePath: 'sample_datapath3' },
    });
    expect(answer!.final).toMatchObject({ Status: { StatusCode: 3 } });
    expect(await stdoutOf(f, answer!.body.Id!, 'train_step')).toBe(
      'input_string=sample_string3 data=three\n',
    );
  });

  it("takes [nb-dataset]'s DataSetDefinitionValueAssignments: the run reads the datasets given", async () => {
    const f = await fixture();
    const store = f.ws.getDefaultDatastore();
    const csv = async (name: string, text: string): Promise<void> => {
      writeFileSync(join(f.dir, name), text);
      await store.uploadFiles([join(f.dir, name)], { targetPath: 'demo' });
    };
    await csv('Titanic.csv', 'PassengerId,Survived\n1,0\n2,1\n');
    await csv('iris.csv', 'sepal_length,species\n5.1,setosa\n4.9,setosa\n6.3,virginica\n');
    const titanicFile = await Dataset.File.fromFiles([[store, 'demo/Titanic.csv']]).register(f.ws, {
      name: 'titanic_file',
    });
    const titanicTable = await Dataset.Tabular.fromDelimitedFiles([[store, 'demo/Titanic.csv']]).register(
      f.ws,
      {
        name: 'titanic_tabular',
      },
    );
    const irisFile = await Dataset.File.fromFiles([[store, 'demo/iris.csv']]).register(f.ws, {
      name: 'iris_file',
    });
    const irisTable = await Dataset.Tabular.fromDelimitedFiles([[store, 'demo/iris.csv']]).register(f.ws, {
      name: 'iris_tabular',
    });
    const source = writeScripts(join(f.dir, 'dataset'), {
      'train_with_dataset.py': `
        from sluice import Run
        run = Run.get_context()
        with open(run.input_datasets["file_dataset"].files()[0]) as handle:
            header = handle.readline().strip()
        rows = run.input_datasets["tabular_dataset"].to_records()
        print("file={} rows={}".format(header, len(rows)))
      `,
    });
    const train = new PythonScriptStep({
      name: 'train_step',
      scriptName: 'train_with_dataset.py',
      inputs: [titanicFile.asNamedInput('file_dataset'), titanicTable.asNamedInput('tabular_dataset')],
      sourceDirectory: source,
    });
    const published = await publishPipeline(f.ws, new Pipeline({ steps: [train] }), {
      name: 'Dataset_Pipeline',
    });
    const rest = await server(f);
    const token = f.token();
    const url = `${rest.url}${WORKSPACE}/PipelineRuns/PipelineSubmit/${published.id}`;
    const wait = `${rest.url}${WORKSPACE}/PipelineRuns/{Id}`;

    // The notebook's keys are its PipelineParameter names and its ids Azure's; Sluice has no dataset-valued
    // parameters, so the keys are the inputs' names and the ids Sluice's (`name:version`, dataset.id).
    const answers = await python(f, [
      { method: 'POST', url, token, json: { ExperimentName: 'MyRestPipeline', RunSource: 'SDK' }, wait },
      {
        method: 'POST',
        url,
        token,
        json: {
          ExperimentName: 'MyRestPipeline',
          RunSource: 'SDK',
          DataSetDefinitionValueAssignments: {
            file_dataset: { SavedDataSetReference: { Id: irisFile.id } },
            tabular_dataset: { SavedDataSetReference: { Id: irisTable.id } },
          },
        },
        wait,
      },
      {
        method: 'POST',
        url,
        token,
        json: {
          ExperimentName: 'MyRestPipeline',
          DataSetDefinitionValueAssignments: {
            tabular_dataset: { DataSetReference: { Name: 'iris_tabular' } },
          },
        },
        wait,
      },
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(answers[1]!.body.DataSetDefinitionValueAssignments).toEqual({
      file_dataset: { DataSetReference: { Name: 'iris_file', Version: '1' } },
      tabular_dataset: { DataSetReference: { Name: 'iris_tabular', Version: '1' } },
    });
    for (const answer of answers) expect(answer.final).toMatchObject({ Status: { StatusCode: 3 } });
    const printed = await Promise.all(answers.map((answer) => stdoutOf(f, answer.body.Id!, 'train_step')));
    expect(printed).toEqual([
      'file=PassengerId,Survived rows=2\n',
      'file=sepal_length,species rows=3\n',
      'file=PassengerId,Survived rows=3\n',
    ]);

    // the published pipeline tells its dataset inputs
    const described = (await (
      await fetch(`${rest.url}/pipelines/${published.id}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { DatasetInputs: unknown };
    expect(described.DatasetInputs).toEqual([
      {
        Name: 'file_dataset',
        Kind: 'file-dataset',
        DataSetReference: { Name: 'titanic_file', Version: '1' },
      },
      {
        Name: 'tabular_dataset',
        Kind: 'tabular-dataset',
        DataSetReference: { Name: 'titanic_tabular', Version: '1' },
      },
    ]);

    // values it cannot honour: coded 400s naming what is supported; nothing queued
    const refused = await python(
      f,
      [
        { tabular_dataset: { SavedDataSetReference: { Id: '7c8b6f4e-0a1b-4c2d-9e3f-5a6b7c8d9e0f' } } },
        {
          tabular_dataset: {
            LiteralValue: { DataStoreName: 'workspaceblobstore', RelativePath: 'demo/iris.csv' },
          },
        },
        { tabular_ds_param: { SavedDataSetReference: { Id: irisTable.id } } },
        { tabular_dataset: { DataSetReference: { Name: 'no_such_dataset' } } },
        { tabular_dataset: { DataSetReference: { Name: 'iris_tabular', Version: '9' } } },
        { tabular_dataset: { DataSetReference: { Id: irisFile.id } } },
      ].map((assignments) => ({
        method: 'POST' as const,
        url,
        token,
        json: { ExperimentName: 'MyRestPipeline', DataSetDefinitionValueAssignments: assignments },
      })),
    );
    expect(refused.map((answer) => [answer.status, answer.body.error?.code])).toEqual([
      [400, 'REQUEST_INVALID'],
      [400, 'REQUEST_INVALID'],
      [400, 'PARAMETER_UNKNOWN'],
      [400, 'DATASET_NOT_FOUND'],
      [400, 'DATASET_NOT_FOUND'],
      [400, 'PARAMETER_TYPE'],
    ]);
    for (const answer of refused.slice(0, 2)) {
      expect(answer.body.error!.details.supported).toEqual(
        expect.arrayContaining([expect.stringContaining('DataSetReference')]),
      );
    }
    expect(refused[2]!.body.error!.details).toMatchObject({ known: ['file_dataset', 'tabular_dataset'] });
    const queued = f.ws.store.prepare('SELECT COUNT(*) AS n FROM publish_queue').get() as { n: number };
    expect(queued.n).toBe(3);
  });

  it("accepts Azure's ContinueRunOnStepFailure (and Sluice's ContinueOnStepFailure), keys in any case, and lists the keys it knows", async () => {
    const f = await fixture();
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'keys' });
    const rest = await server(f);
    const token = f.token();
    const url = `${rest.url}/PipelineRuns/PipelineSubmit/${published.id}`;
    const post = (json: unknown): PlannedRequest => ({ method: 'POST', url, token, json });
    const answers = await python(f, [
      post({ ExperimentName: 'keys', ContinueRunOnStepFailure: true }),
      post({ ExperimentName: 'keys', ContinueOnStepFailure: true }),
      post({
        experimentName: 'keys',
        parameterAssignments: { pipeline_arg: 2 },
        continueRunOnStepFailure: false,
      }),
      post({ ExperimentName: 'keys', ContinueRunOnStepFailure: true, ContinueOnStepFailure: false }),
      post({ ExperimentName: 'keys', experimentName: 'keys' }),
      post({ ExperimentName: 'keys', RunType: 'SDK' }),
      // [nb-endpoint] cell 45 posts parameters the pipeline does not have: Sluice refuses them, naming its own
      post({
        ExperimentName: 'default_pipeline',
        RunSource: 'SDK',
        ParameterAssignments: { '1': 'united', '2': 'city' },
      }),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 400, 400, 400, 400]);
    expect(answers.slice(0, 3).map((answer) => answer.body.ContinueRunOnStepFailure)).toEqual([
      true,
      true,
      false,
    ]);
    const options = answers.slice(0, 3).map((answer) => answer.body.Id!);
    expect(answers[2]!.body.ParameterAssignments).toEqual({ pipeline_arg: 2 });
    expect(answers[5]!.body.error).toMatchObject({
      code: 'REQUEST_INVALID',
      details: {
        field: 'RunType',
        known: expect.arrayContaining([
          'DataSetDefinitionValueAssignments',
          'ContinueRunOnStepFailure',
          'ExperimentName',
        ]),
      },
    });
    expect(answers[6]!.body.error).toMatchObject({ code: 'PARAMETER_UNKNOWN' });

    // the option reaches the run
    const recorded = await waitForRecords(f, options);
    expect(recorded.map((run) => run.options.continueOnStepFailure)).toEqual([true, true, false]);
  });
});

function writeScriptsV2(f: Fixture): void {
  writeFileSync(join(f.projectFolder, 'compare.py'), compareScript('v2'));
}

/** The run records of accepted ids, once each exists and has ended (bounded polling). */
async function waitForRecords(f: Fixture, ids: string[]) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const runs = ids.map((id) => f.ws.store.getRun(id));
    if (runs.every((run) => run && ['Finished', 'Failed', 'Canceled'].includes(run.status)))
      return runs.map((run) => run!);
    if (Date.now() > deadline) throw new Error('timed out waiting for the runs');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
