import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // the suites share one cluster: one file at a time keeps its queue (and the timings) readable
    fileParallelism: false,
  },
});
