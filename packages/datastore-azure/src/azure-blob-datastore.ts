import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  SluiceError,
  listTree,
  manifestDigest,
  type ContentIdentity,
  type Datastore,
  type DatastoreEntry,
  type TransferOptions,
  type UploadOptions,
} from '@sluice/core';
import { normaliseStorePath } from '@sluice/runtime';
import type { TokenCredential } from '@azure/identity';
import type * as AzureStorageBlob from '@azure/storage-blob';
import type {
  BlobGetPropertiesResponse,
  BlobItem,
  BlockBlobClient,
  ContainerClient,
  StoragePipelineOptions,
} from '@azure/storage-blob';
import {
  azureErrorCode,
  isAlreadyExists,
  isAuthError,
  isBlobNotFound,
  isNetworkError,
  isSluiceError,
  shortMessage,
  statusOf,
} from './errors.js';
import { forEachLimited } from './pool.js';

/** How the datastore proves who it is to Azure. Values here are secrets: they are only kept in memory. */
export type AzureBlobCredential =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'sharedKey'; accountName: string; accountKey: string }
  | { kind: 'sas'; sasToken: string }
  /** `DefaultAzureCredential` from @azure/identity (environment, workload identity, managed identity, Azure CLI, …). */
  | { kind: 'default' }
  /** Any @azure/identity credential object. */
  | { kind: 'token'; credential: TokenCredential };

export interface AzureBlobDatastoreSettings {
  containerName: string;
  /** `https://<account>.blob.core.windows.net` (or an emulator's `http://127.0.0.1:10000/devstoreaccount1`). Not needed with a connection string. */
  accountUrl?: string;
  credential: AzureBlobCredential;
  /** A folder inside the container that is the datastore's root. */
  pathPrefix?: string;
  /** Create the container on first use when it does not exist (otherwise: DATASTORE_NOT_FOUND). */
  createContainerIfMissing?: boolean;
  /** Files moved at once by upload, download and copy when the call does not say (default 8). */
  concurrency?: number;
  /** Where the credential comes from, in words, for error messages and `describe()` (never the secret). */
  credentialSource?: string;
  /** Passed to the Azure SDK's pipeline (retries, proxy, user agent). */
  pipelineOptions?: StoragePipelineOptions;
  /**
   * The storage account's name, for `wasbs://` and `abfss://` addresses when it cannot be read from the
   * account URL's host (a custom domain, an emulator's path-style URL).
   */
  accountName?: string;
  /** The account has a hierarchical namespace (ADLS Gen2): it also gives `abfss://` addresses. */
  hierarchicalNamespace?: boolean;
}

/** Blob metadata Sluice sets on what it writes: the sha256 of the bytes, and the MD5 it was recorded with. */
export const SHA256_METADATA = 'sluicesha256';
export const MD5_METADATA = 'sluicemd5';

const DEFAULT_CONCURRENCY = 8;
/** Files up to this size go up in one request; larger ones in blocks of BLOCK_SIZE. */
const SINGLE_PUT_LIMIT = 8 * 1024 * 1024;
const BLOCK_SIZE = 8 * 1024 * 1024;
/** Blocks of one file in flight at once. */
const BLOCKS_IN_FLIGHT = 4;
const DELETE_CONCURRENCY = 16;

/** One blob as the datastore sees it. */
interface BlobInfo {
  /** Full blob name in the container. */
  readonly name: string;
  /** Path relative to the datastore root. */
  readonly path: string;
  readonly size: number;
  readonly md5?: string;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

type Located = { type: 'file'; blob: BlobInfo } | { type: 'directory'; blobs: BlobInfo[] };

type StorageSdk = typeof AzureStorageBlob;

/**
 * A datastore that is a container (or a folder of one) in Azure Blob Storage.
 *
 * Folders are blob-name prefixes ending in '/'. A file's content hash is the sha256 Sluice recorded when it
 * wrote the blob (kept in blob metadata and trusted only while the blob's Content-MD5 is the one it was
 * recorded with), else `md5:<hex>` from the blob's Content-MD5, else `etag:<etag>:<size>`. So identities of
 * what Sluice uploads match those of the same bytes on a local datastore, and any other change to a blob
 * changes its identity.
 *
 * The Azure SDK is loaded on first use, not when this module is imported.
 */
export class AzureBlobDatastore implements Datastore {
  readonly kind = 'azure-blob';
  readonly name: string;
  readonly containerName: string;
  readonly pathPrefix: string;
  /** `https` (the blob's URL, the default), and `wasbs`, `wasb` and, with a hierarchical namespace, `abfss`. */
  readonly uriSchemes: readonly string[];
  readonly #settings: AzureBlobDatastoreSettings;
  /** The hosts of Hadoop's Azure file systems for the account: `<account>.blob.<suffix>`, `<account>.dfs.<suffix>`. */
  readonly #hadoopHosts: { blob: string; dfs: string } | undefined;
  #connecting: Promise<{ sdk: StorageSdk; container: ContainerClient }> | undefined;

