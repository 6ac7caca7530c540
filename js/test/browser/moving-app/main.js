// A Vite-built page for test/browser/moving.mjs: the web app as it keeps its keys (the web
// client's crypto layer as the browser bench rebuilds it, writing `quick-chat-e2ee` as the
// app does), the package's top-level `exportAccount` reading that database, and the full
// client importing and exporting account files in IndexedDB.
import { QuickChatClient, exportAccount, init, isQuickChatError, readWebClientDatabase } from 'quickchat';
// js/bench/web-client-reference.mjs (an alias in the test's Vite build).
import { WebClientReference } from 'web-client-reference';

/** The full client on the IndexedDB database `databaseName`. */
function openStore(server, databaseName) {
  return QuickChatClient.create({
    server,
    databaseName,
    passphrase: 'store passphrase',
    kdf: 'insecure-for-tests',
    backoff: { initialMs: 100, maxMs: 1000 },
  });
}

async function errorCode(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return isQuickChatError(error) ? error.code : `not a QuickChatError: ${error}`;
  }
}

/** Sends `content` from `user` to `to` as the web app does: a `message` frame, then its echo. */
function sendFrame(server, user, to, content) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${server.replace(/^http/, 'ws')}/ws`);
    const messageId = crypto.randomUUID();
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no echo of the message frame'));
    }, 20_000);
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: 'auth', payload: { userId: user.userId, username: user.username } }));
      socket.send(
        JSON.stringify({ type: 'message', payload: { to, content, messageType: 'text', encrypted: true, messageId } }),
      );
    };
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === 'error') {
        clearTimeout(timer);
        socket.close();
        reject(new Error(frame.payload?.message));
      } else if (frame.type === 'message' && frame.payload?.id === messageId) {
        clearTimeout(timer);
        socket.close();
        resolve(messageId);
      }
    };
    socket.onerror = () => reject(new Error('the WebSocket failed'));
  });
}

const bytes = (array) => new Uint8Array(array);

const scenarios = {
  /** The web app's keys for `user` in `quick-chat-e2ee`, published as the app publishes them. */
  async webAppStart({ server, user }) {
    const app = new WebClientReference(user.userId, { apiBase: server, token: user.token });
    await app.initialize();
    const response = await fetch(`${server}/api/users/prekeys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
      body: JSON.stringify(app.getPendingBundle()),
    });
    if (!response.ok) throw new Error(`prekey upload: ${response.status}`);
    window.webApp = { app, server, user };
    return app.fingerprint;
  },

  /** The web app encrypts `text` to `peerId` and sends it over the WebSocket. */
  async webAppSend({ peerId, text }) {
    const { app, server, user } = window.webApp;
    const wire = await app.encryptMessage(peerId, text);
    await sendFrame(server, user, peerId, JSON.stringify(wire));
    return { x3dh: 'x3dh' in wire };
  },

  /** The web app decrypts what `peerId` sent it that it has not read yet (from the server). */
  async webAppReceive({ peerId }) {
    const { app, server, user } = window.webApp;
    window.webApp.read ??= new Set();
    const answer = await fetch(`${server}/api/messages/${peerId}?user=${user.userId}`);
    const texts = [];
    for (const message of await answer.json()) {
      if (message.fromUser !== peerId || window.webApp.read.has(message.id)) continue;
      window.webApp.read.add(message.id);
      texts.push(await app.decryptMessage(peerId, JSON.parse(message.content)));
    }
    return texts;
  },

  /**
   * `exportAccount` from the web app's database: its refusals first, then the file (as an
   * array of bytes); the database is the same before and after.
   */
  async webAppExport({ passphrase, userId }) {
    window.webApp?.app.close();
    const before = JSON.stringify(await readWebClientDatabase());
    const refusals = {
      noPassphrase: await errorCode(exportAccount({})),
      history: await errorCode(exportAccount({ passphrase, history: true })),
      nobody: await errorCode(exportAccount({ passphrase, userId: 'nobody-here' })),
      noDatabase: await errorCode(exportAccount({ passphrase, database: 'no-such-database' })),
    };
    // The database holds one account: no userId needed.
    const file = await exportAccount({ passphrase });
    const named = await exportAccount({ passphrase, userId });
    const after = JSON.stringify(await readWebClientDatabase());
    return {
      refusals,
      file: Array.from(file),
      namedLength: named.length,
      untouched: before === after,
      databases: (await indexedDB.databases()).map((db) => db.name).sort(),
    };
  },

  /**
   * A full client on IndexedDB takes an account file: bad files first (each refused with
   * its code, the store left empty), then the file; it connects and sends `text` to
   * `peerId`.
   */
  async clientImport({ server, databaseName, file, passphrase, peerId, text }) {
    const client = await openStore(server, databaseName);
    // The file's reader is in the importer module, fetched only now.
    const importerFetched = () =>
      performance.getEntriesByType('resource').some((entry) => entry.name.includes('quickchat_import_bg'));
    const importerBefore = importerFetched();
    const good = bytes(file);
    const newer = good.slice();
    newer[9] = 2;
    const refusals = {
      wrongPassphrase: await errorCode(client.importAccount(good, { passphrase: 'not it' })),
      truncated: await errorCode(client.importAccount(good.slice(0, 100), { passphrase })),
      newer: await errorCode(client.importAccount(newer, { passphrase })),
    };
    const emptyAfterRefusals = client.currentUser() === null && (await errorCode(client.fingerprint())) !== null;
    const summary = await client.importAccount(good, { passphrase });
    await client.connectAndWait(20_000);
    const sent = await client.sendText(peerId, text);
    // Out of the outbox (the server echoed it) before the client goes.
    for (let i = 0; i < 400 && (await client.message(sent.id))?.status === 'pending'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await client.dispose();
    return { refusals, emptyAfterRefusals, summary, sentEncrypted: sent.encrypted, importerBefore, importerAfter: importerFetched() };
  },

  /**
   * The client reopened from IndexedDB (the import was kept): it catches up and finds
   * `text` from `peerId`; then it exports the account (the store is marked moved) and
   * resolves to the file.
   */
  async clientReceiveAndExport({ server, databaseName, peerId, text, passphrase }) {
    const client = await openStore(server, databaseName);
    const user = client.currentUser();
    await client.connectAndWait(20_000);
    let found = null;
    for (let i = 0; i < 200 && !found; i++) {
      found = (await client.history(peerId)).find((m) => m.body === text) ?? null;
      if (!found) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const file = await client.exportAccount({ passphrase, history: true });
    const movedAt = await client.movedAt();
    const refused = await errorCode(client.sendText(peerId, 'from the moved store'));
    await client.dispose();
    // Reopened, the store still says moved.
    const reopened = await openStore(server, databaseName);
    const stillMoved = (await reopened.movedAt()) === movedAt;
    const refusedAfterReopen = await errorCode(reopened.connectAndWait(5_000));
    await reopened.dispose();
    return {
      user,
      received: found?.body ?? null,
      file: Array.from(file),
      movedAt,
      refused,
      stillMoved,
      refusedAfterReopen,
    };
  },
};

await init();
window.quickchatTests = scenarios;
window.quickchatReady = true;
