// Loads the smaller WebAssembly module of `quickchat/crypto` (the drop-in, without the full
// client) in Node (>= 20): the bytes come from the package directory.
import { readFileSync } from 'node:fs';
import * as wasm from '../pkg/quickchat_crypto.js';

let loaded;

/** Loads the module once, synchronously (`input`: other .wasm bytes). */
export function loadSync(input) {
  if (!loaded) {
    const bytes = input ?? readFileSync(new URL('../pkg/quickchat_crypto_bg.wasm', import.meta.url));
    wasm.initSync({ module: bytes });
    loaded = wasm;
  }
  return loaded;
}

/** Loads the module once. */
export async function load(input) {
  return loadSync(input instanceof Uint8Array || input instanceof ArrayBuffer ? input : undefined);
}
