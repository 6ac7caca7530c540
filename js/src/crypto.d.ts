/**
 * quickchat/crypto — a drop-in replacement for the Quick Chat web client's crypto layer:
 * the same classes, method names and data shapes as its `KeyManager` and `SessionManager`,
 * backed by the SDK's WebAssembly engine and its encrypted store.
 *
 * ```ts
 * import { KeyManager, SessionManager } from 'quickchat/crypto';
 * const keys = new KeyManager(user.id);
 * await keys.initialize();
 * const sessions = new SessionManager(user.id, keys, token);
 * const wire = await sessions.encryptMessage(peerId, 'hello');
 * socket.send(JSON.stringify({ type: 'message', payload: { to: peerId, content: JSON.stringify(wire), messageType: 'text', encrypted: true } }));
 * ```
 */

/** Base64 (standard alphabet, padded) strings throughout, as on the wire. */
export type Base64 = string;

/** A signed prekey as uploaded. */
export interface SignedPrekeyPayload {
  keyId: number;
  publicKey: Base64;
  /** Ed25519 signature by the identity key over the prekey's public key. */
  signature: Base64;
}

/** A one-time prekey as uploaded and as found in bundles. */
export interface OneTimePrekeyPayload {
  keyId: number;
  publicKey: Base64;
}

/** What `POST /api/users/prekeys` takes: the keys the server does not have yet. */
export interface PrekeyBundlePayload {
  identityKey: Base64;
  signingKey: Base64;
  /** 60 upper-case hex characters. */
  fingerprint: string;
  signedPrekey: SignedPrekeyPayload | null;
  /** At most 50. */
  oneTimePrekeys: OneTimePrekeyPayload[];
}

/** A peer's bundle as `GET /api/users/{id}/prekeys` returns it. */
export interface FetchedPrekeyBundle {
  identityKey: Base64;
  signingKey: Base64;
  fingerprint?: string | null;
  signedPrekey: (SignedPrekeyPayload & { createdAt?: number | null }) | null;
  oneTimePrekey?: OneTimePrekeyPayload | null;
}

/** The `x3dh` block of a session's first message. */
export interface X3dhHeader {
  senderIdentityKey: Base64;
  senderEphemeralKey: Base64;
  usedSignedPrekeyId: number;
  usedOneTimePrekeyId?: number;
}

/** An encrypted message: `JSON.stringify` of it is the WebSocket `content`. */
export interface SerializedEncryptedMessage {
  header: { ratchetKey: Base64; previousChainLength: number; messageNumber: number };
  /** base64(nonce ‖ XSalsa20-Poly1305 box). */
  ciphertext: Base64;
  /** Always empty in what the SDK and the web client write (typed `string`, as the web client's). */
  authTag: string;
  x3dh?: X3dhHeader;
}

/**
 * A session as `listSessions()`, `ensureSession()` and `getStorage()` show it: the web
 * client's `StoredSessionRecord`, assignable wherever that type is used. No secret ever
 * leaves the SDK: `rootKey` and `localEphemeralKeyPair.secretKey` are empty byte arrays,
 * and there is no `ratchetState`.
 */
export interface StoredSessionRecord {
  /** `<userId>:session:<peerId>` (the SDK's). */
  storageKey: string;
  /** This user (the SDK's). */
  userId: string;
  peerId: string;
  sessionId: string;
  /** The peer's X25519 identity key. */
  remoteIdentityKey: Uint8Array;
  /** Not kept by the SDK: empty. */
  remoteSignedPrekey: Uint8Array;
  /** The peer's signed prekey the session was built on (sessions this user started; 0 otherwise). */
  remoteSignedPrekeyId: number;
  remoteFingerprint: string;
  /** A secret: empty. */
  rootKey: Uint8Array;
  /** While the first message is unsent, its ephemeral public key; the secret key is empty. */
  localEphemeralKeyPair: { publicKey: Uint8Array; secretKey: Uint8Array };
  usedOneTimePrekeyId?: number;
  status: 'pending' | 'ready' | 'error';
  /** While the first message is unsent: what its `x3dh` block carries. */
  x3dhData?: {
    localIdentityKey: Uint8Array;
    localEphemeralKey: Uint8Array;
    usedSignedPrekeyId: number;
    usedOneTimePrekeyId?: number;
  };
  lastError?: string;
  ratchetState?: string;
  /** Whether this user started the session (the SDK's). */
  initiatedByMe: boolean;
  createdAt: number;
  updatedAt: number;
}

/**
 * The identity as the web client's `StoredIdentityRecord` (`getIdentityMaterial()`,
 * `getStorage().loadIdentity()`), with the SDK's base64 fields beside it. The seed never
 * leaves the SDK: `seed` is empty.
 */