  constructor(name: string, settings: AzureBlobDatastoreSettings) {
    this.name = name;
    if (!settings || typeof settings.containerName !== 'string' || !settings.containerName) {
      throw new SluiceError('WORKSPACE_CONFIG_INVALID', `Azure datastore "${name}" needs a containerName.`);
    }
    if (settings.credential?.kind !== 'connectionString' && !settings.accountUrl) {
      throw new SluiceError(
        'WORKSPACE_CONFIG_INVALID',
        `Azure datastore "${name}" needs an accountUrl (https://<account>.blob.core.windows.net) unless it uses a connection string.`,
      );
    }
    this.containerName = settings.containerName;
    this.pathPrefix = normaliseStorePath(name, settings.pathPrefix ?? '');
    this.#settings = { ...settings, credential: { ...settings.credential } as AzureBlobCredential };
    this.#hadoopHosts = hadoopHosts(this.accountUrl, settings);
    this.uriSchemes = Object.freeze(
      this.#hadoopHosts
        ? ['https', 'wasbs', 'wasb', ...(settings.hierarchicalNamespace ? ['abfss'] : [])]
        : ['https'],
    );
  }

  /** The account URL, without any query (SAS) part. */
  get accountUrl(): string {
    const { credential, accountUrl } = this.#settings;
    if (credential.kind === 'connectionString')
      return accountUrlFromConnectionString(credential.connectionString);
    return stripQuery(accountUrl!);
  }

  /**
   * The address of `path` (without credentials), for services that read or write the data themselves:
   * `https` (default) the blob's URL; `wasbs`/`wasb` what Spark (hadoop-azure) and U-SQL open,
   * `wasbs://<container>@<account>.blob.core.windows.net/<path>`; `abfss` (accounts with a hierarchical
   * namespace) `abfss://<container>@<account>.dfs.core.windows.net/<path>`. Hadoop paths are not
   * percent-encoded: the path is written as it is.
   */
  uri(path: string, scheme = 'https'): string {
    const name = this.#blobName(this.#normalise(path));
    if (scheme === 'https') {
      const encoded = name.split('/').map(encodeURIComponent).join('/');
      return `${this.accountUrl.replace(/\/+$/, '')}/${encodeURIComponent(this.containerName)}${encoded ? `/${encoded}` : ''}`;
    }
    const hosts = this.#hadoopHosts;
    if (!hosts || !this.uriSchemes.includes(scheme)) {
      throw new SluiceError(
        'OPTION_INVALID',
        `Datastore "${this.name}" gives ${this.uriSchemes.join(', ')} addresses, not ${scheme}.${
          !hosts
            ? ' Register it with accountName for wasbs:// and abfss:// addresses.'
            : scheme === 'abfss'
              ? ' For abfss:// register it with hierarchicalNamespace: true (an ADLS Gen2 account).'
              : ''
        }`,
        { details: { datastore: this.name, scheme, schemes: [...this.uriSchemes] } },
      );
    }
    const host = scheme === 'abfss' ? hosts.dfs : hosts.blob;
    return `${scheme}://${this.containerName}@${host}/${name}`;
  }

  describe(): Record<string, unknown> {
    return {
      kind: this.kind,
      name: this.name,
      accountUrl: this.accountUrl,
      container: this.containerName,
      pathPrefix: this.pathPrefix,
      credential: this.#settings.credential.kind,
      ...(this.#settings.hierarchicalNamespace ? { hierarchicalNamespace: true } : {}),
      ...(this.#settings.credentialSource ? { credentialSource: this.#settings.credentialSource } : {}),
    };
  }

  toJSON(): Record<string, unknown> {
    return this.describe();
  }

  // -- reading -----------------------------------------------------------------------------------------------

  async exists(path: string): Promise<boolean> {
    const p = this.#normalise(path);
    return this.#guard(p, async () => {
      const { container } = await this.#connect();
      const [file, folder] = await Promise.all([
        p === '' ? undefined : this.#fileInfo(container, p),
        this.#anyBelow(container, p),
      ]);
      return Boolean(file) || folder;
    });
  }

