import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// The app is built into dist/app with relative asset URLs, so a server can serve it from any folder.
export default defineConfig({
  root: here('src/app'),
  base: './',
  plugins: [react()],
  build: {
    outDir: here('dist/app'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
});
