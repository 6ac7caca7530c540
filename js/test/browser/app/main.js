// A Vite-built page that uses the packed `quickchat` package the way an application does.
// The test runner (test/browser/run.mjs) calls the scenarios below through Playwright.
import { QuickChatClient, init, readWebClientDatabase, isQuickChatError } from 'quickchat';
import { KeyManager, SessionManager, configure } from 'quickchat/crypto';

function writeDatabase(name, snapshot) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, snapshot.version);
    request.onupgradeneeded = () => {
      for (const store of Object.keys(snapshot.stores)) request.result.createObjectStore(store);
    };
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const db = request.result;
      const tx = db.transaction(Object.keys(snapshot.stores), 'readwrite');
      for (const [store, rows] of Object.entries(snapshot.stores)) {
        for (const row of rows) tx.objectStore(store).put(row.value, row.key);
      }
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

function base64Bytes(text) {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * A drop-in store as an earlier version of the package left it (test/fixtures/
 * legacy-dropin-stores.json): the database at schema version 2, with the object stores and
 * indexes the store declares, and its records (bytes given as `{b64}`).
 */
function writeLegacyStore(dump) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(dump.database, 2);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const store of ['meta', 'account', 'signed_prekeys', 'one_time_prekeys', 'sessions', 'known_identities']) {
        db.createObjectStore(store);
      }
      const messages = db.createObjectStore('messages', { keyPath: 'id' });
      messages.createIndex('by_conversation', ['c', 't']);
      messages.createIndex('by_time', 't');
      messages.createIndex('outbox', 'o');
    };
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const db = request.result;
      const stores = Object.keys(dump.stores);
      const tx = db.transaction(stores, 'readwrite');
      for (const store of stores) {
        for (const [key, value] of dump.stores[store]) {
          tx.objectStore(store).put(value?.b64 === undefined ? value : base64Bytes(value.b64), key);
        }
      }
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

/** A full garbage collection (Chromium runs with --expose-gc), then time for finalizers. */
async function collectGarbage() {
  if (typeof globalThis.gc !== 'function') throw new Error('start Chromium with --js-flags=--expose-gc');
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function errorCode(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return isQuickChatError(error) ? error.code : `not a QuickChatError: ${error}`;
  }
}

/** Alice and Bob of the drop-in, each with an IndexedDB store, Alice with Bob's bundle. */
async function burstPair(prefix) {
  const keys = {};
  for (const name of ['alice', 'bob']) {
    keys[name] = new KeyManager(`${prefix}-${name}`);
    await keys[name].initialize();
  }
  const pending = await keys.bob.getPendingBundle();
  const bundle = pending && { ...pending, oneTimePrekey: null };
  return {
    alice: new SessionManager(`${prefix}-alice`, keys.alice, '', { fetchBundle: async () => bundle }),
    bob: new SessionManager(`${prefix}-bob`, keys.bob, '', { fetchBundle: async () => null }),
  };
}

/** Counts the read-write IndexedDB transactions started until `stop()`. */
function countReadWriteTransactions() {
  const original = IDBDatabase.prototype.transaction;
  let count = 0;
  IDBDatabase.prototype.transaction = function (stores, mode, options) {
    if (mode === 'readwrite') count += 1;
    return original.call(this, stores, mode, options);
  };
  return {
    stop() {
      IDBDatabase.prototype.transaction = original;
      return count;
    },
  };
}

