import { testComputeProvider } from '@sluice/testing';
import { describe, it } from 'vitest';
import { slurmComputeProvider } from '../index.js';
import { SKIP_REASON, SLURM_CONF } from './cluster.js';

if (SLURM_CONF) {
  testComputeProvider(
    'slurm (a real cluster: tools/slurm)',
    () => ({
      provider: slurmComputeProvider(),
      options: { slurmConf: SLURM_CONF, pollIntervalMs: 200, maxPollIntervalMs: 1000 },
    }),
    { timeout: 90_000 },
  );
  // every job a task of a job array (submitted alone here, as the conformance suite runs one at a time)
  testComputeProvider(
    'slurm with job arrays (a real cluster: tools/slurm)',
    () => ({
      provider: slurmComputeProvider(),
      options: {
        slurmConf: SLURM_CONF,
        pollIntervalMs: 200,
        maxPollIntervalMs: 1000,
        jobArrays: { windowMs: 50 },
      },
    }),
    { timeout: 90_000 },
  );
} else {
  describe('Compute provider conformance: slurm', () => it.skip(SKIP_REASON));
}
