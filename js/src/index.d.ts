/**
 * quickchat — the Quick Chat SDK for browsers and Node (>= 20): end-to-end encrypted chat
 * with the Quick Chat backend, computed in WebAssembly. Two ways in:
 *
 * - `quickchat/crypto` (also re-exported here): a drop-in replacement for the web client's
 *   `KeyManager` and `SessionManager`.
 * - {@link QuickChatClient}: the whole client — account, messaging, history, groups, …
 */
export {
  KeyManager,
  SessionManager,
  configure,
  configured,
  ONE_TIME_PREKEY_TARGET,
  MAX_UPLOAD_PREKEYS,
  SIGNED_PREKEY_TTL_MS,
} from './crypto.js';
export type {
  Base64,
  FetchedPrekeyBundle,
  IdentityChange,
  IdentityMaterial,
  KeyManagerOptions,
  OneTimePrekeyPayload,
  PrekeyBundlePayload,
  SerializedEncryptedMessage,
  SessionManagerOptions,
  SignedPrekeyPayload,
  StoredSessionRecord,
  StoredIdentityRecord,
  StoredSignedPrekeyRecord,
  StoredOneTimePrekeyRecord,
  KeyStorage,
  X3dhHeader,
} from './crypto.js';
import type { Base64, FetchedPrekeyBundle, IdentityChange } from './crypto.js';

/**
 * Loads the WebAssembly module. Every async entry point does it on first use; call it to
 * load early, or to say where the `.wasm` is (`wasm`: a URL, a `Response`, or the bytes).
 */
export declare function init(options?: { wasm?: URL | string | Response | BufferSource }): Promise<void>;

/** The SDK version. */
export declare function version(): Promise<string>;

/** The kinds of failure, as `error.code`. */
export type QuickChatErrorCode =
  | 'not_logged_in'
  | 'session_expired'
  | 'not_connected'
  | 'peer_has_no_keys'
  | 'unknown_user'
  | 'store_belongs_to_another_user'
  | 'refused'
  | 'invalid_argument'
  | 'interrupted'
  | 'already_running'
  | 'wrong_passphrase'
  | 'store_corrupt'
  | 'store_in_use'
  /** quickchat/crypto: no tab answered for the store's engine within 20 s (its tab frozen or hung). */
  | 'tabs_unavailable'
  | 'store_failed'
  | 'no_identity'
  | 'no_session'
  | 'invalid_bundle'
  | 'malformed_message'
  | 'decrypt_failed'
  | 'encrypt_failed'
  | 'unknown_signed_prekey'
  | 'unknown_one_time_prekey'
  | 'peer_cooling'
  | 'keys_in_use_elsewhere'
  | 'identity_change_not_accepted'
  | 'unknown_peer'
  | 'import_failed'
  | 'account_exists'
  | 'prekeys'
  | 'network'
  | 'malformed_key'
  | 'not_initialized'
  | 'unsupported'
  | 'timeout'
  | 'stopped'
  /** The store's account was exported to be used elsewhere (`reactivateAccount()` undoes it). */
  | 'account_moved'
  /** Not an account file, or a damaged or cut-short one. */
  | 'archive_damaged'
  /** An account file of a newer format: update the package. */
  | 'archive_too_new'
  /** A module's .wasm could not be fetched as WebAssembly (the message names the fix). */
  | 'wasm_unavailable'
  | `http_${number}`;

/** Every failure of the SDK is an `Error` with `name === 'QuickChatError'` and a `code`. */
export interface QuickChatError extends Error {
  name: 'QuickChatError';
  code: QuickChatErrorCode;
}

/** Whether `error` is an error of this SDK. */
export declare function isQuickChatError(error: unknown): error is QuickChatError;

/** The web client's IndexedDB database as a JSON dump. */
export interface WebClientDatabaseDump {
  name: string;
  version: number;
  stores: Record<string, { key: unknown; value: unknown }[]>;
}

/** Reads the web client's database (`quick-chat-e2ee` unless named), or `null`. Writes nothing. */
export declare function readWebClientDatabase(name?: string): Promise<WebClientDatabaseDump | null>;

