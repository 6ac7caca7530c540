// Loads the importer module (`quickchat_import`: reads and converts the web client's
// database) in browsers and bundlers. Only `quickchat/crypto`'s first run on a device where
// the web client may have left keys, or on opening a store an earlier version left with
// session records in JSON, imports this file (a dynamic import), so a page never
// downloads it otherwise. The literal `new URL(..., import.meta.url)` is how bundlers find
// the asset.
import init, * as wasm from '../pkg/quickchat_import.js';
import { browserLoader } from './browser-loader.js';

export const { load } = browserLoader(init, wasm, () =>
  new URL('../pkg/quickchat_import_bg.wasm', import.meta.url),
);
