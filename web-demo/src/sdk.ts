// The part of the `quickchat` npm package (../js) this page uses, typed by the package's
// own declarations (js/src/index.d.ts), under the names the page uses.

import * as quickchat from 'quickchat';
import type {
  ClientOptions,
  Conversation,
  Group,
  QuickChatClient,
  QuickChatEvent,
} from 'quickchat';

export type {
  ClientOptions,
  ConversationSummary,
  GroupMember,
  IdentityChange,
  Invite,
  MessageRecord,
  MessageStatus,
  Subscription,
  User,
  UserSummary,
  Verification,
} from 'quickchat';

export type ConversationRef = Conversation;
export type GroupInfo = Group;
export type ChatEvent = QuickChatEvent;
export type Client = QuickChatClient;

export function createClient(options: ClientOptions): Promise<Client> {
  return quickchat.QuickChatClient.create(options);
}

export function sdkVersion(): Promise<string> {
  return quickchat.version();
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
  if (quickchat.isQuickChatError(error)) {
    return error.code;
  }
  return undefined;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
