import { testComputeProvider } from '@sluice/testing';
import { {{camel}}ComputeProvider } from '../index.js';

// The shared conformance suite every compute provider passes: it runs real processes on the target.
testComputeProvider('{{kind}} compute', () => ({
  provider: {{camel}}ComputeProvider(),
  options: { maxConcurrency: 2 },
  maxConcurrency: 2,
}));
