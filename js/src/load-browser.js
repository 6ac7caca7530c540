// Loads the WebAssembly module in browsers and bundlers (Vite, webpack 5, Rollup): the
// `new URL(..., import.meta.url)` below is how they find and emit the .wasm asset.
import init, * as wasm from '../pkg/quickchat_wasm.js';
import { browserLoader } from './browser-loader.js';
import { prepare } from './prepare.js';

export const { load, loadSync } = browserLoader(
  init,
  wasm,
  () => new URL('../pkg/quickchat_wasm_bg.wasm', import.meta.url),
  prepare,
);