/** Options of the top-level `exportAccount`. */
export interface WebClientExportOptions {
  /** The account file is sealed under it (Argon2id, 19 MiB, 2 passes; AES-256-GCM). */
  passphrase: string;
  /** Whose account; may be left out when the database holds one. */
  userId?: string;
  /** The web client's database (default `quick-chat-e2ee`). */
  database?: string;
  /** Must be absent or false: the web client's database holds no message history. */
  history?: false;
}

/**
 * Exports the web client's account from its IndexedDB database as an account file (the
 * format `quickchat import`, Python and `QuickChatClient.importAccount` read). The database
 * is only read and not marked: stop using the web app for this account afterwards.
 */
export declare function exportAccount(options: WebClientExportOptions): Promise<Uint8Array>;

/** Options of `QuickChatClient.exportAccount`. */
export interface AccountExportOptions {
  /** The account file is sealed under it (Argon2id, 19 MiB, 2 passes; AES-256-GCM). */
  passphrase: string;
  /** Also the local history (default: only keys, sessions, trust and contacts). */
  history?: boolean;
}

/** Options of `QuickChatClient.importAccount`. */
export interface AccountImportOptions {
  /** The passphrase given at export. */
  passphrase: string;
  /** Replace the account this store holds (its keys and sessions are lost). */
  replace?: boolean;
}

/** What `importAccount` brought over. */
export interface AccountImportSummary {
  userId: string;
  fingerprint: string;
  signedPrekeys: number;
  oneTimePrekeys: number;
  /** The peers whose sessions came over. */
  sessions: string[];
  /** Messages of the history that came over. */
  messages: number;
  /** When the file was made (ms). */
  exportedAt: number;
  /** The login the file carried (the client is logged in with it), or null: log in first. */
  user: User | null;
}

// ---------------------------------------------------------------------------- records

/** A one-to-one conversation (with a user id) or a group. */
export type Conversation = { kind: 'direct'; id: string } | { kind: 'group'; id: string };

export type MessageStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

/** A message in local history (decrypted). */
export interface MessageRecord {
  id: string;
  conversation: Conversation;
  senderId: string;
  direction: 'incoming' | 'outgoing';
  /** The text (plaintext, also for messages that travelled encrypted). */
  body: string;
  kind: 'text' | 'image' | 'system';
  imageData: string | null;
  timestamp: number;
  status: MessageStatus;
  /** Whether it travelled end-to-end encrypted. */
  encrypted: boolean;
  readAt: number | null;
  /** Pending outgoing: the content to send; undecryptable incoming: the content as received. */
  wire: string | null;
  /** Why an incoming encrypted message could not be decrypted (its body is empty then). */
  decryptError: string | null;
}

export interface User {
  userId: string;
  username: string;
}

export interface UserSummary {
  id: string;
  username: string;
  avatar: string | null;
  lastSeen: number | null;
}

export interface ConversationSummary {
  conversation: Conversation;
  lastMessage: MessageRecord;
  unread: number;
}

export interface Verification {
  currentFingerprint: string;
  verifiedFingerprint: string | null;
  verifiedAt: number | null;
  method: string | null;
  /** Verified, and the verified key is the current one. */
  verified: boolean;
  /** The key changed after verification and the change is not accepted yet. */
  changePending: boolean;
}

export interface PrekeyStatus {
  signedPrekeyKeyId: number | null;
  signedPrekeyCreatedAt: number | null;
  oneTimePrekeyCount: number;
}

export interface GroupSettings {
  messagePermission: 'everyone' | 'admins_only';
  metadataPermission: 'everyone' | 'admins_only';
  joinApproval: boolean;
  maxMembers: number;
}

/** Group objects as the server returns them (snake_case, as the backend names them). */
export interface Group {
  id: string;
  name: string;
  description?: string | null;
  avatar?: string | null;
  owner_id: string;
  created_at: number;
  updated_at?: number | null;
  settings: GroupSettings;
  role?: string | null;
  joined_at?: number | null;
  userRole?: string | null;
}

export interface GroupMember {
  group_id: string;
  user_id: string;
  role: string;
  joined_at: number;
  added_by?: string | null;
  username: string;
  avatar?: string | null;
}

export interface Invite {
  id: string;
  link_code: string;
  expires_at?: number | null;
  max_uses?: number | null;
}

