import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataReference, InputBinding, isExternalData, isSluiceError, toInputBinding } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Dataset, FileDataset, TabularDataset, registerOutputDataset } from '../dataset.js';
import { isResolvableData } from '../resolvable-data.js';
import { Workspace } from '../workspace.js';
import type { WorkspaceDatastore } from '../datastore.js';
import { tempDir } from './fixtures.js';

const IRIS = fileURLToPath(new URL('../../../../examples/iris/data/iris.csv', import.meta.url));

let ws: Workspace;
let store: WorkspaceDatastore;
beforeEach(() => {
  ws = Workspace.create(tempDir());
  store = ws.getDefaultDatastore();
});
afterEach(async () => {
  await ws.close();
});

async function put(path: string, content: string | Buffer): Promise<void> {
  await store.write(path, typeof content === 'string' ? Buffer.from(content) : content, { overwrite: true });
}

async function uploadIris(target = 'iris'): Promise<void> {
  await store.uploadFiles([IRIS], { targetPath: target });
}

async function code(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    if (isSluiceError(error)) return error.code;
    throw error;
  }
  return undefined;
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isSluiceError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a failure');
}

const SMALL = 'name,age,score,member\nada,36,9.5,true\nbob,,7.25,false\ncy,20,,TRUE\nada,41,3,false\n';

describe('construction', () => {
  it('is lazy: a missing path is only noticed when the data is read', async () => {
    const tabular = Dataset.Tabular.fromDelimitedFiles([[store, 'nowhere/data.csv']]);
    const files = Dataset.File.fromFiles([store, 'nowhere/']);
    expect(await tabular.exists()).toBe(false);
    expect(await files.exists()).toBe(false);
    const error = await failure(tabular.toRecords());
    expect(error.code).toBe('DATASTORE_PATH_NOT_FOUND');
    expect(error.message).toMatch(/nowhere\/data\.csv.*upload the data first or fix the dataset's path/);
    expect(await code(files.toPathList())).toBe('DATASTORE_PATH_NOT_FOUND');
    expect(await code(tabular.contentIdentity())).toBe('DATASTORE_PATH_NOT_FOUND');
  });

  it('accepts a tuple, a list of tuples, a datastore name and a DataReference', async () => {
    await put('d/a.csv', 'x\n1\n');
    const ref = new DataReference({ datastore: 'workspaceblobstore', pathOnDatastore: 'd/a.csv', name: 'a' });
    const forms = [
      Dataset.Tabular.fromDelimitedFiles([store, 'd/a.csv']),
      Dataset.Tabular.fromDelimitedFiles([[store, 'd/a.csv']]),
      Dataset.Tabular.fromDelimitedFiles(['workspaceblobstore', 'd/a.csv']),
      Dataset.Tabular.fromDelimitedFiles(ref),
      Dataset.Tabular.fromDelimitedFiles([ref]),
    ];
    for (const dataset of forms) {
      expect(await dataset.toRecords(ws)).toEqual([{ x: 1 }]);
      expect(dataset.datastore).toBe('workspaceblobstore');
      expect(dataset.pathOnDatastore).toBe('d/a.csv');
    }
  });

  it('needs the workspace for datastores given by name, and says how to pass it', async () => {
    await put('d/a.csv', 'x\n1\n');
    const byName = Dataset.Tabular.fromDelimitedFiles([['workspaceblobstore', 'd/a.csv']]);
    const error = await failure(byName.toRecords());
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.message).toMatch(/pass the workspace \(dataset\.toRecords\(ws\)\)/);
    expect(await byName.toRecords(ws)).toEqual([{ x: 1 }]);
  });

  it('refuses bad arguments with DATASET_INVALID or DATASTORE_PATH_ESCAPE', async () => {
    expect(await code(() => Dataset.File.fromFiles([] as never))).toBe('DATASET_INVALID');
    expect(await code(() => Dataset.File.fromFiles('data/a.csv' as never))).toBe('DATASET_INVALID');
    expect(await code(() => Dataset.File.fromFiles([[42, 'a.csv']] as never))).toBe('DATASET_INVALID');
    expect(await code(() => Dataset.File.fromFiles([store, '../escape']))).toBe('DATASTORE_PATH_ESCAPE');
    expect(await code(() => Dataset.Tabular.fromDelimitedFiles([store, 'a.csv'], { separator: '' }))).toBe(
      'DATASET_INVALID',
    );
    expect(
      await code(() =>
        Dataset.Tabular.fromDelimitedFiles([store, 'a.csv'], { setColumnTypes: { a: 'date' as never } }),
      ),
    ).toBe('DATASET_INVALID');
    expect(
      await code(() => Dataset.Tabular.fromDelimitedFiles([store, 'a.csv'], { seperator: ';' } as never)),
    ).toBe('DATASET_INVALID');
  });
});

