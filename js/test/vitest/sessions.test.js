// quickchat/crypto in the test setup of a React app: vitest, the jsdom environment,
// fake-indexeddb and a mocked `fetch` resolving to plain objects — as the web client's own
// session tests run its KeyManager and SessionManager (written from its documented
// behaviour: docs/PROTOCOL.md §8 and the web client's API notes). Two users in one process,
// each with the default options (IndexedDB store, bundles from this page's origin).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { IDBFactory } from 'fake-indexeddb';
import {
  KeyManager,
  SessionManager,
  ONE_TIME_PREKEY_TARGET,
  MAX_UPLOAD_PREKEYS,
  SIGNED_PREKEY_TTL_MS,
} from 'quickchat/crypto';

// The backend's prekey bundles: what each user uploaded (GET /api/users/{id}/prekeys).
let uploaded;

beforeEach(() => {
  // Fresh databases for every test, as the web client's tests do.
  globalThis.indexedDB = new IDBFactory();
  uploaded = new Map();
  globalThis.fetch = vi.fn(bundleEndpoint);
});

// The mocked backend, answering as the app's tests mock it: a plain object, no `status`
// when it is ok, no `Response`.
async function bundleEndpoint(url) {
  const match = /\/api\/users\/([^/]+)\/prekeys$/.exec(String(url));
  const bundle = match ? uploaded.get(decodeURIComponent(match[1])) : undefined;
  if (!bundle) return { ok: false, status: 404, json: async () => ({ error: 'No prekeys found' }) };
  return { ok: true, json: async () => bundle };
}

/** Uploads the user's pending bundle, as the app does after initialize(). */
async function upload(keys) {
  const pending = await keys.getPendingBundle();
  if (!pending) return;
  const previous = uploaded.get(keys.userId);
  uploaded.set(keys.userId, {
    identityKey: pending.identityKey,
    signingKey: pending.signingKey,
    fingerprint: pending.fingerprint,
    signedPrekey: pending.signedPrekey
      ? { ...pending.signedPrekey, createdAt: Date.now() }
      : previous.signedPrekey,
    oneTimePrekey: pending.oneTimePrekeys[0] ?? null,
  });
  await keys.markBundleUploaded(pending);
}

async function user(id) {
  const keys = new KeyManager(id);
  await keys.initialize();
  await upload(keys);
  return { id, keys, sessions: new SessionManager(id, keys) };
}

/** What the recipient gets: the JSON `content` of the WebSocket frame, parsed. */
function overTheWire(wire) {
  return JSON.parse(JSON.stringify(wire));
}

