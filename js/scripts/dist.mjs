// Writes dist/: each module of src/ minified on its own (esbuild: whitespace, syntax, local
// names; imports, exports and property names stay), with a source map back to src/. Browsers
// and bundlers load dist/ (the package's `default` conditions), Node loads src/ (`node`):
// about half the gzipped JavaScript a page downloads, the same module graph and the same
// relative paths (`../pkg/…` from either), so loading and bundling work the same.
//
//   node scripts/dist.mjs
//
// scripts/build-js.sh runs it; so does test/run.mjs before the suites, so that a change to
// src/ is what the browser suites test.
import { readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
// Node's loaders (`*-node.js`) are only ever loaded from src/.
const sources = readdirSync(`${packageDir}src`).filter((file) => file.endsWith('.js') && !file.endsWith('-node.js'));

rmSync(`${packageDir}dist`, { recursive: true, force: true });
await build({
  absWorkingDir: packageDir,
  entryPoints: sources.map((file) => `src/${file}`),
  outdir: 'dist',
  bundle: false,
  format: 'esm',
  minify: true,
  sourcemap: true,
  // The maps point at src/, which the package ships: no second copy of the sources in them.
  sourcesContent: false,
  logLevel: 'warning',
});
