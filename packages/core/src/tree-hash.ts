import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  openSync,
  readSync,
  readdirSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
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
  /** Called before a tree is hashed, so the entries under `root` can be fetched in one go. */
  preload?(root: string): void;
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

export interface TreeWalkOptions {
  /**
   * Follow symbolic links only to places inside this folder: the tree itself, and every link met while
   * walking it, must resolve (real path) inside `within`; anything else fails with DATASTORE_PATH_ESCAPE
   * before a byte is read. Default: every link is followed (source directories may link to shared code).
   * A link to nothing is left out either way.
   */
  within?: string;
}

export interface HashTreeOptions extends TreeWalkOptions {
  /** Apply `.amlignore` (or else `.gitignore`) found in the tree; both files are themselves excluded. */
  useIgnoreFiles?: boolean;
  statCache?: StatCache;
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
export async function listTree(
  root: string,
  rules?: Ignore,
  options: TreeWalkOptions = {},
): Promise<string[]> {
  return listTreeSync(root, rules, confinement(options.within));
}

/** Is `path` (a real path) `folder` itself or below it? */
function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The real path of the folder a walk is confined to, when it is. */
function confinement(within: string | undefined): string | undefined {
  return within === undefined ? undefined : realpathSync.native(within);
}

/**
 * Resolve a path that is (or passes through) a symbolic link, refusing it when it leads outside `within`.
 * `rel` names a link met inside the tree `root`; without it the tree itself is checked.
 */
function checkLink(root: string, rel: string | undefined, within: string | undefined): string {
  const path = rel === undefined ? root : join(root, ...rel.split('/'));
  const real = realpathSync.native(path);
  if (within !== undefined && !isInside(real, within)) {
    const what = rel === undefined ? root : `"${rel}" in ${root}`;
    throw new SluiceError(
      'DATASTORE_PATH_ESCAPE',
      `${what} leads through a symbolic link to ${real}, outside ${within}; links are followed only to places inside it. Replace the link with a copy of what it points to.`,
      { details: { path, within } },
    );
  }
  return real;
}

function listTreeSync(root: string, rules: Ignore | undefined, within: string | undefined): string[] {
  const files: string[] = [];
  // A folder reached through a symbolic link is walked once: a link back up the tree is not a loop. Only
  // linked folders can close a loop, so only they (and the root) are resolved.
  const visited = new Set<string>([checkLink(root, undefined, within)]);
  const walk = (dir: string, prefix: string, linked: boolean): void => {
    if (linked) {
      const real = realpathSync.native(dir);
      if (visited.has(real)) return;
      visited.add(real);
    }
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const absolute = join(dir, entry.name);
      const rel = prefix + entry.name;
      let isDirectory = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        const target = statSync(absolute, { throwIfNoEntry: false });
        if (!target) continue;
        isDirectory = target.isDirectory();
        if (!isDirectory && !target.isFile()) continue;
      } else if (!isDirectory && !entry.isFile()) {
        continue;
      }
      if (rules?.ignores(isDirectory ? `${rel}/` : rel)) continue;
      if (entry.isSymbolicLink()) checkLink(root, rel, within);
      if (isDirectory) walk(absolute, `${rel}/`, entry.isSymbolicLink());
      else files.push(rel);
    }
  };
  walk(root, '', false);
  return files.sort();
}

/**
 * Hash a file or a folder by content. The digest depends only on relative paths and bytes, never on where
 * the tree lives, so it is the same on every machine.
 */
export async function hashTree(root: string, options: HashTreeOptions = {}): Promise<TreeHash> {
  // absolute paths key the stat cache, whatever the current folder
  root = resolve(root);
  const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
    throw new SluiceError(
      error.code === 'ENOENT' ? 'DATASTORE_PATH_NOT_FOUND' : 'RUN_STORE_ERROR',
      `Cannot read ${root}: ${error.message}`,
      { cause: error, details: { path: root } },
    );
  });
  const within = confinement(options.within);
  if (within !== undefined) checkLink(root, undefined, within);
  const cache = options.statCache;
  if (info.isFile()) {
    cache?.preload?.(root);
    const { hash, read } = hashWithCache(root, cache);
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
  const paths = listTreeSync(root, rules, within);
  cache?.preload?.(root);
  const files: Array<[string, string]> = [];
  let bytes = 0;
  let hashedFiles = 0;
  let lastYield = Date.now();
  for (const rel of paths) {
    const { hash, size, read } = hashWithCache(join(root, rel), cache);
    // defined as own entries, so a file named "__proto__" is kept like any other
    files.push([rel, hash]);
    bytes += size;
    if (read) hashedFiles += 1;
    // Reading is synchronous (far fewer round trips than async I/O); let other work run now and then.
    if (Date.now() - lastYield > 50) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = Date.now();
    }
  }
  cache?.flush?.();
  const ordered: Record<string, string> = Object.fromEntries(files);
  return { type: 'directory', digest: manifestDigest(ordered), files: ordered, bytes, hashedFiles };
}

function basename(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** One reusable read buffer: hashing is synchronous, so it is never shared by two reads at once. */
const READ_BUFFER = Buffer.allocUnsafe(1 << 20);

function hashOpenFile(path: string, size: number): string {
  const fd = openSync(path, 'r');
  try {
    const hash = createHash('sha256');
    let total = 0;
    for (;;) {
      const read = readSync(fd, READ_BUFFER, 0, READ_BUFFER.length, null);
      if (read === 0) break;
      hash.update(READ_BUFFER.subarray(0, read));
      total += read;
      // a short read that reaches the size seen by stat is the end; no extra empty read needed
      if (read < READ_BUFFER.length && total >= size) break;
    }
    return hash.digest('hex');
  } finally {
    closeSync(fd);
  }
}

function hashWithCache(
  path: string,
  cache: StatCache | undefined,
): { hash: string; size: number; read: boolean } {
  const info = statSync(path, { bigint: true });
  const size = Number(info.size);
  if (!cache) return { hash: hashOpenFile(path, size), size, read: true };
  const cached = cache.get(path);
  const mtimeNs = info.mtimeNs.toString();
  const ino = info.ino.toString();
  if (cached && cached.size === size && cached.mtimeNs === mtimeNs && cached.ino === ino) {
    return { hash: cached.hash, size, read: false };
  }
  const wallBefore = BigInt(Date.now()) * 1_000_000n;
  const hash = hashOpenFile(path, size);
  if (info.mtimeNs + RACY_WINDOW_NS < wallBefore) cache.set(path, { size, mtimeNs, ino, hash });
  return { hash, size, read: true };
}
