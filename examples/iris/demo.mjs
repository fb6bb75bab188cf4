// The iris demo: three runs of the same pipeline in a fresh workspace, then the explanation of the third.
//   run 1 executes every step; run 2 reuses every step; run 3 changes learning_rate and re-runs only the
//   steps that depend on it.
// With --azurite, the workspace's default datastore is an Azure Blob container on Azurite (Microsoft's
// storage emulator), started before the runs and stopped after them.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const workspace = join(here, 'workspace');
const useAzurite = process.argv.includes('--azurite');
const bin = join(
  dirname(createRequire(import.meta.url).resolve('@sluice/cli/package.json')),
  'dist',
  'bin.js',
);

function sluice(...args) {
  const result = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit', cwd: here });
  if (result.status !== 0) throw new Error(`sluice ${args.join(' ')} exited with ${result.status}`);
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

rmSync(workspace, { recursive: true, force: true });
sluice('init', workspace, '--name', 'iris-demo');
const azurite = useAzurite ? await useAzuriteDatastore() : undefined;
try {
  banner('Run 1: a fresh workspace, so every step executes');
  sluice('run', 'pipeline.ts', '-w', workspace);

  banner('Run 2: nothing changed, so every step is reused');
  sluice('run', 'pipeline.ts', '-w', workspace);

  banner('Run 3: learning_rate 0.1 → 0.5, so only the steps that depend on it re-run');
  sluice('run', 'pipeline.ts', '-w', workspace, '--param', 'learning_rate=0.5');

  banner('Why? sluice explain latest');
  sluice('explain', 'latest', '-w', workspace);

  banner('The third run: sluice show latest');
  sluice('show', 'latest', '-w', workspace);

  console.log(`\nThe workspace is in ${workspace}; try: npx sluice runs -w ${workspace}`);
} catch (error) {
  console.error(`\n${error.message}`);
  process.exitCode = 1;
} finally {
  if (azurite) {
    await azurite.stop();
    console.log('Azurite stopped.');
  }
}
