// The drop-in API (quickchat/crypto: KeyManager, SessionManager) checked against the web
// client's own vectors (conversation.json): with the recorded random draws replayed, the
// drop-in makes the same keys and bundle, and every message it encrypts is byte for byte the
// web client's wire string; every message it decrypts gives the recorded text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyManager, SessionManager } from 'quickchat/crypto';
import { vectorFiles, hex, b64, Replay } from '../vectors.mjs';

const conversations = vectorFiles('conversation');
test('the vector directory has a conversation', () => {
  assert.ok(conversations.length > 0);
});

/** A user of the conversation, as the drop-in: keys made from the party's recorded draws. */
async function party(spec) {
  const replay = new Replay();
  // KeyManager.initialize() draws as the web client's does: identity seed, signed prekey,
  // then the one-time prekeys in order.
  replay.queue([spec.identitySeed, spec.signedPrekey.secretKey]);
  replay.queue(spec.oneTimePrekeys.map((k) => k.secretKey));
  const keys = new KeyManager(spec.userId, {
    storage: 'memory',
    importFrom: false,
    randomSource: replay.source,
  });
  await keys.initialize();
  assert.equal(replay.left, 0, `${spec.userId}: every key draw was used`);
  return { spec, keys, replay };
}

for (const { name, value: file } of conversations) {
  test(`${name}: the drop-in reproduces the web client's keys and conversation`, async () => {
    const alice = await party(file.parties.alice);
    const bob = await party(file.parties.bob);
    const byId = { [alice.spec.userId]: alice, [bob.spec.userId]: bob };

    // Keys and the pending bundle, in the reference's shapes.
    for (const p of [alice, bob]) {
      assert.equal(p.keys.origin, 'created');
      assert.equal(await p.keys.getFingerprint(), p.spec.fingerprint);
      const bundle = await p.keys.getPendingBundle();
      assert.deepEqual(Object.keys(bundle), [
        'identityKey',
        'signingKey',
        'fingerprint',
        'signedPrekey',
        'oneTimePrekeys',
      ]);
      assert.equal(bundle.identityKey, b64(hex(p.spec.x25519PublicKey)));
      assert.equal(bundle.signingKey, b64(hex(p.spec.signingPublicKey)));
      assert.equal(bundle.fingerprint, p.spec.fingerprint);
      assert.deepEqual(bundle.signedPrekey, {
        keyId: p.spec.signedPrekey.keyId,
        publicKey: b64(hex(p.spec.signedPrekey.publicKey)),
        signature: b64(hex(p.spec.signedPrekey.signature)),
      });
      assert.equal(bundle.oneTimePrekeys.length, 50, 'at most 50 per bundle');
      assert.deepEqual(
        bundle.oneTimePrekeys,
        p.spec.oneTimePrekeys.slice(0, 50).map((k) => ({ keyId: k.keyId, publicKey: b64(hex(k.publicKey)) })),
      );
      const material = await p.keys.getIdentityMaterial();
      assert.equal(material.identityKey, bundle.identityKey);
      assert.ok(!JSON.stringify(material).includes(b64(hex(p.spec.identitySeed))), 'no secret in it');
    }

    // Sessions fetch the peer's bundle through `fetchBundle` (as GET /api/users/{id}/prekeys
    // returns it) — once, not per message. The web client never mixes in the one-time
    // prekey, so none is offered here.
    const fetched = [];
    for (const p of [alice, bob]) {
      const peer = p === alice ? bob : alice;
      const bundle = await peer.keys.getPendingBundle();
      p.sessions = new SessionManager(p.spec.userId, p.keys, 'jwt', {
        fetchBundle: async (peerId) => {
          fetched.push(peerId);
          return { ...bundle, oneTimePrekeys: undefined, oneTimePrekey: null };
        },
      });
    }

    for (const [i, step] of file.steps.entries()) {
      const me = byId[step.by];
      me.replay.queue(step.draws);
      if (step.op === 'encrypt') {
        const wire = await me.sessions.encryptMessage(step.to, step.plaintext);
        assert.equal(JSON.stringify(wire), step.wire, `step ${i}: wire of message ${step.message}`);
        assert.equal(wire.authTag, '');
      } else if (step.error) {
        await assert.rejects(me.sessions.decryptMessage(step.from, JSON.parse(step.wire)));
      } else {
        const text = await me.sessions.decryptMessage(step.from, JSON.parse(step.wire));
        assert.equal(text, step.plaintext, `step ${i}: text of message ${step.message}`);
      }
      assert.equal(me.replay.left, 0, `step ${i}: every recorded draw was used`);
    }
    assert.deepEqual(fetched, [bob.spec.userId], 'one bundle fetch for the whole conversation');

    // listSessions: the reference's StoredSessionRecord, without secrets.
    const [session] = await alice.sessions.listSessions();
    assert.equal(session.peerId, bob.spec.userId);
    assert.equal(session.userId, alice.spec.userId);
    assert.equal(session.storageKey, `${alice.spec.userId}:session:${bob.spec.userId}`);
    assert.deepEqual(Buffer.from(session.remoteIdentityKey), Buffer.from(hex(bob.spec.x25519PublicKey)));
    assert.equal(session.remoteFingerprint, bob.spec.fingerprint);
    assert.equal(session.remoteSignedPrekeyId, bob.spec.signedPrekey.keyId);
    assert.equal(session.status, 'ready');
    for (const secret of ['ratchetState', 'localEphemeralSecret']) {
      assert.equal(session[secret], undefined);
    }
    // Where the web client's record holds a secret, an empty byte array stands in.
    assert.equal(session.rootKey.length, 0);
    assert.equal(session.localEphemeralKeyPair.secretKey.length, 0);
    const [bobsView] = await bob.sessions.listSessions();
    assert.equal(bobsView.peerId, alice.spec.userId);
    assert.equal(bobsView.initiatedByMe, false);
  });
}

