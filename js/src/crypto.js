// quickchat/crypto: a drop-in replacement for the Quick Chat web client's crypto layer.
// Same classes, method names and data shapes as its KeyManager and SessionManager; the work
// is done by the SDK's WebAssembly engine.
// Its own, smaller module (see src/load-crypto-browser.js): the drop-in needs no client code.
import { load } from '#load-crypto';

let defaults = {};
const openCore = Symbol('openCore');

// One engine per IndexedDB store in a page: KeyManagers made for the same user share it (two
// engines over one store would each keep their own copy of the sessions). Across tabs the
// store's lock does the same (a second tab gets `store_in_use`).
const openStores = new Map();

function storeKey(userId, options) {
  const storage = options.storage ?? (globalThis.indexedDB ? 'indexeddb' : 'memory');
  return storage === 'indexeddb' ? options.databaseName ?? `quickchat-keys:${userId}` : null;
}

function wrongPassphrase() {
  return Object.assign(new Error('wrong passphrase for this store'), {
    name: 'QuickChatError',
    code: 'wrong_passphrase',
  });
}

/**
 * Sets options that every KeyManager and SessionManager made afterwards starts from (their
 * own options win): e.g. `configure({ passphrase, server })` once at start-up, so the rest
 * of the application keeps the reference client's constructor calls. `wasm` says where this
 * entry point's module (`quickchat_crypto_bg.wasm`) comes from, before the first use.
 */
export function configure(options = {}) {
  defaults = { ...defaults, ...options };
}

/** The options `configure()` set. */
export function configured() {
  return { ...defaults };
}

function checkId(value, what) {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`quickchat: ${what} must be a non-empty string`);
  }
}

/** The user's long-term keys: identity, signed prekey, one-time prekeys. */
export class KeyManager {
  #userId;
  #options;
  #core;
  #origin = null;

  constructor(userId, options = {}) {
    checkId(userId, 'userId');
    this.#userId = userId;
    this.#options = options;
  }

  /** The user id. */
  get userId() {
    return this.#userId;
  }

  /** After initialize(): `"existing"`, `"imported"` (from the web client's database) or `"created"`. */
  get origin() {
    return this.#origin;
  }

