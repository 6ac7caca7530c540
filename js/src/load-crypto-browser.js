// Loads the smaller WebAssembly module of `quickchat/crypto` (the drop-in, without the full
// client) in browsers and bundlers: a file of its own, so that a bundle using only the
// drop-in references (and emits) only this module's .wasm. The literal
// `new URL(..., import.meta.url)` is how bundlers find the asset.
import init, * as wasm from '../pkg/quickchat_crypto.js';

let ready;

/** Loads the module once; `input` overrides where the .wasm comes from (URL, Response, bytes). */
export function load(input) {
  if (!ready) {
    const source = input ?? new URL('../pkg/quickchat_crypto_bg.wasm', import.meta.url);
    ready = init({ module_or_path: source }).then(() => wasm);
    ready.catch(() => {
      ready = undefined;
    });
  }
  return ready;
}

/** Synchronous loading needs the bytes at hand in a browser: pass them. */
export function loadSync(bytes) {
  if (!bytes) {
    throw new Error('quickchat: loadSync() in a browser needs the .wasm bytes; use `await init()`');
  }
  wasm.initSync({ module: bytes });
  ready = Promise.resolve(wasm);
  return wasm;
}
