// Speed and size of the package against the baseline (the web client's algorithm in plain
// JavaScript with tweetnacl and WebCrypto, bench/reference-ratchet.mjs), in one Node
// process. Timings are only ever compared as ratios within this run.
//
//   node bench/bench.mjs [--json] [--quick]
//
// Measures, per 100-byte message on one chain: encrypt, decrypt; and a full X3DH with the
// first message (initiator: bundle check, X3DH, ratchet start, encrypt; responder: X3DH,
// ratchet start, decrypt). The package is measured through its low-level `Ratchet` (the
// engine without storage) and through the drop-in `SessionManager` (with in-memory storage).
// Also: the size of both .wasm modules (raw and gzipped) and their initialisation time.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import nacl from 'tweetnacl';
import {
  identityFromSeed,
  x3dhInitiate,
  x3dhRespond,
  ReferenceRatchet,
  b64,
  unb64,
} from './reference-ratchet.mjs';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
// The package's two modules: the full one (`quickchat`) and the drop-in's (`quickchat/crypto`).
const modules = {
  quickchat_wasm: new URL('../pkg/quickchat_wasm_bg.wasm', import.meta.url),
  quickchat_crypto: new URL('../pkg/quickchat_crypto_bg.wasm', import.meta.url),
};

// ------------------------------------------------------------------ initialisation
// First thing in the process: load and instantiate the module (compile included).
const initStart = performance.now();
const { loadSync } = await import('../src/load-node.js');
const wasm = loadSync();
const initMs = performance.now() - initStart;
// The drop-in's module (crypto.js loads it on first use): loaded here, timed alike.
const cryptoInitStart = performance.now();
(await import('../src/load-crypto-node.js')).loadSync();
const cryptoInitMs = performance.now() - cryptoInitStart;

const { KeyManager, SessionManager } = await import('../src/crypto.js');

const random = (n) => new Uint8Array(randomBytes(n));
const TEXT = 'x'.repeat(100);
const MESSAGES = quick ? 2000 : 20000;
const X3DH_ROUNDS = quick ? 60 : 400;

/** Mean µs per call of `body(i)` over `n` calls, after `warm` calls. */
async function measure(n, warm, body) {
  for (let i = 0; i < warm; i++) await body(i);
  const start = performance.now();
  for (let i = 0; i < n; i++) await body(warm + i);
  return ((performance.now() - start) * 1000) / n;
}

// ------------------------------------------------------------------ baseline
const baseline = {};
{
  const alice = identityFromSeed(random(32));
  const bob = identityFromSeed(random(32));
  const spk = random(32);
  const spkPublic = nacl.scalarMult.base(spk);
  const bundle = {
    identityKey: b64(bob.dhPublic),
    signingKey: b64(bob.signing.publicKey),
    signedPrekey: { keyId: 1, publicKey: b64(spkPublic), signature: b64(nacl.sign.detached(spkPublic, bob.signing.secretKey)) },
    oneTimePrekey: null,
  };
  const started = await x3dhInitiate(alice, bundle, random);
  const sender = await ReferenceRatchet.initiator(started.sharedSecret, random);
  const first = await sender.encrypt('hello', started.x3dh);
  const receiver = await ReferenceRatchet.responder(
    await x3dhRespond(bob, spk, first.x3dh),
    unb64(first.header.ratchetKey),
    random,
  );
  await receiver.decrypt(first);
  // The wire string is what travels: encrypt includes JSON.stringify, decrypt JSON.parse.
  const wires = [];
  baseline.encrypt = await measure(MESSAGES, MESSAGES / 4, async () => {
    wires.push(JSON.stringify(await sender.encrypt(TEXT)));
  });
  let k = 0;
  baseline.decrypt = await measure(MESSAGES, MESSAGES / 4, async () => {
    await receiver.decrypt(JSON.parse(wires[k++]));
  });
  const firsts = [];
  baseline.x3dhInitiator = await measure(X3DH_ROUNDS, X3DH_ROUNDS / 4, async () => {
    const s = await x3dhInitiate(alice, bundle, random);
    const r = await ReferenceRatchet.initiator(s.sharedSecret, random);
    firsts.push(JSON.stringify(await r.encrypt(TEXT, s.x3dh)));
  });
  k = 0;
  baseline.x3dhResponder = await measure(X3DH_ROUNDS, X3DH_ROUNDS / 4, async () => {
    const message = JSON.parse(firsts[k++]);
    const secret = await x3dhRespond(bob, spk, message.x3dh);
    const r = await ReferenceRatchet.responder(secret, unb64(message.header.ratchetKey), random);
    await r.decrypt(message);
  });
}

