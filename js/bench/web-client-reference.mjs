// The web client's crypto layer as the app runs it, for the browser bench
// (bench/browser.mjs): its KeyManager/SessionManager behaviour rebuilt from the documented
// facts (js/README, PROTOCOL §5 and §8, the layout of its IndexedDB database in
// tests/data/vectors/web-storage-import.json) — written for this benchmark, not its code.
//
// - Storage: IndexedDB through `idb`, as the web client uses it: every `db.get` is a
//   read-only transaction, every `db.put` a read-write one that is awaited. Session records
//   keep the ratchet as the `ratchetState` JSON string, loaded before and saved after every
//   message; private keys at rest are AES-256-GCM under the user's master key.
// - Before every send the peer's bundle is fetched (`GET <api>/api/users/{peerId}/prekeys`
//   with the bearer token), and the session is started anew when its signed-prekey id
//   changed. A first message from a peer waits for the sender's bundle before it decrypts.
// - Crypto: the baseline of bench/reference-ratchet.mjs (tweetnacl, WebCrypto HKDF/HMAC).
//
// What it leaves out makes it cheaper than the web client, never dearer: no one-time prekeys
// are made (the web client makes 100 at first start), nothing is logged.
import { openDB } from 'idb';
import nacl from 'tweetnacl';
import { identityFromSeed, x3dhInitiate, x3dhRespond, ReferenceRatchet, b64, unb64 } from './reference-ratchet.mjs';

const random = (n) => nacl.randomBytes(n);
const subtle = globalThis.crypto.subtle;

async function seal(key, bytes) {
  const iv = random(12);
  return { ciphertext: b64(new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, key, bytes))), iv: b64(iv) };
}

async function open(key, sealed) {
  const plain = await subtle.decrypt({ name: 'AES-GCM', iv: unb64(sealed.iv) }, key, unb64(sealed.ciphertext));
  return new Uint8Array(plain);
}

/** The web client's KeyManager and SessionManager for one user, in one object. */
export class WebClientReference {
  #db;
  #masterKey;

  /** `apiBase`: where `/api/...` is (the app's API_BASE_URL); `databaseName`: its IndexedDB. */
  constructor(userId, { apiBase = '', token = '', databaseName = 'quick-chat-e2ee' } = {}) {
    this.userId = userId;
    this.apiBase = apiBase;
    this.token = token;
    this.databaseName = databaseName;
  }

