import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // one browser and one server for the suite, one file at a time
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
