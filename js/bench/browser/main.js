// The browser bench's page (driven by bench/browser.mjs): the web client's crypto layer as
// the app runs it (bench/web-client-reference.mjs) and the drop-in `quickchat/crypto`, each
// with its IndexedDB store and the page's bundle endpoint, timed in interleaved rounds.
import { KeyManager, SessionManager, configure } from '../../src/crypto.js';
import { WebClientReference } from '../web-client-reference.mjs';

const TEXT = 'x'.repeat(100);
const BURST = 10;
const ANSWERS = 50;

async function upload(token, bundle) {
  const response = await fetch('/api/users/prekeys', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(bundle),
  });
  if (!response.ok) throw new Error(`upload: HTTP ${response.status}`);
}

/**
 * Two users of one implementation, with a session both ways (first message and answer
 * done): `send(from, to, text)` gives the wire object, `receive(to, from, wire)` the text.
 */
async function pair(kind, tag) {
  const ids = { alice: `${kind}-alice-${tag}`, bob: `${kind}-bob-${tag}` };
  const users = {};
  for (const [name, id] of Object.entries(ids)) {
    if (kind === 'web') {
      const user = new WebClientReference(id, { token: id, databaseName: `bench-web-client-${id}` });
      await user.initialize();
      await upload(id, user.getPendingBundle());
      users[name] = user;
    } else {
      const keys = new KeyManager(id);
      await keys.initialize();
      const bundle = await keys.getPendingBundle();
      await upload(id, bundle);
      await keys.markBundleUploaded(bundle);
      const sessions = new SessionManager(id, keys, id);
      users[name] = {
        encryptMessage: (peer, text) => sessions.encryptMessage(peer, text),
        decryptMessage: (peer, wire) => sessions.decryptMessage(peer, wire),
      };
    }
  }
  const contender = {
    send: (from, to, text) => users[from].encryptMessage(ids[to], text),
    receive: (to, from, wire) => users[to].decryptMessage(ids[from], wire),
    // A burst: the drop-in is handed its messages at once (their writes may share IndexedDB
    // transactions); the web client sends one after the other, as it must (concurrent sends
    // race on the session it loads and saves around each, PROTOCOL §8).
    sendBurst:
      kind === 'web'
        ? async (from, to, texts) => {
            const wires = [];
            for (const text of texts) wires.push(await users[from].encryptMessage(ids[to], text));
            return wires;
          }
        : (from, to, texts) => Promise.all(texts.map((text) => users[from].encryptMessage(ids[to], text))),
  };
  const check = async (from, to) => {
    const text = `${from} to ${to}`;
    const got = await contender.receive(to, from, await contender.send(from, to, text));
    if (got !== text) throw new Error(`${kind}: ${from} to ${to} gave ${got}`);
  };
  await check('alice', 'bob');
  await check('bob', 'alice');
  return contender;
}

/** Milliseconds that `body()` takes. */
async function timed(body) {
  const start = performance.now();
  await body();
  return performance.now() - start;
}

/** Each phase of one round for one contender: µs per message. */
async function round(c, { messages, conversation }) {
  let wires = [];
  const encryptMs = await timed(async () => {
    wires = [];
    for (let i = 0; i < messages; i++) wires.push(await c.send('alice', 'bob', TEXT));
  });
  const decryptMs = await timed(async () => {
    for (const wire of wires) {
      if ((await c.receive('bob', 'alice', wire)) !== TEXT) throw new Error('decrypt: wrong text');
    }
  });
  // A conversation: bursts of BURST messages, one way then the other; each burst is sent,
  // then received one message after the other, in the order sent.
  const burst = Array.from({ length: BURST }, () => TEXT);
  const conversationMs = await timed(async () => {
    for (let b = 0; b < conversation / BURST; b++) {
      const [from, to] = b % 2 ? ['bob', 'alice'] : ['alice', 'bob'];
      const sent = await c.sendBurst(from, to, burst);
      for (const wire of sent) {
        if ((await c.receive(to, from, wire)) !== TEXT) throw new Error('conversation: wrong text');
      }
    }
  });
  // Answers: one message each way in turn, each the first of a new sending chain (the DH
  // step of the message before started it); only the sends are timed, each right after
  // its sender received.
  let answerMs = 0;
  for (let i = 0; i < ANSWERS; i++) {
    const [from, to] = i % 2 ? ['bob', 'alice'] : ['alice', 'bob'];
    let wire;
    answerMs += await timed(async () => {
      wire = await c.send(from, to, TEXT);
    });
    if ((await c.receive(to, from, wire)) !== TEXT) throw new Error('answers: wrong text');
  }
  return {
    encrypt: (encryptMs * 1000) / messages,
    answer: (answerMs * 1000) / ANSWERS,
    decrypt: (decryptMs * 1000) / messages,
    conversation: conversationMs,
  };
}

window.runBench = async ({ rounds, messages, conversation }) => {
  configure({ kdf: 'insecure-for-tests', importFrom: false });
  const tag = Date.now().toString(36);
  const contenders = { web: await pair('web', tag), dropIn: await pair('dropin', tag) };
  const samples = { web: [], dropIn: [] };
  // Round 0 warms up (JIT tiers, IndexedDB's first writes) and is not counted; the order of
  // the two alternates, so that neither always runs on a warmer or busier machine.
  for (let r = 0; r <= rounds; r++) {
    const order = r % 2 ? ['dropIn', 'web'] : ['web', 'dropIn'];
    const got = {};
    for (const name of order) got[name] = await round(contenders[name], { messages, conversation });
    if (r > 0) for (const name of order) samples[name].push(got[name]);
  }
  return samples;
};
window.benchReady = true;
