import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CondaDependencies,
  DataReference,
  InputBinding,
  Environment,
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  PipelineParameter,
  PluginRegistry,
  RunConfiguration,
  SluiceError,
  coerceParameterValue,
  defineStep,
  pipelineToSpec,
  resolveParameterValues,
} from '@sluice/core';
import {
  AmlCompute,
  ComputeTarget,
  Dataset,
  Datastore,
  Experiment,
  PipelineRun,
  Workspace,
  localCompute,
  parseDuration,
} from '@sluice/runtime';
import { PythonScriptStep } from '../index.js';
import { tempDir } from './helpers.js';

/**
 * Every public constructor and function of core, runtime and step-python, fed argument shapes a user gets
 * wrong (a wrong type, a missing field, null, a string where options go): each must be refused with a coded
 * SluiceError that says what to pass, never a raw TypeError.
 */
let ws: Workspace;
let dir: string;
beforeAll(async () => {
  dir = await tempDir();
  ws = Workspace.create(path.join(dir, 'ws'));
  await writeFile(path.join(dir, 'train.py'), 'print(1)\n');
});
afterAll(async () => {
  await ws.close();
});

const anything = null as never;
const step = (options: Record<string, unknown>): PythonScriptStep =>
  new PythonScriptStep({
    name: 'train',
    scriptName: 'train.py',
    sourceDirectory: 'src',
    ...options,
  } as never);