describe('tabular reading', () => {
  it('reads the iris data with inferred types and exact statistics', async () => {
    await uploadIris();
    const iris = Dataset.Tabular.fromDelimitedFiles([[store, 'iris/iris.csv']]);
    const records = await iris.toRecords();
    expect(records).toHaveLength(150);
    expect(records[0]).toEqual({
      sepal_length: 5.1,
      sepal_width: 3.5,
      petal_length: 1.4,
      petal_width: 0.2,
      species: 'setosa',
    });
    expect(await iris.columnTypes()).toEqual({
      sepal_length: 'number',
      sepal_width: 'number',
      petal_length: 'number',
      petal_width: 'number',
      species: 'string',
    });
    const summary = await iris.summary();
    const species = summary.find((column) => column.column === 'species')!;
    expect(species).toMatchObject({ type: 'string', count: 150, missing: 0, distinct: 3 });
    expect(species.mostCommon?.count).toBe(50);
    const sepal = summary.find((column) => column.column === 'sepal_length')!;
    expect(sepal).toMatchObject({ type: 'number', count: 150, missing: 0, min: 4.3, max: 7.9 });
    expect(sepal.mean).toBeCloseTo(5.843333, 5);
    expect(sepal.std).toBeCloseTo(0.828066, 5);
  });

  it('infers integer, number, boolean and string columns; empty cells are null', async () => {
    await put('small.csv', SMALL);
    const small = Dataset.Tabular.fromDelimitedFiles([store, 'small.csv']);
    expect(await small.columnTypes()).toEqual({
      name: 'string',
      age: 'integer',
      score: 'number',
      member: 'boolean',
    });
    expect(await small.toRecords()).toEqual([
      { name: 'ada', age: 36, score: 9.5, member: true },
      { name: 'bob', age: null, score: 7.25, member: false },
      { name: 'cy', age: 20, score: null, member: true },
      { name: 'ada', age: 41, score: 3, member: false },
    ]);
  });

  it('gives exact summary statistics for a small table', async () => {
    await put('small.csv', SMALL);
    const summary = await Dataset.Tabular.fromDelimitedFiles([store, 'small.csv']).summary();
    expect(summary).toEqual([
      {
        column: 'name',
        type: 'string',
        count: 4,
        missing: 0,
        distinct: 3,
        min: null,
        max: null,
        mean: null,
        std: null,
        mostCommon: { value: 'ada', count: 2 },
      },
      {
        column: 'age',
        type: 'integer',
        count: 3,
        missing: 1,
        distinct: 3,
        min: 20,
        max: 41,
        mean: 97 / 3,
        std: Math.sqrt(((36 - 97 / 3) ** 2 + (20 - 97 / 3) ** 2 + (41 - 97 / 3) ** 2) / 2),
      },
      {
        column: 'score',
        type: 'number',
        count: 3,
        missing: 1,
        distinct: 3,
        min: 3,
        max: 9.5,
        mean: 19.75 / 3,
        std: Math.sqrt(((9.5 - 19.75 / 3) ** 2 + (7.25 - 19.75 / 3) ** 2 + (3 - 19.75 / 3) ** 2) / 2),
      },
      {
        column: 'member',
        type: 'boolean',
        count: 4,
        missing: 0,
        distinct: 2,
        min: null,
        max: null,
        mean: null,
        std: null,
        mostCommon: { value: false, count: 2 },
      },
    ]);
  });

  it('forces types with setColumnTypes and keeps strings when inference is off', async () => {
    await put('codes.csv', 'zip,count,flag\n007,1,yes\n123,2.0,no\n');
    const forced = Dataset.Tabular.fromDelimitedFiles([store, 'codes.csv'], {
      setColumnTypes: { zip: 'string', count: 'integer', flag: 'boolean' },
    });
    expect(await forced.toRecords()).toEqual([
      { zip: '007', count: 1, flag: true },
      { zip: '123', count: 2, flag: false },
    ]);
    const plain = Dataset.Tabular.fromDelimitedFiles([store, 'codes.csv'], { inferColumnTypes: false });
    expect(await plain.columnTypes()).toEqual({ zip: 'string', count: 'string', flag: 'string' });
    expect((await plain.toRecords())[0]).toEqual({ zip: '007', count: '1', flag: 'yes' });

    const wrong = Dataset.Tabular.fromDelimitedFiles([store, 'codes.csv'], {
      setColumnTypes: { flag: 'integer' },
    });
    const error = await failure(wrong.toRecords());
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.message).toMatch(
      /Column "flag" is set to integer but line 2 of workspaceblobstore:codes\.csv/,
    );
    const unknown = Dataset.Tabular.fromDelimitedFiles([store, 'codes.csv'], {
      setColumnTypes: { zipcode: 'string' },
    });
    expect((await failure(unknown.toRecords())).message).toMatch(/"zipcode".*"zip", "count", "flag"/);
  });

  it('parses quoted fields, CRLF line ends, a BOM, other separators and files without a header', async () => {
    await put(
      'quoted.csv',
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from('id,text,note\r\n1,"a, b","say ""hi"""\r\n2,"two\r\nlines",\r\n\r\n3,plain,x\r\n'),
      ]),
    );
    const quoted = Dataset.Tabular.fromDelimitedFiles([store, 'quoted.csv']);
    expect(await quoted.toRecords()).toEqual([
      { id: 1, text: 'a, b', note: 'say "hi"' },
      { id: 2, text: 'two\r\nlines', note: null },
      { id: 3, text: 'plain', note: 'x' },
    ]);
    await put('semi.txt', 'a;b\n1,5;x\n');
    expect(
      await Dataset.Tabular.fromDelimitedFiles([store, 'semi.txt'], { separator: ';' }).toRecords(),
    ).toEqual([{ a: '1,5', b: 'x' }]);
    await put('tabs.tsv', '1\tx\n2\ty\n');
    expect(
      await Dataset.Tabular.fromDelimitedFiles([store, 'tabs.tsv'], {
        separator: '\t',
        header: false,
      }).toRecords(),
    ).toEqual([
      { Column1: 1, Column2: 'x' },
      { Column1: 2, Column2: 'y' },
    ]);
    await put('latin.csv', Buffer.from([0x6e, 0x0a, 0x63, 0x61, 0x66, 0xe9, 0x0a])); // "n\ncafé\n" in latin1
    expect(
      await Dataset.Tabular.fromDelimitedFiles([store, 'latin.csv'], { encoding: 'latin1' }).toRecords(),
    ).toEqual([{ n: 'café' }]);
  });

  it('names the line when a row has more fields than the header', async () => {
    await put('bad.csv', 'a,b\n1,2\n3,4,5\n');
    const error = await failure(Dataset.Tabular.fromDelimitedFiles([store, 'bad.csv']).toRecords());
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.message).toMatch(/Line 3 of workspaceblobstore:bad\.csv has 3 fields but the header has 2/);
  });

  it('reads every file under a folder, sorted, and several paths in order', async () => {
    await put('parts/b.csv', 'x,y\n3,c\n');
    await put('parts/a.csv', 'x,y\n1,a\n2,b\n');
    await put('parts/sub/c.csv', 'y,x,z\nd,4,true\n');
    await put('extra.csv', 'x\n5\n');
    const folder = Dataset.Tabular.fromDelimitedFiles([store, 'parts/']);
    expect(await folder.toRecords()).toEqual([
      { x: 1, y: 'a', z: null },
      { x: 2, y: 'b', z: null },
      { x: 3, y: 'c', z: null },
      { x: 4, y: 'd', z: true },
    ]);
    const same = Dataset.Tabular.fromDelimitedFiles([store, 'parts']);
    expect((await same.contentIdentity()).digest).toBe((await folder.contentIdentity()).digest);
    const several = Dataset.Tabular.fromDelimitedFiles([
      [store, 'extra.csv'],
      [store, 'parts/b.csv'],
    ]);
    expect(await several.toRecords()).toEqual([
      { x: 5, y: null },
      { x: 3, y: 'c' },
    ]);
    const glob = Dataset.Tabular.fromDelimitedFiles([store, 'parts/*.csv']);
    expect((await glob.toRecords()).map((row) => row.x)).toEqual([1, 2, 3]);
    const deep = Dataset.Tabular.fromDelimitedFiles([store, 'parts/**/c.csv']);
    expect((await deep.toRecords()).map((row) => row.x)).toEqual([4]);
    expect(await code(Dataset.Tabular.fromDelimitedFiles([store, 'parts/*.tsv']).toRecords())).toBe(
      'DATASTORE_PATH_NOT_FOUND',
    );
  });
});

