import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import {
  SluiceError,
  manifestDigest,
  sha256,
  type ContentIdentity,
  type Datastore,
  type DatastoreEntry,
  type DatastoreProviderPlugin,
  type TransferOptions,
  type UploadOptions,
} from '@sluice/core';
import pkg from '../package.json' with { type: 'json' };

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- options of your service go here
export interface {{Pascal}}DatastoreOptions {}

/** The provider's id: the `provider` of every datastore configuration it serves. */
export const {{CONSTANT}}_KIND = '{{kind}}';

/**
 * A datastore that keeps its files in memory: a working starting point. A store for a real service
 * replaces the `#files` map (and the `#folders` set of empty folders) with calls to the service, and keeps
 * the rest: path checks, the overwrite rules, all-or-nothing uploads, progress and content identities.
 */
export class {{Pascal}}Datastore implements Datastore {
  readonly kind = {{CONSTANT}}_KIND;
  readonly name: string;
  readonly #files = new Map<string, Buffer>();
  readonly #folders = new Set<string>();

  constructor(name: string, _options: {{Pascal}}DatastoreOptions = {}) {
    this.name = name;
  }

  async exists(path: string): Promise<boolean> {
    const key = this.#path(path);
    return this.#files.has(key) || this.#filesBelow(key).length > 0 || this.#hasFolder(key);
  }

  async list(path: string): Promise<DatastoreEntry[]> {
    const key = this.#path(path);
    const file = this.#files.get(key);
    if (file) return [{ path: key, size: file.length }];
    return this.#filesBelow(key).map((name) => ({ path: name, size: this.#files.get(name)!.length }));
  }

  async contentIdentity(path: string): Promise<ContentIdentity> {
    const key = this.#path(path);
    const file = this.#files.get(key);
    if (file) {
      const digest = sha256(file);
      return { type: 'file', digest, files: { [basename(key)]: digest }, bytes: file.length };
    }
    if (!(await this.exists(key))) throw this.#notFound(path);
    const files: Record<string, string> = {};
    let bytes = 0;
    for (const name of this.#filesBelow(key)) {
      const content = this.#files.get(name)!;
      files[key === '' ? name : name.slice(key.length + 1)] = sha256(content);
      bytes += content.length;
    }
    return { type: 'directory', digest: manifestDigest(files), files, bytes };
  }

  async read(path: string): Promise<NodeJS.ReadableStream> {
    const file = this.#files.get(this.#path(path));
    if (!file) throw this.#notFound(path);
    return Readable.from([file]);
  }

  async write(
    path: string,
    data: Uint8Array | NodeJS.ReadableStream,
    options: { overwrite?: boolean } = {},
  ): Promise<void> {
    const key = this.#target(path);
    if (!options.overwrite && (await this.exists(key))) throw this.#exists(path);
    const content = data instanceof Uint8Array ? Buffer.from(data) : await collect(data);
    // checked again: another write may have happened while the stream was read
    if (!options.overwrite && (await this.exists(key))) throw this.#exists(path);
    this.#remove(key);
    this.#files.set(key, content);
  }

  async upload(localPath: string, path: string, options: UploadOptions = {}): Promise<void> {
    const key = this.#target(path);
    const info = await stat(localPath).catch(() => undefined);
    if (!info) {
      throw new SluiceError('DATASTORE_PATH_NOT_FOUND', `Cannot upload ${localPath}: it does not exist.`, {
        details: { path: localPath },
      });
    }
    if (!options.overwrite && (await this.exists(key))) throw this.#exists(path);
    // everything is read first, so that the store changes all at once or not at all
    const names = info.isFile() ? [''] : await localFiles(localPath);
    const sizes = await Promise.all(names.map(async (name) => (await stat(join(localPath, name))).size));
    const progress = tracker(sizes, options);
    const staged = new Map<string, Buffer>();
    for (const name of names) {
      options.signal?.throwIfAborted();
      const content = await readFile(join(localPath, name));
      staged.set(name === '' ? key : `${key}/${name}`, content);
      progress(name || basename(localPath), content.length);
    }
    if (!options.overwrite && (await this.exists(key))) throw this.#exists(path);
    this.#remove(key);
    for (const [name, content] of staged) this.#files.set(name, content);
    if (staged.size === 0) this.#folders.add(key);
  }

