// Loads the importer module (`quickchat_import`) in Node (>= 20): the bytes come from the
// package directory (see src/load-crypto-node.js for why the path is built with node:path).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as wasm from '../pkg/quickchat_import.js';

let loaded;

/** Loads the module once (`input`: other .wasm bytes). */
export async function load(input) {
  if (!loaded) {
    const bytes = ArrayBuffer.isView(input) || Object.prototype.toString.call(input) === '[object ArrayBuffer]';
    wasm.initSync({
      module: bytes ? input : readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../pkg/quickchat_import_bg.wasm')),
    });
    loaded = wasm;
  }
  return loaded;
}
