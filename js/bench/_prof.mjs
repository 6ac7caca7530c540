import { KeyManager, SessionManager } from '../src/index.js';
async function time(n, f) { for (let i=0;i<200;i++) await f(i); const t=performance.now(); for (let i=0;i<n;i++) await f(i); return (performance.now()-t)/n*1000; }
const alice = new KeyManager('alice', { storage: 'memory' }); const bob = new KeyManager('bob', { storage: 'memory' });
await alice.initialize(); await bob.initialize();
const bb = await bob.getPendingBundle();
const fb = { identityKey: bb.identityKey, signingKey: bb.signingKey, signedPrekey: bb.signedPrekey, oneTimePrekey: null };
const asm = new SessionManager('alice', alice, '', { fetchBundle: () => fb });
await asm.encryptMessage('bob','x');
console.log('getFingerprint', (await time(3000, () => alice.getFingerprint())).toFixed(1));
console.log('getIdentityMaterial', (await time(3000, () => alice.getIdentityMaterial())).toFixed(1));
console.log('encrypt', (await time(3000, () => asm.encryptMessage('bob', 'x'.repeat(100)))).toFixed(1));
console.log('getRandomValues', (await time(30000, () => crypto.getRandomValues(new Uint8Array(24)))).toFixed(2));
const p = Promise.resolve();
console.log('await', (await time(30000, () => p)).toFixed(2));
console.log('--- again');
console.log('getFingerprint', (await time(3000, () => alice.getFingerprint())).toFixed(1));
console.log('getIdentityMaterial', (await time(3000, () => alice.getIdentityMaterial())).toFixed(1));
console.log('encrypt', (await time(3000, () => asm.encryptMessage('bob', 'x'.repeat(100)))).toFixed(1));
console.log('getFingerprint', (await time(3000, () => alice.getFingerprint())).toFixed(1));