const scenarios = {
  /** The drop-in with its encrypted IndexedDB store: keys are made once, then kept. */
  async dropInKeys({ userId, passphrase }) {
    configure({ passphrase, kdf: 'insecure-for-tests' });
    const keys = new KeyManager(userId);
    await keys.initialize();
    const bundle = await keys.getPendingBundle();
    return {
      origin: keys.origin,
      fingerprint: await keys.getFingerprint(),
      oneTimePrekeys: bundle ? bundle.oneTimePrekeys.length : 0,
    };
  },

  async dropInMarkUploaded({ userId, passphrase }) {
    configure({ passphrase, kdf: 'insecure-for-tests' });
    const keys = new KeyManager(userId);
    await keys.initialize();
    await keys.markBundleUploaded(await keys.getPendingBundle());
    return (await keys.getPendingBundle()).oneTimePrekeys.length;
  },

  async dropInInitializeError({ userId, passphrase, tabs }) {
    configure({ passphrase, kdf: 'insecure-for-tests', tabs });
    return errorCode(new KeyManager(userId).initialize());
  },

  /** The web client's database is imported on first initialize(); its sessions go on. */
  async dropInImport({ snapshot, userId, afterSnapshot, passphrase }) {
    await writeDatabase('quick-chat-e2ee', snapshot);
    const before = JSON.stringify(await readWebClientDatabase());
    configure({ passphrase, kdf: 'insecure-for-tests' });
    const keys = new KeyManager(userId);
    await keys.initialize();
    const sessions = new SessionManager(userId, keys, 'no-token-needed');
    const texts = [];
    for (const message of afterSnapshot) {
      texts.push(await sessions.decryptMessage(message.from, JSON.parse(message.wire)));
    }
    const after = JSON.stringify(await readWebClientDatabase());
    const listed = await sessions.listSessions();
    // The full client imports through the same importer module.
    const client = await QuickChatClient.create({ storage: 'memory' });
    const clientImport = await client.importWebClient(userId);
    const nothing = await (await QuickChatClient.create({ storage: 'memory' })).importWebClient('nobody-here');
    return {
      origin: keys.origin,
      fingerprint: await keys.getFingerprint(),
      texts,
      untouched: before === after,
      sessions: listed.map((s) => s.peerId),
      clientImport,
      clientImportOfNobody: nothing,
    };
  },

  /**
   * The drop-in as an app in one of several tabs of the same user: keys initialized (and
   * uploaded to the server once), a SessionManager fetching bundles from the server.
   */
  async tabOpen({ server, userId, token, passphrase }) {
    configure({ passphrase, kdf: 'insecure-for-tests', server });
    const keys = new KeyManager(userId);
    await keys.initialize();
    const pending = await keys.getPendingBundle();
    if (pending) {
      const response = await fetch(`${server}/api/users/prekeys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(pending),
      });
      if (!response.ok) throw new Error(`prekey upload: ${response.status}`);
      await keys.markBundleUploaded(pending);
    }
    const sessions = new SessionManager(userId, keys, token);
    window.tab = { keys, sessions, identityChanges: [] };
    sessions.onIdentityChange((change) => window.tab.identityChanges.push(change));
    return { origin: keys.origin, fingerprint: await keys.getFingerprint() };
  },

  /** Encrypts each text in turn; the wire strings (what goes in the WebSocket `content`). */
  async tabEncrypt({ peerId, texts }) {
    const wires = [];
    for (const text of texts) wires.push(JSON.stringify(await window.tab.sessions.encryptMessage(peerId, text)));
    return wires;
  },

  /** Encrypts all texts at once (concurrent calls). */
  async tabEncryptAll({ peerId, texts }) {
    const wires = await Promise.all(texts.map((text) => window.tab.sessions.encryptMessage(peerId, text)));
    return wires.map((wire) => JSON.stringify(wire));
  },

  /** Starts encrypting without waiting (the test closes the leader meanwhile); see `tabSettle`. */
  tabStartEncrypt({ peerId, texts }) {
    window.tab.started = Promise.allSettled(texts.map((text) => window.tab.sessions.encryptMessage(peerId, text)));
    return null;
  },

  async tabSettle() {
    return (await window.tab.started).map((outcome) =>
      outcome.status === 'fulfilled' ? { wire: JSON.stringify(outcome.value) } : { error: `${outcome.reason?.code}: ${outcome.reason?.message}` },
    );
  },

  /** Decrypts each wire string in turn: the texts, or the error code where one fails. */
  async tabDecrypt({ peerId, wires }) {
    const texts = [];
    for (const wire of wires) {
      try {
        texts.push(await window.tab.sessions.decryptMessage(peerId, JSON.parse(wire)));
      } catch (error) {
        texts.push(`error ${error.code}: ${error.message}`);
      }
    }
    return texts;
  },

  /**
   * A second SessionManager in this tab whose bundles come from its own `fetchBundle` (here:
   * the server, counted): when another tab leads, that tab asks this one for them.
   */
  tabFetchBundleManager({ server, token }) {
    window.tab.fetched = [];
    window.tab.viaFetch = new SessionManager(window.tab.keys.userId, window.tab.keys, token, {
      fetchBundle: async (peerId) => {
        window.tab.fetched.push(peerId);
        const response = await fetch(`${server}/api/users/${peerId}/prekeys`, { headers: { authorization: `Bearer ${token}` } });
        return response.json();
      },
    });
    return null;
  },

  async tabEncryptViaFetch({ peerId, text }) {
    const wire = JSON.stringify(await window.tab.viaFetch.encryptMessage(peerId, text));
    return { wire, fetched: window.tab.fetched };
  },

  /** The user resets its keys (a reinstall, as peers see it) and uploads the new bundle. */
  async tabReset({ server, token }) {
    await window.tab.keys.resetE2EE();
    const pending = await window.tab.keys.getPendingBundle();
    const response = await fetch(`${server}/api/users/prekeys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(pending),
    });
    if (!response.ok) throw new Error(`prekey upload: ${response.status}`);
    await window.tab.keys.markBundleUploaded(pending);
    return window.tab.keys.getFingerprint();
  },

  /** The identity changes this tab's SessionManager was told about. */
  tabIdentityChanges() {
    return window.tab.identityChanges.map((c) => ({ peerId: c.peerId, newFingerprint: c.newFingerprint }));
  },

  /** An error's code and message, or null (e.g. a tab with another passphrase). */
  async tabOpenError(args) {
    try {
      await scenarios.tabOpen(args);
      return null;
    } catch (error) {
      return { code: error.code, message: error.message };
    }
  },

  /** Milliseconds per encryptMessage over `count` calls in turn (a figure for the log). */
  async tabEncryptTiming({ peerId, count }) {
    const started = performance.now();
    for (let i = 0; i < count; i++) await window.tab.sessions.encryptMessage(peerId, `timing ${i}`);
    return (performance.now() - started) / count;
  },

  /** Encrypts once: the wire string, or the error's code and message. */
  async tabTryEncrypt({ peerId, text }) {
    try {
      return { wire: JSON.stringify(await window.tab.sessions.encryptMessage(peerId, text)) };
    } catch (error) {
      return { code: error.code, message: error.message };
    }
  },

  /** What this tab sees: sessions (peer and its fingerprint) and identity changes reported. */
  async tabState() {
    const sessions = await window.tab.sessions.listSessions();
    return {
      sessions: sessions.map((s) => ({ peerId: s.peerId, remoteFingerprint: s.remoteFingerprint })),
      identityChanges: window.tab.identityChanges.length,
      fingerprint: await window.tab.keys.getFingerprint(),
    };
  },

  /**
   * The drop-in's writes behind a burst, in IndexedDB: the first message Alice → Bob, then
   * `count` messages handed to `encryptMessage` at once and decrypted one after the other,
   * then Bob's answer and Alice's acknowledgement (each waits for its sender's earlier writes
   * to be on disk). Counts the read-write transactions each part starts.
   */
  async dropInBurst({ prefix, count }) {
    configure({ passphrase: 'burst pass', kdf: 'insecure-for-tests' });
    const { alice, bob } = await burstPair(prefix);
    await bob.decryptMessage(`${prefix}-alice`, await alice.encryptMessage(`${prefix}-bob`, 'first'));
    const texts = Array.from({ length: count }, (_, i) => `burst ${i}`);
    const sending = countReadWriteTransactions();
    const wires = await Promise.all(texts.map((text) => alice.encryptMessage(`${prefix}-bob`, text)));
    const sendTransactions = sending.stop();
    const receiving = countReadWriteTransactions();
    const received = [];
    for (const wire of wires) received.push(await bob.decryptMessage(`${prefix}-alice`, wire));
    const receiveTransactions = receiving.stop();
    const answer = await alice.decryptMessage(`${prefix}-bob`, await bob.encryptMessage(`${prefix}-alice`, 'answer'));
    // Alice's answer waits for her earlier writes (the decryption's) to be on disk.
    await alice.encryptMessage(`${prefix}-bob`, 'ack');
    return {
      sendTransactions,
      receiveTransactions,
      numbers: wires.map((wire) => wire.header.messageNumber),
      received,
      texts,
      answer,
      replay: wires[Math.floor(count / 2)],
    };
  },

  /** After a reload: the states the burst left are the ones on disk. */
  async dropInAfterBurst({ prefix, replay }) {
    configure({ passphrase: 'burst pass', kdf: 'insecure-for-tests' });
    const { alice, bob } = await burstPair(prefix);
    const next = await alice.encryptMessage(`${prefix}-bob`, 'after the reload');
    return {
      replayed: await errorCode(bob.decryptMessage(`${prefix}-alice`, replay)),
      nextHeader: next.header,
      next: await bob.decryptMessage(`${prefix}-alice`, next),
    };
  },

  /**
   * Messages sent one after the other on one chain, each awaited before the next: counts
   * the read-write transactions they start (the stored sending chain is kept ahead of what
   * went out, so most start none).
   */
  async dropInSequential({ prefix, count }) {
    configure({ passphrase: 'sequential pass', kdf: 'insecure-for-tests' });
    const { alice, bob } = await burstPair(prefix);
    await bob.decryptMessage(`${prefix}-alice`, await alice.encryptMessage(`${prefix}-bob`, 'first'));
    const texts = Array.from({ length: count }, (_, i) => `one after the other ${i}`);
    const sending = countReadWriteTransactions();
    const wires = [];
    for (const text of texts) wires.push(await alice.encryptMessage(`${prefix}-bob`, text));
    const sendTransactions = sending.stop();
    const received = [];
    for (const wire of wires) received.push(await bob.decryptMessage(`${prefix}-alice`, wire));
    return { sendTransactions, numbers: wires.map((wire) => wire.header.messageNumber), received, texts };
  },

  /**
   * After a reload: Alice's chain goes on past every number it sent; then an answer to a
   * received message, on the chain that message started, starts no transaction.
   */
  async dropInAfterSequential({ prefix }) {
    configure({ passphrase: 'sequential pass', kdf: 'insecure-for-tests' });
    const { alice, bob } = await burstPair(prefix);
    const next = await alice.encryptMessage(`${prefix}-bob`, 'after the reload');
    const opened = await bob.decryptMessage(`${prefix}-alice`, next);
    const question = await alice.decryptMessage(`${prefix}-bob`, await bob.encryptMessage(`${prefix}-alice`, 'question'));
    // Her decryption stored the chain it started one number on (its transaction started
    // before this count): the answer, number 0, needs none of its own.
    const answering = countReadWriteTransactions();
    const answer = await alice.encryptMessage(`${prefix}-bob`, 'answer');
    const answerTransactions = answering.stop();
    return {
      nextHeader: next.header,
      opened,
      question,
      answerHeader: answer.header,
      answerTransactions,
      answer: [await bob.decryptMessage(`${prefix}-alice`, answer)],
    };
  },

  /**
   * Two drop-in stores that an earlier version of the package left (session records in
   * JSON, which this module does not read): opened, they are converted through the importer
   * module, and the conversation goes on.
   */
  async dropInLegacyStores({ fixture }) {
    await writeLegacyStore(fixture.alice);
    await writeLegacyStore(fixture.bob);
    configure({ passphrase: fixture.passphrase, kdf: 'insecure-for-tests', importFrom: false });
    const users = {};
    for (const name of ['alice', 'bob']) {
      const keys = new KeyManager(fixture[name].userId);
      await keys.initialize();
      users[name] = new SessionManager(fixture[name].userId, keys, '', { fetchBundle: async () => null });
    }
    const unread = await users.alice.decryptMessage(fixture.bob.userId, JSON.parse(fixture.unread.wire));
    const reply = await users.alice.encryptMessage(fixture.bob.userId, 'hello from the new version');
    const replied = await users.bob.decryptMessage(fixture.alice.userId, reply);
    const back = await users.bob.encryptMessage(fixture.alice.userId, 'and back');
    const fetched = performance.getEntriesByType('resource').map((entry) => entry.name);
    return {
      unread,
      replied,
      back: await users.alice.decryptMessage(fixture.bob.userId, back),
      x3dh: [reply, back].filter((wire) => wire.x3dh).length,
      importerLoaded: fetched.some((url) => url.includes('quickchat_import')),
    };
  },

  /**
   * The full client opens a store an earlier version left (session records in JSON, which
   * its module does not read): it converts them through the importer module; the drop-in
   * then reads the converted sessions and opens Bob's unread message.
   */
  async clientLegacyStore({ fixture }) {
    for (const party of [fixture.alice, fixture.bob]) {
      await new Promise((resolve, reject) => {
        const request = indexedDB.deleteDatabase(party.database);
        request.onsuccess = resolve;
        request.onerror = () => reject(request.error);
      });
      await writeLegacyStore(party);
    }
    const client = await QuickChatClient.create({
      storage: 'indexeddb',
      databaseName: fixture.alice.database,
      passphrase: fixture.passphrase,
      kdf: 'insecure-for-tests',
    });
    await client.dispose();
    const layout = await new Promise((resolve, reject) => {
      const request = indexedDB.open(fixture.alice.database);
      request.onerror = () => reject(request.error);
      request.onsuccess = () => {
        const db = request.result;
        const get = db.transaction(['meta']).objectStore('meta').get('layout');
        get.onsuccess = () => {
          db.close();
          resolve(get.result);
        };
        get.onerror = () => reject(get.error);
      };
    });
    const importerLoaded = performance
      .getEntriesByType('resource')
      .some((entry) => entry.name.includes('quickchat_import'));
    configure({ passphrase: fixture.passphrase, kdf: 'insecure-for-tests', importFrom: false });
    const keys = new KeyManager(fixture.alice.userId);
    await keys.initialize();
    const alice = new SessionManager(fixture.alice.userId, keys, '', { fetchBundle: async () => null });
    const unread = await alice.decryptMessage(fixture.bob.userId, JSON.parse(fixture.unread.wire));
    return { layout, importerLoaded, unread };
  },

  /** Two full clients in one page, each with its own encrypted IndexedDB store. */
  async chat({ server, prefix }) {
    const options = (name) => ({
      server,
      storage: 'indexeddb',
      databaseName: `${prefix}-${name}`,
      passphrase: `${name} passphrase`,
      kdf: 'insecure-for-tests',
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    const alice = await QuickChatClient.create(options('alice'));
    const bob = await QuickChatClient.create(options('bob'));
    const a = await alice.register(`${prefix}_alice`, 'secret123');
    const b = await bob.register(`${prefix}_bob`, 'secret123');
    const aliceEvents = [];
    // The subscription is dropped at once, as apps often do; only unsubscribe() may stop
    // it, not the garbage collector freeing it.
    alice.onEvent((event) => aliceEvents.push(event.type));
    await collectGarbage();
    await alice.connectAndWait(15000);
    await bob.connectAndWait(15000);
    const received = (async () => {
      for await (const event of bob.events()) {
        if (event.type === 'message') return event.message;
      }
      return null;
    })();
    const sent = await alice.sendText(b.userId, 'hello from the browser');
    const message = await received;
    await bob.sendText(a.userId, 'and back');
    let back = null;
    for (let i = 0; i < 100 && !(back && aliceEvents.includes('message')); i++) {
      back = (await alice.history(b.userId)).find((m) => m.body === 'and back') ?? null;
      if (!back || !aliceEvents.includes('message')) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const result = {
      sentId: sent.id,
      receivedId: message.id,
      body: message.body,
      encrypted: message.encrypted,
      back: back?.body ?? null,
      sameFingerprint: (await alice.peerFingerprint(b.userId)) === (await bob.fingerprint()),
      aliceSawConnected: aliceEvents.includes('connected'),
      aliceSawMessage: aliceEvents.includes('message'),
    };
    await alice.close();
    await bob.close();
    return result;
  },

  /** A client reopened from its IndexedDB store restores its login. */
  async reopen({ server, prefix }) {
    const client = await QuickChatClient.create({
      server,
      storage: 'indexeddb',
      databaseName: `${prefix}-alice`,
      passphrase: 'alice passphrase',
      kdf: 'insecure-for-tests',
    });
    const user = client.currentUser();
    const bob = user ? (await client.users()).find((u) => u.username === `${prefix}_bob`).id : null;
    const history = bob ? await client.history({ kind: 'direct', id: bob }) : [];
    // Paging back from the newest message by its cursor gives the one before it.
    const older = history.length ? await client.historyBefore(bob, history[history.length - 1], 10) : [];
    // While this client holds the database, another is refused; once disposed, it opens.
    const options = {
      server,
      storage: 'indexeddb',
      databaseName: `${prefix}-alice`,
      passphrase: 'alice passphrase',
      kdf: 'insecure-for-tests',
    };
    const whileHeld = await QuickChatClient.create(options).then(
      (other) => (other.free(), 'opened'),
      (error) => error.code,
    );
    await client.dispose();
    const afterDispose = await QuickChatClient.create(options);
    const reopenedUser = afterDispose.currentUser();
    await afterDispose.dispose();
    return {
      user,
      bodies: history.map((m) => m.body),
      olderBodies: older.map((m) => m.body),
      whileHeld,
      reopenedUser: reopenedUser?.username ?? null,
    };
  },
};

await init();
window.quickchatTests = scenarios;
window.quickchatReady = true;
