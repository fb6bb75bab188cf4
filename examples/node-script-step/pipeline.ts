import { fileURLToPath } from 'node:url';
import { Pipeline, PipelineData, PipelineParameter } from '@sluice/core';
import { PythonScriptStep } from '@sluice/step-python';
import { NodeScriptStep } from './src/index.js';

/** The experiment the runs of this pipeline are recorded under. */
export const experimentName = 'sensor-report';

// One source directory per language: each step's fingerprint covers only its own folder, so editing the
// Node.js script re-runs `summarise` (and what reads its output) but never `prepare`.
const PYTHON_SOURCE = fileURLToPath(new URL('./python', import.meta.url));
const NODE_SOURCE = fileURLToPath(new URL('./node', import.meta.url));

/** Python prepares a CSV → a Node.js script summarises it → Python writes a report from the summary. */
export default function sensorReportPipeline(): Pipeline {
  const rows = new PipelineParameter({ name: 'rows', defaultValue: 300 });
  const readings = new PipelineData('readings');
  const summary = new PipelineData('summary');
  const report = new PipelineData('report');

  const prepare = new PythonScriptStep({
    name: 'prepare',
    scriptName: 'prepare.py',
    sourceDirectory: PYTHON_SOURCE,
    arguments: ['--rows', rows, '--output', readings],
    outputs: [readings],
  });

  const summarise = new NodeScriptStep({
    name: 'summarise',
    scriptName: 'summarise.mjs',
    sourceDirectory: NODE_SOURCE,
    arguments: [readings, summary],
    inputs: [readings],
    outputs: [summary],
  });

  const writeReport = new PythonScriptStep({
    name: 'report',
    scriptName: 'report.py',
    sourceDirectory: PYTHON_SOURCE,
    arguments: ['--output', report],
    inputs: [summary],
    outputs: [report],
  });

  return new Pipeline({
    name: 'sensor-report',
    description: 'Python prepares sensor readings, Node.js summarises them, Python reports.',
    steps: [prepare, summarise, writeReport],
  });
}
