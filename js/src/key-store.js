// The drop-in's IndexedDB store, the database side: the engine (WebAssembly) holds the
// records in memory and seals each one it writes; this file opens the database, reads every
// record once when the store opens, and puts what the engine writes, the writes of a burst
// sharing transactions. The layout is the SDK's IndexedDB store's (platform-wasm's
// src/store/: schema.rs, header.rs, lock.rs, behind.rs), so that either reads the other's
// stores; a store of an older layout is upgraded by the importer module, which holds that
// code (`upgradeStore`), downloaded only then.
import { quickChatError } from './errors.js';

/** The database's version (object stores and indexes), as schema.rs has it. */
const VERSION = 2;
/** The layout of the values this version writes, as schema.rs has it. */
export const LAYOUT = 5;
const FORMAT = 'quickchat-idb';
const META = 'meta';
const MESSAGES = 'messages';
/** The object stores of keys and sessions (schema.rs's KEY_STORES). */
const KEY_STORES = ['account', 'signed_prekeys', 'one_time_prekeys', 'sessions', 'known_identities'];
/** How long opening waits for the store's lock while another holds it (as lock.rs). */
const LOCK_WAIT_MS = 2000;
const SECRETS_DATABASE = 'quickchat-device-secrets';

// The texts of core's StoreError, with its codes.
const failed = (context, error) =>
  quickChatError('store_failed', `storage failed while ${context}: ${error?.name ? `${error.name}: ` : ''}${error?.message ?? error}`);
const corrupt = (what, detail) => quickChatError('store_corrupt', `stored ${what} is damaged: ${detail}`);
const quoted = (name) => JSON.stringify(name);

function request(made) {
  return new Promise((resolve, reject) => {
    made.onsuccess = () => resolve(made.result);
    made.onerror = () => reject(made.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('the transaction was aborted'));
    tx.onerror = () => {};
  });
}

function factory() {
  const found = globalThis.indexedDB;
  if (!found) throw failed('opening the database', { name: 'NotFoundError', message: 'this environment has no IndexedDB' });
  return found;
}

function openDatabase(name, version, upgrade) {
  return new Promise((resolve, reject) => {
    let made;
    try {
      made = factory().open(name, version);
    } catch (error) {
      reject(error);
      return;
    }
    made.onupgradeneeded = (event) => upgrade(made, event.oldVersion);
    made.onsuccess = () => resolve(made.result);
    made.onerror = () => reject(made.error);
    made.onblocked = () => {};
  });
}

// schema.rs's `upgrade`: the same object stores and indexes.
function upgradeSchema(made, old) {
  const db = made.result;
  if (old < 1) {
    for (const store of [META, ...KEY_STORES]) db.createObjectStore(store);
    db.createObjectStore(MESSAGES, { keyPath: 'id' }).createIndex('by_conversation', ['c', 't']);
  }
  if (old < 2) {
    const messages = made.transaction.objectStore(MESSAGES);
    messages.createIndex('by_time', 't');
    messages.createIndex('outbox', 'o');
  }
}

/**
 * The store's exclusive Web Lock (as lock.rs): a function that releases it, `null` where
 * there is no Web Locks API; `store_in_use` when another holds it for longer than the wait.
 */
async function acquireLock(name, database) {
  const locks = globalThis.navigator?.locks;
  if (!locks) return null;
  const timeout = typeof AbortSignal?.timeout === 'function';
  const options = timeout ? { signal: AbortSignal.timeout(LOCK_WAIT_MS) } : { ifAvailable: true };
  let release;
  const granted = await new Promise((resolve, reject) => {
    locks
      .request(name, options, (lock) => {
        if (!lock) {
          resolve(false);
          return null;
        }
        resolve(true);
        return new Promise((done) => {
          release = done;
        });
      })
      .catch((error) => {
        if (error?.name === 'AbortError' || error?.name === 'TimeoutError') resolve(false);
        else reject(failed("taking the store's lock", error));
      });
  });
  if (!granted) {
    throw quickChatError(
      'store_in_use',
      `the store IndexedDB database ${quoted(database)} is already open (in this process or another); close it first`,
    );
  }
  return release;
}

/**
 * The generated passphrase of the store `name` (storage.rs had it), made on first use and
 * kept in the `quickchat-device-secrets` database: 32 random bytes in base64.
 */
