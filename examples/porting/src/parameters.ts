import { PipelineParameter } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
import { computeTarget } from './compute.js';

const projectFolder = './project';

export const pipelineParam = new PipelineParameter({ name: 'pipeline_arg', defaultValue: 'default_val' });
export const paramTrainStep = new PythonScriptStep({
  scriptName: 'train.py',
  arguments: ['--param1', pipelineParam],
  computeTarget,
  sourceDirectory: projectFolder,
});
