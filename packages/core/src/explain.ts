import type { FingerprintPart } from './fingerprint.js';

/** One difference between two fingerprints, in words. */
export interface FingerprintChange {
  readonly part: string;
  readonly change: 'added' | 'removed' | 'changed';
  readonly message: string;
}

const MAX_FILES_NAMED = 5;

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

function describeArguments(value: unknown): string {
  if (!Array.isArray(value)) return show(value);
  return value
    .map((argument) => {
      if (argument && typeof argument === 'object') {
        const [key, name] = Object.entries(argument)[0] ?? [];
        return `<${key} ${String(name)}>`;
      }
      return String(argument);
    })
    .join(' ');
}

/** The files that differ between two manifests, in words ("train.py changed", "util.py added"). */
export function diffManifests(
  before: Readonly<Record<string, string>> = {},
  after: Readonly<Record<string, string>> = {},
): Array<{ path: string; change: 'added' | 'removed' | 'changed' }> {
  const changes: Array<{ path: string; change: 'added' | 'removed' | 'changed' }> = [];
  for (const path of Object.keys(after)) {
    if (!Object.hasOwn(before, path)) changes.push({ path, change: 'added' });
    else if (before[path] !== after[path]) changes.push({ path, change: 'changed' });
  }
  for (const path of Object.keys(before))
    if (!Object.hasOwn(after, path)) changes.push({ path, change: 'removed' });
  return changes.sort((a, b) => (a.path < b.path ? -1 : 1));
}

function fileWords(
  noun: string,
  before: FingerprintPart | undefined,
  after: FingerprintPart | undefined,
): string[] {
  const changes = diffManifests(before?.files, after?.files);
  const words = changes.slice(0, MAX_FILES_NAMED).map(({ path, change }) => `${noun} ${path} ${change}`);
  if (changes.length > MAX_FILES_NAMED) words.push(`and ${changes.length - MAX_FILES_NAMED} more files`);
  return words;
}

/** `name==version` lines (pip freeze) as name → version; other lines (URLs, editable installs) as is. */
function lockedPackages(value: unknown): Map<string, string> | undefined {
  const packages = (value as { lock?: { packages?: unknown } } | undefined)?.lock?.packages;
  if (!Array.isArray(packages)) return undefined;
  const found = new Map<string, string>();
  for (const line of packages) {
    const text = String(line);
    const match = /^([^=\s@]+)\s*==\s*(.+)$/.exec(text);
    if (match) found.set(match[1]!.toLowerCase(), match[2]!);
    else found.set(text, '');
  }
  return found;
}

/** What changed in an environment's resolved lock (`{ lock: { python, packages } }`): its Python and its packages, in words. */
function lockWords(before: unknown, after: unknown): string[] {
  const earlier = lockedPackages(before);
  const later = lockedPackages(after);
  if (!earlier || !later) return [];
  const words: string[] = [];
  const python = (value: unknown): unknown => (value as { lock: { python?: unknown } }).lock.python;
  if (python(before) !== python(after)) words.push(`Python ${show(python(before))} → ${show(python(after))}`);
  const changes: string[] = [];
  for (const [name, version] of later) {
    const previous = earlier.get(name);
    if (previous === undefined) changes.push(`${name}${version ? ` ${version}` : ''} added`);
    else if (previous !== version) changes.push(`${name} ${previous} → ${version}`);
  }
  for (const [name, version] of earlier) {
    if (!later.has(name)) changes.push(`${name}${version ? ` ${version}` : ''} removed`);
  }
  changes.sort();
  words.push(...changes.slice(0, MAX_FILES_NAMED));
  if (changes.length > MAX_FILES_NAMED) words.push(`and ${changes.length - MAX_FILES_NAMED} more packages`);
  return words;
}

function describe(before: FingerprintPart | undefined, after: FingerprintPart | undefined): string {
  const part = (after ?? before)!;
  const name = part.name;
  const [family, ...rest] = name.split(':');
  const subject = rest.join(':');
  switch (family) {
    case 'parameter':
      if (!before) return `parameter ${subject} added (${show(after!.value)})`;
      if (!after) return `parameter ${subject} removed`;
      return `parameter ${subject} ${show(before.value)} → ${show(after.value)}`;
    case 'input': {
      if (!before) return `input ${subject} added`;
      if (!after) return `input ${subject} removed`;
      const files = fileWords('file', before, after);
      return `input ${subject} content changed${files.length ? ` (${files.join(', ')})` : ''}`;
    }
    case 'source': {
      const files = fileWords('source file', before, after);
      return files.length ? files.join(', ') : 'source directory changed';
    }
    case 'script':
      return `script ${show(before?.value)} → ${show(after?.value)}`;
    case 'arguments':
      return `arguments "${describeArguments(before?.value)}" → "${describeArguments(after?.value)}"`;
    case 'kind':
      return `step kind ${show(before?.value)} → ${show(after?.value)}`;
    case 'environment': {
      const label = (value: unknown): string => {
        const env = value as { name?: string; version?: string } | undefined;
        return env?.name ? `${env.name}:${env.version ?? ''}` : '(default)';
      };
      const a = label(before?.value);
      const b = label(after?.value);
      const locked = lockWords(before?.value, after?.value);
      if (locked.length > 0) return `environment: ${locked.join(', ')}${a === b ? '' : ` (${a} → ${b})`}`;
      return a === b ? `environment ${b} definition changed` : `environment ${a} → ${b}`;
    }
    case 'outputs':
      return `outputs ${show(before?.value)} → ${show(after?.value)}`;
    default:
      if (!before) return `${name} added`;
      if (!after) return `${name} removed`;
      return before.value !== undefined || after.value !== undefined
        ? `${name} ${show(before.value)} → ${show(after.value)}`
        : `${name} changed`;
  }
}

/** Which parts differ between an earlier and a later fingerprint, each said in words. */
export function diffFingerprints(
  before: readonly FingerprintPart[],
  after: readonly FingerprintPart[],
): FingerprintChange[] {
  const earlier = new Map(before.map((part) => [part.name, part]));
  const later = new Map(after.map((part) => [part.name, part]));
  const changes: FingerprintChange[] = [];
  for (const [name, part] of later) {
    const previous = earlier.get(name);
    if (!previous) changes.push({ part: name, change: 'added', message: describe(undefined, part) });
    else if (previous.digest !== part.digest) {
      changes.push({ part: name, change: 'changed', message: describe(previous, part) });
    }
  }
  for (const [name, part] of earlier) {
    if (!later.has(name)) changes.push({ part: name, change: 'removed', message: describe(part, undefined) });
  }
  // Known parts in a fixed order; a plugin's own parts (e.g. "notebook") come right after the arguments.
  const order = [
    'kind',
    'script',
    'arguments',
    '*',
    'parameter',
    'environment',
    'source',
    'input',
    'outputs',
  ];
  const rank = (name: string): number => {
    const index = order.indexOf(name.split(':')[0]!);
    return index === -1 ? order.indexOf('*') : index;
  };
  return changes.sort((a, b) => rank(a.part) - rank(b.part) || (a.part < b.part ? -1 : 1));
}