  async list(path: string): Promise<DatastoreEntry[]> {
    const p = this.#normalise(path);
    return this.#guard(p, async () => {
      const located = await this.#locate(p);
      if (!located) return [];
      const blobs = located.type === 'file' ? [located.blob] : located.blobs;
      return blobs.map(toEntry);
    });
  }

  async contentIdentity(path: string): Promise<ContentIdentity> {
    const p = this.#normalise(path);
    return this.#guard(p, async () => {
      const located = await this.#locate(p);
      if (!located) throw this.#notFound(path);
      if (located.type === 'file') {
        const hash = contentHash(located.blob);
        return {
          type: 'file',
          digest: hash,
          files: { [basename(located.blob.path)]: hash },
          bytes: located.blob.size,
        };
      }
      const files: Record<string, string> = {};
      let bytes = 0;
      const base = p === '' ? 0 : p.length + 1;
      for (const blob of located.blobs) {
        files[blob.path.slice(base)] = contentHash(blob);
        bytes += blob.size;
      }
      return { type: 'directory', digest: manifestDigest(files), files, bytes };
    });
  }

  async read(path: string): Promise<NodeJS.ReadableStream> {
    const p = this.#normalise(path);
    return this.#guard(p, async () => {
      if (p === '') throw this.#notFound(path);
      const { container } = await this.#connect();
      try {
        const response = await container.getBlobClient(this.#blobName(p)).download(0, undefined, {
          maxRetryRequests: 5,
        });
        return response.readableStreamBody!;
      } catch (error) {
        if (isBlobNotFound(error)) throw this.#notFound(path);
        throw error;
      }
    });
  }

  // -- writing -----------------------------------------------------------------------------------------------

  async write(
    path: string,
    data: Uint8Array | NodeJS.ReadableStream,
    options: { overwrite?: boolean } = {},
  ): Promise<void> {
    const p = this.#target(path);
    const overwrite = options.overwrite ?? false;
    await this.#guard(p, async () => {
      const { container } = await this.#connect();
      if (!overwrite && (await this.exists(p))) throw this.#exists(path);
      const client = container.getBlockBlobClient(this.#blobName(p));
      if (data instanceof Uint8Array) await putBuffer(client, data, { overwrite });
      else await putStream(client, data, { overwrite });
      // what was a folder at this path is replaced by the file
      if (overwrite) {
        const below = await this.#scan(container, p);
        await this.#deleteBlobs([...below.files.map((blob) => blob.name), ...below.markers]);
      }
    });
  }

  /**
   * Upload a local file or folder, several files at a time. Without `overwrite`, an existing target is
   * refused before anything is written (and each blob is created only if absent, so a racing writer is
   * caught too); if the upload fails part-way, the blobs it created are deleted again. With `overwrite`,
   * files of the old content that the new one does not have are deleted once the new content is in.
   */
  async upload(localPath: string, path: string, options: UploadOptions = {}): Promise<void> {
    const p = this.#target(path);
    const overwrite = options.overwrite ?? false;
    const source = await stat(localPath).catch(() => undefined);
    if (!source || (!source.isFile() && !source.isDirectory())) {
      throw new SluiceError('DATASTORE_PATH_NOT_FOUND', `Cannot upload ${localPath}: it does not exist.`, {
        details: { path: localPath },
      });
    }
    await this.#guard(p, async () => {
      const { container } = await this.#connect();
      const plan = source.isFile()
        ? [{ local: resolve(localPath), path: p, rel: basename(localPath), size: source.size }]
        : await Promise.all(
            (await listTree(localPath)).map(async (rel) => {
              const local = join(localPath, ...rel.split('/'));
              return { local, path: `${p}/${rel}`, rel, size: (await stat(local)).size };
            }),
          );
      let previous: Set<string> = new Set();
      if (overwrite) {
        previous = new Set(await this.#namesAt(container, p));
      } else if (await this.exists(p)) {
        throw this.#exists(path);
      }
      const progress = tracker(plan.length, sum(plan.map((file) => file.size)), options);
      const created: string[] = [];
      const current = new Set(plan.map((file) => this.#blobName(file.path)));
      try {
        if (plan.length === 0) {
          const marker = await this.#putMarker(container, p, overwrite);
          current.add(marker);
          if (!previous.has(marker)) created.push(marker);
        }
        await forEachLimited(
          plan,
          options.concurrency ?? this.#concurrency,
          async (file) => {
            const name = this.#blobName(file.path);
            const client = container.getBlockBlobClient(name);
            await putFile(client, file.local, file.size, { overwrite, onBytes: progress.bytes });
            if (!previous.has(name)) created.push(name);
            progress.file(file.rel);
          },
          options.signal,
        );
      } catch (error) {
        await this.#deleteBlobs(created).catch(() => undefined);
        if (isAlreadyExists(error)) throw this.#exists(path);
        throw error;
      }
      if (overwrite) await this.#deleteBlobs([...previous].filter((name) => !current.has(name)));
    });
  }

  async download(path: string, localPath: string, options: TransferOptions = {}): Promise<void> {
    const p = this.#normalise(path);
    await this.#guard(p, async () => {
      const located = await this.#locate(p);
      if (!located) throw this.#notFound(path);
      const { container } = await this.#connect();
      const target = resolve(localPath);
      const base = p === '' ? 0 : p.length + 1;
      const plan =
        located.type === 'file'
          ? [{ blob: located.blob, local: target, rel: basename(located.blob.path) }]
          : located.blobs.map((blob) => {
              const rel = blob.path.slice(base);
              // a blob name is any string: never let one place a file outside the target folder
              if (rel.split('/').some((part) => part === '' || part === '.' || part === '..')) {
                throw new SluiceError(
                  'DATASTORE_PATH_ESCAPE',
                  `Datastore "${this.name}": the blob "${blob.name}" has a name that cannot be a local path ('', '.' or '..' parts); rename it or download files one by one.`,
                  { details: { datastore: this.name, blob: blob.name } },
                );
              }
              return { blob, local: join(target, ...rel.split('/')), rel };
            });
      if (located.type === 'directory') await mkdir(target, { recursive: true });
      else await mkdir(dirname(target), { recursive: true });
      const progress = tracker(plan.length, sum(plan.map((file) => file.blob.size)), options);
      await forEachLimited(
        plan,
        options.concurrency ?? this.#concurrency,
        async ({ blob, local, rel }) => {
          await getFile(container.getBlobClient(blob.name), local, progress.bytes, options.signal);
          progress.file(rel);
        },
        options.signal,
      );
    });
  }

  async delete(path: string): Promise<void> {
    const p = this.#target(path);
    await this.#guard(p, async () => {
      const { container } = await this.#connect();
      const below = await this.#scan(container, p);
      const names = [this.#blobName(p), ...below.files.map((blob) => blob.name), ...below.markers];
      await this.#deleteBlobs(names);
    });
  }

  /**
   * Copy a file or folder within the container, server-side (Copy Blob: the bytes do not pass through this
   * process, and Content-MD5 and metadata come along, so identities are kept). Where the service refuses to
   * read the source with this credential, the bytes are streamed through instead.
   */
  async copy(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    const source = this.#target(from);
    const target = this.#target(to);
    const overwrite = options.overwrite ?? false;
    if (source === target || target.startsWith(`${source}/`) || source.startsWith(`${target}/`)) {
      throw new SluiceError(
        'DATASTORE_FILE_EXISTS',
        `Datastore "${this.name}": cannot copy "${from}" onto "${to}", one holds the other.`,
        { details: { datastore: this.name, from, to } },
      );
    }
    await this.#guard(source, async () => {
      const { container } = await this.#connect();
      const located = await this.#locate(source);
      if (!located) throw this.#notFound(from);
      let previous: Set<string> = new Set();
      if (overwrite) {
        previous = new Set(await this.#namesAt(container, target));
      } else if (await this.exists(target)) {
        throw this.#exists(to);
      }
      const plan =
        located.type === 'file'
          ? [{ from: located.blob, to: this.#blobName(target) }]
          : located.blobs.map((blob) => ({
              from: blob,
              to: this.#blobName(`${target}/${blob.path.slice(source.length + 1)}`),
            }));
      const created: string[] = [];
      const current = new Set(plan.map((item) => item.to));
      try {
        if (plan.length === 0) {
          const marker = await this.#putMarker(container, target, overwrite);
          current.add(marker);
          if (!previous.has(marker)) created.push(marker);
        }
        await forEachLimited(plan, this.#concurrency, async (item) => {
          await copyBlob(container, item.from.name, item.to, overwrite);
          if (!previous.has(item.to)) created.push(item.to);
        });
      } catch (error) {
        await this.#deleteBlobs(created).catch(() => undefined);
        if (isAlreadyExists(error)) throw this.#exists(to);
        throw error;
      }
      if (overwrite) await this.#deleteBlobs([...previous].filter((name) => !current.has(name)));
    });
  }

  // -- internals ---------------------------------------------------------------------------------------------

  get #concurrency(): number {
    return this.#settings.concurrency ?? DEFAULT_CONCURRENCY;
  }

  #normalise(path: string): string {
    return normaliseStorePath(this.name, path);
  }

  /** A path something is written to or deleted at: never the datastore root. */
  #target(path: string): string {
    const p = this.#normalise(path);
    if (p === '') {
      throw new SluiceError(
        'DATASTORE_PATH_ESCAPE',
        `Datastore "${this.name}": give a path inside the store, not its root.`,
        { details: { datastore: this.name, path } },
      );
    }
    return p;
  }

  #blobName(path: string): string {
    if (!this.pathPrefix) return path;
    return path ? `${this.pathPrefix}/${path}` : this.pathPrefix;
  }

  /** The blob-name prefix of everything below a datastore path. */
  #folderPrefix(path: string): string {
    const name = this.#blobName(path);
    return name ? `${name}/` : '';
  }

  #relative(name: string): string {
    return this.pathPrefix ? name.slice(this.pathPrefix.length + 1) : name;
  }

  #connect(): Promise<{ sdk: StorageSdk; container: ContainerClient }> {
    if (!this.#connecting) {
      this.#connecting = this.#open();
      this.#connecting.catch(() => {
        this.#connecting = undefined;
      });
    }
    return this.#connecting;
  }

  async #open(): Promise<{ sdk: StorageSdk; container: ContainerClient }> {
    const sdk = await import('@azure/storage-blob');
    const { credential, pipelineOptions } = this.#settings;
    const url = this.#settings.accountUrl ? stripTrailingSlash(this.#settings.accountUrl) : '';
    let service: InstanceType<StorageSdk['BlobServiceClient']>;
    switch (credential.kind) {
      case 'connectionString':
        try {
          service = sdk.BlobServiceClient.fromConnectionString(credential.connectionString, pipelineOptions);
        } catch (error) {
          throw new SluiceError(
            'WORKSPACE_CONFIG_INVALID',
            `Azure datastore "${this.name}": the connection string${this.#source()} is not valid (${shortMessage(error)}).`,
            { details: { datastore: this.name } },
          );
        }
        break;
      case 'sharedKey':
        service = new sdk.BlobServiceClient(
          url,
          new sdk.StorageSharedKeyCredential(credential.accountName, credential.accountKey),
          pipelineOptions,
        );
        break;
      case 'sas': {
        const token = credential.sasToken.trim().replace(/^\?/, '');
        service = new sdk.BlobServiceClient(`${stripQuery(url)}?${token}`, undefined, pipelineOptions);
        break;
      }
      case 'default': {
        const identity = await import('@azure/identity');
        service = new sdk.BlobServiceClient(url, new identity.DefaultAzureCredential(), pipelineOptions);
        break;
      }
      case 'token':
        service = new sdk.BlobServiceClient(url, credential.credential, pipelineOptions);
        break;
      default:
        throw new SluiceError(
          'WORKSPACE_CONFIG_INVALID',
          `Azure datastore "${this.name}": unknown credential kind ${JSON.stringify((credential as { kind?: unknown }).kind)}.`,
        );
    }
    const container = service.getContainerClient(this.containerName);
    if (this.#settings.createContainerIfMissing) {
      try {
        await container.createIfNotExists();
      } catch (error) {
        throw this.#translate(error, '');
      }
    }
    return { sdk, container };
  }

  /** Run an operation, turning Azure's errors into coded Sluice errors. */
  async #guard<T>(path: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw this.#translate(error, path);
    }
  }

  #translate(error: unknown, path: string): unknown {
    if (isSluiceError(error)) return error;
    const where = `${this.accountUrl}/${this.containerName}`;
    const details = {
      datastore: this.name,
      path,
      accountUrl: this.accountUrl,
      container: this.containerName,
      status: statusOf(error),
      serviceCode: azureErrorCode(error),
    };
    if (isAuthError(error)) {
      return new SluiceError(
        'DATASTORE_AUTH_FAILED',
        `Azure refused the credentials of datastore "${this.name}" (${where}): ${shortMessage(error)}. ${this.#authAdvice()}`,
        { cause: error, details: { ...details, reason: 'authentication' } },
      );
    }
    if (statusOf(error) === 404 && azureErrorCode(error) === 'ContainerNotFound') {
      return new SluiceError(
        'DATASTORE_NOT_FOUND',
        `Datastore "${this.name}": the container "${this.containerName}" does not exist in ${this.accountUrl}. Create it, fix containerName, or register the datastore with createContainerIfMissing: true.`,
        { cause: error, details: { ...details, reason: 'container-not-found' } },
      );
    }
    if (isNetworkError(error)) {
      return new SluiceError(
        'DATASTORE_NOT_FOUND',
        `Datastore "${this.name}": cannot reach ${this.accountUrl} (${shortMessage(error)}). Check the account URL and the network (proxy, firewall, private endpoint).`,
        { cause: error, details: { ...details, reason: 'unreachable' } },
      );
    }
    if (isAlreadyExists(error)) return this.#exists(path);
    return error;
  }

  #source(): string {
    return this.#settings.credentialSource ? ` (${this.#settings.credentialSource})` : '';
  }

  #authAdvice(): string {
    const source = this.#source();
    switch (this.#settings.credential.kind) {
      case 'connectionString':
        return `Check the AccountName and AccountKey (or SharedAccessSignature) in the connection string${source}; after a key rotation store the new one again.`;
      case 'sharedKey':
        return `Check the account name and the account key${source}: the key must be one of the account's current access keys (store a rotated key again with ws.setSecret).`;
      case 'sas':
        return `Check the SAS token${source}: it must be signed for this account and container, not expired, and allow read, add, create, write, delete and list.`;
      default:
        return `Check the identity DefaultAzureCredential picks (az login, AZURE_CLIENT_ID/AZURE_TENANT_ID, managed identity): it needs the "Storage Blob Data Contributor" role on the account or container.`;
    }
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

  /** The blob at exactly `path`, if there is one. */
  async #fileInfo(container: ContainerClient, path: string): Promise<BlobInfo | undefined> {
    const name = this.#blobName(path);
    let properties: BlobGetPropertiesResponse;
    try {
      properties = await container.getBlobClient(name).getProperties();
    } catch (error) {
      if (isBlobNotFound(error)) return undefined;
      throw error;
    }
    // a hierarchical-namespace directory shows as a blob with this metadata: it is not a file
    if (properties.metadata?.hdi_isfolder === 'true') return undefined;
    return {
      name,
      path,
      size: properties.contentLength ?? 0,
      ...(properties.contentMD5 ? { md5: hex(properties.contentMD5) } : {}),
      ...(properties.etag ? { etag: bareEtag(properties.etag) } : {}),
      ...(properties.lastModified ? { lastModified: properties.lastModified.toISOString() } : {}),
      ...(properties.metadata ? { metadata: properties.metadata } : {}),
    };
  }

  /** Is there any blob below `path` (treated as a folder), a folder marker included (an empty folder)? */
  async #anyBelow(container: ContainerClient, path: string): Promise<boolean> {
    const prefix = this.#folderPrefix(path);
    for await (const page of container.listBlobsFlat({ prefix }).byPage({ maxPageSize: 1 })) {
      if (page.segment.blobItems.length > 0) return true;
      if (!page.continuationToken) break;
    }
    return false;
  }

  /** The files below `path`, sorted by path, and the folder markers (see `#putMarker`) among the blobs. */
  async #scan(container: ContainerClient, path: string): Promise<{ files: BlobInfo[]; markers: string[] }> {
    const prefix = this.#folderPrefix(path);
    const blobs: BlobInfo[] = [];
    const markers: string[] = [];
    for await (const item of container.listBlobsFlat({ prefix, includeMetadata: true })) {
      if (isFolderMarker(item)) {
        markers.push(item.name);
        continue;
      }
      const props = item.properties;
      blobs.push({
        name: item.name,
        path: this.#relative(item.name),
        size: props.contentLength ?? 0,
        ...(props.contentMD5 ? { md5: hex(props.contentMD5) } : {}),
        ...(props.etag ? { etag: bareEtag(props.etag) } : {}),
        ...(props.lastModified ? { lastModified: props.lastModified.toISOString() } : {}),
        ...(item.metadata ? { metadata: item.metadata } : {}),
      });
    }
    blobs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { files: blobs, markers };
  }

  /** A path is a file when a blob has exactly its name, otherwise a folder when blobs are below it. */
  async #locate(path: string): Promise<Located | undefined> {
    const { container } = await this.#connect();
    const [file, below] = await Promise.all([
      path === '' ? undefined : this.#fileInfo(container, path),
      this.#scan(container, path),
    ]);
    if (file) return { type: 'file', blob: file };
    // an uploaded empty folder is kept as a marker blob: it exists, with no files
    if (below.files.length > 0 || below.markers.length > 0) return { type: 'directory', blobs: below.files };
    return undefined;
  }

  /** The names of every blob at or below `path`: the file, the folder's files and its markers. */
  async #namesAt(container: ContainerClient, path: string): Promise<string[]> {
    const [file, below] = await Promise.all([this.#fileInfo(container, path), this.#scan(container, path)]);
    return [...(file ? [file.name] : []), ...below.files.map((blob) => blob.name), ...below.markers];
  }

  /**
   * Blob storage has no folders: an empty folder is kept as a zero-byte blob named `<folder>/`. It makes
   * the folder exist (and download as an empty folder); listings and identities leave it out.
   */
  async #putMarker(container: ContainerClient, path: string, overwrite: boolean): Promise<string> {
    const name = this.#folderPrefix(path);
    await container.getBlockBlobClient(name).upload(Buffer.alloc(0), 0, createOnly(overwrite));
    return name;
  }

  async #deleteBlobs(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    const { container } = await this.#connect();
    await forEachLimited(names, DELETE_CONCURRENCY, async (name) => {
      await container.getBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
    });
  }
}