  async download(path: string, localPath: string, options: TransferOptions = {}): Promise<void> {
    const key = this.#path(path);
    const file = this.#files.get(key);
    if (file) {
      await mkdir(dirname(localPath), { recursive: true });
      await writeFile(localPath, file);
      tracker([file.length], options)(basename(key), file.length);
      return;
    }
    if (!(await this.exists(key))) throw this.#notFound(path);
    const names = this.#filesBelow(key);
    const progress = tracker(
      names.map((name) => this.#files.get(name)!.length),
      options,
    );
    await mkdir(localPath, { recursive: true });
    for (const name of names) {
      options.signal?.throwIfAborted();
      const rel = key === '' ? name : name.slice(key.length + 1);
      const target = join(localPath, ...rel.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, this.#files.get(name)!);
      progress(rel, this.#files.get(name)!.length);
    }
  }

  async delete(path: string): Promise<void> {
    this.#remove(this.#target(path));
  }

  async copy(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    const source = this.#path(from);
    const target = this.#target(to);
    if (!(await this.exists(source))) throw this.#notFound(from);
    if (!options.overwrite && (await this.exists(target))) throw this.#exists(to);
    const file = this.#files.get(source);
    const copied = file
      ? new Map([[target, file]])
      : new Map(
          this.#filesBelow(source).map((name) => [
            `${target}/${name.slice(source.length + 1)}`,
            this.#files.get(name)!,
          ]),
        );
    this.#remove(target);
    for (const [name, content] of copied) this.#files.set(name, content);
    if (copied.size === 0) this.#folders.add(target);
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, files: this.#files.size };
  }

  /** A path as a key: relative, '/'-separated, no '.' parts; DATASTORE_PATH_ESCAPE when it leaves the store. */
  #path(path: string): string {
    if (typeof path !== 'string' || path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) {
      throw this.#escape(path, 'give a path relative to the datastore root');
    }
    const parts = path.split(/[\\/]/).filter((part) => part !== '' && part !== '.');
    if (parts.includes('..')) throw this.#escape(path, "paths must stay inside the datastore (no '..')");
    return parts.join('/');
  }

  /** A path that may be written or deleted: never the store root. */
  #target(path: string): string {
    const key = this.#path(path);
    if (key === '') throw this.#escape(path, 'give a path inside the store, not its root');
    return key;
  }

  #filesBelow(key: string): string[] {
    const prefix = key === '' ? '' : `${key}/`;
    return [...this.#files.keys()].filter((name) => name.startsWith(prefix)).sort();
  }

  #hasFolder(key: string): boolean {
    if (key === '') return this.#folders.size > 0;
    return [...this.#folders].some((folder) => folder === key || folder.startsWith(`${key}/`));
  }

  /** Remove a file, or a folder with everything below it. */
  #remove(key: string): void {
    this.#files.delete(key);
    for (const name of this.#filesBelow(key)) this.#files.delete(name);
    for (const folder of [...this.#folders]) {
      if (folder === key || folder.startsWith(`${key}/`)) this.#folders.delete(folder);
    }
  }

  #escape(path: string, what: string): SluiceError {
    return new SluiceError('DATASTORE_PATH_ESCAPE', `Datastore "${this.name}": "${path}": ${what}.`, {
      details: { datastore: this.name, path },
    });
  }

  #notFound(path: string): SluiceError {
    return new SluiceError(
      'DATASTORE_PATH_NOT_FOUND',
      `Datastore "${this.name}" has nothing at "${path}"; upload it first or fix the path.`,
      { details: { datastore: this.name, path } },
    );
  }

  #exists(path: string): SluiceError {
    return new SluiceError(
      'DATASTORE_FILE_EXISTS',
      `Datastore "${this.name}" already has "${path}"; pass overwrite: true to replace it.`,
      { details: { datastore: this.name, path } },
    );
  }
}

/** The provider of `{{kind}}` datastores. */
export function {{camel}}DatastoreProvider(): DatastoreProviderPlugin<{{Pascal}}DatastoreOptions> {
  return {
    type: 'datastore',
    kind: {{CONSTANT}}_KIND,
    name: pkg.name,
    version: pkg.version,
    coreRange: pkg.peerDependencies['@sluice/core'],
    createDatastore: (name, options) => new {{Pascal}}Datastore(name, options),
  };
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks);
}

/** Every file below a local folder: relative, '/'-separated, sorted. */
async function localFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/** Reports progress after each file: counts and bytes only grow, and the last report equals the totals. */
function tracker(sizes: number[], options: TransferOptions): (path: string, bytes: number) => void {
  const totalFiles = sizes.length;
  const totalBytes = sizes.reduce((sum, size) => sum + size, 0);
  let files = 0;
  let bytes = 0;
  return (path, size) => {
    files += 1;
    bytes += size;
    options.onProgress?.({ files, totalFiles, bytes, totalBytes, path });
  };
}