  [openCore]() {
    if (!this.#core) {
      // `wasm` is for the loader, not the engine.
      const { wasm: _wasm, ...options } = { ...defaults, ...this.#options };
      const key = storeKey(this.#userId, options);
      const shared = key === null ? undefined : openStores.get(key);
      if (shared) {
        this.#core =
          shared.passphrase === options.passphrase ? shared.core : Promise.reject(wrongPassphrase());
      } else {
        this.#core = load(defaults.wasm).then((wasm) => wasm.KeyManagerCore.open(this.#userId, options));
        if (key !== null) openStores.set(key, { passphrase: options.passphrase, core: this.#core });
      }
      this.#core.catch(() => {
        this.#core = undefined;
        if (key !== null && openStores.get(key)?.core !== undefined) {
          const entry = openStores.get(key);
          entry.core.catch(() => openStores.delete(key));
        }
      });
    }
    return this.#core;
  }

  async initialize() {
    const core = await this[openCore]();
    this.#origin = await core.initialize();
  }

  async getFingerprint() {
    return (await this[openCore]()).getFingerprint();
  }

  async getPendingBundle() {
    return (await this[openCore]()).getPendingBundle();
  }

  async markBundleUploaded(bundle) {
    await (await this[openCore]()).markBundleUploaded(bundle ?? null);
  }

  async queueOneTimePrekeys(count) {
    if (!Number.isInteger(count) || count < 0) {
      throw new TypeError('quickchat: count must be a non-negative integer');
    }
    await (await this[openCore]()).queueOneTimePrekeys(count);
  }

  async rotateSignedPrekey() {
    await (await this[openCore]()).rotateSignedPrekey();
  }

  async getIdentityMaterial() {
    return (await this[openCore]()).getIdentityMaterial();
  }

  async resetE2EE() {
    await (await this[openCore]()).resetE2EE();
  }
}

/** End-to-end encrypted sessions with peers. */
export class SessionManager {
  #userId;
  #keyManager;
  #token;
  #options;
  #core;
  #ready = null;

  constructor(userId, keyManager, token, options = {}) {
    checkId(userId, 'userId');
    if (!(keyManager instanceof KeyManager)) {
      throw new TypeError('quickchat: keyManager must be a KeyManager from quickchat/crypto');
    }
    if (keyManager.userId !== userId) {
      throw new TypeError(
        `quickchat: the KeyManager belongs to ${keyManager.userId}, not ${userId}`,
      );
    }
    this.#userId = userId;
    this.#keyManager = keyManager;
    this.#token = token ?? '';
    this.#options = options;
  }

  /** The user id. */
  get userId() {
    return this.#userId;
  }

  #open() {
    if (!this.#core) {
      this.#core = Promise.all([load(defaults.wasm), this.#keyManager[openCore]()]).then(([wasm, keys]) => {
        const { wasm: _wasm, ...options } = { ...defaults, ...this.#options };
        this.#ready = new wasm.SessionManagerCore(keys, this.#token, options);
        return this.#ready;
      });
      this.#core.catch(() => {
        this.#core = undefined;
      });
    }
    return this.#core;
  }

  /** Replaces the JWT used to fetch bundles (after a new login). */
  setToken(token) {
    this.#token = token ?? '';
    this.#core?.then((core) => core.setToken(this.#token)).catch(() => {});
  }

  /** Calls `callback(change)` when a peer's identity key changes. */
  onIdentityChange(callback) {
    this.#options = { ...this.#options, onIdentityChange: callback };
    this.#core?.then((core) => core.onIdentityChange(callback ?? undefined)).catch(() => {});
  }

  async ensureSession(peerId) {
    checkId(peerId, 'peerId');
    return (await this.#open()).ensureSession(peerId);
  }

  encryptMessage(peerId, plaintext) {
    try {
      checkId(peerId, 'peerId');
      if (typeof plaintext !== 'string') {
        throw new TypeError('quickchat: plaintext must be a string');
      }
    } catch (error) {
      return Promise.reject(error);
    }
    // Once open, straight to the engine (no extra promise hops on the hot path).
    if (this.#ready) return this.#ready.encryptMessage(peerId, plaintext);
    return this.#open().then((core) => core.encryptMessage(peerId, plaintext));
  }

  decryptMessage(peerId, message) {
    try {
      checkId(peerId, 'peerId');
    } catch (error) {
      return Promise.reject(error);
    }
    // A wire object of the usual shape (no x3dh) goes as its fields: no JSON to write here
    // or to parse in WebAssembly. Anything else goes as a wire string (JSON.stringify here
    // costs less than WebAssembly calling out for it), or as it is, to be refused with the
    // package's own error; the engine checks every field either way.
    const header = typeof message === 'object' && message !== null ? message.header : undefined;
    const fields =
      header !== undefined &&
      message.x3dh == null &&
      typeof message.ciphertext === 'string' &&
      typeof message.authTag === 'string' &&
      typeof header === 'object' &&
      header !== null &&
      typeof header.ratchetKey === 'string' &&
      typeof header.previousChainLength === 'number' &&
      typeof header.messageNumber === 'number';
    let wire;
    if (!fields) {
      try {
        wire = typeof message === 'string' ? message : JSON.stringify(message);
      } catch {
        wire = undefined;
      }
    }
    const decrypt = (core) => {
      if (fields) {
        return core.decryptFields(
          peerId,
          header.ratchetKey,
          header.previousChainLength,
          header.messageNumber,
          message.ciphertext,
        );
      }
      return typeof wire === 'string' ? core.decryptWire(peerId, wire) : core.decryptMessage(peerId, message);
    };
    if (this.#ready) return decrypt(this.#ready);
    return this.#open().then(decrypt);
  }

  async listSessions() {
    return (await this.#open()).listSessions();
  }
}