// -- content hashes ----------------------------------------------------------------------------------------

/** The content hash of a blob, as used in identities (see the class comment). */
export function contentHash(blob: {
  md5?: string;
  etag?: string;
  size: number;
  metadata?: Readonly<Record<string, string>>;
}): string {
  const sha256 = metadataValue(blob.metadata, SHA256_METADATA);
  const recordedMd5 = metadataValue(blob.metadata, MD5_METADATA);
  if (sha256 && blob.md5 && recordedMd5 === blob.md5 && /^[0-9a-f]{64}$/.test(sha256)) return sha256;
  if (blob.md5) return `md5:${blob.md5}`;
  return `etag:${blob.etag ?? ''}:${blob.size}`;
}

function metadataValue(
  metadata: Readonly<Record<string, string>> | undefined,
  key: string,
): string | undefined {
  if (!metadata) return undefined;
  for (const [name, value] of Object.entries(metadata)) if (name.toLowerCase() === key) return value;
  return undefined;
}

function toEntry(blob: BlobInfo): DatastoreEntry {
  return {
    path: blob.path,
    size: blob.size,
    ...(blob.md5 ? { contentHash: `md5:${blob.md5}` } : {}),
    ...(blob.etag ? { etag: blob.etag } : {}),
    ...(blob.lastModified ? { lastModified: blob.lastModified } : {}),
  };
}