  /** Opens the database and makes the user's keys: identity, signed prekey 1. */
  async initialize() {
    this.#db = await openDB(this.databaseName, 2, {
      upgrade(db) {
        db.createObjectStore('identity', { keyPath: 'userId' });
        db.createObjectStore('metadata', { keyPath: 'userId' });
        db.createObjectStore('signed_prekeys', { keyPath: 'storageKey' });
        db.createObjectStore('one_time_prekeys', { keyPath: 'storageKey' });
        db.createObjectStore('sessions', { keyPath: 'storageKey' });
      },
    });
    const masterKey = random(32);
    this.#masterKey = await subtle.importKey('raw', masterKey, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const seed = random(32);
    this.identity = identityFromSeed(seed);
    const fingerprint = Array.from(new Uint8Array(await subtle.digest('SHA-256', this.identity.signing.publicKey)))
      .map((byte) => byte.toString(16).padStart(2, '0'))
      .join('')
      .slice(0, 60)
      .toUpperCase();
    const now = Date.now();
    await this.#db.put('metadata', { userId: this.userId, masterKey: b64(masterKey), nextPrekeyId: 2, lastSignedPrekeyId: 1 });
    await this.#db.put('identity', {
      userId: this.userId,
      fingerprint,
      signingPublicKey: b64(this.identity.signing.publicKey),
      x25519PublicKey: b64(this.identity.dhPublic),
      encryptedSeed: await seal(this.#masterKey, seed),
      createdAt: now,
    });
    const secretKey = random(32);
    const publicKey = nacl.scalarMult.base(secretKey);
    this.signedPrekey = { keyId: 1, publicKey: b64(publicKey), signature: b64(nacl.sign.detached(publicKey, this.identity.signing.secretKey)) };
    await this.#db.put('signed_prekeys', {
      storageKey: `${this.userId}:1`,
      userId: this.userId,
      ...this.signedPrekey,
      encryptedSecretKey: await seal(this.#masterKey, secretKey),
      createdAt: now,
      uploaded: false,
    });
    this.fingerprint = fingerprint;
  }

  /** What the app uploads (`POST /api/users/prekeys`). */
  getPendingBundle() {
    return {
      identityKey: b64(this.identity.dhPublic),
      signingKey: b64(this.identity.signing.publicKey),
      fingerprint: this.fingerprint,
      signedPrekey: this.signedPrekey,
      oneTimePrekeys: [],
    };
  }

  async #fetchBundle(peerId) {
    let response;
    try {
      response = await fetch(`${this.apiBase}/api/users/${encodeURIComponent(peerId)}/prekeys`, {
        headers: { Authorization: `Bearer ${this.token}` },
      });
    } catch {
      throw new Error('Network error while establishing encrypted session');
    }
    if (!response.ok) throw new Error(`Failed to fetch prekey bundle (${response.status})`);
    return response.json();
  }

  #sessionKey(peerId) {
    return `${this.userId}:session:${peerId}`;
  }

  async #newRecord(peerId, bundle, sharedSecret, ratchet, extra) {
    const now = Date.now();
    return {
      storageKey: this.#sessionKey(peerId),
      userId: this.userId,
      peerId,
      sessionId: `session-${now}`,
      remoteIdentityKey: bundle.identityKey,
      remoteSignedPrekey: bundle.signedPrekey?.publicKey ?? '',
      remoteSignedPrekeyId: bundle.signedPrekey?.keyId ?? 0,
      remoteFingerprint: bundle.fingerprint ?? '',
      rootKey: await seal(this.#masterKey, sharedSecret),
      status: 'ready',
      createdAt: now,
      updatedAt: now,
      ratchetState: JSON.stringify(ratchet.toReferenceState()),
      ...extra,
    };
  }

  /** The wire object for `plaintext` (the bundle fetched first, as before every send). */
  async encryptMessage(peerId, plaintext) {
    const bundle = await this.#fetchBundle(peerId);
    let record = await this.#db.get('sessions', this.#sessionKey(peerId));
    if (!record || record.remoteSignedPrekeyId !== bundle.signedPrekey?.keyId) {
      const started = await x3dhInitiate(this.identity, bundle, random);
      const ratchet = await ReferenceRatchet.initiator(started.sharedSecret, random);
      record = await this.#newRecord(peerId, bundle, started.sharedSecret, ratchet, { x3dhData: started.x3dh });
    }
    const ratchet = ReferenceRatchet.fromReferenceState(JSON.parse(record.ratchetState), random);
    const message = await ratchet.encrypt(plaintext, record.x3dhData);
    delete record.x3dhData;
    record.ratchetState = JSON.stringify(ratchet.toReferenceState());
    record.updatedAt = Date.now();
    await this.#db.put('sessions', record);
    return message;
  }

  /** The text of a wire object from `peerId`. */
  async decryptMessage(peerId, message) {
    let record = await this.#db.get('sessions', this.#sessionKey(peerId));
    let ratchet;
    // Only a session's first message carries `x3dh`: it starts the session anew.
    if (message.x3dh) {
      const bundle = await this.#fetchBundle(peerId);
      const row = await this.#db.get('signed_prekeys', `${this.userId}:${message.x3dh.usedSignedPrekeyId}`);
      const secret = await open(this.#masterKey, row.encryptedSecretKey);
      const sharedSecret = await x3dhRespond(this.identity, secret, message.x3dh);
      ratchet = await ReferenceRatchet.responder(sharedSecret, unb64(message.header.ratchetKey), random);
      record = await this.#newRecord(peerId, bundle, sharedSecret, ratchet);
    } else if (!record) {
      throw new Error('No session');
    } else {
      ratchet = ReferenceRatchet.fromReferenceState(JSON.parse(record.ratchetState), random);
    }
    const text = await ratchet.decrypt(message);
    record.ratchetState = JSON.stringify(ratchet.toReferenceState());
    record.updatedAt = Date.now();
    await this.#db.put('sessions', record);
    return text;
  }

  /** Closes the database. */
  close() {
    this.#db?.close();
  }
}
