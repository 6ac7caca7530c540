// The low-level Ratchet API and the benchmark's JavaScript baseline, both against the web
// client's conversation vectors: with the recorded draws each reproduces every wire string
// byte for byte and every plaintext — so the benchmark compares the same algorithm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { init } from 'quickchat';
import { loadSync } from '../../src/load-node.js';
import {
  identityFromSeed,
  x3dhInitiate,
  x3dhRespond,
  ReferenceRatchet,
  unb64,
} from '../../bench/reference-ratchet.mjs';
import { vectorFiles, hex, b64, Replay } from '../vectors.mjs';

await init();
const wasm = loadSync();

function bundleOf(spec) {
  return {
    identityKey: b64(hex(spec.x25519PublicKey)),
    signingKey: b64(hex(spec.signingPublicKey)),
    signedPrekey: {
      keyId: spec.signedPrekey.keyId,
      publicKey: b64(hex(spec.signedPrekey.publicKey)),
      signature: b64(hex(spec.signedPrekey.signature)),
    },
    oneTimePrekey: null,
  };
}

for (const { name, value: file } of vectorFiles('conversation')) {
  test(`${name}: the low-level Ratchet reproduces the conversation`, () => {
    const replay = new Replay();
    const options = { randomSource: replay.source, oneTimePrekeys: 'never' };
    const { alice, bob } = file.parties;
    const specOf = { [alice.userId]: alice, [bob.userId]: bob };
    const sessions = {};
    for (const [i, step] of file.steps.entries()) {
      replay.queue(step.draws);
      const me = specOf[step.by];
      if (step.op === 'encrypt') {
        sessions[step.by] ??= wasm.Ratchet.initiate(
          wasm.Identity.fromSeed(hex(me.identitySeed)),
          bundleOf(specOf[step.to]),
          options,
        );
        assert.equal(sessions[step.by].encrypt(step.plaintext), step.wire, `step ${i}`);
      } else {
        sessions[step.by] ??= wasm.Ratchet.respond(
          wasm.Identity.fromSeed(hex(me.identitySeed)),
          hex(me.signedPrekey.secretKey),
          undefined,
          step.wire,
          options,
        );
        assert.equal(sessions[step.by].decrypt(step.wire), step.plaintext, `step ${i}`);
      }
      assert.equal(replay.left, 0, `step ${i}: draws`);
      // The session's state is the web client's, field for field.
      assert.deepEqual(
        JSON.parse(sessions[step.by].toReferenceJson()),
        JSON.parse(step.stateAfter),
        `step ${i}: state`,
      );
    }
  });

  test(`${name}: the benchmark baseline computes what the web client computed`, async () => {
    let draws = [];
    const random = (n) => {
      const next = draws.shift();
      assert.equal(next?.length, n);
      return next;
    };
    const { alice, bob } = file.parties;
    const specOf = { [alice.userId]: alice, [bob.userId]: bob };
    const sessions = {};
    for (const [i, step] of file.steps.entries()) {
      draws = step.draws.map(hex);
      const me = specOf[step.by];
      const identity = identityFromSeed(hex(me.identitySeed));
      if (step.op === 'encrypt') {
        let x3dh;
        if (!sessions[step.by]) {
          const started = await x3dhInitiate(identity, bundleOf(specOf[step.to]), random);
          sessions[step.by] = await ReferenceRatchet.initiator(started.sharedSecret, random);
          x3dh = started.x3dh;
        }
        const message = await sessions[step.by].encrypt(step.plaintext, x3dh);
        assert.equal(JSON.stringify(message), step.wire, `step ${i}`);
      } else {
        const message = JSON.parse(step.wire);
        if (!sessions[step.by]) {
          const secret = await x3dhRespond(identity, hex(me.signedPrekey.secretKey), message.x3dh);
          sessions[step.by] = await ReferenceRatchet.responder(secret, unb64(message.header.ratchetKey), random);
        }
        assert.equal(await sessions[step.by].decrypt(message), step.plaintext, `step ${i}`);
      }
      assert.equal(draws.length, 0, `step ${i}: draws`);
      // Its saved state is the web client's `ratchetState`, and the next step starts from it
      // (as the web client, and the browser bench's reference, load it before every message).
      const state = sessions[step.by].toReferenceState();
      assert.deepEqual(state, JSON.parse(step.stateAfter), `step ${i}: state`);
      sessions[step.by] = ReferenceRatchet.fromReferenceState(JSON.parse(JSON.stringify(state)), random);
    }
  });
}

test('Ratchet: a damaged message is refused and changes nothing', () => {
  const seedA = wasm.Identity.generate();
  const seedB = wasm.Identity.generate();
  const spk = crypto.getRandomValues(new Uint8Array(32));
  const bundle = wasm.prekeyBundle(seedB, 7, spk);
  assert.equal(bundle.identityKey, seedB.identityKey);
  assert.equal(bundle.fingerprint, seedB.fingerprint);
  assert.equal(bundle.signedPrekey.keyId, 7);
  const sender = wasm.Ratchet.initiate(seedA, bundle, {});
  const first = sender.encrypt('one');
  assert.equal(JSON.parse(first).x3dh.usedSignedPrekeyId, 7);
  const receiver = wasm.Ratchet.respond(seedB, spk, undefined, first, {});
  assert.equal(receiver.decrypt(first), 'one');
  const second = JSON.parse(sender.encrypt('two'));
  const damaged = { ...second, ciphertext: second.ciphertext.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) };
  assert.throws(() => receiver.decrypt(JSON.stringify(damaged)), { name: 'QuickChatError' });
  assert.equal(receiver.decrypt(JSON.stringify(second)), 'two');
  // A bundle whose signature does not verify is refused.
  const bad = { ...bundle, signingKey: seedA.signingKey };
  assert.throws(() => wasm.Ratchet.initiate(seedA, bad, {}), /signature/i);
});

for (const { name, value: file } of vectorFiles('identity')) {
  test(`${name}: Identity.fromSeed derives the web client's keys`, () => {
    for (const c of file.cases) {
      const identity = wasm.Identity.fromSeed(hex(c.seed));
      assert.equal(identity.identityKey, b64(hex(c.x25519PublicKey)));
      assert.equal(identity.signingKey, b64(hex(c.signingPublicKey)));
      assert.equal(identity.fingerprint, c.fingerprint);
    }
  });
}
