// Loads the WebAssembly module in Node (>= 20): the bytes come from the package directory.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as wasm from '../pkg/quickchat_wasm.js';
import { prepare } from './prepare.js';

let loaded;

/**
 * Loads the module once, synchronously (`input`: other .wasm bytes). The path is built with
 * `node:path`, not `new URL(..., import.meta.url)`: Vite (and so vitest, when it inlines the
 * package) rewrites that pattern into a URL of its dev server.
 */
export function loadSync(input) {
  if (!loaded) {
    const bytes = input ?? readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../pkg/quickchat_wasm_bg.wasm'));
    wasm.initSync({ module: bytes });
    loaded = prepare(wasm);
  }
  return loaded;
}

/** Loads the module once. */
export async function load(input) {
  // Bytes of any realm (under jsdom, Node's Buffer is not the page's Uint8Array).
  const bytes = ArrayBuffer.isView(input) || Object.prototype.toString.call(input) === '[object ArrayBuffer]';
  return loadSync(bytes ? input : undefined);
}