export interface AdminUser {
  id: string;
  username: string;
  role: string;
  is_active: number;
  can_send_images: number;
  lastSeen?: number | null;
  created_at?: number | null;
  disabled_at?: number | null;
  disabled_by?: string | null;
  [field: string]: unknown;
}

export interface ImportSummary {
  userId: string;
  fingerprint: string;
  signedPrekeys: number;
  oneTimePrekeys: number;
  sessions: string[];
}

// ---------------------------------------------------------------------------- events

/** Everything a client reports: `{type, ...fields}`. */
export type QuickChatEvent =
  | { type: 'connected' }
  | { type: 'disconnected'; reason: string }
  | { type: 'reconnecting'; attempt: number; delayMs: number }
  | { type: 'caught_up'; newMessages: number }
  | { type: 'catch_up_failed'; reason: string }
  | { type: 'stopped'; error: string | null }
  | { type: 'message'; message: MessageRecord; live: boolean }
  | { type: 'message_status'; messageId: string; status: MessageStatus }
  /** A message of this account got the backend's id (group messages): `oldId` is the id
   * the send call returned; `message` is the record now stored under the new id. */
  | { type: 'message_replaced'; oldId: string; message: MessageRecord }
  | { type: 'messages_read'; messageIds: string[]; by: string }
  | { type: 'typing'; userId: string; username: string; typing: boolean }
  | { type: 'presence'; userId: string; username: string; online: boolean }
  | { type: 'group_message'; message: MessageRecord; live: boolean }
  | { type: 'group_typing'; groupId: string; userId: string; username: string; typing: boolean }
  | { type: 'group_read'; groupId: string; messageId: string; userId: string; readAt: number }
  | { type: 'group_event'; groupId: string; payload: Record<string, unknown> }
  | { type: 'decryption_failed'; messageId: string; from: string; reason: string }
  | { type: 'identity_changed'; change: IdentityChange }
  | { type: 'server_error'; message: string }
  | { type: 'malformed_frame'; detail: string }
  | { type: 'session_expired' };

/** A callback subscription. */
export interface Subscription {
  unsubscribe(): void;
}

/** Events as an async iterator (`for await`); `break` ends the subscription. */
export interface EventIterator extends AsyncIterableIterator<QuickChatEvent> {
  next(): Promise<IteratorResult<QuickChatEvent, undefined>>;
  return(): Promise<IteratorResult<QuickChatEvent, undefined>>;
}

// ---------------------------------------------------------------------------- client

export interface ClientOptions {
  /** Server origin, e.g. `https://chat.example.com`; default: the page's origin. */
  server?: string;
  /** WebSocket URL other than `<server>/ws`. */
  websocketUrl?: string;
  /** A WebSocket constructor where there is no global one (Node 20: `ws`). */
  WebSocket?: unknown;
  /** `'indexeddb'` (default where available; needs `passphrase`) or `'memory'`. */
  storage?: 'indexeddb' | 'memory';
  /** IndexedDB database name (default `quickchat`). */
  databaseName?: string;
  /** Passphrase the IndexedDB store is encrypted under (Argon2id, AES-256-GCM). */
  passphrase?: string;
  kdf?: 'recommended' | 'insecure-for-tests';
  /** Which users catch-up asks about after each (re)connect: `'known-peers'` (default;
   *  new peers are found by a background scan of the user directory) or `'all-users'`. */
  catchUp?: 'all-users' | 'known-peers';
  /** Reconnection delays (default 3 s doubling to 60 s, 25 % jitter). */
  backoff?: { initialMs?: number; maxMs?: number; jitter?: number };
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
  prekeyCheckIntervalMs?: number;
  /** Peers plaintext may go to when they have published no keys (never by default). */
  allowPlaintextTo?: string[];
  /** Keep the password in memory to renew the login (default true). */
  rememberPassword?: boolean;
  /** Whether sessions this device starts mix in one-time prekeys (default `'never'`, as the web client). */
  oneTimePrekeys?: 'when-available' | 'never';
  /** Deterministic randomness for tests only. */
  randomSource?: (length: number) => Uint8Array;
}

/** The whole client. */
export declare class QuickChatClient {
  private constructor();
  /** Opens the store and restores a saved login, if any. */
  static create(options?: ClientOptions): Promise<QuickChatClient>;

