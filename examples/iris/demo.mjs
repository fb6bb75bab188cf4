// The iris demo: three runs of the same pipeline in a fresh workspace, then the explanation of the third.
//   run 1 executes every step; run 2 reuses every step; run 3 changes learning_rate and re-runs only the
//   steps that depend on it.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const workspace = join(here, 'workspace');
const bin = join(
  dirname(createRequire(import.meta.url).resolve('@sluice/cli/package.json')),
  'dist',
  'bin.js',
);

function sluice(...args) {
  const result = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit', cwd: here });
  if (result.status !== 0) {
    console.error(`\nsluice ${args.join(' ')} exited with ${result.status}`);
    process.exit(result.status ?? 1);
  }
}

function banner(text) {
  console.log(`\n\x1b[1m━━ ${text}\x1b[0m`);
}

rmSync(workspace, { recursive: true, force: true });
sluice('init', workspace, '--name', 'iris-demo');

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