describe('globs', () => {
  it('identify only the matched files, hashed one by one or through their folder', async () => {
    await put('few/a.csv', 'x\n1\n');
    await put('few/b.csv', 'x\n2\n');
    await put('few/notes.txt', 'not data');
    const few = Dataset.Tabular.fromDelimitedFiles([store, 'few/*.csv']);
    const before = await few.contentIdentity();
    expect(Object.keys(before.files).sort()).toEqual([
      'workspaceblobstore:few/a.csv',
      'workspaceblobstore:few/b.csv',
    ]);
    await put('few/notes.txt', 'still not data');
    expect((await few.contentIdentity()).digest).toBe(before.digest);
    await put('few/b.csv', 'x\n3\n');
    expect((await few.contentIdentity()).digest).not.toBe(before.digest);

    for (let i = 0; i < 70; i++) await put(`many/f${String(i).padStart(2, '0')}.csv`, `x\n${i}\n`);
    await put('many/readme.md', '# many');
    const many = Dataset.Tabular.fromDelimitedFiles([store, 'many/*.csv']);
    const identity = await many.contentIdentity();
    expect(Object.keys(identity.files)).toHaveLength(70);
    expect((await many.toRecords()).map((row) => row.x)).toEqual(Array.from({ length: 70 }, (_, i) => i));
    const files = Dataset.File.fromFiles([store, 'many/f0?.csv']);
    expect(await files.toPathList()).toHaveLength(10);
    const dir = tempDir();
    await files.download(dir);
    expect(readdirSync(dir)).toHaveLength(10);
  });
});