test('decryptMessage accepts the wire object or its string, and a forgery changes nothing', async () => {
  const alice = new KeyManager('alice', { storage: 'memory', importFrom: false, oneTimePrekeys: 'when-available' });
  const bob = new KeyManager('bob', { storage: 'memory', importFrom: false });
  await alice.initialize();
  await bob.initialize();
  const bundle = await bob.getPendingBundle();
  const offered = {
    identityKey: bundle.identityKey,
    signingKey: bundle.signingKey,
    signedPrekey: bundle.signedPrekey,
    oneTimePrekey: bundle.oneTimePrekeys[0],
  };
  const aliceSessions = new SessionManager('alice', alice, '', { fetchBundle: () => offered });
  const bobSessions = new SessionManager('bob', bob, '', { fetchBundle: () => null });
  const first = await aliceSessions.encryptMessage('bob', 'first');
  assert.equal(first.x3dh.usedOneTimePrekeyId, offered.oneTimePrekey.keyId, 'DH4 when offered');
  assert.equal(await bobSessions.decryptMessage('alice', JSON.stringify(first)), 'first');

  const second = await aliceSessions.encryptMessage('bob', 'second');
  const forged = structuredClone(second);
  const bytes = Buffer.from(forged.ciphertext, 'base64');
  bytes[bytes.length - 1] ^= 1;
  forged.ciphertext = bytes.toString('base64');
  await assert.rejects(bobSessions.decryptMessage('alice', forged), (e) => {
    assert.equal(e.name, 'QuickChatError');
    assert.equal(e.code, 'decrypt_failed');
    return true;
  });
  // The session did not move: the real message still opens, and only once.
  assert.equal(await bobSessions.decryptMessage('alice', second), 'second');
  await assert.rejects(bobSessions.decryptMessage('alice', second), { code: 'decrypt_failed' });
  assert.equal(await aliceSessions.decryptMessage('bob', await bobSessions.encryptMessage('alice', 'reply')), 'reply');
  // What is not a message is refused with the package's error, and changes nothing either.
  await assert.rejects(bobSessions.decryptMessage('alice', undefined), { code: 'invalid_argument' });
  await assert.rejects(bobSessions.decryptMessage('alice', { header: 1 }), { name: 'QuickChatError' });
  const cyclic = {};
  cyclic.self = cyclic;
  await assert.rejects(bobSessions.decryptMessage('alice', cyclic), { code: 'invalid_argument' });
  assert.equal(await bobSessions.decryptMessage('alice', await aliceSessions.encryptMessage('bob', 'still')), 'still');

  // A wire object goes to the engine as its fields, its string as JSON: both are checked
  // alike, and a bad field changes nothing.
  const next = await aliceSessions.encryptMessage('bob', 'next');
  const mutations = {
    'fractional number': (w) => (w.header.messageNumber = 1.5),
    'negative number': (w) => (w.header.previousChainLength = -1),
    'number over u32': (w) => (w.header.messageNumber = 2 ** 32),
    'NaN': (w) => (w.header.messageNumber = NaN),
    'key not base64': (w) => (w.header.ratchetKey = 'not base64!'),
    'short key': (w) => (w.header.ratchetKey = Buffer.alloc(16).toString('base64')),
    'short ciphertext': (w) => (w.ciphertext = 'AAAA'),
    'no authTag': (w) => delete w.authTag,
    'authTag not a string': (w) => (w.authTag = 5),
    'header not an object': (w) => (w.header = 'header'),
    'no header': (w) => delete w.header,
    'ratchet key not a string': (w) => (w.header.ratchetKey = 7),
    'x3dh not an object': (w) => (w.x3dh = 5),
    'x3dh key not a string': (w) => (w.x3dh = { senderIdentityKey: 1, senderEphemeralKey: w.header.ratchetKey, usedSignedPrekeyId: 1 }),
    'x3dh without its signed prekey id': (w) => (w.x3dh = { senderIdentityKey: w.header.ratchetKey, senderEphemeralKey: w.header.ratchetKey }),
    'wrong message number': (w) => (w.header.messageNumber += 1),
  };
  for (const [name, mutate] of Object.entries(mutations)) {
    const bad = structuredClone(next);
    mutate(bad);
    const codes = [];
    for (const form of [bad, JSON.stringify(bad)]) {
      await assert.rejects(bobSessions.decryptMessage('alice', form), (e) => {
        assert.equal(e.name, 'QuickChatError', name);
        codes.push(e.code);
        return true;
      });
    }
    assert.equal(codes[0], codes[1], `${name}: the same error for the object and its string`);
  }
  // Not JSON, or JSON that is not an object: refused as a malformed message.
  for (const junk of ['{"header":', '[1,2]', '42', 'null']) {
    await assert.rejects(bobSessions.decryptMessage('alice', junk), { code: 'malformed_message' }, junk);
  }
  assert.equal(await bobSessions.decryptMessage('alice', next), 'next');
});

