import { localComputeProvider } from '@sluice/runtime';
import { testComputeProvider } from '../index.js';

// The reference compute provider passes the suite every other provider is held to.
testComputeProvider('local compute (@sluice/runtime)', () => ({
  provider: localComputeProvider(),
  options: { maxConcurrency: 2, killGraceMs: 500 },
  maxConcurrency: 2,
}));
