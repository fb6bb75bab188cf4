import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDatastore } from '@sluice/runtime';
import { testDatastore } from '../index.js';

// The reference implementation must pass the suite every other datastore is held to.
testDatastore('LocalDatastore (@sluice/runtime)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sluice-local-store-'));
  return {
    datastore: new LocalDatastore('local-conformance', join(root, 'store')),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
