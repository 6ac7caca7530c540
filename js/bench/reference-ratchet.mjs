// The baseline: X3DH and the Double Ratchet of PROTOCOL §3–§4 in plain JavaScript, computed
// the way the Quick Chat web client computes them — tweetnacl for X25519, Ed25519 and
// XSalsa20-Poly1305, WebCrypto (async) for HKDF-SHA256 and HMAC-SHA256, base64 through
// btoa/atob, and the JSON wire object. Written for this benchmark from the protocol text;
// test/baseline.test.mjs checks it against the vectors (byte-identical wire strings).
import nacl from 'tweetnacl';

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ZERO32 = new Uint8Array(32);
const X3DH_INFO = encoder.encode('WHATSAPP-CLONE-X3DH');
const ROOT_INFO = encoder.encode('WhatsAppCloneRootKey');
const ONE = new Uint8Array([1]);
const TWO = new Uint8Array([2]);
const MAX_SKIP = 1000;

export function b64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  return btoa(text);
}

export function unb64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function hkdf(ikm, salt, info, length) {
  const key = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, key, length * 8);
  return new Uint8Array(bits);
}

async function kdfRoot(rootKey, dh) {
  const out = await hkdf(dh, rootKey, ROOT_INFO, 64);
  return [out.slice(0, 32), out.slice(32, 64)];
}