/** Fails instead of waiting forever (the bug this suite guards against was a hang). */
function settled(promise, what, ms = 20_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The web client's database as it leaves it (the rows of `snapshot`, under its name). */
function writeWebClientDatabase(snapshot) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(snapshot.name, snapshot.version);
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

function base64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

describe('quickchat/crypto with vitest, jsdom, fake-indexeddb and a mocked fetch', () => {
  it('exports the constants the app imports from the KeyManager module', () => {
    expect(ONE_TIME_PREKEY_TARGET).toBe(100);
    expect(MAX_UPLOAD_PREKEYS).toBe(50);
    expect(SIGNED_PREKEY_TTL_MS).toBe(7 * 24 * 60 * 60 * 1000);
  });

  it('runs where byte arrays come from another realm', async () => {
    // The environment that broke the store: what IndexedDB clones is not this realm's.
    expect(structuredClone(new Uint8Array(2)) instanceof Uint8Array).toBe(false);
    const alice = await user('alice');
    // A second KeyManager of the user reads the same store.
    const again = new KeyManager('alice');
    await again.initialize();
    expect(again.origin).toBe('existing');
    expect(await again.getFingerprint()).toBe(await alice.keys.getFingerprint());
  });

  it('initializes two users in one process and shows their public keys through getStorage()', async () => {
    const alice = await settled(user('alice'), "alice's initialize()");
    const bob = await settled(user('bob'), "bob's initialize()");
    for (const { keys } of [alice, bob]) {
      expect(keys.origin).toBe('created');
      const bundle = uploaded.get(keys.userId);
      const storage = keys.getStorage();

      const identity = await storage.loadIdentity();
      expect(ArrayBuffer.isView(identity.x25519PublicKey)).toBe(true);
      expect(base64(identity.x25519PublicKey)).toBe(bundle.identityKey);
      expect(base64(identity.signingPublicKey)).toBe(bundle.signingKey);
      expect(identity.fingerprint).toBe(await keys.getFingerprint());
      expect(identity.fingerprint).toMatch(/^[0-9A-F]{60}$/);
      expect(typeof identity.createdAt).toBe('number');
      expect(identity.seed.length).toBe(0); // secrets stay in WebAssembly

      const signed = await storage.loadSignedPrekey();
      expect(signed.keyId).toBe(1);
      expect(base64(signed.publicKey)).toBe(bundle.signedPrekey.publicKey);
      expect(base64(signed.signature)).toBe(bundle.signedPrekey.signature);
      expect(signed.signature.length).toBe(64);
      expect(typeof signed.createdAt).toBe('number');
      expect(signed.secretKey.length).toBe(0);

      const oneTime = await storage.loadOneTimePrekey(2);
      expect(oneTime.keyId).toBe(2);
      expect(base64(oneTime.publicKey)).toBe(bundle.oneTimePrekey.publicKey);
      expect(oneTime.consumed).toBe(false);
      expect(await storage.loadOneTimePrekey(1)).toBeUndefined();
      expect(await storage.countOneTimePrekeys()).toBe(ONE_TIME_PREKEY_TARGET);
      expect(await storage.loadSession('nobody')).toBeNull();
    }
    expect(await alice.keys.getFingerprint()).not.toBe(await bob.keys.getFingerprint());
  });

  it('first message: it carries x3dh, decrypts, and leaves a session on both sides', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const wire = await alice.sessions.encryptMessage('bob', 'Hello Bob!');
    expect(wire.x3dh).toMatchObject({ usedSignedPrekeyId: 1 });
    expect(wire.authTag).toBe('');
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(String(fetch.mock.calls[0][0])).toMatch(/\/api\/users\/bob\/prekeys$/);

    expect(await bob.sessions.decryptMessage('alice', overTheWire(wire))).toBe('Hello Bob!');

    const [mine] = await alice.sessions.listSessions();
    const [theirs] = await bob.sessions.listSessions();
    expect(mine).toMatchObject({ peerId: 'bob', status: 'ready', remoteSignedPrekeyId: 1 });
    expect(theirs).toMatchObject({ peerId: 'alice', status: 'ready' });
    expect(base64(mine.remoteIdentityKey)).toBe(uploaded.get('bob').identityKey);
    expect(base64(theirs.remoteIdentityKey)).toBe(uploaded.get('alice').identityKey);
    expect(mine.remoteFingerprint).toBe(await bob.keys.getFingerprint());
    expect(mine.rootKey.length).toBe(0);
    const stored = await bob.keys.getStorage().loadSession('alice');
    expect(stored.sessionId).toBe(theirs.sessionId);
  });

  it('messages go both ways, many times, each decrypting once', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const first = await alice.sessions.encryptMessage('bob', 'a0');
    expect(await bob.sessions.decryptMessage('alice', overTheWire(first))).toBe('a0');
    for (let round = 1; round <= 4; round++) {
      const fromBob = await bob.sessions.encryptMessage('alice', `b${round}`);
      expect(fromBob.x3dh).toBeUndefined();
      expect(await alice.sessions.decryptMessage('bob', overTheWire(fromBob))).toBe(`b${round}`);
      const a = await alice.sessions.encryptMessage('bob', `a${round}`);
      const b = await alice.sessions.encryptMessage('bob', `a${round}'`);
      expect(a.x3dh).toBeUndefined();
      expect(await bob.sessions.decryptMessage('alice', overTheWire(a))).toBe(`a${round}`);
      expect(await bob.sessions.decryptMessage('alice', JSON.stringify(b))).toBe(`a${round}'`);
      // A replay is refused and changes nothing.
      await expect(bob.sessions.decryptMessage('alice', overTheWire(a))).rejects.toMatchObject({
        name: 'QuickChatError',
      });
    }
    // One bundle fetch: bob answered in alice's session.
    expect(fetch).toHaveBeenCalledTimes(1);
    expect((await alice.sessions.ensureSession('bob')).peerId).toBe('bob');
  });

  it('a peer without a bundle: the send fails with peer_has_no_keys and no session is made', async () => {
    const alice = await user('alice');
    await expect(settled(alice.sessions.encryptMessage('carol', 'hi'), 'encryptMessage')).rejects.toMatchObject({
      code: 'peer_has_no_keys',
    });
    await expect(alice.sessions.ensureSession('carol')).rejects.toMatchObject({ code: 'peer_has_no_keys' });
    expect(await alice.sessions.listSessions()).toEqual([]);
    // Once carol has keys, the next send works.
    const carol = await user('carol');
    const wire = await alice.sessions.encryptMessage('carol', 'now?');
    expect(await carol.sessions.decryptMessage('alice', overTheWire(wire))).toBe('now?');
  });

  it("a bundle that cannot be used fails with the web client's messages", async () => {
    const alice = await user('alice');
    await user('bob');
    const bundle = uploaded.get('bob');
    uploaded.set('bob', { ...bundle, signedPrekey: null });
    await expect(alice.sessions.encryptMessage('bob', 'hi')).rejects.toThrow('Recipient is missing signed prekey');
    const signature = atob(bundle.signedPrekey.signature);
    const forged = btoa(String.fromCharCode(signature.charCodeAt(0) ^ 1) + signature.slice(1));
    uploaded.set('bob', { ...bundle, signedPrekey: { ...bundle.signedPrekey, signature: forged } });
    await expect(alice.sessions.encryptMessage('bob', 'hi')).rejects.toMatchObject({
      code: 'invalid_bundle',
      message: expect.stringContaining('Invalid signed prekey signature'),
    });
    expect(await alice.sessions.listSessions()).toEqual([]);
  });

  it('a network error rejects with the web client message and the code, and the next call works', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    globalThis.fetch = vi.fn().mockRejectedValue(new Error('Network error'));
    const failed = settled(alice.sessions.encryptMessage('bob', 'hi'), 'encryptMessage');
    await expect(failed).rejects.toThrow('Network error while establishing encrypted session');
    await expect(alice.sessions.encryptMessage('bob', 'hi')).rejects.toMatchObject({ code: 'network' });
    expect(await alice.sessions.listSessions()).toEqual([]);

    globalThis.fetch = vi.fn(bundleEndpoint);
    const wire = await settled(alice.sessions.encryptMessage('bob', 'back online'), 'encryptMessage');
    expect(await bob.sessions.decryptMessage('alice', overTheWire(wire))).toBe('back online');
  });

  it('no answer of fetch can stop the module: each fails, then the next calls still work', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const bundle = uploaded.get('bob');
    const throwingGetter = {
      get ok() {
        throw new Error('getter');
      },
    };
    const answers = {
      undefined: () => undefined,
      'a number': () => 42,
      'a string': () => 'OK',
      'an empty object': () => ({}),
      'ok without a body': () => ({ ok: true }),
      'json() resolving to junk': () => ({ ok: true, json: async () => 'junk' }),
      'json() resolving to a wrong bundle': () => ({ ok: true, json: async () => ({ identityKey: 'x' }) }),
      'json() throwing': () => ({
        ok: true,
        json: () => {
          throw new Error('boom');
        },
      }),
      'json() rejecting': () => ({ ok: true, json: async () => Promise.reject(new SyntaxError('bad JSON')) }),
      'a status that is not a number': () => ({ status: 'fine', json: async () => bundle }),
      'a throwing getter': () => throwingGetter,
      'a thenable that rejects': () => ({ then: (_, reject) => reject(new Error('thenable')) }),
      'fetch throwing synchronously': () => {
        throw new TypeError('fetch is broken');
      },
      'a server error': () => ({ ok: false, status: 500, json: async () => ({ error: 'Internal' }) }),
    };
    for (const [what, answer] of Object.entries(answers)) {
      globalThis.fetch = vi.fn(answer);
      const error = await settled(alice.sessions.encryptMessage('bob', 'hi'), `encryptMessage (${what})`).then(
        () => null,
        (e) => e,
      );
      expect(error, what).toBeInstanceOf(Error);
      expect(error.name, what).toBe('QuickChatError');
      expect(typeof error.code, what).toBe('string');
    }
    expect(await alice.sessions.listSessions()).toEqual([]);

    // A real Response (from the fetch of this runtime) works as well as the plain object.
    globalThis.fetch = vi.fn(async () => new Response(JSON.stringify(bundle), { status: 200 }));
    const wire = await settled(alice.sessions.encryptMessage('bob', 'still here'), 'encryptMessage');
    expect(await settled(bob.sessions.decryptMessage('alice', overTheWire(wire)), 'decryptMessage')).toBe(
      'still here',
    );
    const reply = await bob.sessions.encryptMessage('alice', 'and me');
    expect(await alice.sessions.decryptMessage('bob', overTheWire(reply))).toBe('and me');
    expect(await alice.keys.getStorage().countOneTimePrekeys()).toBe(ONE_TIME_PREKEY_TARGET);
  });

  it('a bundle fetch that does not answer holds up only that peer', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await user('carol');
    const first = await alice.sessions.encryptMessage('bob', 'hi');
    expect(await bob.sessions.decryptMessage('alice', overTheWire(first))).toBe('hi');

    let answer;
    globalThis.fetch = vi.fn((url) =>
      String(url).includes('/carol/') ? new Promise((resolve) => (answer = resolve)) : bundleEndpoint(url),
    );
    const toCarol = alice.sessions.encryptMessage('carol', 'waiting');
    toCarol.catch(() => {});
    await vi.waitFor(() => expect(answer).toBeTypeOf('function'));
    // Meanwhile alice and bob go on, both ways.
    const reply = await settled(bob.sessions.encryptMessage('alice', 'still there?'), "bob's encryptMessage");
    expect(await settled(alice.sessions.decryptMessage('bob', overTheWire(reply)), "alice's decrypt")).toBe(
      'still there?',
    );
    const again = await settled(alice.sessions.encryptMessage('bob', 'yes'), "alice's encryptMessage");
    expect(await bob.sessions.decryptMessage('alice', overTheWire(again))).toBe('yes');

    answer({ ok: false, status: 404, json: async () => ({ error: 'No prekeys found' }) });
    await expect(settled(toCarol, 'the send to carol')).rejects.toMatchObject({ code: 'peer_has_no_keys' });
  });

  it('junk messages are refused without stopping the module', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const wire = await alice.sessions.encryptMessage('bob', 'first');
    for (const junk of [null, 42, 'not json', {}, { header: 1 }, { ...wire, ciphertext: 7 }, { ...wire, x3dh: 'x' }]) {
      await expect(settled(bob.sessions.decryptMessage('alice', junk), 'decryptMessage')).rejects.toBeInstanceOf(
        Error,
      );
    }
    expect(await bob.sessions.decryptMessage('alice', overTheWire(wire))).toBe('first');
  });

  it('a one-time prekey a first message uses while its bundle is being marked uploaded stays used up', async () => {
    const bob = new KeyManager('bob');
    await bob.initialize();
    const bobSessions = new SessionManager('bob', bob);
    const pending = await bob.getPendingBundle();
    const used = pending.oneTimePrekeys[0];
    // The backend has Bob's bundle; Bob has not recorded the upload yet.
    uploaded.set('bob', {
      identityKey: pending.identityKey,
      signingKey: pending.signingKey,
      fingerprint: pending.fingerprint,
      signedPrekey: { ...pending.signedPrekey, createdAt: Date.now() },
      oneTimePrekey: used,
    });
    // Alice mixes the one-time prekey in (the web client never does; the SDK can).
    const aliceKeys = new KeyManager('alice', { oneTimePrekeys: 'when-available' });
    await aliceKeys.initialize();
    const wire = await new SessionManager('alice', aliceKeys).encryptMessage('bob', 'first');
    expect(wire.x3dh.usedOneTimePrekeyId).toBe(used.keyId);

    // Recording the upload reads the prekeys and waits for its write; the first message is
    // opened meanwhile, which uses that prekey up. (The store's writes reach memory in the
    // order they were made, so the recording cannot write the prekey back.)
    let marked = false;
    const marking = bob.markBundleUploaded(pending).then(() => (marked = true));
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(marked).toBe(false);
    expect(await bobSessions.decryptMessage('alice', overTheWire(wire))).toBe('first');
    await marking;

    expect(await bob.getStorage().loadOneTimePrekey(used.keyId)).toBeUndefined();
    const other = await bob.getStorage().loadOneTimePrekey(pending.oneTimePrekeys[1].keyId);
    expect(other.uploaded).toBe(true);
  });

  it('key rotation: running sessions go on, new ones use the new signed prekey', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const before = await alice.sessions.encryptMessage('bob', 'before');
    expect(await bob.sessions.decryptMessage('alice', overTheWire(before))).toBe('before');

    await bob.keys.rotateSignedPrekey();
    const pending = await bob.keys.getPendingBundle();
    expect(pending.signedPrekey.keyId).toBeGreaterThan(1);
    await upload(bob.keys);
    const signed = await bob.keys.getStorage().loadSignedPrekey();
    expect(signed.keyId).toBe(pending.signedPrekey.keyId);
    expect(base64(signed.publicKey)).toBe(pending.signedPrekey.publicKey);
    expect(await bob.keys.getPendingBundle()).toBeNull();

    // Alice's session, built on signed prekey 1, goes on (bob keeps the old secret a while).
    const after = await alice.sessions.encryptMessage('bob', 'after');
    expect(await bob.sessions.decryptMessage('alice', overTheWire(after))).toBe('after');
    // A new session is built on the new one.
    const carol = await user('carol');
    const first = await carol.sessions.encryptMessage('bob', 'hi from carol');
    expect(first.x3dh.usedSignedPrekeyId).toBe(signed.keyId);
    expect(await bob.sessions.decryptMessage('carol', overTheWire(first))).toBe('hi from carol');
    expect((await carol.sessions.listSessions())[0].remoteSignedPrekeyId).toBe(signed.keyId);
  });

  it("an existing web-client user's keys and sessions are imported (by the importer module, loaded then)", async () => {
    const vector = JSON.parse(
      // From the package directory, where vitest runs (Vite rewrites `new URL(…, import.meta.url)`).
      readFileSync(join(process.cwd(), '../tests/data/vectors/web-storage-import.json'), 'utf8'),
    );
    await writeWebClientDatabase(vector.snapshot);
    const keys = new KeyManager(vector.userId);
    await settled(keys.initialize(), 'initialize');
    expect(keys.origin).toBe('imported');
    expect(await keys.getFingerprint()).toBe(vector.snapshot.stores.identity[0].value.fingerprint);
    // The imported session goes on: what the peer sent after the snapshot opens.
    const sessions = new SessionManager(vector.userId, keys);
    for (const { from, wire, plaintext } of vector.afterSnapshot) {
      expect(await settled(sessions.decryptMessage(from, wire), 'decryptMessage')).toBe(plaintext);
    }
    // Another user of this device finds nothing of theirs there: new keys.
    const other = new KeyManager('someone-else');
    await settled(other.initialize(), 'initialize');
    expect(other.origin).toBe('created');
  });

  it('a fresh indexedDB gives fresh keys; the same one gives the same keys', async () => {
    const first = new KeyManager('dana');
    await first.initialize();
    const fingerprint = await first.getFingerprint();
    const same = new KeyManager('dana');
    await same.initialize();
    expect(await same.getFingerprint()).toBe(fingerprint);

    globalThis.indexedDB = new IDBFactory();
    const fresh = new KeyManager('dana');
    await fresh.initialize();
    expect(fresh.origin).toBe('created');
    expect(await fresh.getFingerprint()).not.toBe(fingerprint);
  });
});
