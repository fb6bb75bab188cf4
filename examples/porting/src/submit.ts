import { Experiment } from '@sluice/runtime';
import { pipeline1 } from './pipeline.js';
import './upload.js';
import { ws } from './workspace.js';

// Submit the pipeline to be run
export const pipelineRun1 = await new Experiment(ws, 'Compare_Models_Exp').submit(pipeline1);
// throws RUN_FAILED when a step fails (raise_on_error=True)
await pipelineRun1.waitForCompletion({ showOutput: true });