  // account
  register(username: string, password: string, avatar?: string): Promise<User>;
  /**
   * Logs in. Refused with code `keys_in_use_elsewhere` when the account's published keys
   * belong to another device (replacing them would break that device's sessions).
   */
  login(username: string, password: string): Promise<User>;
  /** Logs in, replacing keys another device published (its sessions stop working). */
  loginReplacingKeys(username: string, password: string): Promise<User>;
  logout(): Promise<void>;
  currentUser(): User | null;
  /** Imports the web client's keys and sessions (before `login`); the old database is not changed. */
  importWebClient(userId: string, databaseName?: string): Promise<ImportSummary | null>;

  // moving the account
  /**
   * Exports the account as a sealed file, to continue it elsewhere; marks this store moved:
   * the connection closes and this client neither connects nor sends (`account_moved`)
   * until `reactivateAccount()`.
   */
  exportAccount(options: AccountExportOptions): Promise<Uint8Array>;
  /**
   * Imports an account file into this store (atomically), then restores the login it
   * carried. Refused, changing nothing: `account_exists` (without `replace`),
   * `wrong_passphrase`, `archive_damaged`, `archive_too_new`.
   */
  importAccount(file: Uint8Array, options: AccountImportOptions): Promise<AccountImportSummary>;
  /** When this store's account was exported (ms), or null. */
  movedAt(): Promise<number | null>;
  /** Clears the moved mark: only when the account is no longer used where it was moved to. */
  reactivateAccount(): Promise<void>;

  // connection
  /** Keeps the WebSocket up (reconnecting with backoff) until `close()`. */
  connect(): void;
  /** `connect()`, then waits for the socket and catch-up (default timeout 10 s). */
  connectAndWait(timeoutMs?: number): Promise<void>;
  /** Closes the socket and stops reconnecting; the store stays open (`connect()` may follow). */
  close(): Promise<void>;
  /** `close()`, then closes the IndexedDB store and releases its cross-tab lock; the client is done. */
  dispose(): Promise<void>;
  isConnected(): boolean;

  // events
  onEvent(callback: (event: QuickChatEvent) => void): Subscription;
  events(): EventIterator;

  // messaging
  /** Encrypted; saved first, waits in the outbox while offline. */
  sendText(peerId: string, text: string): Promise<MessageRecord>;
  /** Not end-to-end encrypted: the server can read it. */
  sendPlaintext(peerId: string, text: string): Promise<MessageRecord>;
  /** A `data:image/...;base64,` URL, sent as the web client does. */
  sendImage(peerId: string, dataUrl: string): Promise<MessageRecord>;
  setTyping(peerId: string, typing: boolean): Promise<void>;
  markRead(peerId: string, messageIds: string[]): Promise<void>;

  // history
  /** Up to `limit` (50) messages older than `before` (ms), oldest first. */
  history(conversation: string | Conversation, before?: number, limit?: number): Promise<MessageRecord[]>;
  /** The page before `oldest` (the first message shown): nothing skipped when timestamps tie. */
  historyBefore(conversation: string | Conversation, oldest: MessageRecord, limit?: number): Promise<MessageRecord[]>;
  conversations(): Promise<ConversationSummary[]>;
  search(text: string, limit?: number, conversation?: string | Conversation): Promise<MessageRecord[]>;
  message(id: string): Promise<MessageRecord | null>;
  /** Fetches what was missed (from one peer, or everyone); resolves to the number of new messages. */
  catchUp(peerId?: string): Promise<number>;

  // users and presence
  users(): Promise<UserSummary[]>;
  findUser(nameOrId: string): Promise<UserSummary>;
  onlineUsers(): User[];
  isOnline(userId: string): boolean;

  // keys and trust
  fingerprint(): Promise<string>;
  peerFingerprint(peerId: string): Promise<string>;
  verifyPeer(peerId: string, method?: string): Promise<string>;
  unverifyPeer(peerId: string): Promise<void>;
  verification(peerId: string): Promise<Verification>;
  acceptIdentity(peerId: string): Promise<void>;
  prekeyStatus(): Promise<PrekeyStatus>;
  maintainPrekeys(): Promise<void>;
  resetE2EE(): Promise<void>;

