import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDatastore } from '@sluice/runtime';
import { expect, it } from 'vitest';
import { expectCode, testDatastore } from '../index.js';

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

it('refuses every operation, with a code, when the datastore folder is a link to nothing', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sluice-dangling-store-'));
  try {
    await symlink(join(root, 'gone'), join(root, 'store'));
    const store = new LocalDatastore('dangling', join(root, 'store'));
    await expectCode(() => store.write('a.txt', new Uint8Array([1])), 'DATASTORE_PATH_NOT_FOUND');
    await expectCode(() => store.exists('a.txt'), 'DATASTORE_PATH_NOT_FOUND');
    await expectCode(() => store.list(''), 'DATASTORE_PATH_NOT_FOUND');
    expect(await readdir(root)).toEqual(['store']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
