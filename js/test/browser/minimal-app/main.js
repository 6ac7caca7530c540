// The smallest app on the package: no vite.config, both entry points. test/browser/vite.mjs
// serves it with Vite's dev server and with `vite build` + `vite preview`, and reads
// `window.quickchatResult`: what each entry point computed once its module loaded.
import { KeyManager, SessionManager, configure } from 'quickchat/crypto';
import { init, Identity, isQuickChatError } from 'quickchat';

async function dropIn() {
  configure({ storage: 'memory', importFrom: false });
  const alice = new KeyManager('alice');
  const bob = new KeyManager('bob');
  await alice.initialize();
  await bob.initialize();
  const pending = await bob.getPendingBundle();
  const bundle = { ...pending, oneTimePrekey: null };
  const toBob = new SessionManager('alice', alice, '', { fetchBundle: async () => bundle });
  const fromAlice = new SessionManager('bob', bob, '', { fetchBundle: async () => null });
  const wire = await toBob.encryptMessage('bob', 'hello through Vite');
  return {
    fingerprint: await alice.getFingerprint(),
    encrypted: typeof wire.ciphertext === 'string' && wire.x3dh !== undefined,
    decrypted: await fromAlice.decryptMessage('alice', wire),
  };
}

async function full() {
  await init();
  return { fingerprint: Identity.generate().fingerprint };
}

// `?wasm=<url>`: only load the whole SDK's module from there (a location that does not
// serve WebAssembly, to see the error).
const wasm = new URLSearchParams(location.search).get('wasm');
const run = wasm ? init({ wasm }).then(() => ({ loaded: true })) : Promise.all([dropIn(), full()]);
window.quickchatResult = run.then(
  (result) => (wasm ? result : { crypto: result[0], whole: result[1] }),
  (error) => ({ error: String(error?.message ?? error), code: isQuickChatError(error) ? error.code : null }),
);
