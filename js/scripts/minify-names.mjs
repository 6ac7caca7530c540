// Gives a wasm-bindgen module's imports and exports short names, in the .wasm and in its
// JavaScript glue alike. wasm-bindgen names each import after its Rust binding with a hash
// (`__wbg_set_onsuccess_8fa3ed2b93e36cae`) and some exports after a whole closure signature
// (hundreds of characters), and each name is written twice, once in the .wasm and once in
// the glue: about 1.3 KB of the drop-in's gzipped .wasm and 1 KB of its gzipped glue.
//
//   node scripts/minify-names.mjs <wasm-opt> <module.wasm> <glue.js> [wasm-opt feature flags]
//
// wasm-opt's `--minify-imports-and-exports-and-modules` renames them in the .wasm (in place)
// and prints the mapping; the glue, as wasm-bindgen wrote it (before esbuild), is rewritten
// with it: the keys of the imports object, the import module's name, and every `wasm.<export>`.
// Then every name the glue uses is checked against the renamed .wasm's own imports and exports,
// so a glue this script does not understand stops the build instead of failing when loaded.
// scripts/build-js.sh runs it on each module.
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const [opt, wasmPath, gluePath, ...features] = process.argv.slice(2);
if (!opt || !wasmPath || !gluePath) {
  console.error('usage: node scripts/minify-names.mjs <wasm-opt> <module.wasm> <glue.js> [feature flags]');
  process.exit(2);
}

function fail(message) {
  console.error(`minify-names: ${gluePath}: ${message}`);
  process.exit(1);
}

// A second round of -Oz after the renaming: about 0.3 KB gzipped off the drop-in's module
// (a round on the module as it was before the renaming gains nothing).
const run = spawnSync(opt, [...features, '--minify-imports-and-exports-and-modules', '-Oz', wasmPath, '-o', wasmPath], {
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
if (run.status !== 0) fail(`wasm-opt failed: ${run.stderr}`);
let mapping;
try {
  mapping = JSON.parse(run.stdout.slice(run.stdout.indexOf('{')));
} catch (error) {
  fail(`wasm-opt printed no mapping (${error.message})`);
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const identifier = /^[A-Za-z_$][\w$]*$/;
const property = (name) => (identifier.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`);

let glue = readFileSync(gluePath, 'utf8');
let replaced = 0;
function replaceAll(pattern, by) {
  glue = glue.replace(pattern, (...match) => {
    replaced += 1;
    return typeof by === 'function' ? by(...match) : by;
  });
}

// Imports: the glue's imports object has one key per import, `<name>: function(...)`, and
// names the module once, `"./<module>_bg.js": import0`.
for (const [, base, short] of mapping.imports) {
  replaceAll(new RegExp(`(^|[\\s,{])${escape(base)}(?=\\s*:)`, 'gm'), (_, before) => `${before}${JSON.stringify(short)}`);
}
const module = await WebAssembly.compile(readFileSync(wasmPath));
const wasmImports = WebAssembly.Module.imports(module);
const wasmExports = WebAssembly.Module.exports(module);
// binaryen renames the modules too; wasm-bindgen's glue has one.
const oldModules = [...new Set(mapping.imports.map(([name]) => name))];
const newModules = [...new Set(wasmImports.map((i) => i.module))];
if (oldModules.length > 1 || oldModules.length !== newModules.length) {
  fail(`import modules ${oldModules.join(', ')} became ${newModules.join(', ')}: one was expected`);
}
if (oldModules.length === 1) {
  replaceAll(new RegExp(`(["'])${escape(oldModules[0])}\\1(?=\\s*:)`, 'g'), JSON.stringify(newModules[0]));
}

// Exports: always reached as `wasm.<name>`.
for (const [long, short] of mapping.exports) {
  replaceAll(new RegExp(`\\bwasm\\.${escape(long)}(?![\\w$])`, 'g'), `wasm${property(short)}`);
}

// Every name the glue still uses must be one the module has.
const exportNames = new Set(wasmExports.map((e) => e.name));
for (const [, name] of glue.matchAll(/\bwasm\.([A-Za-z_$][\w$]*)/g)) {
  if (!exportNames.has(name)) fail(`the glue uses wasm.${name}, which the module does not export`);
}
for (const [, name] of glue.matchAll(/\bwasm\["([^"]+)"\]/g)) {
  if (!exportNames.has(name)) fail(`the glue uses wasm["${name}"], which the module does not export`);
}
for (const { module, name } of wasmImports) {
  if (!glue.includes(`${JSON.stringify(module)}:`) || !new RegExp(`(^|[\\s,{])${escape(JSON.stringify(name))}\\s*:`, 'm').test(glue)) {
    fail(`the module imports ${module}.${name}, which the glue does not provide`);
  }
}
for (const [, base] of mapping.imports) {
  if (new RegExp(`(^|[\\s,{])${escape(base)}\\s*:`, 'm').test(glue)) fail(`import ${base} was not renamed`);
}

writeFileSync(gluePath, glue);
console.log(
  `minify-names: ${mapping.imports.length} imports and ${mapping.exports.length} exports renamed (${replaced} places in the glue)`,
);