export interface StoredIdentityRecord extends IdentityMaterial {
  /** A secret: empty. */
  seed: Uint8Array;
  x25519PublicKey: Uint8Array;
  signingPublicKey: Uint8Array;
}

/** A signed prekey as `getStorage().loadSignedPrekey()` shows it (`secretKey` empty). */
export interface StoredSignedPrekeyRecord {
  keyId: number;
  publicKey: Uint8Array;
  /** A secret: empty. */
  secretKey: Uint8Array;
  signature: Uint8Array;
  createdAt: number;
  uploaded: boolean;
}

/** A one-time prekey as `getStorage().loadOneTimePrekey()` shows it (`secretKey` empty). */
export interface StoredOneTimePrekeyRecord {
  keyId: number;
  publicKey: Uint8Array;
  /** A secret: empty. */
  secretKey: Uint8Array;
  /** Not recorded by the SDK: 0. */
  createdAt: number;
  uploaded: boolean;
  /** Always false: a used one-time prekey is deleted at once (then `loadOneTimePrekey` gives `undefined`). */
  consumed: boolean;
}

/** `KeyManager.getStorage()`: the web client's `KeyStorage`, for reading public material. */
export interface KeyStorage {
  /** The identity, or `null` before `initialize()`. */
  loadIdentity(): Promise<StoredIdentityRecord | null>;
  /** The current signed prekey, or `null`. */
  loadSignedPrekey(): Promise<StoredSignedPrekeyRecord | null>;
  /** One-time prekey `keyId`, or `undefined` when it is not held (never made, or used). */
  loadOneTimePrekey(keyId: number): Promise<StoredOneTimePrekeyRecord | undefined>;
  /** How many one-time prekeys are held. */
  countOneTimePrekeys(): Promise<number>;
  /** The session with the peer, or `null`. */
  loadSession(peerId: string): Promise<StoredSessionRecord | null>;
  /** Every session. */
  listSessions(): Promise<StoredSessionRecord[]>;
}

/** One-time prekeys kept on the server: 100 (the web client's `ONE_TIME_PREKEY_TARGET`). */
export declare const ONE_TIME_PREKEY_TARGET: 100;
/** One-time prekeys in one upload at most: 50 (the web client's `MAX_UPLOAD_PREKEYS`). */
export declare const MAX_UPLOAD_PREKEYS: 50;
/** A signed prekey's lifetime: 7 days in ms (the web client's `SIGNED_PREKEY_TTL_MS`). */
export declare const SIGNED_PREKEY_TTL_MS: 604800000;

/** The public identity (the private keys never leave the SDK). */
export interface IdentityMaterial {
  userId: string;
  identityKey: Base64;
  signingKey: Base64;
  fingerprint: string;
  createdAt: number;
}

/** A peer's identity key changed (it reinstalled, reset, or someone is in the middle). */
export interface IdentityChange {
  peerId: string;
  previousKey: Base64;
  newKey: Base64;
  previousFingerprint: string;
  newFingerprint: string;
  /** Whether the user had verified the previous key (sending is then refused until accepted). */
  wasVerified: boolean;
}

/** Options of `KeyManager` (and defaults for `configure`). */
export interface KeyManagerOptions {
  /**
   * `'indexeddb'` (default where there is IndexedDB): an encrypted database of the SDK's
   * own; `'memory'` (default in Node): nothing is kept.
   */
  storage?: 'indexeddb' | 'memory';
  /** IndexedDB database name (default `quickchat-keys:<userId>`). */
  databaseName?: string;
  /**
   * Passphrase the store is encrypted under (Argon2id, AES-256-GCM). Without one, a random
   * passphrase is generated and kept in the `quickchat-device-secrets` database — the same
   * protection the web client gives its keys (its master key sits beside them).
   */
  passphrase?: string;
  /** Key-derivation cost of a new store; `'insecure-for-tests'` only in tests. */
  kdf?: 'recommended' | 'insecure-for-tests';
  /**
   * Where to import the web client's keys and sessions from on first `initialize()`: its
   * IndexedDB database (`'quick-chat-e2ee'` by default), or `false` not to look.
   */
  importFrom?: string | false;
  /**
   * Whether sessions this device starts mix in the bundle's one-time prekey. Default
   * `'never'`, as the web client: a peer that reset its keys leaves old one-time prekeys on
   * the backend that it can no longer use, so a first message mixing one in would be lost.
   */
  oneTimePrekeys?: 'when-available' | 'never';
  /** Deterministic randomness for replaying test vectors — never in an application. */
  randomSource?: (length: number) => Uint8Array;
  /**
   * Whether the tabs of this origin share one engine for an IndexedDB store (default `true`
   * where there are Web Locks and `BroadcastChannel`): one tab runs it, the others call it,
   * and the next tab takes over when it closes. `false`: a second tab is refused with
   * `store_in_use`. A call no tab answers within 20 s rejects with `tabs_unavailable`.
   */
  tabs?: boolean;
}

