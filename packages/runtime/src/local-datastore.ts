import { randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import pLimit from 'p-limit';
import {
  SluiceError,
  hashTree,
  listTree,
  type ContentIdentity,
  type Datastore,
  type DatastoreEntry,
  type DatastoreProviderPlugin,
  type StatCache,
  type TransferOptions,
  type UploadOptions,
} from '@sluice/core';
import { LOCAL_DATASTORE_OPTIONS_SCHEMA } from './config-schema.js';
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

const DEFAULT_CONCURRENCY = 8;

/** Does a relative path lie in one of Sluice's own folders inside a store (staging, partial outputs)? */
const isInternal = (rel: string): boolean => rel.split('/').some((part) => part.startsWith('.sluice-'));

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

  uri(path: string): string {
    return pathToFileURL(this.localPath(path)).href;
  }

  async exists(path: string): Promise<boolean> {
    return stat(this.localPath(path)).then(
      () => true,
      () => false,
    );
  }

  #notFound(path: string): SluiceError {
    return new SluiceError(
      'DATASTORE_PATH_NOT_FOUND',
      `Datastore "${this.name}" has nothing at "${path}"; upload it first or fix the path.`,
      { details: { datastore: this.name, path } },
    );
  }

  async list(path: string): Promise<DatastoreEntry[]> {
    const base = normaliseStorePath(this.name, path);
    const local = this.localPath(base);
    const info = await stat(local).catch(() => undefined);
    if (!info) return [];
    if (info.isFile()) {
      return [{ path: base, size: info.size, lastModified: info.mtime.toISOString() }];
    }
    const entries: DatastoreEntry[] = [];
    for (const rel of await listTree(local)) {
      if (isInternal(rel)) continue;
      const file = await stat(join(local, ...rel.split('/')));
      entries.push({
        path: base ? `${base}/${rel}` : rel,
        size: file.size,
        lastModified: file.mtime.toISOString(),
      });
    }
    return entries;
  }

  async contentIdentity(path: string): Promise<ContentIdentity> {
    const local = this.localPath(path);
    if (!(await this.exists(path))) throw this.#notFound(path);
    const tree = await hashTree(local, this.#statCache ? { statCache: this.#statCache } : {});
    return { type: tree.type, digest: tree.digest, files: tree.files, bytes: tree.bytes };
  }

  async read(path: string): Promise<NodeJS.ReadableStream> {
    const local = this.localPath(path);
    const info = await stat(local).catch(() => undefined);
    if (!info?.isFile()) throw this.#notFound(path);
    return createReadStream(local);
  }

  async write(
    path: string,
    data: Uint8Array | NodeJS.ReadableStream,
    options: { overwrite?: boolean } = {},
  ): Promise<void> {
    const target = this.#target(path);
    if (!options.overwrite && (await this.exists(path))) throw this.#exists(path);
    await mkdir(dirname(target), { recursive: true });
    const staging = join(dirname(target), tempName());
    try {
      if (data instanceof Uint8Array) await writeFile(staging, data, { flag: 'wx' });
      else await pipeline(data, createWriteStream(staging, { flags: 'wx' }));
      await this.#commit(staging, target, path, options.overwrite ?? false);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * Copy a local file or folder into the store. The copy is made beside the target and renamed into place,
   * so readers see the old content or the new, never a part.
   */
  async upload(localPath: string, path: string, options: UploadOptions = {}): Promise<void> {
    const target = this.#target(path);
    const source = await stat(localPath).catch(() => undefined);
    if (!source) {
      throw new SluiceError('DATASTORE_PATH_NOT_FOUND', `Cannot upload ${localPath}: it does not exist.`, {
        details: { path: localPath },
      });
    }
    if (!options.overwrite && (await this.exists(path))) throw this.#exists(path);
    await mkdir(dirname(target), { recursive: true });
    const staging = join(dirname(target), tempName());
    try {
      // copying out of this store (copy()) leaves its staging folders behind
      const fromStore = resolve(localPath).startsWith(`${this.root}${sep}`);
      await copyTree(localPath, staging, options, fromStore);
      await this.#commit(staging, target, path, options.overwrite ?? false);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async download(path: string, localPath: string, options: TransferOptions = {}): Promise<void> {
    const source = this.localPath(path);
    if (!(await this.exists(path))) throw this.#notFound(path);
    await mkdir(dirname(resolve(localPath)), { recursive: true });
    await copyTree(source, localPath, options, true);
  }

  async copy(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    if (!(await this.exists(from))) throw this.#notFound(from);
    await this.upload(this.localPath(from), to, options);
  }

  async delete(path: string): Promise<void> {
    await rm(this.#target(path), { recursive: true, force: true });
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, root: this.root };
  }

  /** The local path of a target inside the store (never the store root itself). */
  #target(path: string): string {
    const target = this.localPath(path);
    if (target === this.root) {
      throw new SluiceError(
        'DATASTORE_PATH_ESCAPE',
        `Datastore "${this.name}": give a path inside the store, not its root.`,
        { details: { datastore: this.name, path } },
      );
    }
    return target;
  }

  #exists(path: string): SluiceError {
    return new SluiceError(
      'DATASTORE_FILE_EXISTS',
      `Datastore "${this.name}" already has "${path}"; pass overwrite: true to replace it.`,
      { details: { datastore: this.name, path } },
    );
  }

  /** Move a staged file or folder into place: replacing atomically, or refusing if something is there. */
  async #commit(staging: string, target: string, path: string, overwrite: boolean): Promise<void> {
    if (!overwrite) {
      // rename() would replace a file (or an empty folder) silently; check once more just before it
      if (
        await stat(target).then(
          () => true,
          () => false,
        )
      )
        throw this.#exists(path);
      await rename(staging, target);
      return;
    }
    const previous = join(dirname(target), tempName());
    const moved = await rename(target, previous).then(
      () => true,
      () => false,
    );
    await rename(staging, target);
    if (moved) await rm(previous, { recursive: true, force: true });
  }
}

