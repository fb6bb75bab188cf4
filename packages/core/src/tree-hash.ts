import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { SluiceError } from './errors.js';
import { manifestDigest } from './fingerprint.js';

/** A remembered file hash, valid while size, modification time and inode are unchanged. */
export interface StatCacheEntry {
  size: number;
  mtimeNs: string;
  ino: string;
  hash: string;
}

/** Where file hashes are remembered between runs (the runtime keeps one in its run store). */
export interface StatCache {
  get(path: string): StatCacheEntry | undefined;
  set(path: string, entry: StatCacheEntry): void;
  /** Called once a tree is hashed, to write remembered entries in one go. */
  flush?(): void;
}

export class MemoryStatCache implements StatCache {
  readonly #entries = new Map<string, StatCacheEntry>();
  get(path: string): StatCacheEntry | undefined {
    return this.#entries.get(path);
  }
  set(path: string, entry: StatCacheEntry): void {
    this.#entries.set(path, entry);
  }
  get size(): number {
    return this.#entries.size;
  }
}

export interface HashTreeOptions {
  /** Apply `.amlignore` (or else `.gitignore`) found in the tree; both files are themselves excluded. */
  useIgnoreFiles?: boolean;
  statCache?: StatCache;
  /** How many files are read at once. */
  concurrency?: number;
}

export interface TreeHash {
  readonly type: 'file' | 'directory';
  readonly digest: string;
  /** Relative '/'-separated path → sha256 of the file's bytes. */
  readonly files: Record<string, string>;
  readonly bytes: number;
  /** How many files were read (not answered from the stat cache). */
  readonly hashedFiles: number;
}

/** Always left out of source snapshots: version control, Sluice's own data folder, Python byte-code. */
const ALWAYS_IGNORED = ['.git/', '.sluice/', '__pycache__/', '*.pyc', '.amlignore', '.gitignore'];

/**
 * A modification within this window of the moment a file was hashed may not have changed its mtime (the
 * file system clock is coarse), so such an entry is not trusted later ("racily clean", as git calls it).
 */
const RACY_WINDOW_NS = 100_000_000n;

const SMALL_FILE = 1 << 20;

/** Hash one file's bytes. */
export async function hashFile(path: string): Promise<string> {
  const info = await stat(path);
  if (info.size <= SMALL_FILE)
    return createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Build the ignore matcher for a source directory: `.amlignore` wins over `.gitignore`. */
export async function loadIgnoreRules(root: string): Promise<Ignore> {
  const rules = ignore().add(ALWAYS_IGNORED);
  for (const file of ['.amlignore', '.gitignore']) {
    try {
      rules.add(await readFile(join(root, file), 'utf8'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return rules;
}

/** List the files of a tree (relative, '/'-separated, sorted), honouring ignore rules if given. */
export async function listTree(root: string, rules?: Ignore): Promise<string[]> {
  const files: string[] = [];
  // Folders reached through symbolic links are walked once each: a link back up the tree is not a loop.
  const visited = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    const real = await realpath(dir);
    if (visited.has(real)) return;
    visited.add(real);
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const absolute = join(dir, entry.name);
      const rel = relative(root, absolute).split(sep).join('/');
      if (entry.isDirectory()) {
        if (rules?.ignores(`${rel}/`)) continue;
        await walk(absolute);
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        if (rules?.ignores(rel)) continue;
        if (entry.isSymbolicLink()) {
          const target = await stat(absolute).catch(() => undefined);
          if (target?.isDirectory()) {
            if (rules?.ignores(`${rel}/`)) continue;
            await walk(absolute);
            continue;
          }
          if (!target?.isFile()) continue;
        }
        files.push(rel);
      }
    }
  };
  await walk(root);
  return files.sort();
}

/**
 * Hash a file or a folder by content. The digest depends only on relative paths and bytes, never on where
 * the tree lives, so it is the same on every machine.
 */
export async function hashTree(root: string, options: HashTreeOptions = {}): Promise<TreeHash> {
  const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
    throw new SluiceError(
      error.code === 'ENOENT' ? 'DATASTORE_PATH_NOT_FOUND' : 'RUN_STORE_ERROR',
      `Cannot read ${root}: ${error.message}`,
      { cause: error, details: { path: root } },
    );
  });
  const cache = options.statCache;
  if (info.isFile()) {
    const { hash, read } = await hashWithCache(root, cache);
    cache?.flush?.();
    return {
      type: 'file',
      digest: hash,
      files: { [basename(root)]: hash },
      bytes: info.size,
      hashedFiles: read ? 1 : 0,
    };
  }
  const rules = options.useIgnoreFiles ? await loadIgnoreRules(root) : undefined;
  const paths = await listTree(root, rules);
  const files = new Map<string, string>();
  let bytes = 0;
  let hashedFiles = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const rel = paths[next++]!;
      const { hash, size, read } = await hashWithCache(join(root, rel), cache);
      files.set(rel, hash);
      bytes += size;
      if (read) hashedFiles += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  cache?.flush?.();
  // fromEntries defines own properties, so a file named "__proto__" is kept like any other
  const ordered: Record<string, string> = Object.fromEntries(paths.map((rel) => [rel, files.get(rel)!]));
  return { type: 'directory', digest: manifestDigest(ordered), files: ordered, bytes, hashedFiles };
}

function basename(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

async function hashWithCache(
  path: string,
  cache: StatCache | undefined,
): Promise<{ hash: string; size: number; read: boolean }> {
  if (!cache) {
    const hash = await hashFile(path);
    const info = await stat(path);
    return { hash, size: info.size, read: true };
  }
  const before = await lstat(path, { bigint: true }).then((s) =>
    s.isSymbolicLink() ? stat(path, { bigint: true }) : s,
  );
  const key = path;
  const cached = cache.get(key);
  const size = Number(before.size);
  const mtimeNs = before.mtimeNs.toString();
  const ino = before.ino.toString();
  if (cached && cached.size === size && cached.mtimeNs === mtimeNs && cached.ino === ino) {
    return { hash: cached.hash, size, read: false };
  }
  const wallBefore = BigInt(Date.now()) * 1_000_000n;
  const handle = await open(path, 'r');
  let hash: string;
  try {
    if (size <= SMALL_FILE) {
      hash = createHash('sha256')
        .update(await handle.readFile())
        .digest('hex');
    } else {
      const digest = createHash('sha256');
      for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) {
        digest.update(chunk as Buffer);
      }
      hash = digest.digest('hex');
    }
  } finally {
    await handle.close();
  }
  if (before.mtimeNs + RACY_WINDOW_NS < wallBefore) {
    cache.set(key, { size, mtimeNs, ino, hash });
  }
  return { hash, size, read: true };
}
