import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * An entry changed less than this long before its content was hashed may still change within the same
 * timestamp tick unseen, so no stamp is taken then (the stat cache of `@sluice/core` keeps the same window).
 */
const SETTLED_MS = 100;

/** The folders on the way to each file of a tree ('a/b/c.txt' → 'a', 'a/b'), the root left out. */
function folders(files: readonly string[]): Set<string> {
  const found = new Set<string>();
  for (const rel of files) {
    for (let slash = rel.indexOf('/'); slash !== -1; slash = rel.indexOf('/', slash + 1)) {
      found.add(rel.slice(0, slash));
    }
  }
  return found;
}

// Times as milliseconds with their fraction (sub-microsecond steps at today's dates): a plain lstat costs
// half of one with bigint fields.
function line(rel: string, info: Stats | undefined): string {
  if (!info) return `${rel}\0missing\n`;
  // a folder by inode and mtime (a file added or removed in it changes its mtime); a file also by size
  // and ctime, which no `utimes` can set back
  if (info.isDirectory()) return `${rel}\0d\0${info.ino}\0${info.mtimeMs}\n`;
  const type = info.isSymbolicLink() ? 'l' : info.isFile() ? 'f' : 'o';
  return `${rel}\0${type}\0${info.ino}\0${info.size}\0${info.mtimeMs}\0${info.ctimeMs}\n`;
}

const lstat = (path: string): Stats | undefined => lstatSync(path, { throwIfNoEntry: false });

/**
 * The stat stamp of a committed output at `root` holding `files` (relative '/'-separated paths, as its
 * recorded file list): one digest over the inode, size, mtime and ctime of every file and the inode and
 * mtime of the root and every folder holding them. Costs one `lstat` per entry, reads no content. Two
 * equal stamps mean no file was written, replaced, added, removed or renamed in between.
 */
export function outputStamp(root: string, type: 'file' | 'directory', files: readonly string[]): string {
  const hash = createHash('sha256');
  if (type === 'file') {
    hash.update(line('', lstat(root)));
    return hash.digest('hex');
  }
  hash.update(line('', lstat(root)));
  for (const rel of [...folders(files)].sort()) hash.update(line(rel, lstat(join(root, rel))));
  for (const rel of files) hash.update(line(rel, lstat(join(root, rel))));
  return hash.digest('hex');
}

/**
 * The stamp to record for an output whose content was hashed (and matched) starting at `hashedAtMs`
 * (wall clock), or undefined when a stamp would not be safe: an entry changed within 100 ms of the hash
 * (a change in the same timestamp tick could go unseen), or the tree holds something its file list does
 * not name (an empty folder, where a file added later would change no recorded mtime).
 */
export function settledOutputStamp(
  root: string,
  type: 'file' | 'directory',
  files: readonly string[],
  hashedAtMs: number,
): string | undefined {
  const before = hashedAtMs - SETTLED_MS;
  const settled = (info: Stats | undefined): boolean =>
    info !== undefined &&
    info.mtimeMs < before &&
    (info.isDirectory() || info.ctimeMs < before) &&
    (info.isDirectory() || info.isFile() || info.isSymbolicLink());
  try {
    if (type === 'file') return settled(lstat(root)) ? outputStamp(root, type, files) : undefined;
    if (!settled(lstat(root))) return undefined;
    const named = new Set(files);
    const held = folders(files);
    for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
      const rel = join(entry.parentPath ?? entry.path, entry.name)
        .slice(root.length + 1)
        .replaceAll('\\', '/');
      if (entry.isDirectory() ? !held.has(rel) : !named.has(rel)) return undefined;
      if (!settled(lstat(join(root, rel)))) return undefined;
    }
    return outputStamp(root, type, files);
  } catch {
    return undefined;
  }
}