test('prekey care: uploads in batches of 50, queued prekeys, rotation and reset', async () => {
  const keys = new KeyManager('carol', { storage: 'memory', importFrom: false });
  await keys.initialize();
  const first = await keys.getPendingBundle();
  assert.equal(first.signedPrekey.keyId, 1);
  assert.deepEqual(first.oneTimePrekeys.map((k) => k.keyId), [...Array(50).keys()].map((i) => i + 2));
  await keys.markBundleUploaded(first);
  const second = await keys.getPendingBundle();
  assert.equal(second.signedPrekey, null, 'the signed prekey is uploaded');
  assert.deepEqual(second.oneTimePrekeys.map((k) => k.keyId), [...Array(50).keys()].map((i) => i + 52));
  await keys.markBundleUploaded(second);
  assert.equal(await keys.getPendingBundle(), null, 'everything is uploaded');

  await keys.queueOneTimePrekeys(10);
  const queued = await keys.getPendingBundle();
  assert.deepEqual(queued.oneTimePrekeys.map((k) => k.keyId), [...Array(10).keys()].map((i) => i + 102));
  await keys.markBundleUploaded(queued);

  await keys.rotateSignedPrekey();
  const rotated = await keys.getPendingBundle();
  assert.equal(rotated.signedPrekey.keyId, 112, 'the next id of the shared counter');
  assert.deepEqual(rotated.oneTimePrekeys, []);
  await keys.markBundleUploaded(rotated);

  const before = await keys.getFingerprint();
  await keys.resetE2EE();
  assert.notEqual(await keys.getFingerprint(), before);
  const fresh = await keys.getPendingBundle();
  // The counter carries on, as the web client's reset does (PROTOCOL §8): web peers notice a
  // reset only through a new signed-prekey id.
  assert.equal(fresh.signedPrekey.keyId, 113);
  assert.deepEqual(fresh.oneTimePrekeys.map((k) => k.keyId), [...Array(50).keys()].map((i) => i + 114));
  await assert.rejects(keys.markBundleUploaded(rotated), { code: 'invalid_argument' });

  // A bundle handed back malformed is refused by what is wrong with it, and marks nothing.
  for (const [bundle, message] of [
    [{ ...fresh, identityKey: 5 }, /identityKey must be a string/],
    [{ ...fresh, oneTimePrekeys: 'all' }, /oneTimePrekeys must be an array/],
    [{ ...fresh, oneTimePrekeys: [{ keyId: -1, publicKey: 'x' }] }, /keyId must be a prekey id/],
    [{ ...fresh, signedPrekey: { ...fresh.signedPrekey, signature: null } }, /signature must be a string/],
    ['a bundle', /bundle: not an object/],
  ]) {
    await assert.rejects(keys.markBundleUploaded(bundle), (e) => {
      assert.equal(e.code, 'invalid_argument');
      assert.match(e.message, message);
      return true;
    });
  }
  assert.deepEqual(await keys.getPendingBundle(), fresh, 'nothing was marked uploaded');
  // As JSON (a round trip through storage or the network) it is the same bundle.
  await keys.markBundleUploaded(JSON.parse(JSON.stringify(fresh)));
  assert.deepEqual((await keys.getPendingBundle()).oneTimePrekeys.map((k) => k.keyId), [...Array(50).keys()].map((i) => i + 164));
});

