import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, sep } from 'node:path';
import { SluiceError } from '@sluice/core';

/** Where the studio's built files are (`studioAssets()` of `@sluice/studio` gives it). */
export interface StudioOptions {
  /** The folder of the built app: `index.html`, `assets/`, a favicon. */
  root: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/** The studio's page rules: its own scripts and styles only, no inline script, no framing. */
export const STUDIO_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The paths the studio's files are served at: `/`, `/index.html`, `/assets/…`, the favicon. */
const STATIC_PATH = /^\/(?:|index\.html|favicon\.(?:ico|svg|png)|assets\/[^?#]+)$/;

/** Whether a request's path is one of the studio's files (served without authentication). */
export function isStudioPath(pathname: string): boolean {
  return STATIC_PATH.test(pathname);
}

function notFound(pathname: string): SluiceError {
  return new SluiceError('ROUTE_NOT_FOUND', `The studio has no file at ${pathname}.`, {
    details: { path: pathname },
  });
}

/**
 * Serve one of the studio's files from `root`: resolved inside it (no `..`, no link leading out of it),
 * with a strict Content-Security-Policy; `index.html` is never cached, `/assets/*` (content-hashed names)
 * are cached for good.
 */
export async function studioFile(options: StudioOptions, pathname: string): Promise<Response> {
  let relativePath: string;
  try {
    relativePath = pathname === '/' ? 'index.html' : decodeURIComponent(pathname.slice(1));
  } catch {
    throw notFound(pathname);
  }
  const parts = relativePath.split('/');
  if (
    relativePath.includes('\0') ||
    relativePath.includes('\\') ||
    parts.some((part) => part === '' || part === '.' || part === '..')
  ) {
    throw notFound(pathname);
  }
  const root = await realpath(options.root).catch(() => undefined);
  if (!root) {
    throw new SluiceError(
      'SERVICE_UNAVAILABLE',
      `The studio's files are missing (${options.root}); reinstall @sluice/studio.`,
    );
  }
  const file = await realpath(join(root, ...parts)).catch(() => undefined);
  const inside = file ? relative(root, file) : '..';
  if (
    !file ||
    inside.startsWith(`..${sep}`) ||
    inside === '..' ||
    isAbsolute(inside) ||
    !(await stat(file)).isFile()
  ) {
    throw notFound(pathname);
  }
  const body = await readFile(file);
  const index = relativePath === 'index.html';
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-security-policy': STUDIO_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cache-control': index
        ? 'no-cache'
        : parts[0] === 'assets'
          ? 'public, max-age=31536000, immutable'
          : 'public, max-age=3600',
    },
  });
}
