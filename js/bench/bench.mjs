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
// Each measurement runs in ROUNDS rounds that interleave the baseline and the package, so a
// change of the machine's load during the run hits both; the table gives per-round medians
// (time, and the ratio of the same round's baseline to the package's time).
const ROUNDS = quick ? 3 : 7;
const MESSAGES = quick ? 1000 : 4000;
const X3DH_ROUNDS = quick ? 40 : 100;

/** Mean µs per call of `body(i)` over `n` calls. */
async function measure(n, body) {
  const start = performance.now();
  for (let i = 0; i < n; i++) await body(i);
  return ((performance.now() - start) * 1000) / n;
}

// ------------------------------------------------------------------ the three contenders
// Each is set up once: identities, one session on one chain, and a source of first messages.
// `encrypt(n)` sends n messages on the chain, `decrypt()` opens the ones last sent; `initiate(n)`
// makes n sessions from the peer's bundle with their first messages, `respond()` accepts them.

async function baselineContender() {
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
  let wires = [];
  let firsts = [];
  // The wire string is what travels: encrypt includes JSON.stringify, decrypt JSON.parse.
  return {
    encrypt: (n) => {
      wires = [];
      return measure(n, async () => wires.push(JSON.stringify(await sender.encrypt(TEXT))));
    },
    decrypt: () => measure(wires.length, async (i) => receiver.decrypt(JSON.parse(wires[i]))),
    initiate: (n) => {
      firsts = [];
      return measure(n, async () => {
        const s = await x3dhInitiate(alice, bundle, random);
        const r = await ReferenceRatchet.initiator(s.sharedSecret, random);
        firsts.push(JSON.stringify(await r.encrypt(TEXT, s.x3dh)));
      });
    },
    respond: () =>
      measure(firsts.length, async (i) => {
        const message = JSON.parse(firsts[i]);
        const secret = await x3dhRespond(bob, spk, message.x3dh);
        const r = await ReferenceRatchet.responder(secret, unb64(message.header.ratchetKey), random);
        await r.decrypt(message);
      }),
  };
}

function ratchetContender() {
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
  let wires = [];
  let firsts = [];
  return {
    encrypt: (n) => {
      wires = [];
      return measure(n, () => wires.push(sender.encrypt(TEXT)));
    },
    decrypt: () => measure(wires.length, (i) => receiver.decrypt(wires[i])),
    initiate: (n) => {
      firsts = [];
      return measure(n, () => {
        const r = wasm.Ratchet.initiate(aliceSeed, bundle, options);
        firsts.push(r.encrypt(TEXT));
        r.free();
      });
    },
    respond: () =>
      measure(firsts.length, (i) => {
        const r = wasm.Ratchet.respond(bobSeed, spk, undefined, firsts[i], options);
        r.decrypt(firsts[i]);
        r.free();
      }),
  };
}

async function dropInContender() {
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
  let wires = [];
  let firsts = [];
  let peers = 0;
  return {
    encrypt: (n) => {
      wires = [];
      return measure(n, async () => wires.push(await aliceSessions.encryptMessage('bob', TEXT)));
    },
    decrypt: () => measure(wires.length, (i) => bobSessions.decryptMessage('alice', wires[i])),
    // A new peer each time: a session from the bundle, then the first message; Bob answers
    // first messages from as many "peers" (the same keys under new ids).
    initiate: (n) => {
      firsts = [];
      const base = peers;
      peers += n;
      return measure(n, async (i) => firsts.push(await aliceSessions.encryptMessage(`bob-${base + i}`, TEXT)));
    },
    respond: () => {
      const base = peers - firsts.length;
      return measure(firsts.length, (i) => bobSessions.decryptMessage(`alice-${base + i}`, firsts[i]));
    },
  };
}

const contenders = {
  baseline: await baselineContender(),
  ratchet: ratchetContender(),
  dropIn: await dropInContender(),
};
const samples = {};
for (const name of Object.keys(contenders)) {
  samples[name] = { encrypt: [], decrypt: [], x3dhInitiator: [], x3dhResponder: [] };
}
// One warm-up round (JIT tiers, caches), not counted; then the measured rounds.
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, c] of Object.entries(contenders)) {
    const encrypt = await c.encrypt(MESSAGES);
    const decrypt = await c.decrypt();
    const x3dhInitiator = await c.initiate(X3DH_ROUNDS);
    const x3dhResponder = await c.respond();
    if (round === 0) continue;
    const s = samples[name];
    s.encrypt.push(encrypt);
    s.decrypt.push(decrypt);
    s.x3dhInitiator.push(x3dhInitiator);
    s.x3dhResponder.push(x3dhResponder);
  }
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
/** Median over rounds of the baseline's time divided by the contender's, round by round. */
const speedup = (name, key) => median(samples.baseline[key].map((b, i) => b / samples[name][key][i]));
const range = (name, key) => {
  const ratios = samples.baseline[key].map((b, i) => b / samples[name][key][i]);
  return [Math.min(...ratios), Math.max(...ratios)];
};

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
  rounds: ROUNDS,
  rows: rows.map(([label, key]) => ({
    label,
    baselineUs: median(samples.baseline[key]),
    ratchetUs: median(samples.ratchet[key]),
    dropInUs: median(samples.dropIn[key]),
    ratchetSpeedup: speedup('ratchet', key),
    dropInSpeedup: speedup('dropIn', key),
    ratchetSpeedupRange: range('ratchet', key),
    dropInSpeedupRange: range('dropIn', key),
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
  console.log(`medians of ${ROUNDS} interleaved rounds; × is the median of the rounds' ratios; range over rounds:`);
  for (const r of result.rows) {
    const [a, b] = r.ratchetSpeedupRange;
    const [c, d] = r.dropInSpeedupRange;
    console.log(`  ${r.label}: Ratchet ${a.toFixed(1)}–${b.toFixed(1)}×, drop-in ${c.toFixed(1)}–${d.toFixed(1)}×`);
  }
  console.log();
  for (const [name, { bytes, gzipBytes }] of Object.entries(sizes)) {
    console.log(`${name}_bg.wasm: ${bytes} bytes, ${gzipBytes} gzipped (${(gzipBytes / 1024).toFixed(1)} KiB)`);
  }
  console.log(
    `module initialisation in Node (read, compile, instantiate): ${initMs.toFixed(1)} ms (quickchat), ${cryptoInitMs.toFixed(1)} ms (quickchat/crypto)`,
  );
}