export async function deviceSecret(name) {
  let db;
  try {
    db = await openDatabase(SECRETS_DATABASE, 1, (made, old) => {
      if (old < 1) made.result.createObjectStore('secrets');
    });
  } catch (error) {
    throw failed('keeping the device passphrase', error);
  }
  try {
    const tx = db.transaction(['secrets'], 'readwrite');
    const committed = done(tx);
    const secrets = tx.objectStore('secrets');
    let secret = await request(secrets.get(name));
    if (typeof secret !== 'string') {
      const bytes = crypto.getRandomValues(new Uint8Array(32));
      secret = btoa(String.fromCharCode(...bytes));
      bytes.fill(0);
      secrets.put(secret, name);
    }
    await committed;
    return secret;
  } catch (error) {
    throw error?.code ? error : failed('keeping the device passphrase', error);
  } finally {
    db.close();
  }
}

/**
 * Opens the store in the database `name`: its header (null for a new store) and every
 * record of its key stores, for the engine. `upgrade(name)` brings a store of an older
 * layout up to date (the importer module); it runs without this side holding the lock.
 */
export async function openKeyStore(name, upgrade) {
  for (let attempt = 0; ; attempt += 1) {
    const release = await acquireLock(`quickchat-store:${name}`, name);
    let db;
    try {
      try {
        db = await openDatabase(name, VERSION, upgradeSchema);
      } catch (error) {
        if (error?.name === 'VersionError') {
          throw corrupt(`IndexedDB database ${quoted(name)}`, 'it was made by a newer version of this SDK');
        }
        throw failed('opening the database', error);
      }
      const { header, records } = await readAll(db, name);
      if (header && header.layout < LAYOUT) {
        if (attempt > 0) throw corrupt(`header of IndexedDB database ${quoted(name)}`, 'the upgrade did not finish');
        db.close();
        db = undefined;
        release?.();
        await upgrade(name);
        continue;
      }
      return new KeyStore(db, release, name, header, records);
    } catch (error) {
      db?.close();
      release?.();
      throw error;
    }
  }
}

// The header and every key record, in one transaction.
async function readAll(db, name) {
  let tx;
  try {
    tx = db.transaction([META, ...KEY_STORES], 'readonly');
  } catch (error) {
    throw failed('reading the store', error);
  }
  const meta = tx.objectStore(META);
  const get = (key) => request(meta.get(key));
  const reads = KEY_STORES.map((store) => {
    const objects = tx.objectStore(store);
    return Promise.all([request(objects.getAllKeys()), request(objects.getAll())]);
  });
  let format, layout, kdf, check, all;
  try {
    [format, layout, kdf, check, all] = await Promise.all([get('format'), get('layout'), get('kdf'), get('check'), Promise.all(reads)]);
  } catch (error) {
    throw failed('reading the store', error);
  }
  const what = `header of IndexedDB database ${quoted(name)}`;
  let header = null;
  if (format !== undefined) {
    if (format !== FORMAT) throw corrupt(what, 'not a quickchat store');
    if (typeof layout !== 'number') throw corrupt(what, 'no layout');
    if (layout > LAYOUT) throw corrupt(what, 'made by a newer version of this SDK');
    if (typeof kdf !== 'string') throw corrupt(what, 'no key-derivation parameters');
    if (check === undefined) throw corrupt(what, 'no passphrase check');
    header = { layout, kdf, check };
  }
  // [store, key, sealed bytes] for the engine, which checks every value.
  const records = [];
  KEY_STORES.forEach((store, i) => {
    const [keys, values] = all[i];
    keys.forEach((key, j) => records.push([store, key, values[j]]));
  });
  return { header, records };
}

/**
 * An open store, as the engine uses it: `header()`, `records()` once; `writeHeader(kdf,
 * check)` for a new store; `write(writes, durable)`; `settled()`; `close()`. A relaxed write
 * (`durable` false) is queued behind the one in flight, and writes queued meanwhile share
 * the next transaction (the last write of a key wins); a durable one runs after everything
 * queued and resolves once on disk. A relaxed write's failure is given to whoever waits in
 * `settled()`, else thrown by the next `write()`.
 */
class KeyStore {
  #db;
  #release;
  #name;
  #header;
  #records;
  #queued = [];
  #queuedBatch = null;
  #inFlight = new Set();
  #failure = null;

  constructor(db, release, name, header, records) {
    this.#db = db;
    this.#release = release;
    this.#name = name;
    this.#header = header;
    this.#records = records;
    // Another version of the SDK asking for the database (an upgrade elsewhere) is not
    // blocked by this tab: it gets the store once this tab closes.
    db.onversionchange = () => this.close();
  }

