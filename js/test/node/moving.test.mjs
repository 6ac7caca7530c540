// Moving an account with the full client in Node (the module the browser runs, memory
// stores, the test server over real sockets): `exportAccount` from one client, bad files
// refused without a change, `importAccount` into another, and the conversation goes on from
// there with no new session (one `x3dh` block in the whole conversation, as the backend
// keeps it) and no identity change for the peer; the old store says `account_moved` until
// `reactivateAccount()`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../server.mjs';
import { memoryClient, unique } from '../support.mjs';

const external = process.env.QC_TEST_SERVER;
const server = external ? { url: external, stop: async () => {} } : await startServer();
after(() => server.stop());

const FILE_PASSPHRASE = 'file passphrase for the move';
const client = () => memoryClient(server.url);

/** Resolves with the first event `pick` accepts (a generous bound against hangs). */
function waitFor(c, pick, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 30_000);
    const subscription = c.onEvent((event) => {
      const found = pick(event);
      if (found !== undefined) {
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve(found);
      }
    });
  });
}

const messageWith = (body) => (e) => (e.type === 'message' && e.message.body === body ? e.message : undefined);

/** `sender` sends `text` to `toId`; resolves once `receiver` has it. */
async function deliver(sender, receiver, toId, text) {
  const received = waitFor(receiver, messageWith(text), `"${text}"`);
  await sender.sendText(toId, text);
  await received;
}

/** Every message between two users as the backend keeps them (no token needed, PROTOCOL §7). */
async function backendHistory(peer, me) {
  const answer = await fetch(`${server.url}/api/messages/${peer}?user=${me}`);
  assert.equal(answer.status, 200);
  return answer.json();
}

async function codeOf(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return error.code;
  }
}

test('an account moves to another client and its conversation goes on', async () => {
  const alice = await client();
  const bob = await client();
  const aliceName = unique('alice');
  const aliceUser = await alice.register(aliceName, 'secret123');
  const bobUser = await bob.register(unique('bob'), 'secret123');
  const identityChanges = [];
  bob.onEvent((e) => e.type === 'identity_changed' && identityChanges.push(e));
  await alice.connectAndWait(15_000);
  await bob.connectAndWait(15_000);

  await deliver(alice, bob, bobUser.userId, 'before the move');
  await deliver(bob, alice, aliceUser.userId, 'reply before');
  const bobSees = await bob.peerFingerprint(aliceUser.userId);

  // Export: a sealed file, and the old client stops.
  assert.equal(await alice.movedAt(), null);
  const file = await alice.exportAccount({ passphrase: FILE_PASSPHRASE, history: true });
  assert.ok(file instanceof Uint8Array);
  assert.deepEqual([...file.subarray(0, 8)], [...Buffer.from('QCACCT\0\n')]);
  const text = Buffer.from(file).toString('latin1');
  for (const secret of ['before the move', 'reply before', FILE_PASSPHRASE, aliceUser.userId]) {
    assert.ok(!text.includes(secret), `${secret} in the clear`);
  }
  assert.equal(typeof (await alice.movedAt()), 'number');
  assert.equal(alice.isConnected(), false);
  assert.equal(await codeOf(alice.sendText(bobUser.userId, 'from the old store')), 'account_moved');
  assert.equal(await codeOf(alice.connectAndWait(5_000)), 'account_moved');
  assert.equal(await codeOf(alice.exportAccount({})), 'invalid_argument', 'no passphrase');

  // Bad files are refused with their code and leave the store as it was: a store holding
  // an account keeps it even with `replace`, and an empty one takes the right file after.
  const carol = await client();
  const carolName = unique('carol');
  const carolUser = await carol.register(carolName, 'secret123');
  const carolPrint = await carol.fingerprint();
  const truncated = file.slice(0, file.length - 30);
  const newer = file.slice();
  newer[8] = 0;
  newer[9] = 2;
  const notAFile = new TextEncoder().encode('{"this": "is not an account file"}');
  const moved = await client();
  // Replacing the account a client is logged in with is refused before anything is read.
  assert.equal(await codeOf(carol.importAccount(file, { passphrase: FILE_PASSPHRASE, replace: true })), 'invalid_argument');
  await carol.logout();
  for (const target of [carol, moved]) {
    const replace = target === carol;
    assert.equal(await codeOf(target.importAccount(file, { passphrase: 'not it', replace })), 'wrong_passphrase');
    assert.equal(await codeOf(target.importAccount(truncated, { passphrase: FILE_PASSPHRASE, replace })), 'archive_damaged');
    assert.equal(await codeOf(target.importAccount(notAFile, { passphrase: FILE_PASSPHRASE, replace })), 'archive_damaged');
    assert.equal(await codeOf(target.importAccount(newer, { passphrase: FILE_PASSPHRASE, replace })), 'archive_too_new');
    assert.equal(await codeOf(target.importAccount('not bytes', { passphrase: FILE_PASSPHRASE })), 'invalid_argument');
  }
  assert.equal(await codeOf(carol.importAccount(file, { passphrase: FILE_PASSPHRASE })), 'account_exists');
  assert.equal(await carol.fingerprint(), carolPrint, "carol's keys are untouched");
  // Her own keys still: the server's published keys match them.
  assert.equal((await carol.login(carolName, 'secret123')).userId, carolUser.userId);
  assert.equal(moved.currentUser(), null);
  await carol.close();

  const summary = await moved.importAccount(file, { passphrase: FILE_PASSPHRASE });
  assert.equal(summary.userId, aliceUser.userId);
  assert.equal(summary.fingerprint, bobSees);
  assert.deepEqual(summary.sessions, [bobUser.userId]);
  assert.equal(summary.messages, 2);
  assert.deepEqual(summary.user, { userId: aliceUser.userId, username: aliceName }, 'the saved login came along');
  assert.equal(await moved.movedAt(), null);
  assert.deepEqual((await moved.history(bobUser.userId)).map((m) => m.body), ['before the move', 'reply before']);

  // The conversation goes on from the new client, both ways, on the same sessions.
  await moved.connectAndWait(15_000);
  await deliver(moved, bob, bobUser.userId, 'after the move');
  await deliver(bob, moved, aliceUser.userId, 'welcome back');
  assert.equal(await bob.peerFingerprint(aliceUser.userId), bobSees);
  assert.deepEqual(identityChanges, []);
  const kept = await backendHistory(bobUser.userId, aliceUser.userId);
  assert.equal(kept.length, 4);
  assert.ok(kept.every((m) => m.encrypted), 'every message went end-to-end encrypted');
  const firsts = kept.filter((m) => m.content.includes('"x3dh"'));
  assert.equal(firsts.length, 1, 'one first message in the whole conversation');
  assert.equal(firsts[0].id, kept[0].id, 'the very first one');

  // Reactivating the old client is explicit, and gives it its login back.
  await alice.reactivateAccount();
  assert.equal(await alice.movedAt(), null);
  assert.equal(alice.currentUser()?.userId, aliceUser.userId);
  await moved.close();
  await bob.close();
});
