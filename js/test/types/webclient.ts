// Compiled with `tsc --noEmit` by the test run: an app written against the web client's
// crypto modules compiles with `quickchat/crypto` in their place (a bundler alias for
// `../crypto/KeyManager` and `../crypto/SessionManager`). The web client's types are
// written out below from its documented shapes (notes/web-client-api.md); the functions
// use the package where the app used the web client's modules.
import {
  KeyManager,
  SessionManager,
  ONE_TIME_PREKEY_TARGET,
  MAX_UPLOAD_PREKEYS,
  SIGNED_PREKEY_TTL_MS,
} from 'quickchat/crypto';

// The web client's types (crypto/types, storage/KeyStorage, crypto/RatchetEngine).
interface WebPrekeyBundlePayload {
  identityKey: string;
  signingKey: string;
  fingerprint: string;
  signedPrekey: { keyId: number; publicKey: string; signature: string } | null;
  oneTimePrekeys: Array<{ keyId: number; publicKey: string }>;
}
interface WebStoredSessionRecord {
  peerId: string;
  sessionId: string;
  remoteIdentityKey: Uint8Array;
  remoteSignedPrekey: Uint8Array;
  remoteSignedPrekeyId: number;
  remoteFingerprint: string;
  rootKey: Uint8Array;
  localEphemeralKeyPair: { publicKey: Uint8Array; secretKey: Uint8Array };
  usedOneTimePrekeyId?: number;
  status: 'pending' | 'ready' | 'error';
  createdAt: number;
  updatedAt: number;
  x3dhData?: {
    localIdentityKey: Uint8Array;
    localEphemeralKey: Uint8Array;
    usedSignedPrekeyId: number;
    usedOneTimePrekeyId?: number;
  };
  lastError?: string;
  ratchetState?: string;
}
interface WebSerializedEncryptedMessage {
  header: { ratchetKey: string; previousChainLength: number; messageNumber: number };
  ciphertext: string;
  authTag: string;
  x3dh?: {
    senderIdentityKey: string;
    senderEphemeralKey: string;
    usedSignedPrekeyId: number;
    usedOneTimePrekeyId?: number;
  };
}
interface WebStoredIdentityRecord {
  seed: Uint8Array;
  fingerprint: string;
  signingPublicKey: Uint8Array;
  x25519PublicKey: Uint8Array;
  createdAt: number;
}
interface WebStoredSignedPrekeyRecord {
  keyId: number;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  signature: Uint8Array;
  createdAt: number;
  uploaded: boolean;
}
interface WebStoredOneTimePrekeyRecord {
  keyId: number;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  createdAt: number;
  uploaded: boolean;
  consumed: boolean;
}

// The app's own code, typed with the web client's types.
function sessionView(record: WebStoredSessionRecord): string {
  return `${record.peerId} ${record.remoteFingerprint} ${record.status}`;
}
const limits: number[] = [ONE_TIME_PREKEY_TARGET, MAX_UPLOAD_PREKEYS, SIGNED_PREKEY_TTL_MS];
void limits;

export async function app(userId: string, peerId: string, incoming: WebSerializedEncryptedMessage): Promise<string> {
  const keys = new KeyManager(userId);
  await keys.initialize();
  const bundle: WebPrekeyBundlePayload | null = await keys.getPendingBundle();
  await keys.markBundleUploaded(bundle);
  const sessions = new SessionManager(userId, keys); // the web client's tests omit the token
  const views: string[] = (await sessions.listSessions()).map(sessionView);
  const started: WebStoredSessionRecord = await sessions.ensureSession(peerId);
  const outgoing: WebSerializedEncryptedMessage = await sessions.encryptMessage(peerId, 'hi');
  const text: string = await sessions.decryptMessage(peerId, incoming);
  const identity: WebStoredIdentityRecord = await keys.getIdentityMaterial();

  // What the web client's tests read through getStorage().
  const storage = keys.getStorage();
  const stored: WebStoredIdentityRecord | null = await storage.loadIdentity();
  const signed: WebStoredSignedPrekeyRecord | null = await storage.loadSignedPrekey();
  const oneTime: WebStoredOneTimePrekeyRecord | undefined = await storage.loadOneTimePrekey(2);
  const session: WebStoredSessionRecord | null = await storage.loadSession(peerId);
  const all: WebStoredSessionRecord[] = await storage.listSessions();
  const count: number = await storage.countOneTimePrekeys();
  return [views, started, outgoing, identity, stored, signed, oneTime, session, all, count, text].join();
}