const cases: Array<[string, () => unknown]> = [
  // core: data
  ['PipelineData(5)', () => new PipelineData(5 as never)],
  ['PipelineData(name, null)', () => new PipelineData('d', anything)],
  ['PipelineData(name, "store")', () => new PipelineData('d', 'workspaceblobstore' as never)],
  ['OutputFileDatasetConfig("name")', () => new OutputFileDatasetConfig('out' as never)],
  ['OutputFileDatasetConfig(null)', () => new OutputFileDatasetConfig(anything)],
  [
    'OutputFileDatasetConfig({ destination: 5 })',
    () => new OutputFileDatasetConfig({ destination: 5 as never }),
  ],
  [
    'OutputFileDatasetConfig({ destination: {} })',
    () => new OutputFileDatasetConfig({ destination: {} as never }),
  ],
  [
    'OutputFileDatasetConfig({ destination: [null, path] })',
    () => new OutputFileDatasetConfig({ destination: [anything, 'p'] }),
  ],
  [
    'OutputFileDatasetConfig({ destination: [store, 5] })',
    () => new OutputFileDatasetConfig({ destination: ['ds', 5 as never] }),
  ],
  ['OutputFileDatasetConfig({ name: "a b" })', () => new OutputFileDatasetConfig({ name: 'a b' })],
  ['registerOnComplete(null)', () => new OutputFileDatasetConfig({ name: 'o' }).registerOnComplete(anything)],
  ['unnamed output read before a step names it', () => new OutputFileDatasetConfig().name],
  ['DataReference(null)', () => new DataReference(anything)],
  ['DataReference({})', () => new DataReference({} as never)],
  ['DataReference({ datastore })', () => new DataReference({ datastore: 'ds', name: 'n' } as never)],
  [
    'DataReference({ datastore: 5 })',
    () => new DataReference({ datastore: 5 as never, pathOnDatastore: 'x', name: 'n' }),
  ],
  ['asNamedInput(5)', () => new PipelineData('d').asInput().asNamedInput(5 as never)],
  ['PipelineParameter(null)', () => new PipelineParameter(anything)],
  ['PipelineParameter({ name: 5 })', () => new PipelineParameter({ name: 5 } as never)],
  [
    'PipelineParameter({ defaultValue: {} })',
    () => new PipelineParameter({ name: 'p', defaultValue: {} as never }),
  ],
  // core: environments
  ['Environment(null)', () => new Environment(anything)],
  ['Environment({ name: "" })', () => new Environment({ name: '' })],
  ['Environment({ version: 1 })', () => new Environment({ name: 'e', version: 1 as never })],
  [
    'Environment({ environmentVariables: "x" })',
    () => new Environment({ name: 'e', environmentVariables: 'x' as never }),
  ],
  [
    'Environment({ environmentVariables: { A: 1 } })',
    () => new Environment({ name: 'e', environmentVariables: { A: 1 as never } }),
  ],
  ['Environment({ packages: "numpy" })', () => new Environment({ name: 'e', packages: 'numpy' as never })],
  ['Environment.get(null, name)', () => Environment.get(anything, 'e')],
  ['Environment.get(ws, unknown)', () => Environment.get(ws, 'AzureML-Tutorial')],
  [
    'CondaDependencies.create({ pipPackages: "pandas" })',
    () => CondaDependencies.create({ pipPackages: 'pandas' as never }),
  ],
  ['RunConfiguration(null)', () => new RunConfiguration(anything)],
  ['RunConfiguration({ environment: "env" })', () => new RunConfiguration({ environment: 'env' as never })],
  // core: steps, pipelines, plugins
  ['defineStep(null)', () => defineStep(anything)],
  ['Pipeline(null)', () => new Pipeline(anything)],
  ['Pipeline({ steps: "x" })', () => new Pipeline({ steps: 'x' as never })],
  ['Pipeline({ steps: [null] })', () => new Pipeline({ steps: [anything] })],
  ['Pipeline({ steps: [] })', () => new Pipeline({ steps: [] })],
  ['registry.use(null)', () => new PluginRegistry().use(anything)],
  ['registry.use({})', () => new PluginRegistry().use({} as never)],
  // step-python
  ['PythonScriptStep(null)', () => new PythonScriptStep(anything)],
  ['PythonScriptStep({})', () => new PythonScriptStep({} as never)],
  ['PythonScriptStep({ scriptName: 5 })', () => step({ scriptName: 5 })],
  ['PythonScriptStep({ sourceDirectory: 5 })', () => step({ sourceDirectory: 5 })],
  ['PythonScriptStep({ name: "" })', () => step({ name: '' })],
  ['PythonScriptStep({ name: 5 })', () => step({ name: 5 })],
  ['PythonScriptStep({ arguments: "--x" })', () => step({ arguments: '--x' })],
  ['PythonScriptStep({ arguments: [{}] })', () => step({ arguments: [{}] })],
  ['PythonScriptStep({ inputs: "data" })', () => step({ inputs: 'data' })],
  ['PythonScriptStep({ inputs: [5] })', () => step({ inputs: [5] })],
  ['PythonScriptStep({ outputs: {} })', () => step({ outputs: {} })],
  ['PythonScriptStep({ outputs: [null] })', () => step({ outputs: [null] })],
  ['PythonScriptStep({ computeTarget: 5 })', () => step({ computeTarget: 5 })],
  ['PythonScriptStep({ computeTarget: {} })', () => step({ computeTarget: {} })],
  ['PythonScriptStep({ runConfig: {} })', () => step({ runConfig: {} })],
  ['PythonScriptStep({ runAfter: "prep" })', () => step({ runAfter: 'prep' })],
  ['PythonScriptStep({ runAfter: [null] })', () => step({ runAfter: [null] })],
  ['PythonScriptStep({ timeoutSeconds: "1" })', () => step({ timeoutSeconds: '1' })],
  // runtime: workspaces and datastores
  ['Workspace.create(5)', () => Workspace.create(5 as never)],
  ['Workspace.create(dir, null)', () => Workspace.create(path.join(dir, 'other'), anything)],
  ['Workspace.open(null)', () => Workspace.open(anything)],
  ['Workspace.open(missing)', () => Workspace.open(path.join(dir, 'missing'))],
  ['Workspace.fromConfig(null)', () => Workspace.fromConfig(anything)],
  ['Workspace.fromConfig({ path: 5 })', () => Workspace.fromConfig({ path: 5 as never })],
  ['ws.datastore(5)', () => ws.datastore(5 as never)],
  ['Datastore.get(null, name)', () => Datastore.get(anything, 'workspaceblobstore')],
  ['Datastore.get(ws, unknown)', () => Datastore.get(ws, 'nope')],
  ['uploadFiles("iris.csv")', () => ws.getDefaultDatastore().uploadFiles('iris.csv' as never)],
  ['uploadFiles([5])', () => ws.getDefaultDatastore().uploadFiles([5 as never])],
  ['uploadFiles(files, null)', () => ws.getDefaultDatastore().uploadFiles([], anything)],
  ['Dataset.File.fromFiles(null)', () => Dataset.File.fromFiles(anything)],
  ['Dataset.Tabular.fromDelimitedFiles(5)', () => Dataset.Tabular.fromDelimitedFiles(5 as never)],
  // runtime: compute
  ['ComputeTarget.create(ws, 5, config)', () => ComputeTarget.create(ws, 5 as never, localCompute())],
  ['ComputeTarget.create(ws, name, null)', () => ComputeTarget.create(ws, 'cpu', anything)],
  ['ComputeTarget.create(ws, name, {})', () => ComputeTarget.create(ws, 'cpu', {} as never)],
  ['ComputeTarget.get(ws, unknown)', () => ComputeTarget.get(ws, 'aml-compute')],
  ['ComputeTarget.get(ws, null)', () => ComputeTarget.get(ws, anything)],
  ['AmlCompute.provisioningConfiguration("x")', () => AmlCompute.provisioningConfiguration('x' as never)],
  [
    'AmlCompute.provisioningConfiguration({ maxNodes: 0 })',
    () => AmlCompute.provisioningConfiguration({ maxNodes: 0 }),
  ],
  ['localCompute({ maxConcurrency: "2" })', () => localCompute({ maxConcurrency: '2' as never })],
  // runtime: experiments and runs
  ['Experiment(null, name)', () => new Experiment(anything, 'exp')],
  ['Experiment(ws, 5)', () => new Experiment(ws, 5 as never)],
  ['submit(null)', () => new Experiment(ws, 'exp').submit(anything)],
  ['submit(steps array)', () => new Experiment(ws, 'exp').submit([step({})] as never)],
  [
    'submit(pipeline, null)',
    () => new Experiment(ws, 'exp').submit(new Pipeline({ steps: [step({})] }), anything),
  ],
  ['PipelineRun.get(ws, unknown)', () => PipelineRun.get(ws, 'nope')],
  ['PipelineRun.get(null, id)', () => PipelineRun.get(anything, 'latest')],
  ['experiment.listRuns("10")', () => new Experiment(ws, 'exp').listRuns('10' as never)],
  ['ComputeTarget.get(null, name)', () => ComputeTarget.get(anything, 'cpu')],
  ['ComputeTarget.list(null)', () => ComputeTarget.list(anything)],
  ['ComputeTarget.create(null, name, config)', () => ComputeTarget.create(anything, 'cpu', localCompute())],
  [
    'ws.registerDatastore(5, config)',
    () => ws.registerDatastore(5 as never, { provider: 'local', options: {} }),
  ],
  ['ws.registerDatastore(name, null)', () => ws.registerDatastore('images', anything)],
  ['Dataset.get(null, name)', () => Dataset.get(anything, 'iris')],
  ['parseDuration(5)', () => parseDuration(5 as never)],
  // core: functions
  ['pipelineToSpec(null)', () => pipelineToSpec(anything)],
  ['resolveParameterValues(map, null)', () => resolveParameterValues(new Map(), anything)],
  ['resolveParameterValues(null)', () => resolveParameterValues(anything)],
  ['coerceParameterValue(null, 1)', () => coerceParameterValue(anything, 1)],
  ['new InputBinding(null, mode)', () => new InputBinding(anything, 'mount')],
  ['new InputBinding(data, "copy")', () => new InputBinding(new PipelineData('d'), 'copy' as never)],
  ['PipelineRun.get(ws, 5)', () => PipelineRun.get(ws, 5 as never)],
];

describe('wrong argument shapes', () => {
  it.each(cases)('%s is refused with a coded SluiceError', async (_label, call) => {
    let error: unknown;
    try {
      await call();
    } catch (caught) {
      error = caught;
    }
    expect(error, 'nothing was thrown').toBeDefined();
    if (!(error instanceof SluiceError))
      throw new Error(`not a SluiceError: ${String(error)}`, { cause: error });
    expect(error.code).toMatch(/^[A-Z_]+$/);
    expect(error.message.length).toBeGreaterThan(20);
  });
});