test('the constructors check their arguments as the reference would be used', async () => {
  assert.throws(() => new KeyManager(''), TypeError);
  const keys = new KeyManager('dave', { storage: 'memory', importFrom: false });
  assert.throws(() => new SessionManager('erin', keys, 'token'), TypeError);
  assert.throws(() => new SessionManager('dave', {}, 'token'), TypeError);
  await assert.rejects(keys.getFingerprint(), { code: 'not_initialized' });
  const sessions = new SessionManager('dave', keys, 'token', { server: 'http://127.0.0.1:9' });
  await keys.initialize();
  // No server answers: the bundle fetch fails cleanly.
  await assert.rejects(sessions.encryptMessage('frank', 'hi'), { name: 'QuickChatError' });
});

test('options are read field by field: a field of the wrong type is refused by name, functions and unknown fields are left alone', async () => {
  const refused = async (options, words) => {
    const keys = new KeyManager('gina', { importFrom: false, ...options });
    await assert.rejects(keys.initialize(), (e) => {
      assert.equal(e.code, 'invalid_argument');
      for (const word of words) assert.match(e.message, new RegExp(word));
      return true;
    });
  };
  await refused({ storage: 'disk' }, ['storage', 'disk']);
  await refused({ storage: 5 }, ['storage must be a string']);
  await refused({ kdf: 5 }, ['kdf must be a string']);
  await refused({ oneTimePrekeys: true }, ['oneTimePrekeys must be a string']);
  await refused({ passphrase: ['x'] }, ['passphrase must be a string']);
  // null and undefined mean the default; functions and other fields are not the engine's.
  const keys = new KeyManager('gina', {
    storage: 'memory',
    importFrom: false,
    server: null,
    databaseName: undefined,
    fetchBundle: () => null,
    somethingElse: { nested: [1, 2] },
  });
  await keys.initialize();
  assert.equal(keys.origin, 'created');
});

test('a peer that resets its keys is reported as an identity change', async () => {
  const alice = new KeyManager('alice', { storage: 'memory', importFrom: false });
  const bob = new KeyManager('bob', { storage: 'memory', importFrom: false });
  await alice.initialize();
  await bob.initialize();
  const offered = async (keys) => {
    const b = await keys.getPendingBundle();
    return { identityKey: b.identityKey, signingKey: b.signingKey, signedPrekey: b.signedPrekey, oneTimePrekey: null };
  };
  const changes = [];
  const aliceSessions = new SessionManager('alice', alice, '', {
    fetchBundle: async () => offered(bob),
    onIdentityChange: (change) => changes.push(change),
  });
  const bobSessions = new SessionManager('bob', bob, '', { fetchBundle: async () => offered(alice) });
  assert.equal(await bobSessions.decryptMessage('alice', await aliceSessions.encryptMessage('bob', 'hi')), 'hi');
  const before = await bob.getFingerprint();

  await bob.resetE2EE();
  const after = await bob.getFingerprint();
  // Bob's new identity starts a new session with a new first message.
  const fromNewBob = await bobSessions.encryptMessage('alice', 'it is me, reinstalled');
  assert.ok(fromNewBob.x3dh);
  assert.equal(await aliceSessions.decryptMessage('bob', fromNewBob), 'it is me, reinstalled');
  assert.equal(changes.length, 1);
  assert.equal(changes[0].peerId, 'bob');
  assert.equal(changes[0].previousFingerprint, before);
  assert.equal(changes[0].newFingerprint, after);
  assert.equal(changes[0].wasVerified, false);
});
