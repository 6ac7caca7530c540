// Finishing touches on the wasm-bindgen classes, applied once after the module loads.
export function prepare(wasm) {
  if (!wasm.EventIterator.prototype[Symbol.asyncIterator]) {
    wasm.EventIterator.prototype[Symbol.asyncIterator] = function () {
      return this;
    };
  }
  return wasm;
}
