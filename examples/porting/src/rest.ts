// `sluice serve` serves the REST API; `sluice token create --scope submit` makes the bearer token
const server = process.env.SLUICE_URL ?? 'http://127.0.0.1:8765';
const authHeader = { Authorization: `Bearer ${process.env.SLUICE_TOKEN ?? ''}` };

/** Run a published pipeline over REST, as requests.post(published_pipeline1.endpoint, …). */
export async function submitPublished(endpoint: string): Promise<unknown> {
  const response = await fetch(new URL(endpoint, server), {
    method: 'POST',
    headers: { ...authHeader, 'content-type': 'application/json' },
    body: JSON.stringify({ ExperimentName: 'My_Pipeline', ParameterAssignments: { pipeline_arg: 20 } }),
  });
  return response.json();
}

/** Run a pipeline endpoint over REST, as requests.post(pipeline_endpoint_by_name.endpoint, …). */
export async function submitEndpoint(restEndpoint: string): Promise<unknown> {
  const response = await fetch(new URL(restEndpoint, server), {
    method: 'POST',
    headers: { ...authHeader, 'content-type': 'application/json' },
    body: JSON.stringify({
      ExperimentName: 'PipelineEndpointExperiment',
      RunSource: 'API',
      ParameterAssignments: { '1': 'united', '2': 'city' },
    }),
  });
  return response.json();
}
