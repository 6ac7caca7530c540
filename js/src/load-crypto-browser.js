// Loads the smaller WebAssembly module of `quickchat/crypto` (the drop-in, without the full
// client) in browsers and bundlers: a file of its own, so that a bundle using only the
// drop-in references (and emits) only this module's .wasm. The literal
// `new URL(..., import.meta.url)` is how bundlers find the asset.
import init, * as wasm from '../pkg/quickchat_crypto.js';
import { browserLoader } from './browser-loader.js';

export const { load, loadSync } = browserLoader(init, wasm, () =>
  new URL('../pkg/quickchat_crypto_bg.wasm', import.meta.url),
);
