import { lstat, mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { manifestDigest, type Datastore, type TransferProgress } from '@sluice/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** What a conformance setup hands the suite: a ready datastore, and how to tidy up after it. */
export interface DatastoreFixture {
  datastore: Datastore;
  cleanup?: () => Promise<void>;
}

export interface TestDatastoreOptions {
  /** Per-test timeout in milliseconds (default 30 s). */
  timeout?: number;
}

/** Paths that leave the store: each must be refused with DATASTORE_PATH_ESCAPE by every method. */
export const ESCAPING_PATHS = ['../outside.txt', 'a/../../outside.txt', '/absolute/file.txt'] as const;

/**
 * Register a vitest `describe` block that checks a `Datastore` against the whole contract of
 * `@sluice/core`: listing, reads and writes, all-or-nothing uploads, downloads, progress, deletes, content
 * identities, server-side copy (when the store has `copy`) and path checks.
 *
 * `setup` runs once before the tests; every test works below its own folder, so the store may be shared
 * with other data. `cleanup` runs once after them.
 */
export function testDatastore(
  label: string,
  setup: () => Promise<DatastoreFixture>,
  options: TestDatastoreOptions = {},
): void {
  describe(`Datastore conformance: ${label}`, { timeout: options.timeout ?? 30_000 }, () => {
    let fixture: DatastoreFixture | undefined;
    let local: string;
    let counter = 0;
    const run = `conformance-${process.pid}-${Date.now().toString(36)}`;

    beforeAll(async () => {
      local = await mkdtemp(join(tmpdir(), 'sluice-conformance-'));
      fixture = await setup();
    });
    afterAll(async () => {
      try {
        await fixture?.cleanup?.();
      } finally {
        if (local) await rm(local, { recursive: true, force: true });
      }
    });

    const store = (): Datastore => {
      if (!fixture) throw new Error('the datastore setup did not complete');
      return fixture.datastore;
    };
    /** A folder on the store used by one test only. */
    const area = (): string => `${run}/t${++counter}`;
    /** A folder on this machine used by one test only. */
    const scratch = async (): Promise<string> => {
      const dir = join(local, `s${++counter}`);
      await mkdir(dir, { recursive: true });
      return dir;
    };
    const text = async (path: string): Promise<string> =>
      (await readAll(await store().read(path))).toString();

    it('lists files sorted, with paths from the store root; a file lists itself; nothing lists as empty', async () => {
      const base = area();
      await store().write(`${base}/dir/b.txt`, bytes('bee'));
      await store().write(`${base}/dir/a.txt`, bytes('a'));
      await store().write(`${base}/dir/sub/c.txt`, bytes('sea!'));
      await store().write(`${base}/dir-sibling.txt`, bytes('not below dir'));
      await store().write(`${base}/dir2/x.txt`, bytes('not below dir either'));

      const listed = await store().list(`${base}/dir`);
      expect(listed.map((entry) => entry.path)).toEqual([
        `${base}/dir/a.txt`,
        `${base}/dir/b.txt`,
        `${base}/dir/sub/c.txt`,
      ]);
      expect(listed.map((entry) => entry.size)).toEqual([1, 3, 4]);
      for (const entry of listed) expect(entry.path.startsWith('/')).toBe(false);
      // trailing slashes and './' name the same folder
      expect((await store().list(`./${base}/dir/`)).map((entry) => entry.path)).toEqual(
        listed.map((entry) => entry.path),
      );

      const file = await store().list(`${base}/dir/b.txt`);
      expect(file.map((entry) => [entry.path, entry.size])).toEqual([[`${base}/dir/b.txt`, 3]]);

      expect(await store().list(`${base}/missing`)).toEqual([]);
      expect(await store().list(`${base}/dir/a`)).toEqual([]);

      const all = (await store().list(base)).map((entry) => entry.path);
      expect(all).toEqual([...all].sort());
      expect(all).toHaveLength(5);
    });

    it('tells whether a file or a folder exists, and does not match on a name prefix', async () => {
      const base = area();
      await store().write(`${base}/folder/file.txt`, bytes('x'));
      expect(await store().exists(`${base}/folder/file.txt`)).toBe(true);
      expect(await store().exists(`${base}/folder`)).toBe(true);
      expect(await store().exists(`${base}/folder/`)).toBe(true);
      expect(await store().exists(base)).toBe(true);
      expect(await store().exists(`${base}/folder/file`)).toBe(false);
      expect(await store().exists(`${base}/fold`)).toBe(false);
      expect(await store().exists(`${base}/missing.txt`)).toBe(false);
    });

    it('writes and reads back bytes and streams', async () => {
      const base = area();
      const binary = Uint8Array.from({ length: 256 * 3 }, (_, index) => index % 256);
      await store().write(`${base}/binary.bin`, binary);
      expect(Buffer.compare(await readAll(await store().read(`${base}/binary.bin`)), binary)).toBe(0);

      await store().write(`${base}/nested/deeper/stream.txt`, Readable.from([bytes('one '), bytes('two')]));
      expect(await text(`${base}/nested/deeper/stream.txt`)).toBe('one two');

      await store().write(`${base}/empty.txt`, new Uint8Array());
      expect((await readAll(await store().read(`${base}/empty.txt`))).length).toBe(0);
      expect(await store().list(`${base}/empty.txt`)).toMatchObject([{ size: 0 }]);

      await expectCode(() => store().read(`${base}/missing.txt`), 'DATASTORE_PATH_NOT_FOUND');
    });

    it('refuses to write over a file unless told to, keeping the original bytes', async () => {
      const base = area();
      await store().write(`${base}/file.txt`, bytes('original'));
      await expectCode(
        () => store().write(`${base}/file.txt`, bytes('replacement')),
        'DATASTORE_FILE_EXISTS',
      );
      await expectCode(
        () => store().write(`${base}/file.txt`, bytes('replacement'), { overwrite: false }),
        'DATASTORE_FILE_EXISTS',
      );
      await expectCode(
        () => store().write(`${base}/file.txt`, Readable.from([bytes('streamed replacement')])),
        'DATASTORE_FILE_EXISTS',
      );
      expect(await text(`${base}/file.txt`)).toBe('original');
      await store().write(`${base}/file.txt`, bytes('replacement'), { overwrite: true });
      expect(await text(`${base}/file.txt`)).toBe('replacement');
    });

    it('uploads a file and a nested folder', async () => {
      const base = area();
      const dir = await scratch();
      await writeTree(dir, { 'single.txt': 'one file' });
      await store().upload(join(dir, 'single.txt'), `${base}/single.txt`);
      expect(await text(`${base}/single.txt`)).toBe('one file');

      const tree = await writeTree(join(dir, 'tree'), {
        'top.txt': 'top',
        'a/one.txt': '1',
        'a/b/two.txt': '22',
        'a/b/c/three.bin': '333',
      });
      await store().upload(tree, `${base}/tree`);
      const listed = await store().list(`${base}/tree`);
      expect(listed.map((entry) => [entry.path, entry.size])).toEqual([
        [`${base}/tree/a/b/c/three.bin`, 3],
        [`${base}/tree/a/b/two.txt`, 2],
        [`${base}/tree/a/one.txt`, 1],
        [`${base}/tree/top.txt`, 3],
      ]);
      expect(await text(`${base}/tree/a/b/two.txt`)).toBe('22');

      await expectCode(
        () => store().upload(join(dir, 'nothing-here'), `${base}/x`),
        'DATASTORE_PATH_NOT_FOUND',
      );
      expect(await store().exists(`${base}/x`)).toBe(false);
    });

    it('uploads an empty folder: it exists, lists no files, has the empty identity and downloads empty', async () => {
      const base = area();
      const dir = await scratch();
      const empty = join(dir, 'empty');
      await mkdir(empty);
      await store().upload(empty, `${base}/empty`);
      expect(await store().exists(`${base}/empty`)).toBe(true);
      expect(await store().list(`${base}/empty`)).toEqual([]);
      expect(await store().list(base)).toEqual([]);
      const identity = await store().contentIdentity(`${base}/empty`);
      expect(identity).toMatchObject({ type: 'directory', files: {}, bytes: 0, digest: manifestDigest({}) });
      await store().download(`${base}/empty`, join(dir, 'back'));
      expect(await readdir(join(dir, 'back'))).toEqual([]);
      await expectCode(() => store().upload(empty, `${base}/empty`), 'DATASTORE_FILE_EXISTS');

      // replaced by content, then by an empty folder again, then deleted
      await writeTree(join(dir, 'full'), { 'x.txt': 'x' });
      await store().upload(join(dir, 'full'), `${base}/empty`, { overwrite: true });
      expect((await store().list(`${base}/empty`)).map((entry) => entry.path)).toEqual([
        `${base}/empty/x.txt`,
      ]);
      await store().upload(empty, `${base}/empty`, { overwrite: true });
      expect(await store().list(`${base}/empty`)).toEqual([]);
      expect(await store().exists(`${base}/empty`)).toBe(true);
      await store().delete(`${base}/empty`);
      expect(await store().exists(`${base}/empty`)).toBe(false);
      await expectCode(() => store().contentIdentity(`${base}/empty`), 'DATASTORE_PATH_NOT_FOUND');
    });

    it('keeps names with spaces, non-ASCII letters and URL-special characters', async () => {
      const base = area();
      const dir = await scratch();
      const files = {
        'with space.txt': 'space',
        'ünï/çødé ñ.txt': 'unicode',
        'odd/a#b%c+d&e=f;g@h.txt': 'special',
        "odd/it's (1) [2] {3}.txt": 'brackets',
      };
      const tree = await writeTree(join(dir, 'tree'), files);
      await store().upload(tree, `${base}/names`);
      expect(await snapshot(store(), `${base}/names`)).toEqual(
        Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))),
      );
      expect(await store().exists(`${base}/names/ünï/çødé ñ.txt`)).toBe(true);
      const identity = await store().contentIdentity(`${base}/names`);
      expect(Object.keys(identity.files).sort()).toEqual(Object.keys(files).sort());
      await store().download(`${base}/names`, join(dir, 'back'));
      expect(await localTree(join(dir, 'back'))).toEqual(await localTree(tree));
      await store().delete(`${base}/names/odd`);
      expect((await store().list(`${base}/names`)).map((entry) => entry.path)).toEqual([
        `${base}/names/with space.txt`,
        `${base}/names/ünï/çødé ñ.txt`,
      ]);
    });

    it('refuses an upload over an existing path without overwrite, changing nothing; replaces with it', async () => {
      const base = area();
      const dir = await scratch();
      const first = await writeTree(join(dir, 'v1'), {
        'keep.txt': 'v1',
        'old-only.txt': 'old',
        'sub/s.txt': 's1',
      });
      const second = await writeTree(join(dir, 'v2'), {
        'keep.txt': 'v2',
        'new-only.txt': 'new',
        'sub/s.txt': 's2',
      });
      await store().upload(first, `${base}/data`);
      const before = await snapshot(store(), `${base}/data`);

      await expectCode(() => store().upload(second, `${base}/data`), 'DATASTORE_FILE_EXISTS');
      await expectCode(
        () => store().upload(second, `${base}/data`, { overwrite: false }),
        'DATASTORE_FILE_EXISTS',
      );
      await expectCode(
        () => store().upload(join(second, 'keep.txt'), `${base}/data`),
        'DATASTORE_FILE_EXISTS',
      );
      expect(await snapshot(store(), `${base}/data`)).toEqual(before);

      await store().write(`${base}/file.txt`, bytes('file v1'));
      await expectCode(
        () => store().upload(join(second, 'keep.txt'), `${base}/file.txt`),
        'DATASTORE_FILE_EXISTS',
      );
      expect(await text(`${base}/file.txt`)).toBe('file v1');

      await store().upload(second, `${base}/data`, { overwrite: true });
      expect(await snapshot(store(), `${base}/data`)).toEqual({
        'keep.txt': 'v2',
        'new-only.txt': 'new',
        'sub/s.txt': 's2',
      });
      await store().upload(join(second, 'keep.txt'), `${base}/file.txt`, { overwrite: true });
      expect(await text(`${base}/file.txt`)).toBe('v2');
    });

    it('downloads a file and a folder', async () => {
      const base = area();
      const dir = await scratch();
      const tree = await writeTree(join(dir, 'up'), { 'r.txt': 'root', 'x/y/z.txt': 'deep', 'x/w.txt': 'w' });
      await store().upload(tree, `${base}/tree`);

      const file = join(dir, 'down', 'file-copy.txt');
      await store().download(`${base}/tree/x/y/z.txt`, file);
      expect(await readFile(file, 'utf8')).toBe('deep');

      const folder = join(dir, 'down', 'folder');
      await store().download(`${base}/tree`, folder);
      expect(await localTree(folder)).toEqual({ 'r.txt': 'root', 'x/w.txt': 'w', 'x/y/z.txt': 'deep' });

      await expectCode(
        () => store().download(`${base}/missing`, join(dir, 'nope')),
        'DATASTORE_PATH_NOT_FOUND',
      );
    });

    it('reports transfer progress that only grows and ends at the totals', async () => {
      const base = area();
      const dir = await scratch();
      const files: Record<string, string> = {};
      for (let index = 0; index < 12; index += 1)
        files[`f${index}/data-${index}.txt`] = 'x'.repeat(100 * index + 1);
      const tree = await writeTree(join(dir, 'up'), files);
      const totalBytes = Object.values(files).reduce((sum, content) => sum + content.length, 0);

      const uploads: TransferProgress[] = [];
      await store().upload(tree, `${base}/tree`, {
        concurrency: 3,
        onProgress: (p) => uploads.push({ ...p }),
      });
      checkProgress(uploads, 12, totalBytes);

      const downloads: TransferProgress[] = [];
      await store().download(`${base}/tree`, join(dir, 'down'), {
        concurrency: 3,
        onProgress: (p) => downloads.push({ ...p }),
      });
      checkProgress(downloads, 12, totalBytes);
      expect(await localTree(join(dir, 'down'))).toEqual(files);

      const single: TransferProgress[] = [];
      await store().upload(join(tree, 'f3/data-3.txt'), `${base}/single.txt`, {
        onProgress: (p) => single.push({ ...p }),
      });
      checkProgress(single, 1, 301);
    });

    it('deletes a file, and a folder with everything below it but nothing beside it', async () => {
      const base = area();
      await store().write(`${base}/dir/a.txt`, bytes('a'));
      await store().write(`${base}/dir/sub/b.txt`, bytes('b'));
      await store().write(`${base}/dir-beside.txt`, bytes('c'));
      await store().write(`${base}/dir2/d.txt`, bytes('d'));
      await store().write(`${base}/lone.txt`, bytes('e'));

      await store().delete(`${base}/lone.txt`);
      expect(await store().exists(`${base}/lone.txt`)).toBe(false);

      await store().delete(`${base}/dir`);
      expect(await store().exists(`${base}/dir`)).toBe(false);
      expect(await store().list(`${base}/dir`)).toEqual([]);
      expect((await store().list(base)).map((entry) => entry.path)).toEqual([
        `${base}/dir-beside.txt`,
        `${base}/dir2/d.txt`,
      ]);
      // deleting what is not there is not an error
      await store().delete(`${base}/never-was`);
    });

    it('gives content identities that follow the bytes, not the place', async () => {
      const base = area();
      const dir = await scratch();
      const tree = await writeTree(join(dir, 'tree'), {
        'a.txt': 'alpha',
        'b/c.txt': 'gamma',
        'b/d.bin': 'delta',
      });
      await store().upload(tree, `${base}/one`);
      await store().upload(tree, `${base}/two`);

      const one = await store().contentIdentity(`${base}/one`);
      expect(one.type).toBe('directory');
      expect(Object.keys(one.files).sort()).toEqual(['a.txt', 'b/c.txt', 'b/d.bin']);
      expect(one.bytes).toBe(15);
      expect(one.digest).toBe(manifestDigest(one.files));
      expect(await store().contentIdentity(`${base}/one`)).toEqual(one);
      expect((await store().contentIdentity(`${base}/two`)).digest).toBe(one.digest);

      const file = await store().contentIdentity(`${base}/one/b/c.txt`);
      expect(file.type).toBe('file');
      expect(file.bytes).toBe(5);
      expect(Object.keys(file.files)).toEqual(['c.txt']);
      expect(file.files['c.txt']).toBe(one.files['b/c.txt']);
      expect((await store().contentIdentity(`${base}/two/b/c.txt`)).digest).toBe(file.digest);

      // one byte different: the folder's digest and that file's hash change, nothing else
      await store().write(`${base}/two/b/c.txt`, bytes('gammA'), { overwrite: true });
      const changed = await store().contentIdentity(`${base}/two`);
      expect(changed.digest).not.toBe(one.digest);
      expect(changed.files['b/c.txt']).not.toBe(one.files['b/c.txt']);
      expect(changed.files['a.txt']).toBe(one.files['a.txt']);
      expect(changed.files['b/d.bin']).toBe(one.files['b/d.bin']);
      expect((await store().contentIdentity(`${base}/two/b/c.txt`)).digest).not.toBe(file.digest);

      // the same bytes written again give the same identity again
      await store().write(`${base}/two/b/c.txt`, bytes('gamma'), { overwrite: true });
      expect((await store().contentIdentity(`${base}/two`)).digest).toBe(one.digest);

      await expectCode(() => store().contentIdentity(`${base}/missing`), 'DATASTORE_PATH_NOT_FOUND');
    });

    it('copies within the store keeping the content identity (when the store can copy)', async (context) => {
      const copy = store().copy?.bind(store());
      if (!copy) {
        context.skip();
        return;
      }
      const base = area();
      const dir = await scratch();
      const tree = await writeTree(join(dir, 'tree'), { 'x.txt': 'ex', 'y/z.txt': 'zed' });
      await store().upload(tree, `${base}/source`);

      await copy(`${base}/source/y/z.txt`, `${base}/copied.txt`);
      expect(await text(`${base}/copied.txt`)).toBe('zed');
      expect((await store().contentIdentity(`${base}/copied.txt`)).digest).toBe(
        (await store().contentIdentity(`${base}/source/y/z.txt`)).digest,
      );

      await copy(`${base}/source`, `${base}/target`);
      expect((await store().contentIdentity(`${base}/target`)).digest).toBe(
        (await store().contentIdentity(`${base}/source`)).digest,
      );
      expect(await snapshot(store(), `${base}/target`)).toEqual({ 'x.txt': 'ex', 'y/z.txt': 'zed' });

      await store().write(`${base}/taken.txt`, bytes('taken'));
      await expectCode(() => copy(`${base}/copied.txt`, `${base}/taken.txt`), 'DATASTORE_FILE_EXISTS');
      expect(await text(`${base}/taken.txt`)).toBe('taken');
      await copy(`${base}/copied.txt`, `${base}/taken.txt`, { overwrite: true });
      expect(await text(`${base}/taken.txt`)).toBe('zed');

      await expectCode(() => copy(`${base}/missing`, `${base}/elsewhere`), 'DATASTORE_PATH_NOT_FOUND');
    });

    it('refuses paths that leave the store, in every method', async () => {
      const base = area();
      const dir = await scratch();
      const file = join(dir, 'f.txt');
      await writeFile(file, 'f');
      await store().write(`${base}/inside.txt`, bytes('inside'));
      const copy = store().copy?.bind(store());
      for (const path of ESCAPING_PATHS) {
        await expectCode(() => store().exists(path), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().list(path), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().contentIdentity(path), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().read(path), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().write(path, bytes('x')), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().write(path, bytes('x'), { overwrite: true }), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().upload(file, path), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().upload(file, path, { overwrite: true }), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().download(path, join(dir, 'out')), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().delete(path), 'DATASTORE_PATH_ESCAPE');
        if (copy) {
          await expectCode(() => copy(path, `${base}/copy.txt`), 'DATASTORE_PATH_ESCAPE');
          await expectCode(() => copy(`${base}/inside.txt`, path), 'DATASTORE_PATH_ESCAPE');
        }
      }
      expect(await text(`${base}/inside.txt`)).toBe('inside');
    });

    it('follows symbolic links only inside the store, for every read and write (stores in a local folder)', async (context) => {
      const localPath = store().localPath?.bind(store());
      if (!localPath) {
        context.skip();
        return;
      }
      const base = area();
      const dir = await scratch();
      const outside = await writeTree(join(dir, 'outside'), {
        'secret.txt': 'secret',
        'sub/deep.txt': 'deep',
      });
      const before = await localTree(outside);
      const upload = await writeTree(join(dir, 'upload'), { 'u.txt': 'u' });
      await store().write(`${base}/inside/ok.txt`, bytes('ok'));
      await store().write(`${base}/tree/a.txt`, bytes('a'));
      const folder = localPath(base);
      await symlink(outside, join(folder, 'out-dir')); // a folder that leads out
      await symlink(join(outside, 'secret.txt'), join(folder, 'out-file')); // a file that leads out
      await symlink(join(outside, 'missing'), join(folder, 'nowhere')); // a link to nothing (outside)
      await symlink(join(outside, 'secret.txt'), join(folder, 'tree', 'leak.txt')); // inside a folder
      await symlink('inside', join(folder, 'in-dir')); // a folder that stays inside
      await symlink('inside/ok.txt', join(folder, 'in-file.txt'));
      const escape = 'DATASTORE_PATH_ESCAPE';

      // reads: the linked paths, and every folder holding a link that leads out
      for (const path of [`${base}/out-file`, `${base}/out-dir/secret.txt`, `${base}/out-dir/sub/deep.txt`]) {
        await expectCode(() => store().read(path), escape);
        await expectCode(() => store().exists(path), escape);
        await expectCode(() => store().list(path), escape);
        await expectCode(() => store().contentIdentity(path), escape);
        await expectCode(() => store().download(path, join(dir, 'down', 'file')), escape);
      }
      for (const path of [`${base}/out-dir`, `${base}/tree`, base]) {
        await expectCode(() => store().list(path), escape);
        await expectCode(() => store().contentIdentity(path), escape);
        await expectCode(() => store().download(path, join(dir, 'down', 'folder')), escape);
      }
      await expectCode(() => store().read(`${base}/nowhere/x.txt`), escape);
      expect(await localTree(join(dir, 'down')).catch(() => ({}))).toEqual({});

      // writes into a folder that leads out, or through a link to nothing
      for (const path of [
        `${base}/out-dir/new.txt`,
        `${base}/out-dir/sub/new.txt`,
        `${base}/nowhere/new.txt`,
      ]) {
        await expectCode(() => store().write(path, bytes('x')), escape);
        await expectCode(() => store().write(path, bytes('x'), { overwrite: true }), escape);
        await expectCode(() => store().upload(join(upload, 'u.txt'), path), escape);
        await expectCode(() => store().upload(upload, path, { overwrite: true }), escape);
        await expectCode(() => store().delete(path), escape);
      }
      for (const path of [`${base}/out-file`, `${base}/out-dir/secret.txt`]) {
        await expectCode(() => store().write(path, bytes('x'), { overwrite: true }), escape);
        await expectCode(() => store().upload(join(upload, 'u.txt'), path, { overwrite: true }), escape);
      }
      await expectCode(() => store().delete(`${base}/out-dir/secret.txt`), escape);
      await expectCode(() => store().delete(`${base}/out-dir/sub`), escape);
      const copy = store().copy?.bind(store());
      if (copy) {
        await expectCode(() => copy(`${base}/inside/ok.txt`, `${base}/out-dir/copied.txt`), escape);
        await expectCode(() => copy(`${base}/out-file`, `${base}/copied.txt`), escape);
        await expectCode(() => copy(`${base}/out-dir`, `${base}/copied`), escape);
        await expectCode(() => copy(`${base}/tree`, `${base}/copied`), escape);
        expect(await store().exists(`${base}/copied`)).toBe(false);
        expect(await store().exists(`${base}/copied.txt`)).toBe(false);
      }
      // nothing outside the store was read into it, written or removed
      expect(await localTree(outside)).toEqual(before);
      expect(await readdir(outside)).toEqual(['secret.txt', 'sub']);

      // a link as the last part is never followed: writing replaces a link to nothing, deleting removes
      // the link and not what it points to
      await store().write(`${base}/nowhere`, bytes('here now'));
      expect(await text(`${base}/nowhere`)).toBe('here now');
      await store().delete(`${base}/out-file`);
      await store().delete(`${base}/out-dir`);
      await store().delete(`${base}/tree/leak.txt`);
      expect(await localTree(outside)).toEqual(before);
      await expect(lstat(join(folder, 'out-dir'))).rejects.toMatchObject({ code: 'ENOENT' });

      // links that stay inside the store keep working
      expect(await text(`${base}/in-file.txt`)).toBe('ok');
      expect(await text(`${base}/in-dir/ok.txt`)).toBe('ok');
      await store().write(`${base}/in-dir/more.txt`, bytes('more'));
      expect(await text(`${base}/inside/more.txt`)).toBe('more');
      expect((await store().list(`${base}/in-dir`)).map((entry) => entry.path)).toEqual([
        `${base}/in-dir/more.txt`,
        `${base}/in-dir/ok.txt`,
      ]);
      expect((await store().contentIdentity(`${base}/in-dir`)).digest).toBe(
        (await store().contentIdentity(`${base}/inside`)).digest,
      );
      await store().download(`${base}/in-dir`, join(dir, 'back'));
      expect(await localTree(join(dir, 'back'))).toEqual({ 'more.txt': 'more', 'ok.txt': 'ok' });
      expect(await snapshot(store(), `${base}/tree`)).toEqual({ 'a.txt': 'a' });
    });

    it('refuses to write, upload or delete the store root (an empty path)', async () => {
      const dir = await scratch();
      const file = join(dir, 'f.txt');
      await writeFile(file, 'f');
      const marker = `${area()}/still-here.txt`;
      await store().write(marker, bytes('still here'));
      for (const path of ['', '.', './']) {
        await expectCode(() => store().upload(file, path), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().upload(dir, path, { overwrite: true }), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().write(path, bytes('x'), { overwrite: true }), 'DATASTORE_PATH_ESCAPE');
        await expectCode(() => store().delete(path), 'DATASTORE_PATH_ESCAPE');
      }
      expect(await text(marker)).toBe('still here');
    });
  });
}

