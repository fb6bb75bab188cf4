/** Hash routes: `#/runs?status=Failed`, `#/runs/{id}/steps/{step}`, … (the server serves `index.html` at `/`). */

export interface Route {
  /** The decoded path segments: `['runs', 'abc', 'steps', 'train']`. */
  segments: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const segments = path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    });
  return { segments, query: new URLSearchParams(at < 0 ? '' : raw.slice(at + 1)) };
}

/** A page's hash from path segments (each encoded) and an optional query string. */
export function href(segments: readonly string[], query = ''): string {
  const path = segments.map((segment) => encodeURIComponent(segment)).join('/');
  return `#/${path}${query ? `?${query}` : ''}`;
}