/** Options of `SessionManager` (and defaults for `configure`). */
export interface SessionManagerOptions {
  /** Server origin bundles are fetched from (`GET <server>/api/users/{id}/prekeys`); default: the page's. */
  server?: string;
  /** Fetches a peer's bundle instead (resolves to what that endpoint returns). */
  fetchBundle?: (peerId: string) => FetchedPrekeyBundle | Promise<FetchedPrekeyBundle>;
  /** Called when a peer's identity key changes. */
  onIdentityChange?: (change: IdentityChange) => void;
}

/** Where the modules of `quickchat/crypto` come from. */
export interface ModuleOptions {
  /**
   * The drop-in's module (`quickchat_crypto_bg.wasm`): a URL, a `Response` or the bytes;
   * default: next to the package's loader. Set before first use.
   */
  wasm?: string | URL | Response | BufferSource;
  /**
   * The importer's module (`quickchat_import_bg.wasm`), which `initialize()` loads only for a
   * user without keys on a device where the web client's database exists (and `quickchat`'s
   * `importWebClient()` and `readWebClientDatabase()` when called): a URL, a `Response` or
   * the bytes; default: next to the package's loader.
   */
  importWasm?: string | URL | Response | BufferSource;
}

/** Sets options every KeyManager and SessionManager made afterwards starts from. */
export declare function configure(options: KeyManagerOptions & SessionManagerOptions & ModuleOptions): void;
/** The options `configure()` set. */
export declare function configured(): KeyManagerOptions & SessionManagerOptions & ModuleOptions;

/** The user's long-term keys: identity, signed prekey, one-time prekeys. */
export declare class KeyManager {
  constructor(userId: string, options?: KeyManagerOptions);
  readonly userId: string;
  /** After `initialize()`: where the keys came from. */
  readonly origin: 'existing' | 'imported' | 'created' | null;
  /**
   * Makes sure the user has keys: those in the store, else the web client's (imported from
   * its IndexedDB database, which is left untouched), else new ones (identity, signed
   * prekey 1, one-time prekeys 2..101).
   */
  initialize(): Promise<void>;
  /** The identity fingerprint: 60 upper-case hex characters. */
  getFingerprint(): Promise<string>;
  /** What the server does not have yet (at most 50 one-time prekeys), or `null`. */
  getPendingBundle(): Promise<PrekeyBundlePayload | null>;
  /** Records that the server accepted `bundle`. */
  markBundleUploaded(bundle: PrekeyBundlePayload | null): Promise<void>;
  /** Makes `count` more one-time prekeys for the next pending bundles. */
  queueOneTimePrekeys(count: number): Promise<void>;
  /** Makes a new signed prekey (the old secret is kept a while for late first messages). */
  rotateSignedPrekey(): Promise<void>;
  /** The public identity (the web client's `StoredIdentityRecord` shape, `seed` empty). */
  getIdentityMaterial(): Promise<StoredIdentityRecord>;
  /** Reads keys and sessions as the web client's `KeyStorage` does (public parts only). */
  getStorage(): KeyStorage;
  /** Forgets every key and session and makes a new identity. */
  resetE2EE(): Promise<void>;
}

/** End-to-end encrypted sessions with peers. */
export declare class SessionManager {
  /** `token`: the JWT for bundle fetches. */
  constructor(userId: string, keyManager: KeyManager, token?: string, options?: SessionManagerOptions);
  readonly userId: string;
  /** Replaces the JWT (after a new login). */
  setToken(token: string): void;
  /** Called when a peer's identity key changes. */
  onIdentityChange(callback: ((change: IdentityChange) => void) | null): void;
  /** The session with the peer; started from its bundle (fetched once) if there is none. */
  ensureSession(peerId: string): Promise<StoredSessionRecord>;
  /** Encrypts for the peer; send `JSON.stringify(result)` as the content, `encrypted: true`. */
  encryptMessage(peerId: string, plaintext: string): Promise<SerializedEncryptedMessage>;
  /** Decrypts a message from the peer (the object or its JSON); nothing changes if it fails. */
  decryptMessage(peerId: string, message: SerializedEncryptedMessage | string): Promise<string>;
  /** Every session. */
  listSessions(): Promise<StoredSessionRecord[]>;
}
