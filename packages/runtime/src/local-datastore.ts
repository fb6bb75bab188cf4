import { randomBytes } from 'node:crypto';
import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import {
  SluiceError,
  hashTree,
  type ContentIdentity,
  type Datastore,
  type DatastoreProviderPlugin,
  type StatCache,
  type UploadOptions,
} from '@sluice/core';
import { CORE_RANGE, RUNTIME_VERSION } from './version.js';

export interface LocalDatastoreOptions {
  /** The folder holding the store's files; relative paths are taken from the workspace folder. */
  path: string;
}

/**
 * Normalise a datastore path: '/'-separated, relative, with no '..' that leaves the store.
 * Throws DATASTORE_PATH_ESCAPE otherwise.
 */
export function normaliseStorePath(store: string, path: string): string {
  if (typeof path !== 'string') {
    throw new SluiceError('DATASTORE_PATH_ESCAPE', `Datastore "${store}": a path must be a string.`);
  }
  const unified = path.replace(/\\/g, '/');
  if (isAbsolute(path) || unified.startsWith('/') || /^[A-Za-z]:/.test(unified)) {
    throw new SluiceError(
      'DATASTORE_PATH_ESCAPE',
      `Datastore "${store}": "${path}" is absolute; give a path relative to the datastore root.`,
      { details: { datastore: store, path } },
    );
  }
  const parts: string[] = [];
  for (const part of unified.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new SluiceError(
        'DATASTORE_PATH_ESCAPE',
        `Datastore "${store}": "${path}" uses '..'; paths must stay inside the datastore.`,
        { details: { datastore: store, path } },
      );
    }
    parts.push(part);
  }
  return parts.join('/');
}

const tempName = (): string => `.sluice-tmp-${process.pid}-${randomBytes(6).toString('hex')}`;

/** A datastore that is a folder on this machine. */
export class LocalDatastore implements Datastore {
  readonly kind = 'local';
  readonly name: string;
  readonly root: string;
  readonly #statCache: StatCache | undefined;

  constructor(name: string, root: string, statCache?: StatCache) {
    this.name = name;
    this.root = resolve(root);
    this.#statCache = statCache;
  }

  localPath(path: string): string {
    const relative = normaliseStorePath(this.name, path);
    return relative === '' ? this.root : join(this.root, ...relative.split('/'));
  }

  async exists(path: string): Promise<boolean> {
    return stat(this.localPath(path)).then(
      () => true,
      () => false,
    );
  }

  async contentIdentity(path: string): Promise<ContentIdentity> {
    const local = this.localPath(path);
    if (!(await this.exists(path))) {
      throw new SluiceError(
        'DATASTORE_PATH_NOT_FOUND',
        `Datastore "${this.name}" has nothing at "${path}"; upload it first or fix the path.`,
        { details: { datastore: this.name, path } },
      );
    }
    const tree = await hashTree(local, this.#statCache ? { statCache: this.#statCache } : {});
    return { type: tree.type, digest: tree.digest, files: tree.files, bytes: tree.bytes };
  }

  /**
   * Copy a local file or folder into the store. The copy is made beside the target and renamed into place,
   * so readers see the old content or the new, never a part.
   */
  async upload(localPath: string, path: string, options: UploadOptions = {}): Promise<void> {
    const target = this.localPath(path);
    if (target === this.root) {
      throw new SluiceError(
        'DATASTORE_PATH_ESCAPE',
        `Datastore "${this.name}": give a target path inside the store.`,
      );
    }
    const source = await stat(localPath).catch(() => undefined);
    if (!source) {
      throw new SluiceError('DATASTORE_PATH_NOT_FOUND', `Cannot upload ${localPath}: it does not exist.`, {
        details: { path: localPath },
      });
    }
    if (!options.overwrite && (await this.exists(path))) {
      throw new SluiceError(
        'DATASTORE_FILE_EXISTS',
        `Datastore "${this.name}" already has "${path}"; pass overwrite: true to replace it.`,
        { details: { datastore: this.name, path } },
      );
    }
    await mkdir(dirname(target), { recursive: true });
    const staging = join(dirname(target), tempName());
    try {
      await cp(localPath, staging, { recursive: true, errorOnExist: true, force: false });
      if (options.overwrite) {
        const previous = join(dirname(target), tempName());
        const moved = await rename(target, previous).then(
          () => true,
          () => false,
        );
        await rename(staging, target);
        if (moved) await rm(previous, { recursive: true, force: true });
      } else {
        await renameNoReplace(staging, target, this.name, path);
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async download(path: string, localPath: string): Promise<void> {
    const source = this.localPath(path);
    if (!(await this.exists(path))) {
      throw new SluiceError(
        'DATASTORE_PATH_NOT_FOUND',
        `Datastore "${this.name}" has nothing at "${path}".`,
        { details: { datastore: this.name, path } },
      );
    }
    await mkdir(dirname(resolve(localPath)), { recursive: true });
    await cp(source, localPath, { recursive: true, force: true });
  }

  async delete(path: string): Promise<void> {
    const target = this.localPath(path);
    if (target === this.root) {
      throw new SluiceError(
        'DATASTORE_PATH_ESCAPE',
        `Datastore "${this.name}": refusing to delete the whole store.`,
      );
    }
    await rm(target, { recursive: true, force: true });
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, root: this.root };
  }
}

async function renameNoReplace(from: string, to: string, store: string, path: string): Promise<void> {
  // rename() replaces files silently and replaces empty folders; check once more just before it.
  if (
    await stat(to).then(
      () => true,
      () => false,
    )
  ) {
    throw new SluiceError(
      'DATASTORE_FILE_EXISTS',
      `Datastore "${store}" already has "${path}"; pass overwrite: true to replace it.`,
      { details: { datastore: store, path } },
    );
  }
  await rename(from, to);
}

/** The provider for local-folder datastores (built in). */
export function localDatastoreProvider(
  statCache?: () => StatCache | undefined,
): DatastoreProviderPlugin<LocalDatastoreOptions> {
  return {
    type: 'datastore',
    kind: 'local',
    name: '@sluice/runtime',
    version: RUNTIME_VERSION,
    coreRange: CORE_RANGE,
    createDatastore(name, options, { workspaceDir }) {
      const root = isAbsolute(options.path)
        ? options.path
        : join(workspaceDir, ...options.path.split(/[\\/]/));
      return new LocalDatastore(name, root, statCache?.());
    },
  };
}

export const isInside = (root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root.endsWith(sep) ? root : root + sep);