/** Listings give etags bare, property reads quoted: keep them bare so both give the same hash. */
const bareEtag = (etag: string): string => etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Hierarchical-namespace accounts list folders as empty blobs; they are not files. */
function isFolderMarker(item: BlobItem): boolean {
  return item.name.endsWith('/') || item.metadata?.hdi_isfolder === 'true';
}

// -- transfers ---------------------------------------------------------------------------------------------

interface PutOptions {
  overwrite: boolean;
  onBytes?: (count: number) => void;
}

function sealedHeaders(md5: Buffer, sha256: string) {
  return {
    blobHTTPHeaders: { blobContentMD5: md5 },
    metadata: { [SHA256_METADATA]: sha256, [MD5_METADATA]: md5.toString('hex') },
  };
}

const createOnly = (overwrite: boolean) => (overwrite ? {} : { conditions: { ifNoneMatch: '*' } });

async function putBuffer(client: BlockBlobClient, data: Uint8Array, options: PutOptions): Promise<void> {
  if (data.length > SINGLE_PUT_LIMIT) {
    await putStream(
      client,
      (async function* () {
        for (let offset = 0; offset < data.length; offset += BLOCK_SIZE)
          yield data.subarray(offset, offset + BLOCK_SIZE);
      })(),
      options,
    );
    return;
  }
  const md5 = createHash('md5').update(data).digest();
  const sha256 = createHash('sha256').update(data).digest('hex');
  await client.upload(data, data.length, { ...sealedHeaders(md5, sha256), ...createOnly(options.overwrite) });
  options.onBytes?.(data.length);
}

