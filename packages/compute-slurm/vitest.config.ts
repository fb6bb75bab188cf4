import { defineConfig } from 'vitest/config';

export default defineConfig({
  // @sluice/testing's build imports the bare 'stream', which vite resolves as a path from this folder
  resolve: { alias: [{ find: /^stream(\/.*)?$/, replacement: 'node:stream$1' }] },
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // the suites share one cluster: one file at a time keeps its queue (and the timings) readable
    fileParallelism: false,
  },
});
