// quickchat: the Quick Chat SDK for browsers and Node — the whole client, and (re-exported
// from quickchat/crypto) the drop-in replacement of the web client's crypto layer.
import { load } from '#load';

export { KeyManager, SessionManager, configure, configured } from './crypto.js';

let loaded;

/**
 * Loads the WebAssembly module (done automatically by every async entry point; call it to
 * load early, or to say where the .wasm is: `init({ wasm: url })`).
 */
export async function init(options = {}) {
  loaded = await load(options.wasm);
}

/** The SDK version. */
export async function version() {
  return (await load()).version();
}

/** Whether `error` is an error of this SDK (it then has a stable `code`). */
export function isQuickChatError(error) {
  return error instanceof Error && error.name === 'QuickChatError' && typeof error.code === 'string';
}

/**
 * Reads the web client's IndexedDB database (`quick-chat-e2ee` unless named) as a JSON dump,
 * or null when there is none. Nothing is written.
 */
export async function readWebClientDatabase(name) {
  return (await load()).readWebClientDatabase(name);
}

/** The whole client: create it with `await QuickChatClient.create(options)`. */
export class QuickChatClient {
  constructor() {
    throw new TypeError('quickchat: use `await QuickChatClient.create(options)`');
  }

  static async create(options = {}) {
    loaded = await load();
    return loaded.QuickChatClient.create(options);
  }

  static [Symbol.hasInstance](value) {
    return loaded !== undefined && value instanceof loaded.QuickChatClient;
  }
}
