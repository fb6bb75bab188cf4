import { describe, expect, it } from 'vitest';
import {
  Environment,
  contentPart,
  diffFingerprints,
  diffManifests,
  manifestDigest,
  valuePart,
  type FingerprintPart,
} from '../index.js';

/** A content part built like the runtime builds one, from a file manifest. */
function content(name: string, files: Record<string, string>): FingerprintPart {
  return contentPart(name, { digest: manifestDigest(files), files });
}

const messages = (before: FingerprintPart[], after: FingerprintPart[]) =>
  diffFingerprints(before, after).map((change) => change.message);

describe('diffFingerprints', () => {
  it('finds nothing between equal fingerprints, whatever the part order', () => {
    const parts = [valuePart('kind', 'python-script@1'), valuePart('parameter:lr', 0.1)];
    expect(diffFingerprints(parts, [...parts].reverse())).toEqual([]);
    // the displayed value does not matter, only the digest
    expect(
      diffFingerprints(
        parts,
        parts.map((p) => ({ ...p, value: 'other' })),
      ),
    ).toEqual([]);
  });

  it('says how a parameter changed', () => {
    expect(
      diffFingerprints(
        [valuePart('parameter:learning_rate', 0.1)],
        [valuePart('parameter:learning_rate', 0.2)],
      ),
    ).toEqual([
      { part: 'parameter:learning_rate', change: 'changed', message: 'parameter learning_rate 0.1 → 0.2' },
    ]);
    expect(
      messages([valuePart('parameter:optimizer', 'adam')], [valuePart('parameter:optimizer', 'sgd')]),
    ).toEqual(['parameter optimizer adam → sgd']);
    expect(messages([valuePart('parameter:shuffle', true)], [valuePart('parameter:shuffle', false)])).toEqual(
      ['parameter shuffle true → false'],
    );
  });

  it('names source files changed and added', () => {
    const before = content('source', { 'train.py': 'h1', 'conf.json': 'c1' });
    const after = content('source', { 'train.py': 'h2', 'util.py': 'u1', 'conf.json': 'c1' });
    expect(diffFingerprints([before], [after])).toEqual([
      {
        part: 'source',
        change: 'changed',
        message: 'source file train.py changed, source file util.py added',
      },
    ]);
    const removed = content('source', { 'train.py': 'h1' });
    expect(messages([before], [removed])).toEqual(['source file conf.json removed']);
  });

  it('says the source directory changed when there are no file lists to compare', () => {
    const before: FingerprintPart = { name: 'source', digest: 'a' };
    const after: FingerprintPart = { name: 'source', digest: 'b' };
    expect(messages([before], [after])).toEqual(['source directory changed']);
  });

  it('names the changed files of an input', () => {
    const before = content('input:prepped_data', { 'a.csv': 'x', 'b.csv': 'y' });
    const after = content('input:prepped_data', { 'a.csv': 'z', 'b.csv': 'y' });
    expect(messages([before], [after])).toEqual(['input prepped_data content changed (file a.csv changed)']);
    const single = { name: 'input:raw', digest: '1' };
    expect(messages([single], [{ ...single, digest: '2' }])).toEqual(['input raw content changed']);
  });

  it('cuts long file lists after five files', () => {
    const files = (n: number, hash: string) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}.csv`, hash]));
    expect(messages([content('input:big', files(7, 'a'))], [content('input:big', files(7, 'b'))])).toEqual([
      'input big content changed (file f0.csv changed, file f1.csv changed, file f2.csv changed, file f3.csv changed, file f4.csv changed, and 2 more files)',
    ]);
    // exactly five: no "more"
    const five = messages([content('source', files(5, 'a'))], [content('source', files(5, 'b'))]);
    expect(five).toHaveLength(1);
    expect(five[0]).not.toContain('more');
    expect(five[0]!.split(', ')).toHaveLength(5);
    // six: one more
    expect(messages([content('source', files(6, 'a'))], [content('source', files(6, 'b'))])[0]).toMatch(
      /source file f4\.csv changed, and 1 more files$/,
    );
  });

  it('describes script, arguments and step kind changes', () => {
    expect(messages([valuePart('script', 'train.py')], [valuePart('script', 'train_v2.py')])).toEqual([
      'script train.py → train_v2.py',
    ]);
    expect(
      messages(
        [valuePart('arguments', ['--lr', { parameter: 'lr' }, '--data', { input: 'raw' }])],
        [
          valuePart('arguments', [
            '--lr',
            { parameter: 'lr' },
            '--data',
            { input: 'raw' },
            { output: 'model' },
            3,
          ]),
        ],
      ),
    ).toEqual([
      'arguments "--lr <parameter lr> --data <input raw>" → "--lr <parameter lr> --data <input raw> <output model> 3"',
    ]);
    expect(messages([valuePart('kind', 'python-script@1')], [valuePart('kind', 'python-script@2')])).toEqual([
      'step kind python-script@1 → python-script@2',
    ]);
    expect(messages([valuePart('outputs', ['model'])], [valuePart('outputs', ['model', 'metrics'])])).toEqual(
      ['outputs ["model"] → ["model","metrics"]'],
    );
  });

  it('describes environment changes: name, version, definition', () => {
    const env = (options: ConstructorParameters<typeof Environment>[0]) =>
      valuePart('environment', new Environment(options).toJSON());
    expect(
      messages([env({ name: 'sklearn', version: '1' })], [env({ name: 'sklearn', version: '2' })]),
    ).toEqual(['environment sklearn:1 → sklearn:2']);
    expect(messages([env({ name: 'sklearn' })], [env({ name: 'torch' })])).toEqual([
      'environment sklearn:1 → torch:1',
    ]);
    expect(
      messages([env({ name: 'sklearn', packages: ['a'] })], [env({ name: 'sklearn', packages: ['a', 'b'] })]),
    ).toEqual(['environment sklearn:1 definition changed']);
    expect(messages([valuePart('environment', null)], [env({ name: 'sklearn' })])).toEqual([
      'environment (default) → sklearn:1',
    ]);
  });

  it('describes added and removed parts', () => {
    const changes = diffFingerprints(
      [valuePart('parameter:old', 1), content('input:gone', { 'a.csv': 'x' }), valuePart('custom', 'v')],
      [valuePart('parameter:new', 5), content('input:fresh', { 'a.csv': 'x' }), valuePart('other', 'w')],
    );
    expect(changes.map(({ part, change, message }) => [part, change, message])).toEqual([
      ['custom', 'removed', 'custom removed'],
      ['other', 'added', 'other added'],
      ['parameter:new', 'added', 'parameter new added (5)'],
      ['parameter:old', 'removed', 'parameter old removed'],
      ['input:fresh', 'added', 'input fresh added'],
      ['input:gone', 'removed', 'input gone removed'],
    ]);
    expect(messages([], [content('source', { 'train.py': 'h' })])).toEqual(['source file train.py added']);
    expect(messages([valuePart('script', 'train.py')], [])).toEqual(['script train.py → (none)']);
  });

  it('describes unknown parts by value when there is one', () => {
    expect(messages([valuePart('notebook', 'a.ipynb')], [valuePart('notebook', 'b.ipynb')])).toEqual([
      'notebook a.ipynb → b.ipynb',
    ]);
    expect(messages([{ name: 'blob', digest: '1' }], [{ name: 'blob', digest: '2' }])).toEqual([
      'blob changed',
    ]);
  });

  it('orders changes: kind, script, arguments, parameters, environment, source, inputs, outputs', () => {
    const before = [
      valuePart('outputs', ['a']),
      content('input:b', { 'x.csv': '1' }),
      content('input:a', { 'x.csv': '1' }),
      content('source', { 'train.py': '1' }),
      valuePart('environment', { name: 'e', version: '1' }),
      valuePart('parameter:z', 1),
      valuePart('parameter:a', 1),
      valuePart('arguments', ['--x']),
      valuePart('script', 's.py'),
      valuePart('kind', 'k@1'),
    ];
    const after = before.map((part) =>
      part.files
        ? content(part.name, { 'x.csv': '2', 'train.py': '2' })
        : valuePart(part.name, part.name === 'environment' ? { name: 'e', version: '2' } : ['changed']),
    );
    expect(diffFingerprints(before, after).map((change) => change.part)).toEqual([
      'kind',
      'script',
      'arguments',
      'parameter:a',
      'parameter:z',
      'environment',
      'source',
      'input:a',
      'input:b',
      'outputs',
    ]);
  });
});

describe('diffManifests', () => {
  it('lists added, changed and removed paths sorted by path', () => {
    expect(
      diffManifests(
        { 'b.py': '1', 'c.py': '1', 'e.py': '1' },
        { 'a.py': '1', 'b.py': '2', 'e.py': '1', 'd/f.py': '1' },
      ),
    ).toEqual([
      { path: 'a.py', change: 'added' },
      { path: 'b.py', change: 'changed' },
      { path: 'c.py', change: 'removed' },
      { path: 'd/f.py', change: 'added' },
    ]);
  });

  it('treats a missing manifest as empty', () => {
    expect(diffManifests(undefined, { 'a.py': '1' })).toEqual([{ path: 'a.py', change: 'added' }]);
    expect(diffManifests({ 'a.py': '1' })).toEqual([{ path: 'a.py', change: 'removed' }]);
    expect(diffManifests()).toEqual([]);
    expect(diffManifests({ 'a.py': '1' }, { 'a.py': '1' })).toEqual([]);
  });

  it('is not fooled by paths named like Object.prototype members', () => {
    expect(diffManifests({}, { constructor: 'h', toString: 'h' })).toEqual([
      { path: 'constructor', change: 'added' },
      { path: 'toString', change: 'added' },
    ]);
    expect(diffManifests({ hasOwnProperty: 'h' }, {})).toEqual([
      { path: 'hasOwnProperty', change: 'removed' },
    ]);
    const withProto = JSON.parse('{"__proto__": "a", "b.py": "1"}') as Record<string, string>;
    expect(diffManifests(withProto, { 'b.py': '1' })).toEqual([{ path: '__proto__', change: 'removed' }]);
    expect(diffManifests({ 'b.py': '1' }, withProto)).toEqual([{ path: '__proto__', change: 'added' }]);
  });
});
