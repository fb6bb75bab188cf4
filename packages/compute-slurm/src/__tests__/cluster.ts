import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
