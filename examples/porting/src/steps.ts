import { OutputFileDatasetConfig } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
import { computeTarget } from './compute.js';
import { myDataset } from './datasets.js';
import { defBlobStore } from './datastores.js';
import { outputData1 } from './outputs.js';
import { amlRunConfig } from './run-config.js';

const dataprepSourceDir = './dataprep_src';
const entryPoint = 'prepare.py';
// `myDataset` as defined above
const dsInput = myDataset.asNamedInput('input1');

// `outputData1`, `computeTarget`, `amlRunConfig` as defined above
export const dataPrepStep = new PythonScriptStep({
  scriptName: entryPoint,
  sourceDirectory: dataprepSourceDir,
  arguments: ['--input', dsInput.asDownload(), '--output', outputData1],
  computeTarget,
  runConfig: amlRunConfig,
  allowReuse: true,
});

const trainSourceDir = './train_src';
const trainEntryPoint = 'train.py';

export const trainingResults = new OutputFileDatasetConfig({
  name: 'training_results',
  destination: defBlobStore,
});

export const trainStep = new PythonScriptStep({
  scriptName: trainEntryPoint,
  sourceDirectory: trainSourceDir,
  arguments: ['--prepped_data', outputData1.asInput(), '--training_results', trainingResults],
  computeTarget,
  runConfig: amlRunConfig,
  allowReuse: true,
});

// the comparison the original leaves out
export const compareStep = new PythonScriptStep({
  name: 'Compare models',
  scriptName: 'compare.py',
  sourceDirectory: './compare_src',
  arguments: ['--model', trainingResults.asInput()],
  runConfig: amlRunConfig,
});