describe('transformations', () => {
  beforeEach(async () => {
    await put('small.csv', SMALL);
  });
  const small = (): TabularDataset => Dataset.Tabular.fromDelimitedFiles([store, 'small.csv']);
  const names = async (dataset: TabularDataset): Promise<unknown[]> =>
    (await dataset.toRecords()).map((row) => row.name ?? row.age);

  it('takes, skips, filters and keeps or drops columns, lazily and in order', async () => {
    expect(await names(small().take(2))).toEqual(['ada', 'bob']);
    expect(await names(small().skip(1).take(2))).toEqual(['bob', 'cy']);
    expect(await names(small().skip(10))).toEqual([]);
    expect(await names(small().filter('age', '>', 30))).toEqual(['ada', 'ada']);
    expect(await names(small().filter('age', '>=', '36'))).toEqual(['ada', 'ada']);
    expect(await names(small().filter('age', '<', 36))).toEqual(['cy']);
    expect(await names(small().filter('age', '<=', 36))).toEqual(['ada', 'cy']);
    expect(await names(small().filter('age', '==', null))).toEqual(['bob']);
    expect(await names(small().filter('name', '!=', 'ada'))).toEqual(['bob', 'cy']);
    expect(await names(small().filter('name', '==', 'ada'))).toEqual(['ada', 'ada']);
    expect(await names(small().filter('name', 'in', ['bob', 'cy']))).toEqual(['bob', 'cy']);
    expect(await names(small().filter('name', 'contains', 'y'))).toEqual(['cy']);
    expect(await names(small().filter('name', 'startsWith', 'b'))).toEqual(['bob']);
    expect(await names(small().filter('member', '==', true))).toEqual(['ada', 'cy']);
    expect(await names(small().filter('score', '>', 5).filter('member', '==', false))).toEqual(['bob']);
    expect(await small().keepColumns(['score', 'name']).toRecords()).toEqual([
      { score: 9.5, name: 'ada' },
      { score: 7.25, name: 'bob' },
      { score: null, name: 'cy' },
      { score: 3, name: 'ada' },
    ]);
    expect(await small().dropColumns(['score', 'member']).columnTypes()).toEqual({
      name: 'string',
      age: 'integer',
    });
    expect((await small().take(1).toCsv()).split('\n')[0]).toBe('name,age,score,member');
  });

  it('refuses bad arguments at once and unknown columns when read', async () => {
    expect(await code(() => small().take(-1))).toBe('DATASET_INVALID');
    expect(await code(() => small().skip(1.5))).toBe('DATASET_INVALID');
    expect(await code(() => small().filter('age', '~=' as never, 1))).toBe('DATASET_INVALID');
    expect(await code(() => small().filter('age', 'in', 1))).toBe('DATASET_INVALID');
    expect(await code(() => small().filter('age', '>', null))).toBe('DATASET_INVALID');
    expect(await code(() => small().keepColumns([]))).toBe('DATASET_INVALID');
    expect(await code(() => small().randomSplit(1))).toBe('DATASET_INVALID');
    expect(await code(() => small().randomSplit(0))).toBe('DATASET_INVALID');
    expect(await code(() => small().randomSplit(0.5, 1.5))).toBe('DATASET_INVALID');
    const lazy = small().filter('height', '>', 1);
    const error = await failure(lazy.toRecords());
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.message).toMatch(/filter\(\) names column "height".*"name", "age", "score", "member"/);
    expect(await code(small().keepColumns(['name', 'nope']).toRecords())).toBe('DATASET_INVALID');
    expect(await code(small().dropColumns('nope').toRecords())).toBe('DATASET_INVALID');
  });

  it('splits randomly but deterministically into disjoint parts that cover every row', async () => {
    await put('ids.csv', `id\n${Array.from({ length: 1000 }, (_, i) => i).join('\n')}\n`);
    const ids = (): TabularDataset => Dataset.Tabular.fromDelimitedFiles([store, 'ids.csv']);
    const values = async (dataset: TabularDataset): Promise<number[]> =>
      (await dataset.toRecords()).map((row) => row.id as number);
    const [train, test] = ids().randomSplit(0.7, 42);
    const a = await values(train);
    const b = await values(test);
    expect(a.length + b.length).toBe(1000);
    expect(new Set([...a, ...b]).size).toBe(1000);
    expect(a.length).toBeGreaterThan(650);
    expect(a.length).toBeLessThan(750);
    const [again] = ids().randomSplit(0.7, 42);
    expect(await values(again)).toEqual(a);
    const [other] = ids().randomSplit(0.7, 7);
    expect(await values(other)).not.toEqual(a);
    expect((await train.contentIdentity()).digest).not.toBe((await test.contentIdentity()).digest);

    await uploadIris();
    const [irisTrain, irisTest] = Dataset.Tabular.fromDelimitedFiles([store, 'iris/iris.csv']).randomSplit(
      0.8,
    );
    const sizes = [(await irisTrain.toRecords()).length, (await irisTest.toRecords()).length];
    expect(sizes[0]! + sizes[1]!).toBe(150);
    expect(sizes[0]).toBeGreaterThan(sizes[1]!);
  });

  it('puts the transformations into toJSON and the identity; fromJSON rebuilds the same dataset', async () => {
    const ten = small().take(10);
    const twenty = small().take(20);
    expect(ten.toJSON()).toMatchObject({
      kind: 'tabular-dataset',
      name: 'dataset',
      paths: [{ datastore: 'workspaceblobstore', path: 'small.csv' }],
      options: { separator: ',', header: true, inferColumnTypes: true, setColumnTypes: {}, encoding: 'utf8' },
      transformations: [{ op: 'take', n: 10 }],
    });
    const [tenId, twentyId] = await Promise.all([ten.contentIdentity(), twenty.contentIdentity()]);
    expect(tenId.digest).not.toBe(twentyId.digest);
    expect(tenId.files).toEqual(twentyId.files);
    expect(Object.keys(tenId.files)).toEqual(['workspaceblobstore:small.csv']);
    const [first] = small().filter('age', '>', 1).keepColumns(['name']).randomSplit(0.5, 3);
    const rebuilt = Dataset.fromJSON(JSON.parse(JSON.stringify(first)), ws) as TabularDataset;
    expect(rebuilt).toBeInstanceOf(TabularDataset);
    expect((await rebuilt.contentIdentity()).digest).toBe((await first.contentIdentity()).digest);
    expect(await rebuilt.toRecords()).toEqual(await first.toRecords());
  });
});