// ------------------------------------------------------------------ the package: Ratchet
const engine = {};
{
  // Identities derived once, as the baseline's are.
  const aliceSeed = wasm.Identity.fromSeed(random(32));
  const bobSeed = wasm.Identity.fromSeed(random(32));
  const spk = random(32);
  const bundle = wasm.prekeyBundle(bobSeed, 1, spk);
  const options = { oneTimePrekeys: 'never' };
  const sender = wasm.Ratchet.initiate(aliceSeed, bundle, options);
  const first = sender.encrypt('hello');
  const receiver = wasm.Ratchet.respond(bobSeed, spk, undefined, first, options);
  receiver.decrypt(first);
  const wires = [];
  engine.encrypt = await measure(MESSAGES, MESSAGES / 4, () => {
    wires.push(sender.encrypt(TEXT));
  });
  let k = 0;
  engine.decrypt = await measure(MESSAGES, MESSAGES / 4, () => {
    receiver.decrypt(wires[k++]);
  });
  const firsts = [];
  engine.x3dhInitiator = await measure(X3DH_ROUNDS, X3DH_ROUNDS / 4, () => {
    const r = wasm.Ratchet.initiate(aliceSeed, bundle, options);
    firsts.push(r.encrypt(TEXT));
    r.free();
  });
  k = 0;
  engine.x3dhResponder = await measure(X3DH_ROUNDS, X3DH_ROUNDS / 4, () => {
    const wire = firsts[k++];
    const r = wasm.Ratchet.respond(bobSeed, spk, undefined, wire, options);
    r.decrypt(wire);
    r.free();
  });
}

// ------------------------------------------------------------------ the package: drop-in
const dropIn = {};
{
  const alice = new KeyManager('alice', { storage: 'memory', importFrom: false });
  const bob = new KeyManager('bob', { storage: 'memory', importFrom: false });
  await alice.initialize();
  await bob.initialize();
  const pending = await bob.getPendingBundle();
  const bundle = {
    identityKey: pending.identityKey,
    signingKey: pending.signingKey,
    signedPrekey: pending.signedPrekey,
    oneTimePrekey: null,
  };
  const aliceSessions = new SessionManager('alice', alice, '', { fetchBundle: () => bundle });
  const bobSessions = new SessionManager('bob', bob, '', { fetchBundle: () => null });
  await bobSessions.decryptMessage('alice', await aliceSessions.encryptMessage('bob', 'hello'));
  const wires = [];
  dropIn.encrypt = await measure(MESSAGES, MESSAGES / 4, async () => {
    wires.push(await aliceSessions.encryptMessage('bob', TEXT));
  });
  let k = 0;
  dropIn.decrypt = await measure(MESSAGES, MESSAGES / 4, async () => {
    await bobSessions.decryptMessage('alice', wires[k++]);
  });
  // A new peer each round: a session from the bundle, then the first message.
  const firsts = [];
  dropIn.x3dhInitiator = await measure(X3DH_ROUNDS, X3DH_ROUNDS / 4, async (i) => {
    firsts.push(await aliceSessions.encryptMessage(`bob-${i}`, TEXT));
  });
  // Bob answers first messages from as many "peers" (the same keys under new ids).
  k = 0;
  dropIn.x3dhResponder = await measure(X3DH_ROUNDS, X3DH_ROUNDS / 4, async (i) => {
    await bobSessions.decryptMessage(`alice-${i}`, firsts[k++]);
  });
}

// ------------------------------------------------------------------ report
const sizes = Object.fromEntries(
  Object.entries(modules).map(([name, url]) => {
    const bytes = readFileSync(url);
    return [name, { bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length }];
  }),
);
const rows = [
  ['encrypt, 100 B, same chain', 'encrypt'],
  ['decrypt, 100 B, same chain', 'decrypt'],
  ['X3DH + first message, initiator', 'x3dhInitiator'],
  ['X3DH + first message, responder', 'x3dhResponder'],
];
const result = {
  initMs,
  cryptoInitMs,
  wasmBytes: sizes.quickchat_wasm.bytes,
  wasmGzipBytes: sizes.quickchat_wasm.gzipBytes,
  sizes,
  rows: rows.map(([label, key]) => ({
    label,
    baselineUs: baseline[key],
    ratchetUs: engine[key],
    dropInUs: dropIn[key],
    ratchetSpeedup: baseline[key] / engine[key],
    dropInSpeedup: baseline[key] / dropIn[key],
  })),
};
if (args.has('--json')) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const f = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);
  console.log('| operation | baseline (JS) | `Ratchet` | × | drop-in `SessionManager` | × |');
  console.log('|---|---|---|---|---|---|');
  for (const r of result.rows) {
    console.log(
      `| ${r.label} | ${f(r.baselineUs)} | ${f(r.ratchetUs)} | ${r.ratchetSpeedup.toFixed(1)} | ${f(r.dropInUs)} | ${r.dropInSpeedup.toFixed(1)} |`,
    );
  }
  console.log();
  for (const [name, { bytes, gzipBytes }] of Object.entries(sizes)) {
    console.log(`${name}_bg.wasm: ${bytes} bytes, ${gzipBytes} gzipped (${(gzipBytes / 1024).toFixed(1)} KiB)`);
  }
  console.log(
    `module initialisation in Node (read, compile, instantiate): ${initMs.toFixed(1)} ms (quickchat), ${cryptoInitMs.toFixed(1)} ms (quickchat/crypto)`,
  );
}
