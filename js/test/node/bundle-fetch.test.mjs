// A SessionManager given no `fetchBundle` fetches bundles from `<server>/api/users/{id}/
// prekeys` through the package's own fetch (src/bundle-fetch.js), with the global `fetch`
// as the page has it: here replaced by mocks that answer every way a server, a network or a
// test's mock can. Each answer must give the engine a bundle or the QuickChatError the SDK
// documents, and the next call must work as before.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { KeyManager, SessionManager } from 'quickchat/crypto';

const SERVER = 'http://bundles.test';
const realFetch = globalThis.fetch;
let calls = [];

afterEach(() => {
  globalThis.fetch = realFetch;
});

/** `fetch` answering each call with `answer(url, init)`; `calls` from then on. */
function mockFetch(answer) {
  calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push({ url, init });
    return answer(url, init);
  };
}

async function newUser(userId) {
  const keys = new KeyManager(userId, { storage: 'memory', importFrom: false });
  await keys.initialize();
  return keys;
}

/** The bundle the server would hand out for `keys`, as its prekeys endpoint returns it. */
async function served(keys) {
  const pending = await keys.getPendingBundle();
  return {
    identityKey: pending.identityKey,
    signingKey: pending.signingKey,
    fingerprint: pending.fingerprint,
    signedPrekey: { ...pending.signedPrekey, createdAt: 1 },
    oneTimePrekey: pending.oneTimePrekeys[0],
    somethingNew: 'ignored',
  };
}

test('a plain-object answer and a real Response both give a session; the JWT and the encoded id go out', async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const bundle = await served(bob);
  const sessions = new SessionManager('alice', alice, 'jwt-1', { server: `${SERVER}/` });

  mockFetch(() => ({ ok: true, json: async () => bundle }));
  const wire = await sessions.encryptMessage('bob', 'hello');
  assert.ok(wire.x3dh, 'the first message carries the X3DH block');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, `${SERVER}/api/users/bob/prekeys`);
  assert.equal(calls[0].init.method, 'GET');
  assert.equal(calls[0].init.headers.Authorization, 'Bearer jwt-1');

  // A peer id with characters encodeURIComponent leaves alone is encoded as the other
  // clients encode a path segment; a new token is used from the next fetch on.
  sessions.setToken('jwt-2');
  mockFetch(() => new Response(JSON.stringify(bundle), { status: 200 }));
  await sessions.ensureSession("o'neil (x)*!");
  assert.equal(calls[0].url, `${SERVER}/api/users/o%27neil%20%28x%29%2A%21/prekeys`);
  assert.equal(calls[0].init.headers.Authorization, 'Bearer jwt-2');
});

test('every failed fetch is a QuickChatError with its code, and the next call still works', async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const bundle = await served(bob);
  const sessions = new SessionManager('alice', alice, 'jwt', { server: SERVER });
  const fails = async (answer, code, pattern) => {
    mockFetch(answer);
    await assert.rejects(sessions.encryptMessage('bob', 'hi'), (e) => {
      assert.equal(e.name, 'QuickChatError');
      assert.equal(e.code, code);
      assert.match(e.message, pattern);
      return true;
    });
  };

  await fails(() => new Response('{"error":"User not found"}', { status: 404 }), 'peer_has_no_keys', /^bob has no prekey bundle on the server/);
  await fails(() => ({ ok: false, status: 500, text: async () => '{"error":"boom"}' }), 'http_500', /^GET \/api\/users\/\{id\}\/prekeys failed with 500: boom$/);
  await fails(() => ({ ok: false, text: async () => 'plain text' }), 'http_500', /failed with 500: plain text$/);
  await fails(() => new Response('<html>', { status: 200 }), 'bad_answer', /^GET \/api\/users\/\{id\}\/prekeys: unexpected answer/);
  await fails(() => ({ ok: true, json: async () => ({ ...bundle, identityKey: 7 }) }), 'bad_answer', /identityKey must be a string/);
  await fails(() => ({ ok: true, json: async () => ({ ...bundle, signedPrekey: { ...bundle.signedPrekey, keyId: -1 } }) }), 'bad_answer', /keyId must be a prekey id/);
  await fails(() => ({ ok: true, json: async () => null }), 'bad_answer', /fetchBundle returned nothing|unexpected answer/);
  await fails(() => {
    throw new Error('Network error');
  }, 'network', /^Network error while establishing encrypted session with bob: cannot reach the server: Network error$/);
  await fails(() => 42, 'network', /not a response \(no status or ok\)/);
  await fails(() => ({ ok: true, text: async () => { throw new Error('reset'); } }), 'network', /connection failed: reset/);

  // An endless body is cut at the limit: the reader is cancelled, nothing more is read.
  let cancelled = false;
  let pulled = 0;
  const endless = new ReadableStream({
    pull(controller) {
      pulled += 1;
      controller.enqueue(new Uint8Array(64 * 1024));
    },
    cancel() {
      cancelled = true;
    },
  });
  await fails(() => new Response(endless, { status: 200 }), 'network', /larger than its 1048576-byte limit/);
  assert.ok(cancelled, 'the body was cancelled');
  assert.ok(pulled <= 20, `read ${pulled} chunks of 64 KiB for a 1 MiB limit`);
  await fails(() => new Response('{}', { status: 200, headers: { 'content-length': String(2 << 20) } }), 'network', /larger than its/);

  // None of that left a session or stopped the module.
  assert.deepEqual(await sessions.listSessions(), []);
  mockFetch(() => ({ ok: true, json: async () => bundle }));
  const bobSessions = new SessionManager('bob', bob, 'jwt', { fetchBundle: async () => served(alice) });
  assert.equal(await bobSessions.decryptMessage('alice', await sessions.encryptMessage('bob', 'after all that')), 'after all that');
});

test('the application\'s fetchBundle is used instead of the server, and the server option is checked', async () => {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  mockFetch(() => {
    throw new Error('the server must not be asked');
  });
  const sessions = new SessionManager('alice', alice, 'jwt', { server: SERVER, fetchBundle: async () => served(bob) });
  await sessions.ensureSession('bob');
  assert.equal(calls.length, 0);

  // In Node there is no page origin to default to; a server that is not http(s) is refused.
  await assert.rejects(new SessionManager('alice', alice, 'jwt').ensureSession('bob'), { code: 'unsupported' });
  await assert.rejects(new SessionManager('alice', alice, 'jwt', { server: 'ftp://x' }).ensureSession('bob'), {
    code: 'invalid_argument',
    message: /must start with http:\/\/ or https:\/\//,
  });
  await assert.rejects(new SessionManager('alice', alice, 'jwt', { server: 5 }).ensureSession('bob'), {
    code: 'invalid_argument',
    message: /server must be a string/,
  });
});
