import { createHash } from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MemoryStatCache,
  hashFile,
  hashTree,
  listTree,
  loadIgnoreRules,
  manifestDigest,
  type StatCache,
  type StatCacheEntry,
} from '../index.js';
import { sluiceErrorOfAsync, tempDir, writeTree } from './helpers.js';

const sha = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

const SOURCE = {
  'train.py': 'print("train")\n',
  'util.py': 'def f():\n    return 1\n',
  'conf/params.json': '{"lr": 0.1}',
  'data/deep/x.csv': 'a,b\n1,2\n',
};

/** Give every file under root a modification time well in the past (so the stat cache may keep it). */
function ageFiles(root: string, files: Iterable<string>, when = new Date('2020-01-01T00:00:00Z')): void {
  for (const file of files) utimesSync(join(root, file), when, when);
}

describe('hashTree on a folder', () => {
  it('hashes each file by its bytes and the folder by its manifest', async () => {
    const root = writeTree(tempDir(), SOURCE);
    const tree = await hashTree(root);
    expect(tree.type).toBe('directory');
    expect(Object.keys(tree.files)).toEqual(['conf/params.json', 'data/deep/x.csv', 'train.py', 'util.py']);
    for (const [path, content] of Object.entries(SOURCE)) expect(tree.files[path]).toBe(sha(content));
    expect(tree.digest).toBe(manifestDigest(tree.files));
    expect(tree.bytes).toBe(Object.values(SOURCE).reduce((sum, c) => sum + Buffer.byteLength(c), 0));
    expect(tree.hashedFiles).toBe(4);
  });

  it('gives the same digest for the same tree in two different places', async () => {
    const one = await hashTree(writeTree(tempDir('sluice-a-'), SOURCE));
    const two = await hashTree(writeTree(join(tempDir('sluice-b-'), 'nested', 'deeper'), SOURCE));
    expect(two.digest).toBe(one.digest);
    expect(two.files).toEqual(one.files);
  });

  it('gives the same digest with or without a stat cache, and reads files larger than its buffer whole', async () => {
    const big = Buffer.alloc(3 * (1 << 20) + 17, 7);
    const root = writeTree(tempDir(), SOURCE);
    writeFileSync(join(root, 'big.bin'), big);
    const plain = await hashTree(root);
    const cached = await hashTree(root, { statCache: new MemoryStatCache() });
    expect(cached.digest).toBe(plain.digest);
    expect(plain.files['big.bin']).toBe(createHash('sha256').update(big).digest('hex'));
    expect(plain.bytes).toBe(
      big.length + Object.values(SOURCE).reduce((n, text) => n + Buffer.byteLength(text), 0),
    );
  });

  it('changes with one changed byte, a rename, an added file or an added empty file', async () => {
    const reference = (await hashTree(writeTree(tempDir(), SOURCE))).digest;
    const variants: Array<Record<string, string>> = [
      { ...SOURCE, 'util.py': 'def f():\n    return 2\n' },
      (() => {
        const { 'util.py': util, ...rest } = SOURCE;
        return { ...rest, 'utils.py': util };
      })(),
      (() => {
        const { 'data/deep/x.csv': csv, ...rest } = SOURCE;
        return { ...rest, 'data/x.csv': csv };
      })(),
      { ...SOURCE, 'new.py': 'x' },
      { ...SOURCE, 'empty.txt': '' },
    ];
    const digests = await Promise.all(
      variants.map(async (files) => (await hashTree(writeTree(tempDir(), files))).digest),
    );
    for (const digest of digests) expect(digest).not.toBe(reference);
    expect(new Set(digests).size).toBe(digests.length);
  });

  it('is not changed by an empty folder or by modification times', async () => {
    const root = writeTree(tempDir(), SOURCE);
    const before = await hashTree(root);
    mkdirSync(join(root, 'empty', 'dir'), { recursive: true });
    ageFiles(root, Object.keys(SOURCE));
    expect((await hashTree(root)).digest).toBe(before.digest);
  });

  it('hashes files named like Object.prototype members, including __proto__', async () => {
    // a computed key, so that the object gets an own "__proto__" property
    const root = writeTree(tempDir(), { ['__proto__']: 'x', constructor: 'c', 'sub/__proto__': 'y' });
    const tree = await hashTree(root);
    expect(Object.keys(tree.files)).toEqual(['__proto__', 'constructor', 'sub/__proto__']);
    expect(tree.files['__proto__']).toBe(sha('x'));
    writeFileSync(join(root, '__proto__'), 'changed');
    expect((await hashTree(root)).digest).not.toBe(tree.digest);
  });

  it('follows symbolic links to files and folders', async () => {
    const outside = writeTree(tempDir(), { 'shared.py': 'shared', 'lib/mod.py': 'mod' });
    const root = writeTree(tempDir(), { 'main.py': 'main' });
    symlinkSync(join(outside, 'shared.py'), join(root, 'shared.py'));
    symlinkSync(join(outside, 'lib'), join(root, 'lib'));
    symlinkSync(join(outside, 'missing.py'), join(root, 'dangling.py'));
    const tree = await hashTree(root);
    expect(tree.files).toEqual({
      'lib/mod.py': sha('mod'),
      'main.py': sha('main'),
      'shared.py': sha('shared'),
    });
    const cached = await hashTree(root, { statCache: new MemoryStatCache() });
    expect(cached.digest).toBe(tree.digest);
  });

  it('with `within`, follows links only to places inside it and refuses the others before reading', async () => {
    const outside = writeTree(tempDir(), { 'secret.txt': 'secret', 'lib/mod.py': 'mod' });
    const store = writeTree(tempDir(), { 'data/a.txt': 'a', 'shared/s.txt': 's' });
    const data = join(store, 'data');
    // links that stay inside the folder (relative and absolute) are followed as before
    symlinkSync('../shared', join(data, 'shared-dir'));
    symlinkSync(join(store, 'shared', 's.txt'), join(data, 'shared-file.txt'));
    symlinkSync(join(store, 'missing.txt'), join(data, 'dangling.txt'));
    const inside = await hashTree(data, { within: store });
    expect(Object.keys(inside.files)).toEqual(['a.txt', 'shared-dir/s.txt', 'shared-file.txt']);
    expect(await listTree(data, undefined, { within: store })).toEqual(Object.keys(inside.files));
    // the same tree, confined to itself: the links to its sibling folder now lead outside
    expect((await sluiceErrorOfAsync(() => hashTree(data, { within: data }))).code).toBe(
      'DATASTORE_PATH_ESCAPE',
    );

    for (const [name, target] of [
      ['leak.txt', join(outside, 'secret.txt')],
      ['leak-dir', join(outside, 'lib')],
      ['leak-up', '../..'],
    ] as const) {
      const tree = writeTree(tempDir(), { 'ok.txt': 'ok' });
      const root = join(store, `tree-${name}`);
      renameSync(tree, root);
      symlinkSync(target, join(root, name));
      for (const call of [
        () => hashTree(root, { within: store }),
        () => hashTree(root, { within: store, statCache: new MemoryStatCache() }),
        () => listTree(root, undefined, { within: store }),
      ]) {
        const error = await sluiceErrorOfAsync(call);
        expect(error.code).toBe('DATASTORE_PATH_ESCAPE');
        expect(error.details).toMatchObject({ path: join(root, name) });
      }
      // without `within` the link is followed, as for source directories
      if (name !== 'leak-up') expect(Object.keys((await hashTree(root)).files).length).toBe(2);
    }

    // the tree itself (a file or a folder) reached through a link that leads out
    symlinkSync(join(outside, 'secret.txt'), join(store, 'secret-link.txt'));
    symlinkSync(outside, join(store, 'outside-link'));
    for (const root of [
      join(store, 'secret-link.txt'),
      join(store, 'outside-link'),
      join(store, 'outside-link', 'lib'),
    ]) {
      expect((await sluiceErrorOfAsync(() => hashTree(root, { within: store }))).code).toBe(
        'DATASTORE_PATH_ESCAPE',
      );
    }
    expect(
      (await sluiceErrorOfAsync(() => listTree(join(store, 'outside-link'), undefined, { within: store })))
        .code,
    ).toBe('DATASTORE_PATH_ESCAPE');
  });

  it('hashes a large file (streamed) the same as node:crypto', async () => {
    const big = Buffer.alloc(3 * (1 << 20) + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    const root = writeTree(tempDir(), { 'big.bin': big });
    expect(await hashFile(join(root, 'big.bin'))).toBe(sha(big));
    const plain = await hashTree(root);
    const cached = await hashTree(root, { statCache: new MemoryStatCache() });
    expect(plain.files['big.bin']).toBe(sha(big));
    expect(cached.files['big.bin']).toBe(sha(big));
    expect(cached.bytes).toBe(big.length);
  });
});

describe('hashTree ignore rules', () => {
  const TREE = {
    'train.py': 'train',
    'notes.log': 'log',
    'data.csv': 'csv',
    'sub/more.log': 'log2',
    '.git/config': '[core]',
    '.git/objects/ab/cdef': 'blob',
    '.sluice/runs.db': 'db',
    '__pycache__/train.cpython-312.pyc': 'pyc',
    '__pycache__/notes.txt': 'not byte-code, but in __pycache__',
    'sub/__pycache__/util.cpython-312.pyc': 'pyc2',
    'loose.pyc': 'pyc3',
  };

  it('applies .gitignore when there is no .amlignore, and always leaves out VCS, cache and Sluice files', async () => {
    const root = writeTree(tempDir(), { ...TREE, '.gitignore': '*.log\n' });
    const tree = await hashTree(root, { useIgnoreFiles: true });
    expect(Object.keys(tree.files)).toEqual(['data.csv', 'train.py']);
  });

  it('lets .amlignore win over .gitignore', async () => {
    const root = writeTree(tempDir(), { ...TREE, '.gitignore': '*.log\n', '.amlignore': '*.csv\n' });
    const tree = await hashTree(root, { useIgnoreFiles: true });
    // *.log is ignored only by .gitignore, so it IS hashed; *.csv is ignored by .amlignore
    expect(Object.keys(tree.files)).toEqual(['notes.log', 'sub/more.log', 'train.py']);
    expect(tree.files['notes.log']).toBe(sha('log'));
  });

  it('leaves out the built-in exclusions with no ignore file at all', async () => {
    const root = writeTree(tempDir(), TREE);
    const tree = await hashTree(root, { useIgnoreFiles: true });
    expect(Object.keys(tree.files)).toEqual(['data.csv', 'notes.log', 'sub/more.log', 'train.py']);
  });

  it('honours folder patterns and negations from the ignore file', async () => {
    const root = writeTree(tempDir(), {
      ...TREE,
      '.amlignore': 'sub/\n*.csv\n!data.csv\n',
    });
    const tree = await hashTree(root, { useIgnoreFiles: true });
    expect(Object.keys(tree.files)).toEqual(['data.csv', 'notes.log', 'train.py']);
  });

  it('hashes everything, ignore files included, without useIgnoreFiles', async () => {
    const files = { ...TREE, '.gitignore': '*.log\n', '.amlignore': '*.csv\n' };
    const root = writeTree(tempDir(), files);
    const tree = await hashTree(root);
    expect(Object.keys(tree.files)).toEqual(Object.keys(files).sort());
    expect((await hashTree(root, { useIgnoreFiles: false })).digest).toBe(tree.digest);
  });

  it('the ignored files do not affect the digest', async () => {
    const root = writeTree(tempDir(), { ...TREE, '.amlignore': '*.log\n' });
    const before = await hashTree(root, { useIgnoreFiles: true });
    writeFileSync(join(root, 'notes.log'), 'changed');
    writeFileSync(join(root, '.git/config'), 'changed');
    writeFileSync(join(root, 'sub/__pycache__/util.cpython-312.pyc'), 'changed');
    expect((await hashTree(root, { useIgnoreFiles: true })).digest).toBe(before.digest);
    writeFileSync(join(root, 'train.py'), 'changed');
    expect((await hashTree(root, { useIgnoreFiles: true })).digest).not.toBe(before.digest);
  });

  it('listTree and loadIgnoreRules can be used directly', async () => {
    const root = writeTree(tempDir(), { ...TREE, '.gitignore': 'data.csv\n' });
    const rules = await loadIgnoreRules(root);
    expect(rules.ignores('data.csv')).toBe(true);
    expect(rules.ignores('.git/')).toBe(true);
    expect(rules.ignores('train.py')).toBe(false);
    expect(await listTree(root, rules)).toEqual(['notes.log', 'sub/more.log', 'train.py']);
    expect(await listTree(root)).toHaveLength(Object.keys(TREE).length + 1);
  });
});

describe('hashTree on a file', () => {
  it('hashes the bytes and names the file by its base name', async () => {
    const root = writeTree(tempDir(), { 'dir/model.pkl': 'weights' });
    const path = join(root, 'dir/model.pkl');
    const tree = await hashTree(path);
    expect(tree).toEqual({
      type: 'file',
      digest: sha('weights'),
      files: { 'model.pkl': sha('weights') },
      bytes: 7,
      hashedFiles: 1,
    });
    expect(tree.digest).toBe(sha(readFileSync(path)));
    // a folder holding only that file is a different identity
    expect((await hashTree(join(root, 'dir'))).digest).not.toBe(tree.digest);
  });

  it('uses the stat cache for a single file too', async () => {
    const root = writeTree(tempDir(), { 'a.csv': '1,2' });
    const path = join(root, 'a.csv');
    ageFiles(root, ['a.csv']);
    const cache = new MemoryStatCache();
    expect((await hashTree(path, { statCache: cache })).hashedFiles).toBe(1);
    const again = await hashTree(path, { statCache: cache });
    expect(again.hashedFiles).toBe(0);
    expect(again.digest).toBe(sha('1,2'));
  });

  it('fails with DATASTORE_PATH_NOT_FOUND for a missing path', async () => {
    const missing = join(tempDir(), 'nope');
    const error = await sluiceErrorOfAsync(() => hashTree(missing));
    expect(error.code).toBe('DATASTORE_PATH_NOT_FOUND');
    expect(error.message).toContain(missing);
    expect(error.details).toEqual({ path: missing });
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('hashTree stat cache', () => {
  it('reads no file the second time for an unchanged tree', async () => {
    const root = writeTree(tempDir(), SOURCE);
    ageFiles(root, Object.keys(SOURCE));
    const cache = new MemoryStatCache();
    const first = await hashTree(root, { statCache: cache });
    expect(first.hashedFiles).toBe(4);
    expect(cache.size).toBe(4);
    const second = await hashTree(root, { statCache: cache });
    expect(second.hashedFiles).toBe(0);
    expect(second.digest).toBe(first.digest);
    expect(second.files).toEqual(first.files);
    expect(second.bytes).toBe(first.bytes);
    expect(second.digest).toBe((await hashTree(root)).digest);
  });

  it('does not remember files modified just now (racily clean)', async () => {
    const root = writeTree(tempDir(), SOURCE);
    const cache = new MemoryStatCache();
    await hashTree(root, { statCache: cache });
    expect(cache.size).toBe(0);
    expect((await hashTree(root, { statCache: cache })).hashedFiles).toBe(4);
    // a file dated in the future is not trusted either
    ageFiles(root, ['train.py'], new Date(Date.now() + 3_600_000));
    await hashTree(root, { statCache: cache });
    expect(cache.get(join(root, 'train.py'))).toBeUndefined();
  });

  it('re-reads exactly the one file whose content and mtime changed', async () => {
    const root = writeTree(tempDir(), SOURCE);
    ageFiles(root, Object.keys(SOURCE));
    const cache = new MemoryStatCache();
    const first = await hashTree(root, { statCache: cache });
    writeFileSync(join(root, 'util.py'), 'def f():\n    return 2\n');
    ageFiles(root, ['util.py'], new Date('2021-01-01T00:00:00Z'));
    const second = await hashTree(root, { statCache: cache });
    expect(second.hashedFiles).toBe(1);
    expect(second.digest).not.toBe(first.digest);
    expect(second.files['util.py']).toBe(sha('def f():\n    return 2\n'));
    expect(second.digest).toBe((await hashTree(root)).digest);
    expect((await hashTree(root, { statCache: cache })).hashedFiles).toBe(0);
  });

  it('re-reads a file replaced by another of the same size and mtime (inode check)', async () => {
    const root = writeTree(tempDir(), { 'a.txt': 'aaaa', 'b.txt': 'bbbb' });
    const when = new Date('2020-06-01T12:00:00Z');
    ageFiles(root, ['a.txt', 'b.txt'], when);
    const cache = new MemoryStatCache();
    const first = await hashTree(root, { statCache: cache });
    const inodeBefore = statSync(join(root, 'a.txt')).ino;

    writeFileSync(join(root, 'a.txt.tmp'), 'cccc');
    renameSync(join(root, 'a.txt.tmp'), join(root, 'a.txt'));
    utimesSync(join(root, 'a.txt'), when, when);
    const after = statSync(join(root, 'a.txt'), { bigint: true });
    expect(after.ino).not.toBe(BigInt(inodeBefore));
    expect(after.size).toBe(4n);
    expect(after.mtimeNs.toString()).toBe(cache.get(join(root, 'a.txt'))!.mtimeNs);

    const second = await hashTree(root, { statCache: cache });
    expect(second.hashedFiles).toBe(1);
    expect(second.files['a.txt']).toBe(sha('cccc'));
    expect(second.digest).not.toBe(first.digest);
  });

  it('re-reads a file whose size changed even if its mtime was restored', async () => {
    const root = writeTree(tempDir(), { 'a.txt': 'aaaa' });
    const when = new Date('2020-06-01T12:00:00Z');
    ageFiles(root, ['a.txt'], when);
    const cache = new MemoryStatCache();
    await hashTree(root, { statCache: cache });
    writeFileSync(join(root, 'a.txt'), 'aaaaa');
    ageFiles(root, ['a.txt'], when);
    const second = await hashTree(root, { statCache: cache });
    expect(second.hashedFiles).toBe(1);
    expect(second.files['a.txt']).toBe(sha('aaaaa'));
  });

  it('hashes a file that was deleted and re-created, and forgets nothing it should not', async () => {
    const root = writeTree(tempDir(), { 'a.txt': 'aaaa', 'b.txt': 'bbbb' });
    ageFiles(root, ['a.txt', 'b.txt']);
    const cache = new MemoryStatCache();
    await hashTree(root, { statCache: cache });
    unlinkSync(join(root, 'b.txt'));
    const second = await hashTree(root, { statCache: cache });
    expect(second.files).toEqual({ 'a.txt': sha('aaaa') });
    expect(second.hashedFiles).toBe(0);
  });

  it('stores size, mtime and inode with each entry and flushes once per hash', async () => {
    const root = writeTree(tempDir(), SOURCE);
    ageFiles(root, Object.keys(SOURCE));
    const entries = new Map<string, StatCacheEntry>();
    let flushes = 0;
    const cache: StatCache = {
      get: (path) => entries.get(path),
      set: (path, entry) => void entries.set(path, entry),
      flush: () => void (flushes += 1),
    };
    await hashTree(root, { statCache: cache });
    expect(flushes).toBe(1);
    const entry = entries.get(join(root, 'train.py'))!;
    const info = statSync(join(root, 'train.py'), { bigint: true });
    expect(entry).toEqual({
      size: Number(info.size),
      mtimeNs: info.mtimeNs.toString(),
      ino: info.ino.toString(),
      hash: sha(SOURCE['train.py']),
    });
    await hashTree(join(root, 'train.py'), { statCache: cache });
    expect(flushes).toBe(2);
  });

  it('trusts the cache entry: a forged hash for an unchanged file is returned as is', async () => {
    // shows the second hash really comes from the cache rather than from the file
    const root = writeTree(tempDir(), { 'a.txt': 'aaaa' });
    ageFiles(root, ['a.txt']);
    const cache = new MemoryStatCache();
    await hashTree(root, { statCache: cache });
    const key = join(root, 'a.txt');
    cache.set(key, { ...cache.get(key)!, hash: 'forged' });
    expect((await hashTree(root, { statCache: cache })).files['a.txt']).toBe('forged');
  });
});
