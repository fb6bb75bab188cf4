import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  Environment,
  FINGERPRINT_FORMAT,
  PipelineData,
  canonicalJson,
  combineFingerprint,
  contentPart,
  digestValue,
  manifestDigest,
  sha256,
  valuePart,
  type FingerprintPart,
} from '../index.js';

const nodeSha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('canonicalJson', () => {
  it('does not depend on key order, at any depth', () => {
    const a = { b: 1, a: { y: [{ q: 1, p: 2 }], x: 'x' } };
    const b = { a: { x: 'x', y: [{ p: 2, q: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":"x","y":[{"p":2,"q":1}]},"b":1}');
  });

  it('keeps array order and distinguishes values', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson({ a: null })).not.toBe(canonicalJson({}));
  });

  it('drops undefined entries and uses toJSON', () => {
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
    expect(canonicalJson(new PipelineData('d', { datastore: 's' }))).toBe(
      '{"datastore":"s","kind":"pipeline-data","name":"d","outputName":"d"}',
    );
    expect(canonicalJson({ when: new Date(0) })).toBe('{"when":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJson(new Environment({ name: 'e', packages: ['b', 'a'] }))).toBe(
      '{"environmentVariables":{},"name":"e","packages":["b","a"],"python":{"interpreter":"python3"},"version":"1"}',
    );
  });

  it('handles primitives', () => {
    expect(canonicalJson('x')).toBe('"x"');
    expect(canonicalJson(1.5)).toBe('1.5');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(false)).toBe('false');
  });
});

describe('digests and parts', () => {
  it('sha256 and digestValue', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256(new TextEncoder().encode('abc'))).toBe(sha256('abc'));
    expect(digestValue({ b: 1, a: 2 })).toBe(sha256('{"a":2,"b":1}'));
    expect(digestValue({ a: 2, b: 1 })).toBe(digestValue({ b: 1, a: 2 }));
  });

  it('valuePart digests the canonical value and keeps it for explanations', () => {
    const part = valuePart('parameter:lr', 0.1);
    expect(part).toEqual({ name: 'parameter:lr', digest: sha256('0.1'), value: 0.1 });
    expect(valuePart('x', { b: 1, a: 2 }).digest).toBe(valuePart('x', { a: 2, b: 1 }).digest);
    expect(valuePart('x', 1).digest).not.toBe(valuePart('x', '1').digest);
  });

  it('contentPart uses the content digest and file list, with an optional value', () => {
    const files = { 'train.py': 'h1' };
    expect(contentPart('source', { digest: 'd1', files })).toEqual({ name: 'source', digest: 'd1', files });
    expect('value' in contentPart('source', { digest: 'd1', files })).toBe(false);
    expect(contentPart('input:raw', { digest: 'd2', files }, 'raw')).toEqual({
      name: 'input:raw',
      digest: 'd2',
      files,
      value: 'raw',
    });
  });

  it('manifestDigest depends on paths and hashes, not on key order', () => {
    const m = { 'a.txt': 'h1', 'b/c.txt': 'h2' };
    expect(manifestDigest(m)).toBe(manifestDigest({ 'b/c.txt': 'h2', 'a.txt': 'h1' }));
    expect(manifestDigest(m)).toBe(nodeSha256('tree\na.txt\0h1\nb/c.txt\0h2\n'));
    expect(manifestDigest(m)).not.toBe(manifestDigest({ 'a.txt': 'h1', 'b/d.txt': 'h2' }));
    expect(manifestDigest(m)).not.toBe(manifestDigest({ 'a.txt': 'h1', 'b/c.txt': 'h3' }));
    expect(manifestDigest({})).toBe(nodeSha256('tree\n'));
  });
});

describe('combineFingerprint', () => {
  const parts: FingerprintPart[] = [
    valuePart('kind', 'python-script@1'),
    valuePart('script', 'train.py'),
    valuePart('parameter:lr', 0.1),
    contentPart('source', { digest: 'abc', files: { 'train.py': 'abc' } }),
  ];

  it('does not depend on the order of the parts', () => {
    const reference = combineFingerprint(parts);
    expect(combineFingerprint([...parts].reverse())).toBe(reference);
    expect(combineFingerprint([parts[2]!, parts[0]!, parts[3]!, parts[1]!])).toBe(reference);
    expect(reference).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on order even when two parts share a name', () => {
    const a = { name: 'x', digest: '1' };
    const b = { name: 'x', digest: '2' };
    expect(combineFingerprint([a, b, parts[0]!])).toBe(combineFingerprint([parts[0]!, b, a]));
    expect(combineFingerprint([a, b])).not.toBe(combineFingerprint([a, a]));
  });

  it('does not change the array it is given', () => {
    const copy = [...parts].reverse();
    const before = copy.map((p) => p.name);
    combineFingerprint(copy);
    expect(copy.map((p) => p.name)).toEqual(before);
  });

  it('changes when any part digest changes', () => {
    const reference = combineFingerprint(parts);
    parts.forEach((part, i) => {
      const changed = parts.map((p, j) => (j === i ? { ...p, digest: `${p.digest}0` } : p));
      expect(combineFingerprint(changed)).not.toBe(reference);
    });
  });

  it('changes when any part name changes, even with the same digests', () => {
    const reference = combineFingerprint(parts);
    parts.forEach((part, i) => {
      const renamed = parts.map((p, j) => (j === i ? { ...p, name: `${p.name}2` } : p));
      expect(combineFingerprint(renamed)).not.toBe(reference);
    });
    // swapping the digests of two parts is a change
    const swapped = [
      { ...parts[0]!, digest: parts[1]!.digest },
      { ...parts[1]!, digest: parts[0]!.digest },
      parts[2]!,
      parts[3]!,
    ];
    expect(combineFingerprint(swapped)).not.toBe(reference);
  });

  it('changes when a part is added or removed', () => {
    const reference = combineFingerprint(parts);
    expect(combineFingerprint(parts.slice(1))).not.toBe(reference);
    expect(combineFingerprint([...parts, valuePart('outputs', ['model'])])).not.toBe(reference);
  });

  it('ignores the displayable value and file list (only names and digests count)', () => {
    const reference = combineFingerprint(parts);
    const relabelled = parts.map((p) => ({ ...p, value: 'something else', files: { 'x.py': 'y' } }));
    expect(combineFingerprint(relabelled)).toBe(reference);
  });

  it('starts from FINGERPRINT_FORMAT, so it differs from a plain hash of the same lines', () => {
    const sorted = [...parts].sort((a, b) => (a.name < b.name ? -1 : 1));
    const lines = sorted.map((p) => `${p.name}\0${p.digest}\n`).join('');
    expect(FINGERPRINT_FORMAT).toBe('sluice-fingerprint/1');
    expect(combineFingerprint(parts)).toBe(nodeSha256(`${FINGERPRINT_FORMAT}\n${lines}`));
    expect(combineFingerprint(parts)).not.toBe(nodeSha256(lines));
    expect(combineFingerprint(parts)).not.toBe(nodeSha256(`sluice-fingerprint/2\n${lines}`));
    expect(combineFingerprint([])).toBe(nodeSha256(`${FINGERPRINT_FORMAT}\n`));
  });
});
