import { createHash } from 'node:crypto';

/** One named part of a step's reuse fingerprint. */
export interface FingerprintPart {
  readonly name: string;
  readonly digest: string;
  /** A small, displayable value (parameter value, script name, …) used to explain changes. */
  readonly value?: unknown;
  /** For content parts (source, inputs): relative path → content hash, used to name changed files. */
  readonly files?: Readonly<Record<string, string>>;
}

/** What a step kind returns: the runtime digests each value. */
export interface FingerprintPartInput {
  readonly name: string;
  readonly value: unknown;
}

/** Bumped only if the way fingerprints are combined changes. */
export const FINGERPRINT_FORMAT = 'sluice-fingerprint/1';

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with object keys sorted, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const source =
      typeof (value as { toJSON?: unknown }).toJSON === 'function'
        ? (value as { toJSON(): unknown }).toJSON()
        : value;
    if (source !== value) return sortKeys(source);
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const entry = (value as Record<string, unknown>)[key];
      if (entry !== undefined) sorted[key] = sortKeys(entry);
    }
    return sorted;
  }
  return value;
}

export function digestValue(value: unknown): string {
  return sha256(canonicalJson(value));
}

/** A part from a plain value. */
export function valuePart(name: string, value: unknown): FingerprintPart {
  return { name, digest: digestValue(value), value };
}

/** A part from content (a file tree or a file): the digest is the content's, the file list explains it. */
export function contentPart(
  name: string,
  content: { digest: string; files: Readonly<Record<string, string>> },
  value?: unknown,
): FingerprintPart {
  return value === undefined
    ? { name, digest: content.digest, files: content.files }
    : { name, digest: content.digest, files: content.files, value };
}

/** The fingerprint of a whole step: one digest over its parts, independent of their order. */
export function combineFingerprint(parts: readonly FingerprintPart[]): string {
  const hash = createHash('sha256').update(`${FINGERPRINT_FORMAT}\n`);
  const order = (a: FingerprintPart, b: FingerprintPart): number =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
  for (const part of [...parts].sort(order)) {
    hash.update(`${part.name}\0${part.digest}\n`);
  }
  return hash.digest('hex');
}

/** The digest of a file manifest (relative path → hash), the identity of a folder's content. */
export function manifestDigest(files: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256').update('tree\n');
  for (const path of Object.keys(files).sort()) hash.update(`${path}\0${files[path]}\n`);
  return hash.digest('hex');
}
