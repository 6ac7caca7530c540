// The loading logic both browser entry points share; each keeps its own literal
// `new URL('../pkg/<module>_bg.wasm', import.meta.url)`, which is how bundlers find and emit
// its .wasm asset.
import { wasmSource } from './wasm-source.js';

/**
 * `load`/`loadSync` for one wasm-bindgen module: `init` and `wasm` are its default export
 * and namespace, `defaultSource()` gives its .wasm URL, `finish(wasm)` runs once it loaded.
 */
export function browserLoader(init, wasm, defaultSource, finish = (module) => module) {
  let ready;
  return {
    /** Loads the module once; `input` overrides where the .wasm comes from (URL, Response, bytes). */
    load(input) {
      if (!ready) {
        ready = wasmSource(input, defaultSource, import.meta.url)
          .then((source) => init({ module_or_path: source }))
          .then(() => finish(wasm));
        ready.catch(() => {
          ready = undefined;
        });
      }
      return ready;
    },
    /** Synchronous loading needs the bytes at hand in a browser: pass them. */
    loadSync(bytes) {
      if (!bytes) {
        throw new Error('quickchat: loadSync() in a browser needs the .wasm bytes; use `await init()`');
      }
      wasm.initSync({ module: bytes });
      ready = Promise.resolve(finish(wasm));
      return wasm;
    },
  };
}