async function kdfChain(chainKey) {
  const key = await subtle.importKey('raw', chainKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const [next, message] = await Promise.all([subtle.sign('HMAC', key, ONE), subtle.sign('HMAC', key, TWO)]);
  return [new Uint8Array(next), new Uint8Array(message)];
}

function keyPair(random) {
  const secretKey = random(32);
  return { secretKey, publicKey: nacl.scalarMult.base(secretKey) };
}

/** The identity of a 32-byte seed: Ed25519 from the seed, X25519 with the seed as secret. */
export function identityFromSeed(seed) {
  return {
    seed,
    dhPublic: nacl.scalarMult.base(seed),
    signing: nacl.sign.keyPair.fromSeed(seed),
  };
}

/** X3DH as initiator (the web client never mixes in the one-time prekey). */
export async function x3dhInitiate(identity, bundle, random) {
  if (!bundle.signedPrekey) throw new Error('Recipient is missing signed prekey');
  const spk = unb64(bundle.signedPrekey.publicKey);
  if (!nacl.sign.detached.verify(spk, unb64(bundle.signedPrekey.signature), unb64(bundle.signingKey))) {
    throw new Error('Invalid signed prekey signature');
  }
  const ephemeral = keyPair(random);
  const dh1 = nacl.scalarMult(identity.seed, spk);
  const dh2 = nacl.scalarMult(ephemeral.secretKey, unb64(bundle.identityKey));
  const dh3 = nacl.scalarMult(ephemeral.secretKey, spk);
  const sharedSecret = await hkdf(concat(dh1, dh2, dh3), ZERO32, X3DH_INFO, 32);
  return {
    sharedSecret,
    x3dh: {
      senderIdentityKey: b64(identity.dhPublic),
      senderEphemeralKey: b64(ephemeral.publicKey),
      usedSignedPrekeyId: bundle.signedPrekey.keyId,
    },
  };
}

/** X3DH as responder. */
export async function x3dhRespond(identity, signedPrekeySecret, x3dh, oneTimePrekeySecret) {
  const senderIdentity = unb64(x3dh.senderIdentityKey);
  const senderEphemeral = unb64(x3dh.senderEphemeralKey);
  const parts = [
    nacl.scalarMult(signedPrekeySecret, senderIdentity),
    nacl.scalarMult(identity.seed, senderEphemeral),
    nacl.scalarMult(signedPrekeySecret, senderEphemeral),
  ];
  if (oneTimePrekeySecret) parts.push(nacl.scalarMult(oneTimePrekeySecret, senderEphemeral));
  return hkdf(concat(...parts), ZERO32, X3DH_INFO, 32);
}

/** The Double Ratchet of PROTOCOL §4. */
export class ReferenceRatchet {
  constructor(random) {
    this.random = random;
    this.rootKey = null;
    this.sendingChainKey = null;
    this.receivingChainKey = null;
    this.dhs = null;
    this.dhr = null;
    this.ns = 0;
    this.nr = 0;
    this.pn = 0;
    this.skipped = new Map();
  }

  static async initiator(sharedSecret, random) {
    const r = new ReferenceRatchet(random);
    [r.rootKey, r.sendingChainKey] = await kdfRoot(sharedSecret, ZERO32);
    r.dhs = keyPair(random);
    return r;
  }

  static async responder(sharedSecret, remoteRatchetKey, random) {
    const r = new ReferenceRatchet(random);
    [r.rootKey, r.receivingChainKey] = await kdfRoot(sharedSecret, ZERO32);
    r.dhr = remoteRatchetKey;
    return r;
  }

  /**
   * The web client's serialized state (the `ratchetState` JSON of its session records, as
   * an object): what it saves after every message and loads before the next.
   */
  toReferenceState() {
    const key = (bytes) => (bytes ? b64(bytes) : null);
    return {
      rootKey: b64(this.rootKey),
      sendingChainKey: key(this.sendingChainKey),
      receivingChainKey: key(this.receivingChainKey),
      dhRatchetKeyPair: this.dhs ? { publicKey: b64(this.dhs.publicKey), secretKey: b64(this.dhs.secretKey) } : null,
      dhRatchetRemoteKey: key(this.dhr),
      sendingChainLength: this.ns,
      receivingChainLength: this.nr,
      previousSendingChainLength: this.pn,
      skippedMessageKeys: [...this.skipped].map(([id, messageKey]) => [id, b64(messageKey)]),
    };
  }

  /** A ratchet from `toReferenceState()`'s object (the web client's `ratchetState`). */
  static fromReferenceState(state, random) {
    const key = (text) => (text == null ? null : unb64(text));
    const r = new ReferenceRatchet(random);
    r.rootKey = unb64(state.rootKey);
    r.sendingChainKey = key(state.sendingChainKey);
    r.receivingChainKey = key(state.receivingChainKey);
    r.dhs = state.dhRatchetKeyPair
      ? { publicKey: unb64(state.dhRatchetKeyPair.publicKey), secretKey: unb64(state.dhRatchetKeyPair.secretKey) }
      : null;
    r.dhr = key(state.dhRatchetRemoteKey);
    r.ns = state.sendingChainLength;
    r.nr = state.receivingChainLength;
    r.pn = state.previousSendingChainLength;
    r.skipped = new Map(state.skippedMessageKeys.map(([id, messageKey]) => [id, unb64(messageKey)]));
    return r;
  }

  async encrypt(plaintext, x3dh) {
    if (!this.sendingChainKey) {
      this.pn = this.ns;
      this.dhs = keyPair(this.random);
      [this.rootKey, this.sendingChainKey] = await kdfRoot(this.rootKey, nacl.scalarMult(this.dhs.secretKey, this.dhr));
      this.ns = 0;
    }
    const [next, messageKey] = await kdfChain(this.sendingChainKey);
    this.sendingChainKey = next;
    const header = { ratchetKey: b64(this.dhs.publicKey), previousChainLength: this.pn, messageNumber: this.ns };
    const nonce = this.random(24);
    const box = nacl.secretbox(encoder.encode(plaintext), nonce, messageKey);
    this.ns += 1;
    const message = { header, ciphertext: b64(concat(nonce, box)), authTag: '' };
    if (x3dh) message.x3dh = x3dh;
    return message;
  }

  async decrypt(message) {
    const { header } = message;
    const remote = unb64(header.ratchetKey);
    if (!this.dhr || b64(this.dhr) !== header.ratchetKey) {
      this.pn = this.ns;
      [this.rootKey, this.receivingChainKey] = await kdfRoot(this.rootKey, nacl.scalarMult(this.dhs.secretKey, remote));
      this.nr = 0;
      this.dhr = remote;
      this.dhs = keyPair(this.random);
      [this.rootKey, this.sendingChainKey] = await kdfRoot(this.rootKey, nacl.scalarMult(this.dhs.secretKey, this.dhr));
      this.ns = 0;
    }
    if (this.nr + MAX_SKIP < header.messageNumber) throw new Error('Exceeded maximum skip limit');
    while (this.nr < header.messageNumber) {
      const [next, skippedKey] = await kdfChain(this.receivingChainKey);
      this.skipped.set(`${header.ratchetKey}:${this.nr}`, skippedKey);
      this.receivingChainKey = next;
      this.nr += 1;
    }
    const id = `${header.ratchetKey}:${header.messageNumber}`;
    let messageKey = this.skipped.get(id);
    if (messageKey) {
      this.skipped.delete(id);
    } else {
      const [next, key] = await kdfChain(this.receivingChainKey);
      this.receivingChainKey = next;
      messageKey = key;
      this.nr += 1;
    }
    const data = unb64(message.ciphertext);
    const opened = nacl.secretbox.open(data.subarray(24), data.subarray(0, 24), messageKey);
    if (!opened) throw new Error('Authentication failed');
    return decoder.decode(opened);
  }
}
