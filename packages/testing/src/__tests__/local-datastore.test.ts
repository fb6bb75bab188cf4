import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
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

// A workspace config may point a datastore at a linked folder: everything works the same through it.
testDatastore('LocalDatastore whose folder is a symbolic link', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sluice-linked-store-'));
  await mkdir(join(root, 'real', 'store'), { recursive: true });
  await symlink(join(root, 'real'), join(root, 'linked'));
  return {
    datastore: new LocalDatastore('linked-conformance', join(root, 'linked', 'store')),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
