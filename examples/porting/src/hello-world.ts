import { PythonScriptStep } from '@sluice/step-python';
import { computeTarget } from './compute.js';

const sourceDirectory = './project';
const amlCompute = computeTarget;

export const step = new PythonScriptStep({
  name: 'Hello World',
  scriptName: 'hello_world.py',
  computeTarget: amlCompute,
  sourceDirectory,
  allowReuse: false,
  // accepted and ignored: every file of the source directory is hashed
  hashPaths: ['hello_world.ipynb'],
});
