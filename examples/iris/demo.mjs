// The iris demo: three runs of the same pipeline in a fresh workspace, then the explanation of the third.
//   run 1 executes every step; run 2 reuses every step; run 3 changes learning_rate and re-runs only the
//   steps that depend on it.
// With --azurite, the workspace's default datastore is an Azure Blob container on Azurite (Microsoft's
// storage emulator), started before the runs and stopped after them.
// It first builds the packages it runs, JavaScript only (`nx run-many -t bundle`): type declarations and
// package checks are the full build's (`npm run build`), which nothing here needs.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const workspace = join(here, 'workspace');
const useAzurite = process.argv.includes('--azurite');
const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve('@sluice/cli/package.json')), 'bin', 'sluice.js');

/** Build the packages the demo runs (and those they need), JavaScript only; nx skips what is up to date. */
function buildWhatRuns() {
  // the studio (and the REST server that serves it) too, so the command printed at the end works as typed
  const projects = ['@sluice/cli', '@sluice/step-python', '@sluice/publish', '@sluice/studio'];
  if (useAzurite) projects.push('@sluice/datastore-azure', '@sluice/testing');
  process.stdout.write(`Building ${projects.join(', ')} and what they need (JavaScript only)… `);
  const started = performance.now();
  const result = spawnSync(
    process.execPath,
    [require.resolve('nx/bin/nx.js'), 'run-many', '-t', 'bundle', `--projects=${projects.join(',')}`],
    { cwd: root, encoding: 'utf8', env: { ...process.env, NX_TUI: 'false' } },
  );
  if (result.status !== 0) {
    process.stdout.write('failed:\n');
    process.stderr.write(
      `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `${result.error}\n` : ''}`,
    );
    throw new Error(`the build exited with ${result.status ?? result.signal}`);
  }
  process.stdout.write(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

// Each command is shown as it can be typed in the folder the demo was started in (npm sets INIT_CWD):
// there `npx --no sluice` runs the repository's own command and never installs one from a registry.
const cwd = process.env.INIT_CWD ?? process.cwd();
const at = (path) => relative(cwd, path) || '.';
const quoted = (word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);
const typed = (args) => `npx --no sluice ${args.map(quoted).join(' ')}`;

function sluice(...args) {
  console.log(`\x1b[2m$ ${typed(args)}\x1b[0m`);
  const result = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit', cwd });
  if (result.status !== 0) throw new Error(`${typed(args)} exited with ${result.status}`);
}

function banner(text) {
  console.log(`\n\x1b[1m━━ ${text}\x1b[0m`);
}

/** Start Azurite and make an Azure Blob container the workspace's default datastore. */
async function useAzuriteDatastore() {
  const { startAzurite } = await import('@sluice/testing/azurite');
  const { Workspace } = await import('@sluice/runtime');
  const { Datastore } = await import('@sluice/datastore-azure');
  const azurite = await startAzurite();
  console.log(`Azurite is listening at ${azurite.blobEndpoint}`);
  const ws = Workspace.open(workspace);
  try {
    Datastore.registerAzureBlobContainer(ws, {
      name: 'azureblobstore',
      containerName: 'iris-demo',
      connectionString: azurite.connectionString,
      createContainerIfMissing: true,
      setDefault: true,
    });
    console.log('The default datastore is now "azureblobstore", a container on Azurite.');
  } finally {
    await ws.close();
  }
  return azurite;
}

let azurite;
try {
  buildWhatRuns();
  rmSync(workspace, { recursive: true, force: true });
  sluice('init', at(workspace), '--name', 'iris-demo');
  azurite = useAzurite ? await useAzuriteDatastore() : undefined;
  banner('Run 1: a fresh workspace, so every step executes');
  sluice('run', at(join(here, 'pipeline.ts')), '-w', at(workspace));

  banner('Run 2: nothing changed, so every step is reused');
  sluice('run', at(join(here, 'pipeline.ts')), '-w', at(workspace));

  banner('Run 3: learning_rate 0.1 → 0.5, so only the steps that depend on it re-run');
  sluice('run', at(join(here, 'pipeline.ts')), '-w', at(workspace), '--param', 'learning_rate=0.5');

  banner('Why? Each step says why it ran or was reused');
  sluice('explain', 'latest', '-w', at(workspace));

  banner('The third run: its graph, timeline, metrics and outputs');
  sluice('show', 'latest', '-w', at(workspace));

  console.log(`\nThe workspace is in ${workspace}; try: ${typed(['runs', '-w', at(workspace)])}`);
  console.log(
    `See the three runs in the studio (the graph, the reused step, the logs; Ctrl-C stops it):\n  ${typed(['studio', '-w', at(workspace)])}`,
  );
} catch (error) {
  console.error(`\n${error.message}`);
  process.exitCode = 1;
} finally {
  if (azurite) {
    await azurite.stop();
    console.log('Azurite stopped.');
  }
}
