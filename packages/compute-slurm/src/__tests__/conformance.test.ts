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
} else {
  describe('Compute provider conformance: slurm', () => it.skip(SKIP_REASON));
}