// -- helpers ---------------------------------------------------------------------------------------------

const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

/** Expect a call to fail (thrown or rejected) with a SluiceError of this code. */
export async function expectCode(call: () => unknown, code: string): Promise<void> {
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await call() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (outcome.ok) {
    throw new Error(`expected an error with code ${code}, but the call succeeded`);
  }
  const error = outcome.error as { code?: unknown; message?: unknown };
  expect(
    { code: error?.code, message: error?.message },
    `expected ${code}, got ${String(error?.code)}: ${String(error?.message)}`,
  ).toMatchObject({ code });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks);
}

async function writeTree(root: string, files: Record<string, string>): Promise<string> {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, ...rel.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
  await mkdir(root, { recursive: true });
  return root;
}

/** A local folder's files: relative path → text. */
async function localTree(root: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const rel = path
      .slice(root.length + 1)
      .split(/[\\/]/)
      .join('/');
    result[rel] = await readFile(path, 'utf8');
  }
  return Object.fromEntries(Object.entries(result).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A folder on the store: path relative to the folder → text. */
async function snapshot(store: Datastore, folder: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await store.list(folder)) {
    result[entry.path.slice(folder.length + 1)] = (await readAll(await store.read(entry.path))).toString();
  }
  return result;
}

function checkProgress(events: TransferProgress[], totalFiles: number, totalBytes: number): void {
  expect(events.length).toBeGreaterThan(0);
  let previous: TransferProgress | undefined;
  for (const event of events) {
    expect(event.totalFiles).toBe(totalFiles);
    expect(event.totalBytes).toBe(totalBytes);
    expect(event.files).toBeLessThanOrEqual(totalFiles);
    expect(event.bytes).toBeLessThanOrEqual(totalBytes);
    if (previous) {
      expect(event.files).toBeGreaterThanOrEqual(previous.files);
      expect(event.bytes).toBeGreaterThanOrEqual(previous.bytes);
    }
    previous = event;
  }
  expect(previous).toMatchObject({ files: totalFiles, bytes: totalBytes });
}
