import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // keep `node:` on built-in imports: a bare 'stream' can be taken for a package by a consumer's bundler
  removeNodeProtocol: false,
});
