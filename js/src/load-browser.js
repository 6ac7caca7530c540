// Loads the WebAssembly module in browsers and bundlers (Vite, webpack 5, Rollup): the
// `new URL(..., import.meta.url)` below is how they find and emit the .wasm asset.
import init, * as wasm from '../pkg/quickchat_wasm.js';
import { prepare } from './prepare.js';

let ready;

/** Loads the module once; `input` overrides where the .wasm comes from (URL, Response, bytes). */
export function load(input) {
  if (!ready) {
    const source = input ?? new URL('../pkg/quickchat_wasm_bg.wasm', import.meta.url);
    ready = init({ module_or_path: source }).then(() => prepare(wasm));
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
  ready = Promise.resolve(prepare(wasm));
  return wasm;
}
