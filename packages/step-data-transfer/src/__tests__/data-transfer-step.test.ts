import {
  DataReference,
  OutputFileDatasetConfig,
  Pipeline,
  PipelineData,
  PluginRegistry,
  isSluiceError,
  type ProducedData,
} from '@sluice/core';
import { Dataset } from '@sluice/runtime';
import { describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { DataTransferStep, dataTransferStep, sluicePlugins, type DataTransferStepOptions } from '../index.js';

const raw = new DataReference({ datastore: 'workspaceblobstore', pathOnDatastore: 'raw', name: 'raw' });
const file = new DataReference({ datastore: 'workspaceblobstore', pathOnDatastore: 'raw/a.csv', name: 'a' });

function refused(options: DataTransferStepOptions, message: RegExp): void {
  let error: unknown;
  try {
    new DataTransferStep(options);
  } catch (caught) {
    error = caught;
  }
  expect(isSluiceError(error, 'STEP_INVALID'), String(error)).toBe(true);
  expect((error as Error).message).toMatch(message);
}

describe('DataTransferStep', () => {
  it('copies into a PipelineData named <name>_output on the default datastore by default', () => {
    const step = new DataTransferStep({ name: 'copy.v2', sourceDataReference: raw });
    const output = step.getOutput();
    expect(output).toBeInstanceOf(PipelineData);
    expect(output.name).toBe('copy_v2_output');
    expect((output as PipelineData).datastore).toBeUndefined();
    expect(step.outputs).toEqual([output]);
    expect(step.kind).toBe('data-transfer');
    expect(step.plugin?.remoteData).toBe(true);
    expect(step.inputs.map((input) => input.name)).toEqual(['raw']);
    expect(step.config).toEqual({
      source: 'raw',
      destination: 'copy_v2_output',
      destinationReferenceType: 'directory',
    });
    expect(step.allowReuse).toBe(true);
    expect(step.sourceDirectory).toBeUndefined();
    expect(Object.isFrozen(step)).toBe(true);
  });

  it('takes upstream outputs, input bindings and single-path file datasets as sources', () => {
    const upstream = new PipelineData('prepared');
    const fromData = new DataTransferStep({ name: 'a', sourceDataReference: upstream });
    expect(fromData.inputs[0]!.source).toBe(upstream);
    const named = new DataTransferStep({
      name: 'b',
      sourceDataReference: raw.asDownload().asNamedInput('src'),
    });
    expect(named.config.source).toBe('src');
    const dataset = Dataset.File.fromFiles([['workspaceblobstore', 'raw/a.csv']]);
    expect(new DataTransferStep({ name: 'c', sourceDataReference: dataset }).inputs[0]!.source).toBe(dataset);
  });

  it('hands its output to downstream steps: the pipeline orders them by it', () => {
    const destination = new OutputFileDatasetConfig({
      name: 'copied',
      destination: ['workspacefilestore', 'copies/{run-id}'],
    });
    const transfer = new DataTransferStep({
      name: 'transfer',
      sourceDataReference: raw,
      destinationDataReference: destination,
      computeTarget: { name: 'local' },
      allowReuse: false,
    });
    expect(transfer.getOutput()).toBe(destination);
    expect(transfer.computeTarget).toBe('local');
    expect(transfer.allowReuse).toBe(false);
    const again = new DataTransferStep({
      name: 'again',
      sourceDataReference: transfer.getOutput().asDownload(),
      runAfter: [transfer],
    });
    const pipeline = new Pipeline({ steps: [again, transfer] });
    expect(pipeline.order).toEqual(['transfer', 'again']);
    expect(pipeline.edges).toContainEqual({ from: 'transfer', to: 'again', data: 'copied' });
  });

  it('refuses a destination that is not produced data, with what to use instead', () => {
    refused(
      {
        name: 't',
        sourceDataReference: raw,
        destinationDataReference: new DataReference({
          datastore: 'workspacefilestore',
          pathOnDatastore: 'copies',
          name: 'copies',
        }) as unknown as ProducedData,
      },
      /destinationDataReference "copies" is a reference to existing data.*new OutputFileDatasetConfig\(\{ name: 'copies', destination: \[datastore, 'path\/\{run-id\}'\] \}\)/,
    );
    refused(
      {
        name: 't',
        sourceDataReference: raw,
        destinationDataReference: new PipelineData('x').asDownload() as unknown as ProducedData,
      },
      /input binding; pass the PipelineData or OutputFileDatasetConfig itself/,
    );
    refused(
      { name: 't', sourceDataReference: raw, destinationDataReference: 'copies' as unknown as ProducedData },
      /must be a PipelineData or an OutputFileDatasetConfig; got string "copies"/,
    );
  });

  it('refuses sources it cannot copy', () => {
    refused(
      { name: 't', sourceDataReference: 'raw/a.csv' as unknown as DataReference },
      /needs a sourceDataReference: a DataReference/,
    );
    refused(
      {
        name: 't',
        sourceDataReference: Dataset.Tabular.fromDelimitedFiles([['workspaceblobstore', 'a.csv']]),
      },
      /tabular dataset.*Dataset\.File\.fromFiles/,
    );
    refused(
      { name: 't', sourceDataReference: Dataset.File.fromFiles([['workspaceblobstore', 'raw/*.csv']]) },
      /a wildcard path; a data transfer copies one file or folder/,
    );
    refused(
      {
        name: 't',
        sourceDataReference: Dataset.File.fromFiles([
          ['workspaceblobstore', 'a.csv'],
          ['workspaceblobstore', 'b.csv'],
        ]),
      },
      /2 paths/,
    );
  });

  it('checks the reference types against each other and against the paths given', () => {
    refused(
      { name: 't', sourceDataReference: raw, sourceReferenceType: 'folder' as 'directory' },
      /sourceReferenceType must be 'file' or 'directory'; got "folder"/,
    );
    refused(
      { name: 't', sourceDataReference: file, destinationReferenceType: 'blob' as 'file' },
      /destinationReferenceType must be 'file' or 'directory'/,
    );
    refused(
      {
        name: 't',
        sourceDataReference: raw,
        sourceReferenceType: 'directory',
        destinationReferenceType: 'file',
      },
      /a directory source cannot be copied into a file/,
    );
    refused(
      {
        name: 't',
        sourceDataReference: new DataReference({ datastore: 'd', pathOnDatastore: 'raw/', name: 'r' }),
        sourceReferenceType: 'file',
      },
      /sourceReferenceType is 'file' but the source path "raw\/" names a folder/,
    );
    refused(
      {
        name: 't',
        sourceDataReference: file,
        destinationDataReference: new OutputFileDatasetConfig({
          name: 'o',
          destination: ['d', 'copies/{run-id}/'],
        }),
        destinationReferenceType: 'file',
      },
      /destinationReferenceType is 'file' but the destination path "copies\/\{run-id\}\/" names a folder/,
    );
    refused(
      {
        name: 't',
        sourceDataReference: raw,
        destinationDataReference: new OutputFileDatasetConfig({
          name: 'o',
          destination: ['workspaceblobstore', 'raw/copy'],
        }),
      },
      /overlaps the source workspaceblobstore:raw/,
    );
    const fileToFile = new DataTransferStep({
      name: 't',
      sourceDataReference: file,
      sourceReferenceType: 'file',
      destinationReferenceType: 'file',
    });
    expect(fileToFile.config).toMatchObject({
      sourceReferenceType: 'file',
      destinationReferenceType: 'file',
    });
  });

  it('takes a name with spaces as its display name, and refuses an empty one with the step error code', () => {
    const step = new DataTransferStep({ name: 'Copy raw data', sourceDataReference: raw });
    expect(step.name).toBe('Copy_raw_data');
    expect(step.displayName).toBe('Copy raw data');
    expect(step.outputs[0]!.name).toBe('Copy_raw_data_output');
    refused({ name: ' ', sourceDataReference: raw }, /Step name " " is not valid/);
  });
});

describe('dataTransferStep()', () => {
  it('is a remote-data step kind whose fingerprint holds the reference types', () => {
    const plugin = dataTransferStep();
    expect(plugin).toMatchObject({
      type: 'step',
      kind: 'data-transfer',
      name: '@sluice/step-data-transfer',
      version: pkg.version,
      coreRange: pkg.peerDependencies['@sluice/core'],
      remoteData: true,
    });
    const step = new DataTransferStep({ name: 't', sourceDataReference: file, sourceReferenceType: 'file' });
    expect(plugin.fingerprint(step)).toEqual([
      { name: 'referenceTypes', value: { source: 'file', destination: 'directory' } },
    ]);
    expect(plugin.fingerprint(new DataTransferStep({ name: 't', sourceDataReference: raw }))).toEqual([
      { name: 'referenceTypes', value: { source: null, destination: 'directory' } },
    ]);
  });

  it('registers with a registry, once, through sluicePlugins()', () => {
    const registry = new PluginRegistry();
    for (const plugin of sluicePlugins()) registry.use(plugin);
    expect(registry.step('data-transfer').kind).toBe('data-transfer');
    expect(() => registry.use(dataTransferStep())).toThrow(/data-transfer/);
  });
});
