// Writes dist/: what browsers and bundlers load (the package's `default` conditions; Node
// loads src/, the `node` ones). src/ bundled from the browser entry points (`.`, `./crypto`
// and the three loaders the `#load…` imports name) and minified by esbuild, with the code
// they share split into chunks, so that each entry point's page loads each module once and
// `quickchat/crypto` loads none of the full client's. The wasm-bindgen glue in pkg/ stays
// a file of its own, imported as `../pkg/…` from dist/ as from src/ (its .wasm is found next
// to it). One file per group of modules instead of one per module: about 1.8 KB less
// gzipped JavaScript for the drop-in than src/ minified file by file. Source maps point back
// at src/, which the package ships.
//
//   node scripts/dist.mjs
//
// scripts/build-js.sh runs it; so does test/run.mjs before the suites, so that a change to
// src/ is what the browser suites test.
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(`${packageDir}package.json`, 'utf8'));

// `#load…` as a browser resolves it, but from src/: the manifest's `default` target is the
// dist/ file this build writes.
const loaders = new Map(
  Object.entries(manifest.imports).map(([specifier, target]) => [
    specifier,
    `${packageDir}${target.default.replace(/^\.\/dist\//, 'src/')}`,
  ]),
);
const entryPoints = [
  ...Object.values(manifest.exports)
    .map((target) => target.default)
    .filter((target) => target?.startsWith('./dist/')),
  ...Object.values(manifest.imports).map((target) => target.default),
].map((target) => target.replace(/^\.\/dist\//, 'src/'));

rmSync(`${packageDir}dist`, { recursive: true, force: true });
await build({
  absWorkingDir: packageDir,
  entryPoints,
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // The glue stays where its .wasm is.
  external: ['../pkg/*'],
  logLevel: 'warning',
  plugins: [
    {
      name: 'package-imports',
      setup(builder) {
        builder.onResolve({ filter: /^#/ }, ({ path }) => {
          const file = loaders.get(path);
          return file ? { path: file } : { errors: [{ text: `${path} is not in package.json's imports` }] };
        });
      },
    },
  ],
});