  // groups
  createGroup(
    name: string,
    memberIds: string[],
    description?: string,
    settings?: GroupSettings,
  ): Promise<Group>;
  groups(): Promise<Group[]>;
  group(groupId: string): Promise<Group>;
  updateGroup(
    groupId: string,
    update: { name?: string; description?: string; avatar?: string; settings?: GroupSettings },
  ): Promise<{ success: boolean }>;
  groupMembers(groupId: string): Promise<GroupMember[]>;
  addGroupMembers(groupId: string, userIds: string[]): Promise<{ success: boolean; added: string[] }>;
  removeGroupMember(groupId: string, userId: string): Promise<{ success: boolean }>;
  leaveGroup(groupId: string): Promise<{ success: boolean }>;
  setGroupRole(groupId: string, userId: string, role: 'admin' | 'member'): Promise<{ success: boolean }>;
  createInvite(groupId: string, expiresInMs?: number, maxUses?: number): Promise<Invite>;
  revokeInvite(groupId: string, inviteId: string): Promise<{ success: boolean }>;
  joinGroup(linkCode: string): Promise<{ success: boolean; group_id: string }>;
  groupHistory(groupId: string, limit?: number, before?: number): Promise<MessageRecord[]>;
  sendGroupText(groupId: string, text: string): Promise<MessageRecord>;
  sendGroupImage(groupId: string, dataUrl: string): Promise<MessageRecord>;
  setGroupTyping(groupId: string, typing: boolean): Promise<void>;
  markGroupRead(groupId: string, messageId: string): Promise<void>;
  sendGroupEvent(groupId: string, event: string, extra?: Record<string, unknown>): Promise<void>;

  // admin
  adminUsers(): Promise<AdminUser[]>;
  setUserActive(userId: string, active: boolean): Promise<{ success: boolean }>;
  setImagePermission(userId: string, allowed: boolean): Promise<{ success: boolean }>;
  setUserRole(userId: string, role: 'user' | 'admin'): Promise<{ success: boolean }>;

  /** Releases the client's memory (the connection is closed first if open). */
  free(): void;
}

// ---------------------------------------------------------------------------- low level

/** An identity key pair held in WebAssembly memory (its seed crosses the boundary once). */
export declare class Identity {
  private constructor();
  /** Ed25519 from the seed, X25519 with the seed as private key (as the web client does). */
  static fromSeed(seed: Uint8Array): Identity;
  static generate(): Identity;
  readonly identityKey: Base64;
  readonly signingKey: Base64;
  readonly fingerprint: string;
  free(): void;
}

/**
 * One Double Ratchet session in memory, synchronous, without storage or network — for
 * applications that keep keys and state themselves. Secrets cross this API as bytes.
 */
export declare class Ratchet {
  private constructor();
  /** X3DH as initiator with the peer's bundle (signature checked), then the ratchet. */
  static initiate(
    identity: Identity,
    bundle: FetchedPrekeyBundle,
    options?: { oneTimePrekeys?: 'when-available' | 'never'; randomSource?: (length: number) => Uint8Array },
  ): Ratchet;
  /** X3DH as responder from the peer's first message (the wire string). */
  static respond(
    identity: Identity,
    signedPrekeySecret: Uint8Array,
    oneTimePrekeySecret: Uint8Array | undefined,
    firstMessage: string,
    options?: { randomSource?: (length: number) => Uint8Array },
  ): Ratchet;
  /** A session from the web client's `ratchetState` JSON. */
  static fromReferenceJson(json: string, options?: { randomSource?: (length: number) => Uint8Array }): Ratchet;
  /** The wire string (the first one carries `x3dh`). */
  encrypt(plaintext: string): string;
  /** The text; the session changes only if the message authenticates. */
  decrypt(wire: string): string;
  /** The session as the web client's `ratchetState` JSON (contains secrets). */
  toReferenceJson(): string;
  free(): void;
}

/** A bundle (as the server returns it) made from an identity and prekey secrets. */
export declare function prekeyBundle(
  identity: Identity,
  signedPrekeyId: number,
  signedPrekeySecret: Uint8Array,
  oneTimePrekeyId?: number,
  oneTimePrekeySecret?: Uint8Array,
): Promise<FetchedPrekeyBundle>;
