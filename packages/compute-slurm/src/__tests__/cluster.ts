import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';

/** The script that runs a real Slurm cluster on this machine (tools/slurm). */
const CLUSTER_SCRIPT = fileURLToPath(new URL('../../../../tools/slurm/cluster.sh', import.meta.url));
const DEFAULT_CONF = '/tmp/sluice-slurm/slurm.conf';

function answers(conf: string): boolean {
  try {
    execFileSync('sinfo', ['-h', '-o', '%t'], { env: { ...process.env, SLURM_CONF: conf }, stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The slurm.conf of a running cluster: SLURM_CONF's, else the one tools/slurm/cluster.sh runs, brought up
 * here when this process may (root). Undefined when there is none: the suites that need one are skipped.
 */
export function clusterConf(): string | undefined {
  const conf = process.env.SLURM_CONF ?? DEFAULT_CONF;
  if (existsSync(conf) && answers(conf)) return conf;
  if (process.env.SLURM_CONF || process.getuid?.() !== 0 || !existsSync(CLUSTER_SCRIPT)) return undefined;
  execFileSync(CLUSTER_SCRIPT, ['up'], { stdio: 'inherit' });
  return answers(DEFAULT_CONF) ? DEFAULT_CONF : undefined;
}

export const SLURM_CONF = clusterConf();
export const SKIP_REASON = 'no Slurm cluster: run tools/slurm/cluster.sh up (as root) and set SLURM_CONF';

/**
 * A temporary folder for a test file, with the given scripts in its `src` folder (made before the file's
 * tests, removed after them): `folder.root` and `folder.sources` once the tests run.
 */
export function scriptFolder(
  prefix: string,
  scripts: Readonly<Record<string, string>>,
): { readonly root: string; readonly sources: string } {
  const folder = { root: '', sources: '' };
  beforeAll(async () => {
    folder.root = await mkdtemp(join(tmpdir(), prefix));
    folder.sources = join(folder.root, 'src');
    await mkdir(folder.sources);
    for (const [name, code] of Object.entries(scripts))
      await writeFile(join(folder.sources, name), `${code}\n`);
  });
  afterAll(async () => {
    if (folder.root) await rm(folder.root, { recursive: true, force: true });
  });
  return folder;
}
