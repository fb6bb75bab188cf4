#!/usr/bin/env node
// Scaffold a Sluice plugin package: `npm run create-plugin -- <name> [--kind step|compute|datastore]`.
// Writes packages/<name>/ (package.json, configs, a working plugin, its conformance test, a README) and a
// changeset. Plain Node.js, no dependencies.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const TEMPLATES = join(HERE, 'templates');
const REPO = resolve(HERE, '..', '..');
const KINDS = ['step', 'compute', 'datastore'];
const DEFAULT_SCOPE = '@sluice';

const USAGE = `Usage: npm run create-plugin -- <name> [--kind step|compute|datastore] [--root <dir>]

  <name>         the package folder under packages/, lower-case words joined by '-', e.g. step-shell,
                 compute-slurm, datastore-s3; the package is @sluice/<name>, or give @scope/<name>
  --kind         the plugin to scaffold; by default taken from the name's prefix (step-, compute-,
                 datastore-), else step
  --root <dir>   the monorepo to generate into (default: this repository)
  --help         show this text`;

/** Words said to the user when something is wrong: printed without a stack trace. */
class UsageError extends Error {}

const SUMMARIES = {
  step: (names) =>
    `the \`${names.Pascal}Step\` step kind, which runs a command on the step's compute target.`,
  compute: (names) => `the \`${names.kind}\` compute provider, which runs step processes on this machine.`,
  datastore: (names) => `the \`${names.kind}\` datastore provider (files kept in memory, a starting point).`,
};

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        kind: { type: 'string' },
        root: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(`${error.message}\n\n${USAGE}`);
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return;
  }
  if (parsed.positionals.length !== 1) {
    throw new UsageError(
      `${parsed.positionals.length === 0 ? 'Give the plugin a name.' : `One name only; got ${parsed.positionals.join(' ')}.`}\n\n${USAGE}`,
    );
  }
  const root = resolve(parsed.values.root ?? REPO);
  const plan = planPlugin(parsed.positionals[0], parsed.values.kind, root);
  const written = await writePlugin(plan);
  const from = relative(process.cwd(), root) || '.';
  console.log(
    `Created ${plan.packageName} (${plan.kind === 'step' ? 'a step kind' : `a ${plan.kind} provider`}):`,
  );
  for (const file of written) console.log(`  ${relative(root, file)}`);
  console.log(`
Next steps:
  ${from === '.' ? '' : `cd ${from} && `}npm install          # link the new package into the workspace
  npx --no nx test ${plan.packageName}    # build what it needs, then run its conformance test
  then edit packages/${plan.folder}/src and the README, and describe the change in .changeset/${plan.folder}-initial.md`);
}

/** Check the name and work out every name the templates use. */
function planPlugin(rawName, requestedKind, root) {
  const match = /^(?:(@[a-z0-9][a-z0-9._-]*)\/)?(.+)$/.exec(rawName);
  const scope = match?.[1] ?? DEFAULT_SCOPE;
  const folder = match?.[2] ?? '';
  if (!/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(folder) || folder.length > 60) {
    throw new UsageError(
      `"${rawName}" is not a valid plugin name: use lower-case letters and digits in words joined by single '-', starting with a letter (e.g. step-shell, compute-slurm, datastore-s3).`,
    );
  }
  const kind = requestedKind ?? KINDS.find((candidate) => folder.startsWith(`${candidate}-`)) ?? 'step';
  if (!KINDS.includes(kind)) {
    throw new UsageError(`--kind must be step, compute or datastore; got "${requestedKind}".`);
  }
  const base = folder.replace(/^sluice-/, '').replace(new RegExp(`^${kind}-`), '');
  if (!/^[a-z]/.test(base) || KINDS.includes(base)) {
    throw new UsageError(
      `"${folder}" leaves no name for the ${kind} after the "${kind}-" prefix: name it after what it runs or stores (e.g. ${kind}-shell).`,
    );
  }
  if (base === 'local' && kind !== 'step') {
    throw new UsageError(`"local" is the runtime's own ${kind} provider; choose another name.`);
  }
  if (!existsSync(join(root, 'packages'))) {
    throw new UsageError(`${root} has no packages/ folder: run this in the Sluice monorepo or pass --root.`);
  }
  const dir = join(root, 'packages', folder);
  if (existsSync(dir)) {
    throw new UsageError(
      `packages/${folder} already exists; choose another name or remove the folder first.`,
    );
  }
  const changeset = join(root, '.changeset', `${folder}-initial.md`);
  if (existsSync(changeset)) {
    throw new UsageError(`.changeset/${folder}-initial.md already exists; remove it or choose another name.`);
  }
  const words = base.split('-');
  const Pascal = words.map((word) => word[0].toUpperCase() + word.slice(1)).join('');
  const names = {
    base,
    kind: base,
    Pascal,
    camel: Pascal[0].toLowerCase() + Pascal.slice(1),
    CONSTANT: words.join('_').toUpperCase(),
    snake: words.join('_'),
  };
  const coreRange = `^${findVersion(root, 'core')}`;
  const runtimeRange = `^${findVersion(root, 'runtime')}`;
  const packageName = `${scope}/${folder}`;
  return {
    root,
    dir,
    changeset,
    folder,
    kind,
    packageName,
    coreRange,
    runtimeRange,
    values: {
      ...names,
      packageName,
      coreRange,
      tsconfigBase: relative(dir, join(root, 'tsconfig.base.json')).split(sep).join('/'),
      summary: SUMMARIES[kind](names),
    },
  };
}

