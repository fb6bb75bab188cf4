import { defineConfig } from 'vitest/config';

export default defineConfig({
  // each generated plugin is type-checked, linted and has its own conformance test run
  test: { include: ['__tests__/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 60_000 },
});
