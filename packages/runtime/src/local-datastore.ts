import { randomBytes } from 'node:crypto';
import { constants, createWriteStream, lstatSync, realpathSync } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
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

/** Is `path` (a real path) `folder` itself or below it? */
function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The real path of `path`, or, when it does not exist yet, of its deepest existing ancestor plus the rest. */
function realPathOf(path: string): string {
  try {
    return realpathSync.native(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const parent = dirname(path);
    // a link to nothing is not a place that does not exist yet: what is made through it lands elsewhere
    const dangling = lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
    if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === path || dangling) throw error;
    return join(realPathOf(parent), basename(path));
  }
}

/** `O_NOFOLLOW` where the platform has it: opening a symbolic link then fails instead of following it. */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * A datastore that is a folder on this machine.
 *
 * Symbolic links: every path is resolved to its real path before it is used, and a path that leads
 * outside the datastore's folder through a link (or through a link to nothing, except as its last part)
 * is refused with DATASTORE_PATH_ESCAPE, for reads and writes alike. Folders are read (listed, hashed,
 * downloaded, copied) only when every link inside them leads inside the datastore too. Links that stay
 * inside keep working, and the datastore folder itself may be a link.
 */
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

  /**
   * The real local path of `path`. Every symbolic link on the way must lead to an existing place inside
   * the datastore; a link to nothing as the last part is returned as it is (it is never followed: writes
   * replace the link).
   */
  localPath(path: string): string {
    return this.#resolve(path, true);
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
    for (const rel of await this.#confined(() => listTree(local, undefined, { within: this.#realRoot() }))) {
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
    const tree = await this.#confined(() =>
      hashTree(local, {
        within: this.#realRoot(),
        ...(this.#statCache ? { statCache: this.#statCache } : {}),
      }),
    );
    return { type: tree.type, digest: tree.digest, files: tree.files, bytes: tree.bytes };
  }

  async read(path: string): Promise<NodeJS.ReadableStream> {
    const local = this.localPath(path);
    const info = await stat(local).catch(() => undefined);
    if (!info?.isFile()) throw this.#notFound(path);
    // `local` is a real path: a link put in its place since is not followed, and a folder on the way
    // swapped for a link shows as another file once the path is resolved again
    const handle = await open(local, constants.O_RDONLY | NO_FOLLOW).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ELOOP' ? this.#changed(path) : error;
    });
    try {
      const opened = await handle.stat();
      const again = await stat(this.localPath(path)).catch(() => undefined);
      if (again?.ino !== opened.ino || again.dev !== opened.dev) throw this.#changed(path);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return handle.createReadStream();
  }

  async write(
    path: string,
    data: Uint8Array | NodeJS.ReadableStream,
    options: { overwrite?: boolean } = {},
  ): Promise<void> {
    const target = this.#target(path);
    if (!options.overwrite && (await this.exists(path))) throw this.#exists(path);
    await this.#makeParent(path, target);
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
   * so readers see the old content or the new, never a part. Links in a folder from this machine are
   * followed (they are the user's files); a folder from this store is read only if its links stay inside it.
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
    // copying out of this store (copy()) keeps to its rules and leaves its staging folders behind
    const root = this.#realRoot();
    const fromStore = isInside(realPathOf(resolve(localPath)), root) ? root : undefined;
    await this.#makeParent(path, target);
    const staging = join(dirname(target), tempName());
    try {
      await this.#confined(() => copyTree(localPath, staging, options, fromStore));
      await this.#commit(staging, target, path, options.overwrite ?? false);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async download(path: string, localPath: string, options: TransferOptions = {}): Promise<void> {
    const source = this.localPath(path);
    if (!(await this.exists(path))) throw this.#notFound(path);
    await mkdir(dirname(resolve(localPath)), { recursive: true });
    await this.#confined(() => copyTree(source, localPath, options, this.#realRoot()));
  }

  async copy(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    if (!(await this.exists(from))) throw this.#notFound(from);
    await this.upload(this.localPath(from), to, options);
  }

  /** Remove a file or folder; a link as the last part is removed itself (what it points to is not touched). */
  async delete(path: string): Promise<void> {
    if (normaliseStorePath(this.name, path) === '') throw this.#rootRefused(path);
    await rm(this.#resolve(path, false), { recursive: true, force: true });
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, root: this.root };
  }

  /** The real path of the datastore folder (the folder itself may be a link, or not exist yet). */
  #realRoot(): string {
    try {
      return realPathOf(this.root);
    } catch (error) {
      throw new SluiceError(
        'DATASTORE_PATH_NOT_FOUND',
        `Datastore "${this.name}": its folder ${this.root} cannot be resolved (${(error as Error).message}); fix the datastore's path in the workspace config.`,
        { cause: error, details: { datastore: this.name } },
      );
    }
  }

  /** Resolve `path` part by part from the real datastore folder, refusing any link that leads out of it. */
  #resolve(path: string, followLast: boolean): string {
    const parts = normaliseStorePath(this.name, path).split('/').filter(Boolean);
    const root = this.#realRoot();
    let current = root;
    for (const [index, part] of parts.entries()) {
      const next = join(current, part);
      const last = index === parts.length - 1;
      let isLink: boolean;
      try {
        isLink = lstatSync(next).isSymbolicLink();
      } catch {
        // nothing there (or not a folder): what follows cannot pass through a link either
        return join(next, ...parts.slice(index + 1));
      }
      if (!isLink || (last && !followLast)) {
        current = next;
        continue;
      }
      let real: string | undefined;
      try {
        real = realpathSync.native(next);
      } catch {
        // a link to nothing: harmless as the last part (writes replace it), refused on the way anywhere
        if (last) return next;
      }
      if (real === undefined || !isInside(real, root)) {
        throw this.#escape(path, parts.slice(0, index + 1).join('/'), real === undefined);
      }
      current = real;
    }
    return current;
  }

  #escape(path: string, link: string, broken: boolean): SluiceError {
    return new SluiceError(
      'DATASTORE_PATH_ESCAPE',
      `Datastore "${this.name}": "${path}" goes through "${link}", a symbolic link ${broken ? 'to nothing' : 'that leads outside the datastore'}; links are followed only to places inside it. Replace the link with a folder or a copy of what it points to.`,
      { details: { datastore: this.name, path, link } },
    );
  }

  #changed(path: string): SluiceError {
    return new SluiceError(
      'DATASTORE_PATH_ESCAPE',
      `Datastore "${this.name}": "${path}" was replaced (by a symbolic link, or through one) while it was being opened; try again, and check what else writes into the datastore folder.`,
      { details: { datastore: this.name, path } },
    );
  }

  /** Run a walk of a folder confined to the store, naming an escaping link by its datastore path. */
  async #confined<T>(walk: () => Promise<T>): Promise<T> {
    try {
      return await walk();
    } catch (error) {
      if (!(error instanceof SluiceError) || error.code !== 'DATASTORE_PATH_ESCAPE') throw error;
      const local = String((error.details as { path?: unknown } | undefined)?.path ?? '');
      const root = this.#realRoot();
      if (!local || !isInside(resolve(local), root)) throw error;
      const link = relative(root, resolve(local)).split(sep).join('/');
      throw new SluiceError(
        'DATASTORE_PATH_ESCAPE',
        `Datastore "${this.name}": "${link}" is a symbolic link that leads outside the datastore; links are followed only to places inside it. Replace the link with a copy of what it points to.`,
        { cause: error, details: { datastore: this.name, path: link } },
      );
    }
  }

  /** The local path of a target inside the store (never the store root itself). */
  #target(path: string): string {
    if (normaliseStorePath(this.name, path) === '') throw this.#rootRefused(path);
    return this.localPath(path);
  }

  #rootRefused(path: string): SluiceError {
    return new SluiceError(
      'DATASTORE_PATH_ESCAPE',
      `Datastore "${this.name}": give a path inside the store, not its root.`,
      { details: { datastore: this.name, path } },
    );
  }

  /**
   * Create the folder a target goes into, then resolve the path again: a folder on the way swapped for a
   * link meanwhile is refused before anything is written into it.
   */
  async #makeParent(path: string, target: string): Promise<void> {
    await mkdir(dirname(target), { recursive: true });
    if (this.localPath(path) !== target) throw this.#changed(path);
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

/**
 * Copy a file or a folder's files, several at a time, reporting progress per file. `store` is the real path
 * of the datastore folder when copying out of one: its staging folders are left behind, and links inside
 * `from` are followed only when they lead inside it.
 */
async function copyTree(from: string, to: string, options: TransferOptions, store?: string): Promise<void> {
  const info = await stat(from);
  const listed = info.isFile() ? [''] : await listTree(from, undefined, store ? { within: store } : {});
  // Sluice's own staging folders inside a store are not part of its content
  const files = store ? listed.filter((rel) => !isInternal(rel)) : listed;
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
