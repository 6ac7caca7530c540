import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The SDK is the sibling package js/ (a `file:` dependency, i.e. a symlink): the dev server
// must be allowed to serve it, and it is not pre-bundled (its loader finds the .wasm with
// `new URL(..., import.meta.url)`, which pre-bundling would break).
const sdk = fileURLToPath(new URL('../js', import.meta.url));

export default defineConfig({
  server: { fs: { allow: ['.', sdk] } },
  optimizeDeps: { exclude: ['quickchat'] },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
});