async function putFile(
  client: BlockBlobClient,
  local: string,
  size: number,
  options: PutOptions,
): Promise<void> {
  if (size <= SINGLE_PUT_LIMIT) {
    await putBuffer(client, await readFile(local), options);
    return;
  }
  await putStream(client, createReadStream(local, { highWaterMark: 1 << 20 }), options);
}

/**
 * Write a stream as blocks, hashing as it goes, then commit the block list with the content's MD5 and
 * sha256 (the blob appears only at the commit; with `overwrite: false` the commit creates it only if absent).
 * A stream that fits in one block goes up in a single request.
 */
async function putStream(
  client: BlockBlobClient,
  data: NodeJS.ReadableStream | AsyncIterable<Uint8Array | string>,
  options: PutOptions,
): Promise<void> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  const nonce = randomBytes(6).toString('hex');
  const ids: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let pending: Buffer[] = [];
  let pendingLength = 0;
  const stage = async (block: Buffer): Promise<void> => {
    const id = Buffer.from(`${nonce}-${String(ids.length).padStart(8, '0')}`).toString('base64');
    ids.push(id);
    const job = client
      .stageBlock(id, block, block.length, {
        transactionalContentMD5: createHash('md5').update(block).digest(),
      })
      .then(
        () => options.onBytes?.(block.length),
        (error: unknown) => {
          failure ??= error;
        },
      )
      .finally(() => inFlight.delete(job));
    inFlight.add(job);
    if (inFlight.size >= BLOCKS_IN_FLIGHT) await Promise.race(inFlight);
    if (failure) throw failure;
  };
  for await (const chunk of data as AsyncIterable<Uint8Array | string>) {
    const buffer =
      typeof chunk === 'string'
        ? Buffer.from(chunk)
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    md5.update(buffer);
    sha256.update(buffer);
    pending.push(buffer);
    pendingLength += buffer.length;
    while (pendingLength >= BLOCK_SIZE) {
      const joined = Buffer.concat(pending, pendingLength);
      // copy the block: the source's buffers may be reused once handed over
      await stage(Buffer.from(joined.subarray(0, BLOCK_SIZE)));
      const rest = joined.subarray(BLOCK_SIZE);
      pending = rest.length ? [Buffer.from(rest)] : [];
      pendingLength = rest.length;
    }
  }
  const tail = Buffer.concat(pending, pendingLength);
  const md5Digest = md5.digest();
  const sha256Digest = sha256.digest('hex');
  if (ids.length === 0) {
    await client.upload(tail, tail.length, {
      ...sealedHeaders(md5Digest, sha256Digest),
      ...createOnly(options.overwrite),
    });
    options.onBytes?.(tail.length);
    return;
  }
  if (tail.length) await stage(tail);
  await Promise.all(inFlight);
  if (failure) throw failure;
  await client.commitBlockList(ids, {
    ...sealedHeaders(md5Digest, sha256Digest),
    ...createOnly(options.overwrite),
  });
}

