// quickchat/crypto: a drop-in replacement for the Quick Chat web client's crypto layer.
// Same classes, method names and data shapes as its KeyManager and SessionManager; the work
// is done by the SDK's WebAssembly engine.
// Its own, smaller module (see src/load-crypto-browser.js): the drop-in needs no client code.
import { load } from '#load-crypto';
import { serverBundleFetch } from './bundle-fetch.js';
import { quickChatError } from './errors.js';
import { tabSessions } from './tab-engines.js';
import { importWebClient as importFrom, upgradeStore } from './importer.js';
import { deviceSecret, openKeyStore } from './key-store.js';
import { TabGroup, tabsAvailable } from './tabs.js';

/** One-time prekeys the web client keeps on the server (the SDK's policy too). */
export const ONE_TIME_PREKEY_TARGET = 100;
/** One-time prekeys in one upload at most (`getPendingBundle()` holds no more). */
export const MAX_UPLOAD_PREKEYS = 50;
/** Age after which a signed prekey is replaced: 7 days, in ms. */
export const SIGNED_PREKEY_TTL_MS = 7 * 24 * 60 * 60 * 1000;

let defaults = {};
const openCore = Symbol('openCore');

// One engine per IndexedDB store in a page: KeyManagers made for the same user share it (two
// engines over one store would each keep their own copy of the sessions). Across tabs, one
// tab runs the engine and the others call it (src/tabs.js); with `tabs: false`, or where
// there is no Web Locks API, the store's lock refuses a second tab (`store_in_use`). Per
// IndexedDB factory: a test that puts a fresh `indexedDB` in place (fake-indexeddb's
// `new IDBFactory()` before each test) gets fresh stores, as with the web client.
const storesByFactory = new WeakMap();
const memoryFactory = {};

function openStoresOf() {
  const factory = globalThis.indexedDB ?? memoryFactory;
  let stores = storesByFactory.get(factory);
  if (!stores) {
    stores = new Map();
    storesByFactory.set(factory, stores);
  }
  return stores;
}

function storeKey(userId, options) {
  const storage = options.storage ?? (globalThis.indexedDB ? 'indexeddb' : 'memory');
  return storage === 'indexeddb' ? options.databaseName ?? `quickchat-keys:${userId}` : null;
}

// The web client's database is read and converted by a module of its own, which the engine
// calls only on a new user's first run (src/importer.js).
function importWebClient(name, userId, now) {
  return importFrom(defaults.importWasm, name, userId, now);
}

// The engine of `userId`'s keys over the store's IndexedDB database `name` (`storeKey`),
// which src/key-store.js opens and reads (the engine holds the records and seals what it
// writes), or in memory (`name` null). A store an older version of this package left is
// upgraded first by the importer module, downloaded only then. Without a passphrase, the
// device's generated one.
async function openKeys(wasm, name, userId, options) {
  if (name === null) return wasm.KeyManagerCore.open(userId, options, importWebClient, null);
  const passphrase = options.passphrase ?? (await deviceSecret(name));
  const disk = await openKeyStore(name, (database) => upgradeStore(defaults.importWasm, database, passphrase));
  try {
    return await wasm.KeyManagerCore.open(userId, { ...options, passphrase }, importWebClient, disk);
  } catch (error) {
    disk.close();
    throw error;
  }
}

