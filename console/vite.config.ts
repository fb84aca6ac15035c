import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Builds the web console (console/) into dist/console-app/, served by `skep serve` at /console/.
// (Not dist/console/: that is where the server's build puts the compiled src/console/ handler.)
// `npm run build` builds it (scripts/build.mjs); `npm run console:dev` runs a dev server that
// proxies /api to a local `skep serve` on port 9000 (SKEP_DEV_API overrides it).

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/console/',
  // Not node_modules/.vite: npm takes a changed node_modules/ for a changed tree and re-reads it
  // all on every later `npx skep`.
  cacheDir: here('../.cache/vite'),
  plugins: [react()],
  build: {
    outDir: here('../dist/console-app'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
  server: {
    proxy: { '/api': process.env.SKEP_DEV_API ?? 'http://127.0.0.1:9000' },
  },
});