/** Download one blob to a file (written beside it and renamed into place), checking the MD5 when known. */
async function getFile(
  client: ReturnType<ContainerClient['getBlobClient']>,
  local: string,
  onBytes: (count: number) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  await mkdir(dirname(local), { recursive: true });
  const temp = `${local}.sluice-download-${randomBytes(4).toString('hex')}`;
  try {
    const response = await client.download(0, undefined, {
      maxRetryRequests: 5,
      ...(signal ? { abortSignal: signal } : {}),
    });
    const expected = response.contentMD5 ?? response.blobContentMD5;
    const md5 = createHash('md5');
    await pipeline(
      response.readableStreamBody!,
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          md5.update(chunk);
          onBytes(chunk.length);
          callback(null, chunk);
        },
      }),
      createWriteStream(temp),
    );
    if (expected && !md5.digest().equals(Buffer.from(expected))) {
      throw new SluiceError(
        'DATASTORE_TRANSFER_FAILED',
        `The bytes downloaded from blob ${client.name} do not match its Content-MD5; the download was discarded. Try again.`,
        { details: { blob: client.name } },
      );
    }
    await rename(temp, local);
  } catch (error) {
    // only a failed download leaves its temporary file behind
    await rm(temp, { force: true });
    throw error;
  }
}

/** Server-side copy of one blob; streamed through this process if the service cannot read the source. */
async function copyBlob(
  container: ContainerClient,
  from: string,
  to: string,
  overwrite: boolean,
): Promise<void> {
  const source = container.getBlobClient(from);
  const target = container.getBlockBlobClient(to);
  try {
    const poller = await target.beginCopyFromURL(source.url, { intervalInMs: 250, ...createOnly(overwrite) });
    const result = await poller.pollUntilDone();
    if (result.copyStatus && result.copyStatus !== 'success') {
      throw new SluiceError(
        'DATASTORE_TRANSFER_FAILED',
        `Copying blob ${from} to ${to} ended ${result.copyStatus}; try again.`,
        {
          details: { from, to, status: result.copyStatus },
        },
      );
    }
  } catch (error) {
    const code = azureErrorCode(error);
    if (code !== 'CannotVerifyCopySource' && !(isAuthError(error) && statusOf(error) === 403)) throw error;
    // the service could not read the source with this credential: move the bytes through this process
    const response = await source.download(0, undefined, { maxRetryRequests: 5 });
    await putStream(target, response.readableStreamBody!, { overwrite });
  }
}