describe('file datasets', () => {
  beforeEach(async () => {
    await put('images/a.png', 'A');
    await put('images/b/c.png', 'C');
    await put('notes.txt', 'N');
  });

  it('lists and downloads the files, keeping their layout', async () => {
    const images = Dataset.File.fromFiles([store, 'images/']);
    expect(await images.toPathList()).toEqual(['images/a.png', 'images/b/c.png']);
    const dir = tempDir();
    const local = await images.download(dir);
    expect(local).toEqual([join(dir, 'a.png'), join(dir, 'b', 'c.png')]);
    expect(readFileSync(join(dir, 'b', 'c.png'), 'utf8')).toBe('C');
    expect(await code(images.download(dir))).toBe('DATASTORE_FILE_EXISTS');
    expect(await images.download(dir, { overwrite: true })).toHaveLength(2);

    const mixed = Dataset.File.fromFiles([
      [store, 'notes.txt'],
      [store, 'images/b/c.png'],
    ]);
    const mixedDir = tempDir();
    expect(await mixed.download(mixedDir)).toEqual([
      join(mixedDir, 'notes.txt'),
      join(mixedDir, 'images/b/c.png'),
    ]);
    expect((await mixed.contentIdentity()).type).toBe('directory');
    expect((await Dataset.File.fromFiles([store, 'notes.txt']).contentIdentity()).type).toBe('file');
  });

  it('delivers in place when mounted from a local datastore, else copies under dir', async () => {
    const images = Dataset.File.fromFiles([store, 'images']);
    expect(await images.deliver(ws, { mode: 'mount', dir: tempDir() })).toEqual({
      path: store.localPath!('images'),
      type: 'directory',
    });
    const note = Dataset.File.fromFiles([store, 'notes.txt']);
    expect(await note.deliver(ws, { mode: 'mount', dir: tempDir() })).toEqual({
      path: store.localPath!('notes.txt'),
      type: 'file',
    });
    const dir = tempDir();
    expect(await images.deliver(ws, { mode: 'download', dir })).toEqual({ path: dir, type: 'directory' });
    expect(readdirSync(dir).sort()).toEqual(['a.png', 'b']);
    const noteDir = tempDir();
    expect(await note.deliver(ws, { mode: 'download', dir: noteDir })).toEqual({
      path: join(noteDir, 'notes.txt'),
      type: 'file',
    });
    const missing = Dataset.File.fromFiles([store, 'gone']);
    expect(await code(missing.deliver(ws, { mode: 'mount', dir: tempDir() }))).toBe(
      'DATASTORE_PATH_NOT_FOUND',
    );
  });

  it('is external, resolvable data usable as a named step input', () => {
    const images = Dataset.File.fromFiles([store, 'images']);
    expect(isExternalData(images)).toBe(true);
    expect(isResolvableData(images)).toBe(true);
    const named = images.asNamedInput('pictures');
    expect(named).toBeInstanceOf(InputBinding);
    expect(named.source).toBe(images);
    expect(named.name).toBe('pictures');
    expect(named.asDownload().mode).toBe('download');
    expect(images.asMount().name).toBe('dataset');
    expect(toInputBinding(images).mode).toBe('mount');
    expect(named.toJSON()).toEqual({
      name: 'pictures',
      mode: 'mount',
      source: {
        kind: 'file-dataset',
        name: 'dataset',
        paths: [{ datastore: 'workspaceblobstore', path: 'images' }],
      },
    });
  });
});

