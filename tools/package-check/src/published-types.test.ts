// What a published package's type declarations import must be installed with it: a package of its own
// `dependencies` or `peerDependencies` (or Node's own modules), and that package must bring its types (its
// own, or an `@types/` package that is itself a dependency). Otherwise a consumer that checks library types
// (`skipLibCheck: false`) fails to compile.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../../..');

interface Manifest {
  name: string;
  private?: boolean;
  types?: string;
  typings?: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** The packages this repository publishes: every non-private folder of `packages/`. */
const PUBLISHED = readdirSync(join(ROOT, 'packages'))
  .map((name) => join(ROOT, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')) && !readManifest(dir).private);

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.d\.[cm]?ts$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Every module specifier a declaration file refers to. */
function specifiers(text: string): string[] {
  const found = [
    ...text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g),
    ...text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\/\/\/\s*<reference\s+types=['"]([^'"]+)['"]/g),
  ];
  return found.map((match) => match[1]!);
}

const packageName = (specifier: string): string =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** The folder of package `name` as installed for `dir` (node_modules folders from `dir` up). */
function installed(name: string, dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(at) === at) return undefined;
  }
}

/** Whether an installed package ships type declarations of its own. */
function hasOwnTypes(dir: string): boolean {
  const manifest = readManifest(dir);
  return (
    Boolean(manifest.types ?? manifest.typings) ||
    JSON.stringify(manifest.exports ?? {}).includes('"types"') ||
    existsSync(join(dir, 'index.d.ts'))
  );
}

/** What is wrong with the imports of a package's built declarations, in words; nothing when all is well. */
function problems(dir: string): string[] {
  const manifest = readManifest(dir);
  const installedWith = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const files = declarationFiles(join(dir, 'dist'));
  if (files.length === 0) return [`${manifest.name} has no built declarations in dist/`];
  const found: string[] = [];
  for (const file of files) {
    for (const specifier of new Set(specifiers(readFileSync(file, 'utf8')))) {
      if (specifier.startsWith('.') || isBuiltin(specifier)) continue;
      const name = packageName(specifier);
      if (name === manifest.name) continue;
      const where = `${file.slice(dir.length + 1)} imports '${specifier}'`;
      if (!installedWith.has(name)) {
        found.push(`${where}, but ${name} is not one of its dependencies or peer dependencies`);
        continue;
      }
      const typesPackage = `@types/${name.replace(/^@/, '').replace('/', '__')}`;
      const dependency = installed(name, dir);
      if (dependency && !hasOwnTypes(dependency) && !installedWith.has(typesPackage)) {
        found.push(`${where}, whose types come from ${typesPackage}, which is not installed with it`);
      }
    }
  }
  return found;
}

describe('published type declarations', () => {
  it('covers every published package', () => {
    expect(PUBLISHED.map((dir) => readManifest(dir).name)).toEqual(
      expect.arrayContaining(['@sluice/core', '@sluice/runtime', '@sluice/cli', '@sluice/publish']),
    );
  });

  it.each(PUBLISHED.map((dir) => [readManifest(dir).name, dir]))(
    '%s imports only what is installed with it',
    (_name, dir) => {
      expect(problems(dir)).toEqual([]);
    },
  );
});
