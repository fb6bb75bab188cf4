// A copy of this checkout as a fresh clone has it right after `npm ci`: the files git tracks (and new
// files it does not ignore), nothing built, no nx cache. Used where something must be measured or checked
// from that state (the demo in the benchmark, `npm pack` of an unbuilt package) without touching the
// checkout itself.
import { execFileSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Copy the checkout at `root` to `destination` (a new or empty folder). Installed packages are linked,
 * not copied: `node_modules` entries link to the checkout's, except the workspace packages and the
 * `.bin` commands, whose relative links are made again so that they lead into the copy.
 */
export function coldCheckout(root, destination) {
  const listed = execFileSync(
    'git',
    ['-C', root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
    },
  );
  for (const file of new Set(listed.split('\0').filter(Boolean))) {
    const from = join(root, file);
    const stats = lstatSync(from, { throwIfNoEntry: false });
    if (!stats) continue; // deleted in the work tree, not yet in the index
    const to = join(destination, file);
    mkdirSync(dirname(to), { recursive: true });
    if (stats.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else copyFileSync(from, to);
  }
  linkModules(join(root, 'node_modules'), join(destination, 'node_modules'));
  // the workspaces' own node_modules (versions that differ from the root's)
  for (const group of ['packages', 'examples', 'tools']) {
    for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
      const modules = join(root, group, entry.name, 'node_modules');
      if (entry.isDirectory() && lstatSync(modules, { throwIfNoEntry: false })?.isDirectory()) {
        mkdirSync(join(destination, group, entry.name), { recursive: true });
        symlinkSync(modules, join(destination, group, entry.name, 'node_modules'));
      }
    }
  }
  return destination;
}

function linkModules(from, to) {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.name === '.bin' || entry.name === '@sluice') {
      // relative links (`../@sluice/cli/bin/sluice.js`, `../../packages/cli`): made again, they lead into the copy
      mkdirSync(join(to, entry.name));
      for (const link of readdirSync(source)) {
        const path = join(source, link);
        if (lstatSync(path).isSymbolicLink()) symlinkSync(readlinkSync(path), join(to, entry.name, link));
      }
    } else symlinkSync(source, join(to, entry.name));
  }
}
