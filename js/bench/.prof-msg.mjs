import { readFileSync } from 'node:fs';
const { loadSync } = await import('../src/load-crypto-node.js');
loadSync(readFileSync(process.env.QC_WASM));
const { KeyManager, SessionManager } = await import('../src/crypto.js');
const TEXT = 'x'.repeat(100);
const alice = new KeyManager('alice', { storage: 'memory', importFrom: false });
const bob = new KeyManager('bob', { storage: 'memory', importFrom: false });
await alice.initialize(); await bob.initialize();
const bundle = { ...(await bob.getPendingBundle()), oneTimePrekey: null };
const a = new SessionManager('alice', alice, '', { fetchBundle: () => bundle });
const b = new SessionManager('bob', bob, '', { fetchBundle: () => null });
await b.decryptMessage('alice', await a.encryptMessage('bob', 'hello'));
for (let r = 0; r < 8; r++) { const w = []; for (let i = 0; i < 4000; i++) w.push(await a.encryptMessage('bob', TEXT)); for (const x of w) await b.decryptMessage('alice', x); }
