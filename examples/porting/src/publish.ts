import { PipelineEndpoint, PublishedPipeline } from '@sluice/publish';
import { pipelineRun1 } from './submit.js';
import { ws } from './workspace.js';

export const publishedPipeline1 = await pipelineRun1.publishPipeline({
  name: 'My_Published_Pipeline',
  description: 'My Published Pipeline Description',
  version: '1.0',
});

const publishedPipeline = PublishedPipeline.get(ws, { name: 'My_Published_Pipeline' });
export const pipelineEndpoint = await PipelineEndpoint.publish(ws, {
  name: 'PipelineEndpointTest',
  pipeline: publishedPipeline,
  description: 'Test description Notebook',
});

const pipelineEndpointByName = PipelineEndpoint.get(ws, 'PipelineEndpointTest');
export const runByDefault = await pipelineEndpointByName.submit('PipelineEndpointExperiment');
console.log(runByDefault.id);

export const runOfVersion0 = await pipelineEndpointByName.submit('PipelineEndpointExperiment', {
  pipelineVersion: '0',
});
console.log(runOfVersion0.id);
