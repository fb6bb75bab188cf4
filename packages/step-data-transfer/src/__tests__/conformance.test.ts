/**
 * The shared step kind conformance suite. A succeeding transfer copies a folder holding `result.txt` (with
 * the text the suite gives) into the step's output; a failing one declares its folder source a file, which
 * the copy refuses when it runs. A copy cannot be made to run for a minute, so the cancel test is skipped.
 */
import { createHash } from 'node:crypto';
import { DataReference } from '@sluice/core';
import { testStepKind } from '@sluice/testing';
import { DataTransferStep, dataTransferStep, type DataTransferConfig } from '../index.js';

testStepKind<DataTransferConfig>('DataTransferStep', () => ({
  plugin: dataTransferStep(),
  unsupported: ['sleep'],
  async makeStep({ name, behaviour, output, text, allowReuse, workspace }) {
    const folder = `conformance/${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    const store = workspace.getDefaultDatastore();
    if (!(await store.exists(`${folder}/result.txt`))) {
      await store.write(`${folder}/result.txt`, Buffer.from(text));
    }
    return new DataTransferStep({
      name,
      sourceDataReference: new DataReference({ datastore: store, pathOnDatastore: folder, name: 'source' }),
      sourceReferenceType: behaviour === 'fail' ? 'file' : 'directory',
      destinationDataReference: output,
      allowReuse,
    });
  },
}));