/** The version of a `@sluice/<name>` package in the monorepo (or installed there). */
function findVersion(root, name) {
  const local = join(root, 'packages', name, 'package.json');
  if (existsSync(local)) return JSON.parse(readFileSync(local, 'utf8')).version;
  try {
    const file = createRequire(join(root, 'package.json')).resolve(`@sluice/${name}/package.json`);
    return JSON.parse(readFileSync(file, 'utf8')).version;
  } catch {
    throw new UsageError(`Cannot find @sluice/${name} in ${root} (packages/${name} or node_modules).`);
  }
}

async function writePlugin(plan) {
  const files = new Map();
  files.set(join(plan.dir, 'package.json'), `${JSON.stringify(packageJson(plan), null, 2)}\n`);
  for (const folder of ['common', plan.kind]) {
    for (const template of listTemplates(join(TEMPLATES, folder))) {
      const rel = template.slice(0, -'.tpl'.length).replaceAll('__base__', plan.values.base);
      const content = fill(readFileSync(join(TEMPLATES, folder, template), 'utf8'), plan.values);
      if (rel === 'changeset.md') files.set(plan.changeset, content);
      else files.set(join(plan.dir, ...rel.split('/')), content);
    }
  }
  const format = await formatter(plan.root);
  for (const [file, content] of files) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, await format(file, content), { flag: 'wx' });
  }
  return [...files.keys()];
}

function packageJson(plan) {
  const descriptions = {
    step: `${plan.values.Pascal}Step for Sluice pipelines: a step kind that runs a command.`,
    compute: `${plan.values.kind} compute targets for Sluice.`,
    datastore: `${plan.values.kind} datastores for Sluice.`,
  };
  return {
    name: plan.packageName,
    version: '0.1.0',
    description: descriptions[plan.kind],
    license: 'MIT',
    type: 'module',
    engines: { node: '>=20.19' },
    exports: {
      '.': { types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' },
      './package.json': './package.json',
    },
    types: './dist/index.d.ts',
    files: ['dist'],
    sideEffects: false,
    scripts: {
      build: 'tsup && publint',
      bundle: 'tsup --no-dts',
      prepack: 'nx build',
      test: 'vitest run',
      typecheck: 'tsc -p tsconfig.json',
      lint: 'eslint src',
    },
    peerDependencies: { '@sluice/core': plan.coreRange },
    devDependencies: {
      '@sluice/core': plan.coreRange,
      '@sluice/runtime': plan.runtimeRange,
      '@sluice/testing': '*',
    },
  };
}

/**
 * Format with the monorepo's own prettier and settings when it has them (line lengths depend on the
 * names filled in); otherwise the templates' layout is kept.
 */
async function formatter(root) {
  let prettier;
  try {
    const entry = createRequire(join(root, 'package.json')).resolve('prettier');
    const module = await import(pathToFileURL(entry).href);
    prettier = typeof module.format === 'function' ? module : module.default;
  } catch {
    return async (_file, content) => content;
  }
  const options = (await prettier.resolveConfig(join(root, 'package.json'))) ?? {};
  return (file, content) => prettier.format(content, { ...options, filepath: file });
}

/** Template files below a folder: relative, '/'-separated. */
function listTemplates(folder) {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.tpl'))
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

function fill(text, values) {
  return text.replace(/\{\{(\w+)\}\}/g, (whole, key) => {
    if (!(key in values)) throw new Error(`template placeholder ${whole} has no value`);
    return values[key];
  });
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`create-plugin: ${error.message}`);
  process.exitCode = 1;
}