/** Copy a file or a folder's files, several at a time, reporting progress per file. */
async function copyTree(
  from: string,
  to: string,
  options: TransferOptions,
  skipInternal = false,
): Promise<void> {
  const info = await stat(from);
  const listed = info.isFile() ? [''] : await listTree(from);
  // Sluice's own staging folders inside a store are not part of its content
  const files = skipInternal ? listed.filter((rel) => !isInternal(rel)) : listed;
  const sizes = await Promise.all(
    files.map(async (rel) => (rel ? (await stat(join(from, rel))).size : info.size)),
  );
  const totalBytes = sizes.reduce((sum, size) => sum + size, 0);
  if (!info.isFile()) await mkdir(to, { recursive: true });
  let done = 0;
  let bytes = 0;
  const limit = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY);
  await Promise.all(
    files.map((rel, index) =>
      limit(async () => {
        if (options.signal?.aborted) throw new SluiceError('RUN_CANCELED', 'The transfer was canceled.');
        const source = rel ? join(from, ...rel.split('/')) : from;
        const target = rel ? join(to, ...rel.split('/')) : to;
        await mkdir(dirname(target), { recursive: true });
        await copyFile(source, target, constants.COPYFILE_FICLONE);
        bytes += sizes[index]!;
        options.onProgress?.({
          files: ++done,
          totalFiles: files.length,
          bytes,
          totalBytes,
          path: rel || basename(from),
        });
      }),
    ),
  );
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
    optionsSchema: LOCAL_DATASTORE_OPTIONS_SCHEMA,
    createDatastore(name, options, { workspaceDir }) {
      const root = isAbsolute(options.path)
        ? options.path
        : join(workspaceDir, ...options.path.split(/[\\/]/));
      return new LocalDatastore(name, root, statCache?.());
    },
  };
}
