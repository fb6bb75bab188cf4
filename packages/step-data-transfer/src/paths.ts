/** A datastore path in the form stores list it: '/'-separated, no empty or '.' parts, no trailing '/'. */
export function normalisePath(path: string): string {
  return path
    .replace(/\\/g, '/')
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

/** The last part of a datastore path. */
export function lastPart(path: string): string {
  const parts = normalisePath(path).split('/');
  return parts[parts.length - 1]!;
}
