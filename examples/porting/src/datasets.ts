import { DataReference } from '@sluice/core';
import { Dataset } from '@sluice/runtime';
import { defBlobStore } from './datastores.js';

export const irisTabularDataset = Dataset.Tabular.fromDelimitedFiles([
  [defBlobStore, 'train-dataset/iris.csv'],
]);

export const myDataset = Dataset.File.fromFiles([[defBlobStore, 'train-dataset/']]);

export const blobInputData = new DataReference({
  datastore: defBlobStore,
  dataReferenceName: 'test_data',
  pathOnDatastore: 'train-dataset/iris.csv',
});