// -- progress ----------------------------------------------------------------------------------------------

function tracker(totalFiles: number, totalBytes: number, options: TransferOptions) {
  let files = 0;
  let bytes = 0;
  const report = (path?: string): void =>
    options.onProgress?.({ files, totalFiles, bytes, totalBytes, ...(path !== undefined ? { path } : {}) });
  return {
    bytes(count: number): void {
      if (count === 0) return;
      bytes += count;
      report();
    },
    file(path: string): void {
      files += 1;
      report(path);
    },
  };
}

const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);

// -- URLs --------------------------------------------------------------------------------------------------

function stripQuery(url: string): string {
  const index = url.indexOf('?');
  return stripTrailingSlash(index === -1 ? url : url.slice(0, index));
}

function stripTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** `https://acct.blob.core.windows.net` → `acct`; `http://127.0.0.1:10000/devstoreaccount1` → `devstoreaccount1`. */
export function accountNameFromUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    const segment = parsed.pathname.split('/').find(Boolean);
    const isIp =
      /^[\d.]+$/.test(parsed.hostname) || parsed.hostname === 'localhost' || parsed.hostname.includes(':');
    if (isIp || !parsed.hostname.includes('.')) return segment;
    return parsed.hostname.split('.')[0];
  } catch {
    return undefined;
  }
}

const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;

/**
 * The hosts hadoop-azure addresses the account by. An account URL `https://<account>.blob.<suffix>` gives
 * them (any cloud); otherwise (a custom domain, an emulator's path-style URL) the account name, with the
 * connection string's endpoint suffix or the public cloud's. Undefined when the account is not known.
 */
function hadoopHosts(
  accountUrl: string,
  settings: AzureBlobDatastoreSettings,
): { blob: string; dfs: string } | undefined {
  let host: string;
  try {
    host = new URL(accountUrl).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  const hostStyle = /^([a-z0-9]{3,24})\.blob\.(.+)$/.exec(host);
  if (hostStyle) return { blob: host, dfs: `${hostStyle[1]}.dfs.${hostStyle[2]}` };
  const { credential } = settings;
  const fields =
    credential.kind === 'connectionString' ? parseConnectionString(credential.connectionString) : {};
  const account = (
    settings.accountName ??
    (credential.kind === 'sharedKey' ? credential.accountName : undefined) ??
    fields.accountname ??
    (host.includes('.') && !/^[\d.]+$/.test(host) ? undefined : accountNameFromUrl(accountUrl))
  )?.toLowerCase();
  if (!account || !ACCOUNT_NAME.test(account)) return undefined;
  const suffix = fields.endpointsuffix ?? 'core.windows.net';
  return { blob: `${account}.blob.${suffix}`, dfs: `${account}.dfs.${suffix}` };
}

/** Parse `Key=Value;…` (values may contain '='). */
export function parseConnectionString(connectionString: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of connectionString.split(';')) {
    const index = part.indexOf('=');
    if (index <= 0) continue;
    fields[part.slice(0, index).trim().toLowerCase()] = part.slice(index + 1).trim();
  }
  return fields;
}

/** The blob account URL a connection string points at (no secrets). */
export function accountUrlFromConnectionString(connectionString: string): string {
  const fields = parseConnectionString(connectionString);
  if (fields.blobendpoint) return stripQuery(fields.blobendpoint);
  if (fields.usedevelopmentstorage === 'true') return 'http://127.0.0.1:10000/devstoreaccount1';
  const protocol = fields.defaultendpointsprotocol ?? 'https';
  const suffix = fields.endpointsuffix ?? 'core.windows.net';
  return fields.accountname ? `${protocol}://${fields.accountname}.blob.${suffix}` : '(unknown account)';
}