describe('tabular delivery', () => {
  it('materialises the transformed table as <name>.csv with proper quoting', async () => {
    await put('q.csv', 'id,text,score\n1,"a, b",1.5\n2,"say ""hi""",\n3,plain,2\n');
    const dataset = await Dataset.Tabular.fromDelimitedFiles([store, 'q.csv'])
      .filter('id', '<', 3)
      .register(ws, { name: 'quotes' });
    const dir = tempDir();
    for (const mode of ['mount', 'download'] as const) {
      const delivered = await dataset.deliver(ws, { mode, dir });
      expect(delivered).toEqual({ path: join(dir, 'quotes.csv'), type: 'file' });
      expect(readFileSync(delivered.path, 'utf8')).toBe('id,text,score\n1,"a, b",1.5\n2,"say ""hi""",\n');
    }
    await store.uploadFiles([join(dir, 'quotes.csv')], { targetPath: 'copy' });
    expect(await Dataset.Tabular.fromDelimitedFiles([store, 'copy/quotes.csv']).toRecords()).toEqual([
      { id: 1, text: 'a, b', score: 1.5 },
      { id: 2, text: 'say "hi"', score: null },
    ]);
  });
});

describe('registration', () => {
  beforeEach(async () => {
    await uploadIris();
  });
  const iris = (): TabularDataset => Dataset.Tabular.fromDelimitedFiles([store, 'iris/iris.csv']);

  it('registers versions, refuses a second one without createNewVersion and gets them back', async () => {
    const v1 = await iris().register(ws, {
      name: 'iris',
      description: 'the iris data',
      tags: { source: 'uci' },
    });
    expect([v1.name, v1.version, v1.id, v1.description, v1.tags]).toEqual([
      'iris',
      1,
      'iris:1',
      'the iris data',
      { source: 'uci' },
    ]);
    const refused = await failure(iris().register(ws, { name: 'iris' }));
    expect(refused.code).toBe('DATASET_INVALID');
    expect(refused.message).toMatch(/createNewVersion: true/);
    const v2 = await iris().take(100).register(ws, { name: 'iris', createNewVersion: true });
    expect(v2.version).toBe(2);

    const latest = Dataset.get(ws, 'iris');
    expect(latest).toBeInstanceOf(TabularDataset);
    expect(latest.version).toBe(2);
    expect(await (latest as TabularDataset).toRecords()).toHaveLength(100);
    const first = Dataset.Tabular.get(ws, 'iris', 1);
    expect(first.version).toBe(1);
    expect(first.description).toBe('the iris data');
    expect(await first.toRecords()).toHaveLength(150);
    expect(first.asDownload().name).toBe('iris');
    expect(first.toJSON()).toMatchObject({ name: 'iris', version: 1, kind: 'tabular-dataset' });

    expect(Dataset.list(ws).map((record) => [record.name, record.version, record.kind])).toEqual([
      ['iris', 1, 'tabular'],
      ['iris', 2, 'tabular'],
    ]);
    const missing = await failure(Promise.resolve().then(() => Dataset.get(ws, 'irises')));
    expect(missing.code).toBe('DATASET_NOT_FOUND');
    expect(missing.message).toMatch(/No dataset "irises".*registered: iris/);
    const noVersion = await failure(Promise.resolve().then(() => Dataset.get(ws, 'iris', 3)));
    expect(noVersion.code).toBe('DATASET_NOT_FOUND');
    expect(noVersion.message).toMatch(/has no version 3; its versions are 1, 2/);
    expect(await code(() => Dataset.File.get(ws, 'iris'))).toBe('DATASET_INVALID');
    expect(await code(() => iris().register(ws, { name: 'bad name' }))).toBe('DATASET_INVALID');
  });

  it('gives the same identity to the same bytes registered as a new version', async () => {
    const before = await iris().contentIdentity(ws);
    const v1 = await iris().register(ws, { name: 'iris' });
    const v2 = await iris().register(ws, { name: 'iris', createNewVersion: true });
    const [a, b] = await Promise.all([v1.contentIdentity(ws), v2.contentIdentity(ws)]);
    expect(a.digest).toBe(before.digest);
    expect(b.digest).toBe(a.digest);
    expect(ws.store.getDataset('iris', 2)?.digest).toBe(a.digest);
    expect(a).toMatchObject({ type: 'file', bytes: readFileSync(IRIS).length });
    expect(Object.keys(a.files)).toEqual(['workspaceblobstore:iris/iris.csv']);

    // the same data in another workspace (another folder) has the same identity: no absolute paths enter
    const other = Workspace.create(tempDir());
    try {
      await other.getDefaultDatastore().uploadFiles([IRIS], { targetPath: 'iris' });
      const elsewhere = Dataset.Tabular.fromDelimitedFiles([other.getDefaultDatastore(), 'iris/iris.csv']);
      expect((await elsewhere.contentIdentity()).digest).toBe(a.digest);
    } finally {
      await other.close();
    }
  });

  it('refuses to read, deliver or fingerprint a registered version whose data changed', async () => {
    await iris().register(ws, { name: 'iris' });
    const taken = Dataset.Tabular.get(ws, 'iris').take(5);
    await put('iris/iris.csv', 'sepal_length,species\n1,changed\n');
    const registered = Dataset.Tabular.get(ws, 'iris', 1);
    const error = await failure(registered.toRecords());
    expect(error.code).toBe('DATASET_CHANGED');
    expect(error.message).toMatch(
      /Dataset "iris" changed since version 1 was registered \(changed: workspaceblobstore:iris\/iris\.csv\); register a new version/,
    );
    expect(await code(registered.contentIdentity(ws))).toBe('DATASET_CHANGED');
    expect(await code(registered.deliver(ws, { mode: 'mount', dir: tempDir() }))).toBe('DATASET_CHANGED');
    expect(await code(taken.toRecords())).toBe('DATASET_CHANGED');
    // an unregistered dataset over the same path reads the new data; registering it adds version 2
    const fresh = await iris().register(ws, { name: 'iris', createNewVersion: true });
    expect(await fresh.toRecords()).toEqual([{ sepal_length: 1, species: 'changed' }]);
    expect(await code(Dataset.get(ws, 'iris', 1).contentIdentity(ws))).toBe('DATASET_CHANGED');
  });

  it('registers file datasets, and rebuilds a registered dataset from its JSON pinned to the version', async () => {
    const files = await Dataset.File.fromFiles([store, 'iris/']).register(ws, { name: 'iris-files' });
    expect(files).toBeInstanceOf(FileDataset);
    const got = Dataset.File.get(ws, 'iris-files');
    expect(await got.toPathList()).toEqual(['iris/iris.csv']);
    const rebuilt = Dataset.fromJSON(JSON.parse(JSON.stringify(got)), ws) as FileDataset;
    expect(rebuilt.version).toBe(1);
    await put('iris/more.csv', 'x\n1\n');
    expect(await code(rebuilt.toPathList())).toBe('DATASET_CHANGED');
  });
});

