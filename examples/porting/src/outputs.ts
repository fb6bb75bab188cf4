import { OutputFileDatasetConfig, PipelineData } from '@sluice/core';
import { defBlobStore } from './datastores.js';

// no name: the step that produces it names it, the same way on every submission
export const outputData1 = new OutputFileDatasetConfig({
  destination: [defBlobStore, 'outputdataset/{run-id}'],
});
export const outputDataDataset = outputData1.registerOnComplete({ name: 'prepared_output_data' });

// intermediate data, as PipelineData
export const pipelineData1 = new PipelineData('output_data1', {
  datastore: defBlobStore,
  outputName: 'output_data1',
});
