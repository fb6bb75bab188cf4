import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { SluiceError, hashTree, type StatCache, type TreeHash } from '@sluice/core';
import type { GitInfo } from './store.js';

const run = promisify(execFile);

export interface Snapshot {
  /** The content digest of the source tree (ignore files applied). */
  readonly digest: string;
  readonly files: Readonly<Record<string, string>>;
  /** The folder holding the snapshot's files. */
  readonly path: string;
}

/** SOURCE_DIRECTORY_NOT_FOUND unless `sourceDirectory` is a folder (`step` names the step that gave it). */
export async function checkSourceDirectory(sourceDirectory: string, step?: string): Promise<void> {
  const info = await stat(sourceDirectory).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new SluiceError(
      'SOURCE_DIRECTORY_NOT_FOUND',
      `${step ? `Step "${step}": source` : 'Source'} directory ${sourceDirectory} ${info ? 'is not a folder' : 'does not exist'}; fix the step's sourceDirectory.`,
      { details: { sourceDirectory, ...(step ? { step } : {}) } },
    );
  }
}

/**
 * Hash a source directory and keep a content-addressed copy of it under `snapshotsDir/<digest>`; an
 * identical tree is stored once. The copy is assembled aside and renamed into place.
 */
export async function takeSnapshot(
  sourceDirectory: string,
  snapshotsDir: string,
  statCache?: StatCache,
): Promise<Snapshot> {
  await checkSourceDirectory(sourceDirectory);
  const tree: TreeHash = await hashTree(sourceDirectory, {
    useIgnoreFiles: true,
    ...(statCache ? { statCache } : {}),
  });
  const path = join(snapshotsDir, tree.digest);
  if (
    !(await stat(path).then(
      () => true,
      () => false,
    ))
  ) {
    const staging = join(snapshotsDir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      for (const rel of Object.keys(tree.files)) {
        const target = join(staging, ...rel.split('/'));
        await mkdir(dirname(target), { recursive: true });
        await copyFile(join(sourceDirectory, ...rel.split('/')), target);
      }
      await mkdir(staging, { recursive: true });
      await rename(staging, path).catch(async (error: NodeJS.ErrnoException) => {
        // Another run stored the same snapshot first: theirs is identical.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return { digest: tree.digest, files: tree.files, path };
}

/**
 * Give a step run its own copy of a snapshot to run in, so files a script writes beside itself never leak
 * into the snapshot or into later runs. Copies share blocks where the file system can clone them.
 */
export async function checkoutSnapshot(snapshot: Snapshot, target: string): Promise<string> {
  await rm(target, { recursive: true, force: true });
  await mkdir(target, { recursive: true });
  const made = new Set<string>();
  for (const rel of Object.keys(snapshot.files)) {
    const parts = rel.split('/');
    const destination = join(target, ...parts);
    const folder = dirname(destination);
    if (!made.has(folder)) {
      await mkdir(folder, { recursive: true });
      made.add(folder);
    }
    await copyFile(join(snapshot.path, ...parts), destination, constants.COPYFILE_FICLONE);
  }
  return target;
}

/** Repository, branch, commit and dirty flag of the git checkout holding `dir`, or null outside git. */
export async function gitInfo(dir: string): Promise<GitInfo | null> {
  const git = async (...args: string[]): Promise<string | null> => {
    try {
      const { stdout } = await run('git', ['-C', dir, ...args], { timeout: 10_000 });
      return stdout.trim();
    } catch {
      return null;
    }
  };
  const top = await git('rev-parse', '--show-toplevel');
  if (top === null) return null;
  const [remote, branch, commit, status] = await Promise.all([
    git('config', '--get', 'remote.origin.url'),
    git('rev-parse', '--abbrev-ref', 'HEAD'),
    git('rev-parse', 'HEAD'),
    git('status', '--porcelain', '--', '.'),
  ]);
  return {
    repository: remote || top,
    folder: top,
    branch: branch && branch !== 'HEAD' ? branch : null,
    commit: commit || null,
    dirty: status === null ? false : status.length > 0,
  };
}
