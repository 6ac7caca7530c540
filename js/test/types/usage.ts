// Compiled with `tsc --noEmit` by the test run: the declarations describe the API as a
// TypeScript application (and a React app migrating from the web client) uses it.
import {
  QuickChatClient,
  KeyManager,
  SessionManager,
  Identity,
  Ratchet,
  configure,
  exportAccount,
  init,
  isQuickChatError,
  prekeyBundle,
  readWebClientDatabase,
  version,
  type AccountImportSummary,
  type MessageRecord,
  type QuickChatEvent,
  type SerializedEncryptedMessage,
} from 'quickchat';
import * as crypto from 'quickchat/crypto';

async function dropIn(userId: string, token: string, peerId: string): Promise<string> {
  configure({ passphrase: 'app secret', server: 'https://chat.example.com' });
  const keys = new crypto.KeyManager(userId);
  await keys.initialize();
  // One tab only (a second one is refused with `store_in_use`).
  const alone = new crypto.KeyManager(`${userId}-alone`, { tabs: false });
  void alone;
  const fingerprint: string = await keys.getFingerprint();
  const bundle = await keys.getPendingBundle();
  if (bundle) {
    const ids: number[] = bundle.oneTimePrekeys.map((k) => k.keyId);
    void ids;
    await keys.markBundleUploaded(bundle);
  }
  await keys.queueOneTimePrekeys(10);
  await keys.rotateSignedPrekey();
  const sessions = new crypto.SessionManager(userId, keys, token);
  await sessions.ensureSession(peerId);
  const wire: SerializedEncryptedMessage = await sessions.encryptMessage(peerId, 'hi');
  const content: string = JSON.stringify(wire);
  const text: string = await sessions.decryptMessage(peerId, wire);
  const list = await sessions.listSessions();
  const peers: string[] = list.map((s) => s.peerId);
  void peers;
  await keys.resetE2EE();
  return fingerprint + content + text;
}

async function full(): Promise<void> {
  await init();
  const v: string = await version();
  void v;
  const client = await QuickChatClient.create({ server: 'https://chat.example.com', passphrase: 'p' });
  const user = await client.login('alice', 'secret');
  const record: MessageRecord = await client.sendText(user.userId, 'hello');
  const subscription = client.onEvent((event: QuickChatEvent) => {
    if (event.type === 'message') console.log(event.message.body, event.live);
    if (event.type === 'identity_changed') console.log(event.change.newFingerprint);
    if (event.type === 'message_replaced') console.log(event.oldId, event.message.id);
  });
  for await (const event of client.events()) {
    if (event.type === 'typing') console.log(event.username, event.typing);
    break;
  }
  subscription.unsubscribe();
  const page: MessageRecord[] = await client.history({ kind: 'direct', id: record.id }, undefined, 20);
  const older: MessageRecord[] = await client.historyBefore(user.userId, page[0], 20);
  void older;
  const group = await client.createGroup('team', [user.userId]);
  await client.sendGroupText(group.id, 'hi team');
  const status = await client.verification(user.userId);
  if (status.changePending) await client.acceptIdentity(user.userId);
  const dump = await readWebClientDatabase();
  if (dump) console.log(Object.keys(dump.stores));
  try {
    await client.sendText('x', 'y');
  } catch (error) {
    if (isQuickChatError(error) && error.code === 'peer_has_no_keys') console.log(error.message);
  }
  const me = Identity.fromSeed(new Uint8Array(32));
  const fp: string = me.fingerprint;
  void fp;
  const bundle = await prekeyBundle(Identity.generate(), 1, new Uint8Array(32));
  const ratchet = Ratchet.initiate(me, bundle, { oneTimePrekeys: 'never' });
  const wire: string = ratchet.encrypt('x');
  void wire;
  void page;
  await client.close();
  await client.dispose();
}

// Moving an account: out of the web app's database, out of a client, into another.
async function moving(client: QuickChatClient, other: QuickChatClient): Promise<number | null> {
  const fromWebApp: Uint8Array = await exportAccount({ passphrase: 'file secret' });
  const named: Uint8Array = await exportAccount({ passphrase: 'file secret', userId: 'u1', database: 'quick-chat-e2ee' });
  const file: Uint8Array = await client.exportAccount({ passphrase: 'file secret', history: true });
  const summary: AccountImportSummary = await other.importAccount(file, { passphrase: 'file secret', replace: true });
  const peers: string[] = summary.sessions;
  void [fromWebApp, named, peers, summary.user?.username, summary.messages];
  await client.reactivateAccount();
  return client.movedAt();
}

// The drop-in keeps the reference's names at the top level too.
const same: typeof KeyManager = crypto.KeyManager;
const alsoSame: typeof SessionManager = crypto.SessionManager;
void same;
void alsoSame;
void dropIn;
void full;
void moving;
