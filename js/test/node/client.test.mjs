// The full client in Node (>= 20): two clients through the test server over real sockets
// (Node 20 has no global WebSocket: the `ws` package's is passed in), with in-memory
// storage. Events as callbacks and as an async iterator.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { QuickChatClient, isQuickChatError } from 'quickchat';
import { startServer, makeAdmin } from '../server.mjs';
import { memoryClient, unique } from '../support.mjs';

const external = process.env.QC_TEST_SERVER;
const server = external
  ? {
      url: external,
      stop: async () => {},
      makeAdmin(username) {
        const db = process.env.QC_TEST_SERVER_DB;
        if (!db || !process.env.QC_SERVER_BIN) {
          throw new Error('QC_TEST_SERVER_DB and QC_SERVER_BIN must name the running server');
        }
        makeAdmin(process.env.QC_SERVER_BIN, db, username);
      },
    }
  : await startServer();
after(() => server.stop());

const client = () => memoryClient(server.url, { keepaliveIntervalMs: 2000, keepaliveTimeoutMs: 2000 });

/** The first event `pick` accepts, from an async iterator. */
async function next(events, pick, what) {
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 15_000).unref(),
  );
  const search = (async () => {
    for (;;) {
      const { value, done } = await events.next();
      if (done) throw new Error(`events ended before ${what}`);
      const found = pick(value);
      if (found !== undefined) return found;
    }
  })();
  return Promise.race([search, timeout]);
}

test('two clients chat end to end from Node', async () => {
  const alice = await client();
  const bob = await client();
  assert.ok(alice instanceof QuickChatClient);
  assert.equal(alice.currentUser(), null);
  const aliceUser = await alice.register(unique('alice'), 'secret123');
  const bobUser = await bob.register(unique('bob'), 'secret123');
  assert.deepEqual(Object.keys(aliceUser).sort(), ['userId', 'username']);

  // Events through a callback…
  const seenByAlice = [];
  const subscription = alice.onEvent((event) => seenByAlice.push(event));
  // …and through an async iterator.
  const bobEvents = bob.events();

  await alice.connectAndWait(15_000);
  await bob.connectAndWait(15_000);
  assert.ok(alice.isConnected());

  const sent = await alice.sendText(bobUser.userId, 'hello from node');
  assert.equal(sent.conversation.kind, 'direct');
  assert.equal(sent.encrypted, true);
  const received = await next(
    bobEvents,
    (e) => (e.type === 'message' ? e : undefined),
    'the message',
  );
  assert.equal(received.message.body, 'hello from node');
  assert.equal(received.message.id, sent.id);
  assert.equal(received.live, true);

  await bob.sendText(aliceUser.userId, 'hello back');
  await bob.setTyping(aliceUser.userId, true);
  await new Promise((resolve) => {
    const check = setInterval(() => {
      if (seenByAlice.some((e) => e.type === 'message' && e.message.body === 'hello back')) {
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
  assert.ok(seenByAlice.some((e) => e.type === 'connected'));
  assert.ok(seenByAlice.some((e) => e.type === 'message_status' && e.messageId === sent.id));

  // The same conversation, from local history, and the fingerprints both sides see.
  const history = await alice.history(bobUser.userId);
  assert.deepEqual(history.map((m) => m.body), ['hello from node', 'hello back']);
  assert.equal(await alice.peerFingerprint(bobUser.userId), await bob.fingerprint());
  const conversations = await bob.conversations();
  assert.equal(conversations[0].conversation.id, aliceUser.userId);
  assert.equal(conversations[0].unread, 1);
  const found = await bob.search('HELLO');
  assert.equal(found.length, 2);
  assert.ok((await alice.users()).some((u) => u.id === bobUser.userId));
  // 100 made; Bob read one bundle of Alice's to check her first message against the key
  // she publishes.
  assert.equal((await alice.prekeyStatus()).oneTimePrekeyCount, 99);

  subscription.unsubscribe();
  await bobEvents.return();
  assert.deepEqual(await bobEvents.next(), { value: undefined, done: true });
  await alice.close();
  await bob.close();
  assert.equal(alice.isConnected(), false);
});

test('failures are QuickChatErrors with stable codes', async () => {
  const c = await client();
  await assert.rejects(c.sendText('someone', 'hi'), (e) => {
    assert.ok(isQuickChatError(e));
    assert.equal(e.code, 'not_logged_in');
    return true;
  });
  await assert.rejects(c.login('nobody_at_all', 'wrong-password'), { code: 'http_401' });
  const user = await c.register(unique('carol'), 'secret123');
  await assert.rejects(c.sendText('no-such-user', 'hi'), (e) => isQuickChatError(e) && e.code === 'peer_has_no_keys');
  await assert.rejects(c.sendImage(user.userId, 'not a data url'), { code: 'invalid_argument' });
  await assert.rejects(
    QuickChatClient.create({ server: server.url, storage: 'indexeddb' }),
    { code: 'invalid_argument' },
  );
  // Options are read field by field, each checked for its type and named when wrong.
  for (const [options, message] of [
    [{ backoff: { initialMs: -1 } }, /backoff|initialMs/],
    [{ keepaliveIntervalMs: 1.5 }, /keepaliveIntervalMs must be a whole number/],
    [{ allowPlaintextTo: 'bob' }, /allowPlaintextTo must be an array of strings/],
    [{ rememberPassword: 'yes' }, /rememberPassword must be true or false/],
    [{ catchUp: 'everyone' }, /catchUp/],
  ]) {
    await assert.rejects(QuickChatClient.create({ server: server.url, storage: 'memory', ...options }), (e) => {
      assert.equal(e.code, 'invalid_argument');
      assert.match(e.message, message);
      return true;
    });
  }
  await c.close();
});

test('groups and administration from the full client', async () => {
  const owner = await client();
  const member = await client();
  const ownerName = unique('owner');
  const ownerUser = await owner.register(ownerName, 'secret123');
  const memberUser = await member.register(unique('member'), 'secret123');
  await owner.connectAndWait(15_000);
  await member.connectAndWait(15_000);
  const memberEvents = member.events();

  const group = await owner.createGroup('node team', [memberUser.userId], 'a group');
  assert.equal(group.owner_id, ownerUser.userId);
  assert.deepEqual((await member.groups()).map((g) => g.id), [group.id]);
  await owner.sendGroupText(group.id, 'hello team');
  const arrived = await next(
    memberEvents,
    (e) => (e.type === 'group_message' && e.message.body === 'hello team' ? e.message : undefined),
    'the group message',
  );
  assert.deepEqual(arrived.conversation, { kind: 'group', id: group.id });
  const members = await owner.groupMembers(group.id);
  assert.deepEqual(members.map((m) => m.user_id).sort(), [memberUser.userId, ownerUser.userId].sort());
  await owner.setGroupRole(group.id, memberUser.userId, 'admin');
  const invite = await owner.createInvite(group.id, 60_000, 5);
  assert.ok(invite.link_code);
  await memberEvents.return();

  // Administration needs the admin role (given here by the server's own command).
  await assert.rejects(owner.adminUsers(), (e) => isQuickChatError(e) && e.code.startsWith('http_'));
  server.makeAdmin(ownerName);
  const users = await owner.adminUsers();
  assert.ok(users.some((u) => u.id === memberUser.userId));
  await owner.setImagePermission(memberUser.userId, false);
  const after = await owner.adminUsers();
  assert.equal(after.find((u) => u.id === memberUser.userId).can_send_images, 0);
  await owner.close();
  await member.close();
});
