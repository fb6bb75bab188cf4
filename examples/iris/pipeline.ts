import { fileURLToPath } from 'node:url';
import {
  Environment,
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  PipelineParameter,
  RunConfiguration,
} from '@sluice/core';
import { Dataset, type Workspace } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';

/** The experiment the runs of this pipeline are recorded under. */
export const experimentName = 'iris';

const DATA_FILE = fileURLToPath(new URL('./data/iris.csv', import.meta.url));
const SOURCE_DIRECTORY = fileURLToPath(new URL('./src', import.meta.url));
const PATH_ON_DATASTORE = 'iris/iris.csv';

/** Prepare the iris data, train a softmax regression on it and compare it with a simple baseline. */
export default async function irisPipeline({ workspace }: { workspace: Workspace }): Promise<Pipeline> {
  const ds = workspace.getDefaultDatastore();
  if (!(await ds.exists(PATH_ON_DATASTORE))) {
    await ds.uploadFiles([DATA_FILE], { targetPath: 'iris' });
  }

  // As in the original article: a tabular dataset over the uploaded file, consumed under a name, and the
  // prepared data written to a chosen datastore path and registered as a dataset when the step finishes.
  const irisData = Dataset.Tabular.fromDelimitedFiles([[ds, PATH_ON_DATASTORE]]).asNamedInput('iris_data');
  const preppedData = new OutputFileDatasetConfig({
    name: 'prepped_data',
    destination: [ds, 'outputdataset/{run-id}'],
  }).registerOnComplete({ name: 'iris_prepped' });
  const model = new PipelineData('model');
  const report = new PipelineData('report');
  const learningRate = new PipelineParameter({ name: 'learning_rate', defaultValue: 0.1 });
  // The scripts need Python 3's standard library only, so the steps run python3 as it is (nothing to build);
  // its version and installed distributions are recorded with each step run and are part of its fingerprint.
  const runConfig = new RunConfiguration({
    environment: new Environment({
      name: 'iris',
      python: { interpreter: 'python3', version: '3' },
      inherit: true,
    }),
  });

  const prepare = new PythonScriptStep({
    name: 'prepare',
    scriptName: 'prepare.py',
    sourceDirectory: SOURCE_DIRECTORY,
    runConfig,
    inputs: [irisData],
    outputs: [preppedData],
    arguments: ['--output_dir', preppedData, '--test_fraction', 0.2, '--seed', 42],
  });

  const train = new PythonScriptStep({
    name: 'train',
    scriptName: 'train.py',
    sourceDirectory: SOURCE_DIRECTORY,
    runConfig,
    inputs: [preppedData.asInput()],
    outputs: [model],
    arguments: [
      '--input_dir',
      preppedData,
      '--output_dir',
      model,
      '--learning_rate',
      learningRate,
      '--epochs',
      1000,
    ],
  });

  const compare = new PythonScriptStep({
    name: 'compare',
    scriptName: 'compare.py',
    sourceDirectory: SOURCE_DIRECTORY,
    runConfig,
    inputs: [preppedData.asInput(), model],
    outputs: [report],
    arguments: ['--data_dir', preppedData, '--model_dir', model, '--output_dir', report],
  });

  return new Pipeline({
    name: 'iris',
    description:
      'Iris: prepare the data, train a softmax regression, compare it with a nearest-centroid baseline.',
    steps: [prepare, train, [compare]],
  });
}