describe('registerOutputDataset', () => {
  it('adds a version only when the output content changed', async () => {
    await put('outputs/run-1/model.txt', 'weights 1');
    const first = await registerOutputDataset(ws, {
      name: 'model',
      description: 'trained model',
      tags: { stage: 'train' },
      datastore: 'workspaceblobstore',
      path: 'outputs/run-1',
      sourceStepRun: 'step-run-1',
    });
    expect([first.name, first.version, first.registration?.sourceStepRun]).toEqual([
      'model',
      1,
      'step-run-1',
    ]);
    const again = await registerOutputDataset(ws, {
      name: 'model',
      datastore: store,
      path: 'outputs/run-1',
      sourceStepRun: 'step-run-2',
    });
    expect(again.version).toBe(1);
    expect(Dataset.list(ws)).toHaveLength(1);
    await put('outputs/run-1/model.txt', 'weights 2');
    const changed = await registerOutputDataset(ws, {
      name: 'model',
      datastore: 'workspaceblobstore',
      path: 'outputs/run-1',
      sourceStepRun: 'step-run-3',
    });
    expect(changed.version).toBe(2);
    expect(ws.store.getDataset('model')).toMatchObject({
      version: 2,
      kind: 'file',
      sourceStepRun: 'step-run-3',
    });
    expect(await changed.toPathList()).toEqual(['outputs/run-1/model.txt']);
    expect(
      await code(registerOutputDataset(ws, { name: 'model', datastore: store, path: 'outputs/none' })),
    ).toBe('DATASTORE_PATH_NOT_FOUND');
  });
});