  header() {
    return this.#header;
  }

  /** Every record read at opening, handed over once (the engine keeps them). */
  records() {
    const records = this.#records;
    this.#records = [];
    return records;
  }

  /**
   * Writes a new store's header; `null` when written, else the header another opener wrote
   * first (then this one's is not).
   */
  async writeHeader(kdf, check) {
    const tx = this.#transaction([META]);
    const meta = tx.objectStore(META);
    const added = request(meta.add(FORMAT, 'format'));
    meta.put(LAYOUT, 'layout');
    meta.put(kdf, 'kdf');
    meta.put(check, 'check');
    try {
      await added;
      await done(tx);
      this.#header = { layout: LAYOUT, kdf, check };
      return null;
    } catch (error) {
      if (error?.name !== 'ConstraintError') throw error;
    }
    const { header } = await readAll(this.#db, this.#name);
    if (!header) throw corrupt(`IndexedDB database ${quoted(this.#name)}`, 'the store header could not be written');
    return header;
  }

  // Failures of writes are the database's own errors: the engine says what it was doing.
  #transaction(stores) {
    if (!this.#db) throw new Error('the database connection is closed');
    return this.#db.transaction(stores, 'readwrite');
  }

  /**
   * Puts `writes` (each `[store, key, value]`, `[store, key]` to delete, `[store]` to clear)
   * in the database; a promise of them on disk.
   */
  write(writes, durable) {
    if (this.#failure) {
      const failure = this.#failure;
      this.#failure = null;
      throw failure;
    }
    if (durable) {
      this.#flush();
      return this.#launch(writes, true).done;
    }
    if (this.#inFlight.size > 0) {
      for (const write of writes) {
        if (write.length > 1) {
          const [store, key] = write;
          this.#queued = this.#queued.filter((q) => !(q.length > 1 && q[0] === store && q[1] === key));
        }
        this.#queued.push(write);
      }
      this.#queuedBatch ??= deferred();
      return this.#queuedBatch.promise;
    }
    return this.#launch(writes, false).done;
  }

  #flush() {
    if (this.#queued.length === 0) return;
    const writes = this.#queued;
    const waiting = this.#queuedBatch;
    this.#queued = [];
    this.#queuedBatch = null;
    const batch = this.#launch(writes, waiting?.waited ?? false);
    if (waiting) batch.done.then(waiting.resolve, waiting.reject);
  }

  #launch(writes, waited) {
    const batch = { waited, done: null };
    let tx;
    try {
      tx = this.#transaction([...new Set(writes.map(([store]) => store))]);
      for (const [store, key, value] of writes) {
        const objects = tx.objectStore(store);
        if (value !== undefined) objects.put(value, key);
        else if (key !== undefined) objects.delete(key);
        else objects.clear();
      }
    } catch (error) {
      tx?.abort();
      batch.done = Promise.reject(error);
    }
    batch.done ??= done(tx);
    this.#inFlight.add(batch);
    batch.done
      .catch((error) => {
        if (!batch.waited) this.#failure ??= error;
      })
      .finally(() => {
        this.#inFlight.delete(batch);
        if (this.#db) this.#flush();
      });
    return batch;
  }

  /** A promise that every write made so far is on disk (or of the first failure). */
  settled() {
    if (this.#failure) {
      const failure = this.#failure;
      this.#failure = null;
      return Promise.reject(failure);
    }
    const waits = [...this.#inFlight].map((batch) => {
      batch.waited = true;
      return batch.done;
    });
    if (this.#queued.length > 0) {
      this.#queuedBatch ??= deferred();
      this.#queuedBatch.waited = true;
      waits.push(this.#queuedBatch.promise);
    }
    return Promise.all(waits).then(() => undefined);
  }

  /** Closes the database once the queued writes are started, and releases the lock. */
  close() {
    if (!this.#db) return;
    this.#flush();
    this.#db.close();
    this.#db = undefined;
    this.#release?.();
    this.#release = undefined;
  }
}

function deferred() {
  const made = { waited: false };
  made.promise = new Promise((resolve, reject) => {
    made.resolve = resolve;
    made.reject = reject;
  });
  // Nobody may ever wait on it: its failure then goes to `#failure` (see `#launch`).
  made.promise.catch(() => {});
  return made;
}
