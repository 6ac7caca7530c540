// Two builds of the drop-in's module against each other: per 100-byte message on one chain
// (encrypt, decrypt) and per X3DH with its first message (initiator, responder), through
// `SessionManager` with in-memory storage, as bench.mjs measures the drop-in; and per message
// of a conversation that changes direction every time (`turn`: encrypt and decrypt with a DH
// ratchet step). Each build runs
// in its own process (the module loads once per process), alternating, ROUNDS times; the
// machine's load then hits both alike, and CPU time (not wall time) is what is measured.
// For weighing a size change against its speed.
//
//   node bench/ab.mjs A.wasm B.wasm [rounds]
//
// Both .wasm must match the glue in pkg/ (the same exports: builds of the same code with
// other features or optimisation settings).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const [, script, a, b, roundsArg] = process.argv;

if (process.env.QC_AB_CHILD) {
  const { loadSync } = await import('../src/load-crypto-node.js');
  loadSync(readFileSync(process.env.QC_AB_CHILD));
  const { KeyManager, SessionManager } = await import('../src/crypto.js');
  const TEXT = 'x'.repeat(100);
  // CPU time of the process (user + system), not wall time: on a loaded machine the wall
  // time mostly measures the other processes.
  const cpu = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  const measure = async (n, body) => {
    const start = cpu();
    for (let i = 0; i < n; i++) await body(i);
    return (cpu() - start) / n;
  };
  const alice = new KeyManager('alice', { storage: 'memory', importFrom: false });
  const bob = new KeyManager('bob', { storage: 'memory', importFrom: false });
  await alice.initialize();
  await bob.initialize();
  const pending = await bob.getPendingBundle();
  const bundle = { ...pending, oneTimePrekey: null };
  const aliceSessions = new SessionManager('alice', alice, '', { fetchBundle: () => bundle });
  const bobSessions = new SessionManager('bob', bob, '', { fetchBundle: () => null });
  await bobSessions.decryptMessage('alice', await aliceSessions.encryptMessage('bob', 'hello'));
  const result = {};
  for (let pass = 0; pass < 2; pass++) {
    // Pass 0 warms up (JIT tiers), pass 1 is measured.
    const wires = [];
    const encrypt = await measure(6000, async () => wires.push(await aliceSessions.encryptMessage('bob', TEXT)));
    const decrypt = await measure(wires.length, (i) => bobSessions.decryptMessage('alice', wires[i]));
    const firsts = [];
    const tag = randomBytes(4).toString('hex');
    const initiate = await measure(100, async (i) => firsts.push(await aliceSessions.encryptMessage(`bob-${tag}-${i}`, TEXT)));
    const respond = await measure(firsts.length, (i) => bobSessions.decryptMessage(`alice-${tag}-${i}`, firsts[i]));
    // A conversation that changes direction with every message: each one takes a DH
    // ratchet step (a new ratchet key pair and two X25519) on both sides. Per message.
    const turns = await measure(100, async () => {
      await bobSessions.decryptMessage('alice', await aliceSessions.encryptMessage('bob', TEXT));
      await aliceSessions.decryptMessage('bob', await bobSessions.encryptMessage('alice', TEXT));
    });
    Object.assign(result, { encrypt, decrypt, initiate, respond, turn: turns / 2 });
  }
  console.log(JSON.stringify(result));
} else {
  if (!a || !b) {
    console.error('usage: node bench/ab.mjs A.wasm B.wasm [rounds]');
    process.exit(2);
  }
  const rounds = Number(roundsArg ?? 5);
  const samples = { [a]: [], [b]: [] };
  for (let round = 0; round < rounds; round++) {
    for (const file of [a, b]) {
      const child = spawnSync(process.execPath, [script], { env: { ...process.env, QC_AB_CHILD: file }, encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`${file}: ${child.stderr}`);
      samples[file].push(JSON.parse(child.stdout));
    }
  }
  const median = (values) => [...values].sort((x, y) => x - y)[values.length >> 1];
  console.log(`medians of ${rounds} alternating runs, CPU µs per operation`);
  for (const key of ['encrypt', 'decrypt', 'initiate', 'respond', 'turn']) {
    const ma = median(samples[a].map((s) => s[key]));
    const mb = median(samples[b].map((s) => s[key]));
    console.log(`${key.padEnd(9)} A ${ma.toFixed(1).padStart(8)}  B ${mb.toFixed(1).padStart(8)}  B/A ${(mb / ma).toFixed(3)}`);
  }
}
