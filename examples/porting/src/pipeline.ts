import { Pipeline } from '@sluice/core';
import { compareStep, dataPrepStep, trainStep } from './steps.js';
import { ws } from './workspace.js';

// list of steps to run
const compareModels = [dataPrepStep, trainStep, compareStep];

// Build the pipeline
export const pipeline1 = new Pipeline({ workspace: ws, steps: [compareModels] });