function wrongPassphrase() {
  return quickChatError('wrong_passphrase', 'wrong passphrase for this store');
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

// Bytes from the engine's base64. Secrets never leave WebAssembly: where the web client's
// records hold one (seed, secretKey, rootKey), an empty Uint8Array stands in.
function bytes(base64) {
  if (typeof base64 !== 'string') return new Uint8Array(0);
  const binary = atob(base64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

const noSecret = () => new Uint8Array(0);

// The web client's StoredIdentityRecord (and the SDK's fields), public parts only.
function identityRecord(material) {
  return {
    ...material,
    seed: noSecret(),
    x25519PublicKey: bytes(material.identityKey),
    signingPublicKey: bytes(material.signingKey),
  };
}

// The web client's StoredSessionRecord from the engine's view of a session: the same
// fields and types, secrets replaced by empty byte arrays, plus the SDK's own (storageKey,
// userId, initiatedByMe).
function sessionRecord(view) {
  if (!view) return view;
  const { x3dh, ...rest } = view;
  const record = {
    ...rest,
    remoteIdentityKey: bytes(view.remoteIdentityKey),
    // Not kept by the SDK (only its id, for sessions this user started; 0 otherwise).
    remoteSignedPrekey: new Uint8Array(0),
    remoteSignedPrekeyId: view.remoteSignedPrekeyId ?? 0,
    rootKey: noSecret(),
    localEphemeralKeyPair: {
      publicKey: x3dh ? bytes(x3dh.senderEphemeralKey) : new Uint8Array(0),
      secretKey: noSecret(),
    },
  };
  if (x3dh) {
    // The first message is not sent yet: what its x3dh block will carry.
    record.x3dhData = {
      localIdentityKey: bytes(x3dh.senderIdentityKey),
      localEphemeralKey: bytes(x3dh.senderEphemeralKey),
      usedSignedPrekeyId: x3dh.usedSignedPrekeyId,
    };
    if (x3dh.usedOneTimePrekeyId != null) {
      record.x3dhData.usedOneTimePrekeyId = x3dh.usedOneTimePrekeyId;
      record.usedOneTimePrekeyId = x3dh.usedOneTimePrekeyId;
    }
  }
  return record;
}

/**
 * What the web client's `KeyManager.getStorage()` gives (its `KeyStorage`), for reading:
 * the same methods and record shapes, public parts only (see `sessionRecord`).
 */
class KeyStorage {
  #core;

  constructor(core) {
    this.#core = core;
  }

  async loadIdentity() {
    const core = await this.#core();
    try {
      return identityRecord(await core.getIdentityMaterial());
    } catch (error) {
      if (error?.code === 'not_initialized') return null;
      throw error;
    }
  }

  async loadSignedPrekey() {
    const view = await (await this.#core()).signedPrekeyRecord();
    if (!view) return null;
    return {
      keyId: view.keyId,
      publicKey: bytes(view.publicKey),
      secretKey: noSecret(),
      signature: bytes(view.signature),
      createdAt: view.createdAt,
      uploaded: view.uploaded,
    };
  }

  async loadOneTimePrekey(keyId) {
    if (!Number.isInteger(keyId) || keyId < 0 || keyId > 0xffffffff) return undefined;
    const view = await (await this.#core()).oneTimePrekeyRecord(keyId);
    if (!view) return undefined;
    return {
      keyId: view.keyId,
      publicKey: bytes(view.publicKey),
      secretKey: noSecret(),
      // Not recorded by the SDK.
      createdAt: 0,
      uploaded: view.uploaded,
      // A used one-time prekey is deleted at once: what is held is never consumed.
      consumed: false,
    };
  }

  async countOneTimePrekeys() {
    return (await this.#core()).oneTimePrekeyCount();
  }

  async loadSession(peerId) {
    checkId(peerId, 'peerId');
    return sessionRecord(await (await this.#core()).sessionRecord(peerId));
  }

  async listSessions() {
    return ((await (await this.#core()).sessionRecords()) ?? []).map(sessionRecord);
  }
}

function checkId(value, what) {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`quickchat: ${what} must be a non-empty string`);
  }
}

// A session engine over `keys`. Without the application's `fetchBundle`, bundles come from
// the backend's prekeys endpoint through src/bundle-fetch.js (the engine has no HTTP client).
function sessionCore(wasm, keys, token, options) {
  const fetchFromServer = typeof options.fetchBundle === 'function' ? undefined : serverBundleFetch(options.server);
  return new wasm.SessionManagerCore(keys, token, { ...options, fetchFromServer });
}

// The engine of the store `key`, shared by the tabs of this origin: run in the tab that leads
// them (this one, or another that this one calls), see src/tabs.js.
function shareAcrossTabs(key, userId, options) {
  let wasm;
  const group = new TabGroup(key, {
    openKeys: () =>
      load(defaults.wasm).then((module) => {
        wasm = module;
        return openKeys(module, key, userId, options);
      }),
    openSessions: (keys, token, sessionOptions) => sessionCore(wasm, keys, token, sessionOptions),
    passphrase: options.passphrase,
  });
  return group.ready().then(() => group.keys());
}

/** The user's long-term keys: identity, signed prekey, one-time prekeys. */
export class KeyManager {
  #userId;
  #options;
  #core;
  #origin = null;
  #storage;

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
      // `wasm` and `importWasm` are for the loaders, not the engine.
      const { wasm: _wasm, importWasm: _importWasm, tabs, ...options } = { ...defaults, ...this.#options };
      const key = storeKey(this.#userId, options);
      const openStores = openStoresOf();
      const shared = key === null ? undefined : openStores.get(key);
      if (shared) {
        this.#core =
          shared.passphrase === options.passphrase ? shared.core : Promise.reject(wrongPassphrase());
      } else {
        this.#core =
          key !== null && tabs !== false && tabsAvailable()
            ? shareAcrossTabs(key, this.#userId, options)
            : load(defaults.wasm).then((wasm) => openKeys(wasm, key, this.#userId, options));
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
    return identityRecord(await (await this[openCore]()).getIdentityMaterial());
  }

  /**
   * The web client's `KeyStorage`, for reading keys and sessions: public parts only (the
   * secrets stay in WebAssembly; empty byte arrays stand in for them).
   */
  getStorage() {
    this.#storage ??= new KeyStorage(() => this[openCore]());
    return this.#storage;
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
        const { wasm: _wasm, importWasm: _importWasm, tabs: _tabs, ...options } = { ...defaults, ...this.#options };
        this.#ready = tabSessions(keys, this.#token, options) ?? sessionCore(wasm, keys, this.#token, options);
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
    return sessionRecord(await (await this.#open()).ensureSession(peerId));
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
    // costs less than WebAssembly calling out for it); the engine checks every field either
    // way. What has no JSON form (undefined, a cycle) is no message.
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
      if (typeof wire !== 'string') {
        return Promise.reject(quickChatError('invalid_argument', 'invalid message: not an encrypted message'));
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
      return core.decryptWire(peerId, wire);
    };
    if (this.#ready) return decrypt(this.#ready);
    return this.#open().then(decrypt);
  }

  async listSessions() {
    return (await (await this.#open()).listSessions()).map(sessionRecord);
  }
}
