import { PythonScriptStep } from '@sluice/step-python';
import { computeTarget } from './compute.js';
import { irisTabularDataset } from './datasets.js';

const projectFolder = './project';

export const datasetConsumingStep = new PythonScriptStep({
  scriptName: 'iris_train.py',
  inputs: [irisTabularDataset.asNamedInput('iris_data')],
  computeTarget,
  sourceDirectory: projectFolder,
});
