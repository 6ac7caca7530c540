// The part of the `quickchat` npm package (../js) this page uses, with the shapes of the
// values it hands back (core's serde types: camelCase fields, `{type, ...}` events).
//
// The package's own `index.d.ts` is not always there (it is generated with the package), so
// the import is untyped here and given these interfaces instead; they describe only what
// the page relies on.

// @ts-ignore -- typed below; works with and without the package's declarations
import * as quickchat from 'quickchat';

export type MessageStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

export type ConversationRef = { kind: 'direct' | 'group'; id: string };

export interface MessageRecord {
  id: string;
  conversation: ConversationRef;
  senderId: string;
  direction: 'incoming' | 'outgoing';
  body: string;
  kind: 'text' | 'image' | 'system';
  imageData: string | null;
  timestamp: number;
  status: MessageStatus;
  encrypted: boolean;
  readAt: number | null;
  decryptError?: string | null;
}

export interface User {
  userId: string;
  username: string;
}

export interface UserSummary {
  id: string;
  username: string;
  avatar?: string | null;
  lastSeen?: number | null;
}

export interface ConversationSummary {
  conversation: ConversationRef;
  lastMessage: MessageRecord;
  unread: number;
}

export interface IdentityChange {
  peerId: string;
  previousFingerprint: string;
  newFingerprint: string;
  wasVerified: boolean;
}

export interface Verification {
  currentFingerprint: string;
  verifiedFingerprint: string | null;
  verifiedAt: number | null;
  method: string | null;
  verified: boolean;
  changePending: boolean;
}

export interface GroupInfo {
  id: string;
  name: string;
  description?: string | null;
  owner_id: string;
  created_at: number;
  role?: string | null;
  userRole?: string | null;
}

export interface GroupMember {
  group_id: string;
  user_id: string;
  role: 'owner' | 'admin' | 'member';
  joined_at: number;
  username: string;
}

export interface Invite {
  id: string;
  link_code: string;
  expires_at?: number | null;
  max_uses?: number | null;
}

export type ChatEvent =
  | { type: 'connected' }
  | { type: 'disconnected'; reason: string }
  | { type: 'reconnecting'; attempt: number; delayMs: number }
  | { type: 'caught_up'; newMessages: number }
  | { type: 'catch_up_failed'; reason: string }
  | { type: 'stopped'; error: string | null }
  | { type: 'message'; message: MessageRecord; live: boolean }
  | { type: 'message_status'; messageId: string; status: MessageStatus }
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

export interface Subscription {
  unsubscribe(): void;
}

/** The methods of `QuickChatClient` the page calls. */
export interface Client {
  register(username: string, password: string, avatar?: string | null): Promise<User>;
  login(username: string, password: string): Promise<User>;
  logout(): Promise<void>;
  currentUser(): User | null;
  connect(): void;
  close(): Promise<void>;
  /** Closes the connection and the IndexedDB store, releasing its cross-tab lock. */
  dispose(): Promise<void>;
  /** wasm-bindgen's: frees the client's memory. */
  free(): void;
  isConnected(): boolean;
  onEvent(callback: (event: ChatEvent) => void): Subscription;
  sendText(peerId: string, text: string): Promise<MessageRecord>;
  sendImage(peerId: string, dataUrl: string): Promise<MessageRecord>;
  setTyping(peerId: string, typing: boolean): Promise<void>;
  markRead(peerId: string, messageIds: string[]): Promise<void>;
  history(conversation: string | ConversationRef, before?: number | null, limit?: number | null): Promise<MessageRecord[]>;
  conversations(): Promise<ConversationSummary[]>;
  users(): Promise<UserSummary[]>;
  onlineUsers(): User[];
  fingerprint(): Promise<string>;
  peerFingerprint(peerId: string): Promise<string>;
  verifyPeer(peerId: string, method?: string | null): Promise<string>;
  unverifyPeer(peerId: string): Promise<void>;
  verification(peerId: string): Promise<Verification>;
  acceptIdentity(peerId: string): Promise<void>;
  resetE2EE(): Promise<void>;
  createGroup(name: string, memberIds: string[], description: string | null, settings: unknown): Promise<GroupInfo>;
  groups(): Promise<GroupInfo[]>;
  groupMembers(groupId: string): Promise<GroupMember[]>;
  addGroupMembers(groupId: string, userIds: string[]): Promise<{ added: string[] }>;
  removeGroupMember(groupId: string, userId: string): Promise<unknown>;
  setGroupRole(groupId: string, userId: string, role: 'admin' | 'member'): Promise<unknown>;
  createInvite(groupId: string, expiresInMs?: number | null, maxUses?: number | null): Promise<Invite>;
  joinGroup(linkCode: string): Promise<{ success: boolean; group_id: string }>;
  leaveGroup(groupId: string): Promise<unknown>;
  groupHistory(groupId: string, limit?: number | null, before?: number | null): Promise<MessageRecord[]>;
  sendGroupText(groupId: string, text: string): Promise<MessageRecord>;
  sendGroupImage(groupId: string, dataUrl: string): Promise<MessageRecord>;
  setGroupTyping(groupId: string, typing: boolean): Promise<void>;
  markGroupRead(groupId: string, messageId: string): Promise<void>;
  sendGroupEvent(groupId: string, event: string, extra: Record<string, unknown>): Promise<void>;
}

export interface ClientOptions {
  server: string;
  storage: 'indexeddb' | 'memory';
  databaseName: string;
  passphrase: string;
  kdf?: 'recommended' | 'insecure-for-tests';
}

interface Sdk {
  QuickChatClient: { create(options: ClientOptions): Promise<Client> };
  isQuickChatError(error: unknown): boolean;
  version(): Promise<string>;
}

const sdk = quickchat as unknown as Sdk;

export function createClient(options: ClientOptions): Promise<Client> {
  return sdk.QuickChatClient.create(options);
}

export function sdkVersion(): Promise<string> {
  return sdk.version();
}

/**
 * Lets go of a client for good: `dispose()` closes its connection and its IndexedDB store and
 * releases the store's cross-tab lock (`close()` alone keeps the store open, so opening the
 * same user's store again in this page would fail with `store_in_use`); then frees it.
 */
export async function disposeClient(client: Client): Promise<void> {
  await client.dispose().catch(() => undefined);
  try {
    client.free();
  } catch {
    // already freed
  }
}

/** The SDK's stable error code (`wrong_passphrase`, `http_401`, …), if it is one of its errors. */
export function errorCode(error: unknown): string | undefined {
  if (sdk.isQuickChatError(error)) {
    return (error as { code: string }).code;
  }
  return undefined;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
