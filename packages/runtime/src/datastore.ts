import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import pLimit from 'p-limit';
import {
  DataReference,
  SluiceError,
  type ContentIdentity,
  type Datastore as DatastoreContract,
  type DatastoreEntry,
  type TransferOptions,
  type UploadOptions,
} from '@sluice/core';
import { normaliseStorePath } from './local-datastore.js';
import { requireWorkspace } from './checks.js';
import type { Workspace } from './workspace.js';

export interface UploadFilesOptions extends UploadOptions {
  /** The folder on the datastore the files go into (default: the root). */
  targetPath?: string;
}

/** A workspace datastore: the provider's store plus the conveniences of the original SDK. */
export class WorkspaceDatastore implements DatastoreContract {
  readonly #store: DatastoreContract;

  constructor(store: DatastoreContract) {
    this.#store = store;
  }

  get name(): string {
    return this.#store.name;
  }
  get kind(): string {
    return this.#store.kind;
  }
  /** The provider's datastore object. */
  get inner(): DatastoreContract {
    return this.#store;
  }

  exists(path: string): Promise<boolean> {
    return this.#store.exists(path);
  }
  list(path: string): Promise<DatastoreEntry[]> {
    return this.#store.list(path);
  }
  contentIdentity(path: string): Promise<ContentIdentity> {
    return this.#store.contentIdentity(path);
  }
  read(path: string): Promise<NodeJS.ReadableStream> {
    return this.#store.read(path);
  }
  write(
    path: string,
    data: Uint8Array | NodeJS.ReadableStream,
    options?: { overwrite?: boolean },
  ): Promise<void> {
    return this.#store.write(path, data, options);
  }
  upload(localPath: string, path: string, options?: UploadOptions): Promise<void> {
    return this.#store.upload(localPath, path, options);
  }
  download(path: string, localPath: string, options?: TransferOptions): Promise<void> {
    return this.#store.download(path, localPath, options);
  }
  delete(path: string): Promise<void> {
    return this.#store.delete(path);
  }
  describe(): Record<string, unknown> {
    return this.#store.describe();
  }
  get copy(): ((from: string, to: string, options?: { overwrite?: boolean }) => Promise<void>) | undefined {
    const store = this.#store;
    return store.copy ? (from, to, options) => store.copy!(from, to, options) : undefined;
  }
  get uriSchemes(): readonly string[] | undefined {
    return this.#store.uriSchemes;
  }
  get uri(): ((path: string, scheme?: string) => string) | undefined {
    const store = this.#store;
    return store.uri ? (path, scheme) => store.uri!(path, scheme) : undefined;
  }
  get localPath(): ((path: string) => string) | undefined {
    const store = this.#store;
    return store.localPath ? (path) => store.localPath!(path) : undefined;
  }

  /**
   * Upload files into `targetPath`, each under its own name. Every target is checked before anything is
   * written, so a conflict or a target that leaves the store leaves the datastore untouched.
   */
  async uploadFiles(files: readonly string[], options: UploadFilesOptions = {}): Promise<string[]> {
    if (!Array.isArray(files) || files.some((file) => typeof file !== 'string')) {
      throw new SluiceError(
        'OPTION_INVALID',
        `uploadFiles takes a list of file paths, e.g. ds.uploadFiles(['iris.csv'], { targetPath: 'train-dataset' }); got ${JSON.stringify(files) ?? String(files)}.`,
      );
    }
    if (typeof options !== 'object' || options === null) {
      throw new SluiceError(
        'OPTION_INVALID',
        'uploadFiles takes (files, { targetPath?, overwrite? }) as its second argument.',
      );
    }
    const target = normaliseStorePath(this.name, options.targetPath ?? '');
    const plan: Array<{ local: string; path: string }> = [];
    const seen = new Set<string>();
    for (const file of files) {
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) {
        throw new SluiceError(
          'DATASTORE_PATH_NOT_FOUND',
          `Cannot upload ${file}: it is not a file. Use uploadDirectory() for folders.`,
          { details: { path: file } },
        );
      }
      const path = target ? `${target}/${basename(file)}` : basename(file);
      if (seen.has(path)) {
        throw new SluiceError('DATASTORE_FILE_EXISTS', `Two of the files would be uploaded to "${path}".`);
      }
      seen.add(path);
      // a local store resolves the target now, so a folder linked out of the store is refused before any write
      this.#store.localPath?.(path);
      plan.push({ local: file, path });
    }
    if (!options.overwrite) {
      for (const { path } of plan) {
        if (await this.exists(path)) {
          throw new SluiceError(
            'DATASTORE_FILE_EXISTS',
            `Datastore "${this.name}" already has "${path}"; pass overwrite: true to replace it.`,
            { details: { datastore: this.name, path } },
          );
        }
      }
    }
    const sizes = await Promise.all(plan.map(async ({ local }) => (await stat(local)).size));
    const totalBytes = sizes.reduce((sum, size) => sum + size, 0);
    const limit = pLimit(options.concurrency ?? 8);
    let done = 0;
    let bytes = 0;
    await Promise.all(
      plan.map(({ local, path }, index) =>
        limit(async () => {
          await this.upload(local, path, { overwrite: options.overwrite ?? false });
          bytes += sizes[index]!;
          options.onProgress?.({ files: ++done, totalFiles: plan.length, bytes, totalBytes, path });
        }),
      ),
    );
    return plan.map(({ path }) => path);
  }

  /** Upload a folder's content to `targetPath` (committed as a whole). */
  async uploadDirectory(
    localDir: string,
    options: { targetPath: string; overwrite?: boolean },
  ): Promise<string> {
    const path = normaliseStorePath(this.name, options.targetPath);
    await this.upload(localDir, path, { overwrite: options.overwrite ?? false });
    return path;
  }

  /** A reference to a path on this datastore, usable as a step input. */
  path(pathOnDatastore: string, name?: string): DataReference {
    return new DataReference({
      datastore: this.name,
      pathOnDatastore: normaliseStorePath(this.name, pathOnDatastore),
      name:
        name ??
        (basename(pathOnDatastore)
          .replace(/[^A-Za-z0-9_-]/g, '_')
          .replace(/^[^A-Za-z_]/, '_$&') ||
          'data'),
    });
  }
}

/**
 * `Datastore(ws, name)` of the original SDK: `Datastore.get(ws, 'workspaceblobstore')` is a registered
 * datastore (DATASTORE_NOT_FOUND when there is none); `Datastore.getDefault(ws)` the default one.
 */
export const Datastore = {
  get(workspace: Workspace, name: string): WorkspaceDatastore {
    return requireWorkspace(workspace, 'Datastore.get', `Datastore.get(ws, 'workspaceblobstore')`).datastore(
      name,
    );
  },
  getDefault(workspace: Workspace): WorkspaceDatastore {
    return requireWorkspace(
      workspace,
      'Datastore.getDefault',
      'Datastore.getDefault(ws)',
    ).getDefaultDatastore();
  },
};
