import { defBlobStore } from './datastores.js';

await defBlobStore.uploadFiles(['iris.csv'], {
  targetPath: 'train-dataset',
  overwrite: true,
});
