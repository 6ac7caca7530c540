// Browser tests of the npm package: `npm pack`, install the tarball into a fresh app,
// build the app with Vite, serve it, and drive it in headless Chromium (playwright-core with
// the system's Chromium): the drop-in's IndexedDB store (persistence across reloads, wrong
// passphrase), its import of the web client's database, and two full clients chatting
// through the test server over real WebSockets. Also checks the installed tarball in Node.
//
//   node test/browser/run.mjs          (QC_TEST_SERVER: a running server, else one is started)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { installPackedApp } from './packed-app.mjs';
import { checks, serveDirectory } from './harness.mjs';
import { build } from 'vite';
import { startServer } from '../server.mjs';
import { vectorFiles } from '../vectors.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** `promise`, or a failure when it is still pending after a minute (a generous bound against hangs). */
async function withinMinute(promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after 60 s`)), 60_000);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Registers a user on the test server: `{ id, token }`. */
async function register(server, username) {
  const response = await fetch(`${server}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'secret123' }),
  });
  assert.equal(response.status, 201, `register ${username}`);
  const user = await response.json();
  return { id: user.id, token: user.token };
}

async function openPage(context, origin) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(origin);
  await page.waitForFunction(() => window.quickchatReady === true, null, { timeout: 20_000 });
  const run = (name, args) => page.evaluate(([n, a]) => window.quickchatTests[n](a), [name, args]);
  return { page, run, errors };
}

// Alice in two tabs (A, B: pages of one browser context, so one origin's IndexedDB, locks
// and channels) and Bob in a page of another context, bundles from the test server. Both of
// Alice's tabs encrypt to Bob and decrypt from him, one after the other and at once; Bob sees
// one identity and one session for Alice throughout. Then tab A, the leader, closes while
// tab B has calls in flight and Bob has sent messages it has not decrypted: B takes over,
// and every message arrives. Before the tabs shared an engine, B's initialize() failed with
// `store_in_use`.
async function tabsOfOneUser(browser, context, origin, server) {
  const stamp = Date.now();
  const alice = await register(server, `tabs${stamp}_alice`);
  const bob = await register(server, `tabs${stamp}_bob`);
  const carol = await register(server, `tabs${stamp}_carol`);
  const bobContext = await browser.newContext();
  try {
    const a = await openPage(context, origin);
    const b = await openPage(context, origin);
    const p = await openPage(bobContext, origin);
    const aliceOpts = { server, userId: alice.id, token: alice.token, passphrase: 'alice tabs' };
    const openedA = await a.run('tabOpen', aliceOpts);
    const openedB = await b.run('tabOpen', aliceOpts);
    assert.equal(openedA.origin, 'created');
    assert.equal(openedB.origin, 'existing', 'the second tab uses the keys the first made');
    assert.equal(openedB.fingerprint, openedA.fingerprint);
    await p.run('tabOpen', { server, userId: bob.id, token: bob.token, passphrase: 'bob tabs' });

    const send = async (tab, texts) => tab.run('tabEncrypt', { peerId: bob.id, texts });
    const bobReads = (wires) => p.run('tabDecrypt', { peerId: alice.id, wires });
    const bobSends = (texts) => p.run('tabEncrypt', { peerId: alice.id, texts });
    const aliceReads = (tab, wires) => tab.run('tabDecrypt', { peerId: bob.id, wires });

    // Turns: A starts the session, B goes on in it, then both again.
    const turns = [
      ...(await send(a, ['a1'])),
      ...(await send(b, ['b1', 'b2'])),
      ...(await send(a, ['a2'])),
      ...(await send(b, ['b3'])),
    ];
    assert.deepEqual(await bobReads(turns), ['a1', 'b1', 'b2', 'a2', 'b3']);
    // Bob answers; each of Alice's tabs decrypts some, in Bob's order.
    const answers = await bobSends(['p1', 'p2', 'p3', 'p4']);
    assert.deepEqual(await aliceReads(a, answers.slice(0, 1)), ['p1']);
    assert.deepEqual(await aliceReads(b, answers.slice(1, 3)), ['p2', 'p3']);
    assert.deepEqual(await aliceReads(a, answers.slice(3)), ['p4']);
    // Both tabs at once, ten calls each: one chain, no message key used twice.
    const texts = (tag) => Array.from({ length: 10 }, (_, i) => `${tag}${i}`);
    const [fromA, fromB] = await Promise.all([
      a.run('tabEncryptAll', { peerId: bob.id, texts: texts('ca') }),
      b.run('tabEncryptAll', { peerId: bob.id, texts: texts('cb') }),
    ]);
    const keysOf = (wires) => wires.map((w) => JSON.parse(w).header.messageNumber);
    assert.equal(new Set([...keysOf(fromA), ...keysOf(fromB)]).size, 20, 'every message has its own number');
    assert.deepEqual(await bobReads([...fromA, ...fromB]), [...texts('ca'), ...texts('cb')]);

    // A SessionManager of tab B with its own fetchBundle: the leader (A) asks B for Carol's
    // bundle; Carol reads the first message.
    const q = await openPage(bobContext, origin);
    await q.run('tabOpen', { server, userId: carol.id, token: carol.token, passphrase: 'carol tabs' });
    await b.run('tabFetchBundleManager', { server, token: alice.token });
    const viaFetch = await b.run('tabEncryptViaFetch', { peerId: carol.id, text: 'to carol' });
    assert.deepEqual(viaFetch.fetched, [carol.id], "the follower's fetchBundle was called once");
    assert.deepEqual(await q.run('tabDecrypt', { peerId: alice.id, wires: [viaFetch.wire] }), ['to carol']);

    // A tab with another passphrase is refused, as it would be alone.
    const d = await openPage(context, origin);
    const wrong = await d.run('tabOpenError', { ...aliceOpts, passphrase: 'not alice' });
    assert.equal(wrong?.code, 'wrong_passphrase');
    await d.page.close();

    // What a call through the leader costs (printed, not asserted: the machine is shared).
    const count = 200;
    const inLeader = await a.run('tabEncryptTiming', { peerId: bob.id, count });
    const inFollower = await b.run('tabEncryptTiming', { peerId: bob.id, count });
    console.log(`# encryptMessage: ${inLeader.toFixed(3)} ms in the leader tab, ${inFollower.toFixed(3)} ms in a follower (${count} calls in turn)`);

    // Bob sends while Alice's leader tab is about to close; B has encryptions in flight.
    const whileClosing = await bobSends(['q1', 'q2', 'q3']);
    await b.run('tabStartEncrypt', { peerId: bob.id, texts: texts('inflight') });
    await a.page.close();
    const settled = await withinMinute(b.run('tabSettle'), 'the calls in flight during the handover');
    assert.deepEqual(
      settled.filter((s) => s.error),
      [],
      'calls in flight during the handover are answered',
    );
    assert.deepEqual(await bobReads(settled.map((s) => s.wire)), texts('inflight'));
    assert.deepEqual(await aliceReads(b, whileClosing), ['q1', 'q2', 'q3'], 'what Bob sent meanwhile is not lost');
    // B leads now: both directions go on, and a new tab follows it.
    assert.deepEqual(await bobReads(await send(b, ['after'])), ['after']);
    assert.deepEqual(await aliceReads(b, await bobSends(['p5'])), ['p5']);
    const c = await openPage(context, origin);
    assert.equal((await c.run('tabOpen', aliceOpts)).fingerprint, openedA.fingerprint);
    assert.deepEqual(await bobReads(await send(c, ['from c'])), ['from c']);
    assert.deepEqual(await aliceReads(c, await bobSends(['p6'])), ['p6']);

    // One identity each way, one session each side, no identity change reported.
    const bobState = await p.run('tabState');
    assert.deepEqual(bobState.sessions, [{ peerId: alice.id, remoteFingerprint: openedA.fingerprint }]);
    assert.equal(bobState.identityChanges, 0);
    for (const tab of [b, c]) {
      const state = await tab.run('tabState');
      const carolState = await q.run('tabState');
      assert.deepEqual(
        state.sessions.sort((x, y) => (x.peerId === bob.id ? -1 : y.peerId === bob.id ? 1 : 0)),
        [
          { peerId: bob.id, remoteFingerprint: bobState.fingerprint },
          { peerId: carol.id, remoteFingerprint: carolState.fingerprint },
        ],
      );
      assert.equal(state.identityChanges, 0);
      assert.equal(state.fingerprint, openedA.fingerprint);
    }

    // Bob resets his keys: the tab whose call met it (C, a follower) is told.
    const bobNew = await p.run('tabReset', { server, token: bob.token });
    assert.deepEqual(await aliceReads(c, await bobSends(['after reset'])), ['after reset']);
    assert.deepEqual(await c.run('tabIdentityChanges'), [{ peerId: bob.id, newFingerprint: bobNew }]);
    assert.deepEqual(await b.run('tabIdentityChanges'), []);

    assert.deepEqual([...a.errors, ...b.errors, ...c.errors, ...p.errors, ...q.errors, ...d.errors], []);
    await b.page.close();
    await c.page.close();
  } finally {
    await bobContext.close();
  }
}

// A leader tab that stops answering (hung, or frozen as browsers do with background tabs) holds
// the lock: the other tab's calls fail with `tabs_unavailable` (after 20 s) instead of
// waiting forever, and work again once the leader runs.
async function frozenLeader(context, origin, server) {
  const alice = await register(server, `frozen${Date.now()}_alice`);
  const options = { server, userId: alice.id, token: alice.token, passphrase: 'frozen' };
  const a = await openPage(context, origin);
  const b = await openPage(context, origin);
  try {
    assert.equal(await a.run('tabOpenError', options), null);
    // The leader's JavaScript stops (paused in the debugger at its next task): it holds its
    // locks but answers nothing.
    const cdp = await context.newCDPSession(a.page);
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');
    const outcome = await withinMinute(b.run('tabOpenError', options), 'the call to a hung leader');
    assert.equal(outcome?.code, 'tabs_unavailable');
    await cdp.send('Debugger.resume');
    assert.equal(await b.run('tabOpenError', options), null);
  } finally {
    await a.page.close();
    await b.page.close();
  }
}

// The next tab in line for the lead has another passphrase: its store does not open, it
// lets go, and the tab after it leads; calls in flight meanwhile are answered by that one.
async function wrongTabInLine(context, origin, server) {
  const alice = await register(server, `inline${Date.now()}_alice`);
  const bob = await register(server, `inline${Date.now()}_bob`);
  const options = { server, userId: alice.id, token: alice.token, passphrase: 'right' };
  const a = await openPage(context, origin);
  const d = await openPage(context, origin);
  const b = await openPage(context, origin);
  const p = await openPage(context, origin);
  try {
    assert.equal(await a.run('tabOpenError', options), null);
    // D queues for the lead before B.
    assert.equal((await d.run('tabOpenError', { ...options, passphrase: 'wrong' }))?.code, 'wrong_passphrase');
    assert.equal(await b.run('tabOpenError', options), null);
    assert.equal(await p.run('tabOpenError', { server, userId: bob.id, token: bob.token, passphrase: 'bob' }), null);
    const texts = Array.from({ length: 5 }, (_, i) => `m${i}`);
    await b.run('tabStartEncrypt', { peerId: bob.id, texts });
    await a.page.close();
    const settled = await withinMinute(b.run('tabSettle'), 'the calls in flight while the wrong tab tried to lead');
    assert.deepEqual(settled.filter((s) => s.error), []);
    assert.deepEqual(await p.run('tabDecrypt', { peerId: alice.id, wires: settled.map((s) => s.wire) }), texts);
    // B leads; D is still refused.
    const back = await p.run('tabEncrypt', { peerId: alice.id, texts: ['back'] });
    assert.deepEqual(await b.run('tabDecrypt', { peerId: bob.id, wires: back }), ['back']);
    assert.equal((await d.run('tabOpenError', { ...options, passphrase: 'wrong' }))?.code, 'wrong_passphrase');
  } finally {
    for (const tab of [a, d, b, p]) if (!tab.page.isClosed()) await tab.page.close();
  }
}

const { check, finish } = checks('browser');

const work = mkdtempSync(join(tmpdir(), 'quickchat-browser-'));
const external = process.env.QC_TEST_SERVER;
const chatServer = external ? { url: external, stop: async () => {} } : await startServer();
let browser;
let http;
try {
  const app = installPackedApp({ packageDir, work, template: join(here, 'app'), name: 'quickchat-test-app' });

  await check('the installed tarball works in Node (ESM, both entry points)', async () => {
    const script = `
      import { KeyManager, SessionManager } from 'quickchat/crypto';
      import { QuickChatClient, version } from 'quickchat';
      const a = new KeyManager('a', { storage: 'memory' }); await a.initialize();
      const b = new KeyManager('b', { storage: 'memory' }); await b.initialize();
      const bundle = await b.getPendingBundle();
      const sa = new SessionManager('a', a, '', { fetchBundle: () => ({ ...bundle, oneTimePrekey: bundle.oneTimePrekeys[0] }) });
      const sb = new SessionManager('b', b, '', { fetchBundle: () => null });
      const text = await sb.decryptMessage('a', await sa.encryptMessage('b', 'packed'));
      if (text !== 'packed' || typeof QuickChatClient.create !== 'function') process.exit(1);
      console.log(await version());`;
    const out = execFileSync('node', ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' });
    assert.match(out, /^\d+\.\d+\.\d+/);
  });

  await check('a Vite app builds with the package (the three .wasm emitted as assets)', async () => {
    await build({
      root: app,
      logLevel: 'warn',
      build: { outDir: join(app, 'dist'), target: 'es2022', emptyOutDir: true },
    });
    const assets = execFileSync('ls', [join(app, 'dist', 'assets')], { encoding: 'utf8' });
    // The app uses both entry points: both modules are emitted.
    assert.match(assets, /quickchat_wasm_bg[^\n]*\.wasm/);
    assert.match(assets, /quickchat_crypto_bg[^\n]*\.wasm/);
    // The importer, which the drop-in loads with a dynamic import: an asset of its own.
    assert.match(assets, /quickchat_import_bg[^\n]*\.wasm/);
  });

  // Serve the built app.
  const served = await serveDirectory(join(app, 'dist'));
  http = served.server;
  const { origin } = served;

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox',
      '--headless=new',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // gc() for the test that a dropped subscription keeps delivering.
      '--js-flags=--expose-gc',
    ],
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  async function open() {
    await page.goto(origin);
    await page.waitForFunction(() => window.quickchatReady === true, null, { timeout: 20_000 });
  }
  const run = (name, args) => page.evaluate(([n, a]) => window.quickchatTests[n](a), [name, args]);

  await open();
  const userId = `user-${Date.now()}`;
  await check('drop-in: keys made once, kept in IndexedDB across a reload', async () => {
    const first = await run('dropInKeys', { userId, passphrase: 'pass one' });
    assert.equal(first.origin, 'created');
    assert.equal(first.oneTimePrekeys, 50);
    assert.equal(await run('dropInMarkUploaded', { userId, passphrase: 'pass one' }), 50);
    await page.reload();
    await page.waitForFunction(() => window.quickchatReady === true);
    const again = await run('dropInKeys', { userId, passphrase: 'pass one' });
    assert.equal(again.origin, 'existing');
    assert.equal(again.fingerprint, first.fingerprint);
    assert.equal(again.oneTimePrekeys, 50, 'the upload state was kept too');
  });

  await check('drop-in: a wrong passphrase is refused', async () => {
    assert.equal(await run('dropInInitializeError', { userId, passphrase: 'not it' }), 'wrong_passphrase');
    assert.equal(await run('dropInInitializeError', { userId, passphrase: 'pass one' }), null);
  });

  await check('drop-in with tabs: false: a second tab is refused while the first holds the store', async () => {
    const other = await context.newPage();
    await other.goto(origin);
    await other.waitForFunction(() => window.quickchatReady === true, null, { timeout: 20_000 });
    const inOther = (name, args) => other.evaluate(([n, a]) => window.quickchatTests[n](a), [name, args]);
    assert.equal(await inOther('dropInInitializeError', { userId, passphrase: 'pass one', tabs: false }), 'store_in_use');
    // Once the first tab is gone, the second one gets it.
    await page.goto('about:blank');
    assert.equal(await inOther('dropInInitializeError', { userId, passphrase: 'pass one', tabs: false }), null);
    await other.close();
    await open();
  });

  await check('drop-in: two tabs of one user both encrypt and decrypt; the other tab leads when the leader closes; nothing lost', async () => {
    await tabsOfOneUser(browser, context, origin, chatServer.url);
  });

  await check('drop-in: the next tab in line for the lead has another passphrase: the one after it leads, nothing lost', async () => {
    await wrongTabInLine(context, origin, chatServer.url);
  });

  await check('drop-in: a frozen leader tab: the other tab gets tabs_unavailable, never a call pending forever', async () => {
    await frozenLeader(context, origin, chatServer.url);
  });

  await check("drop-in: a burst's writes share IndexedDB transactions, and what it leaves is on disk", async () => {
    const prefix = `burst${Date.now()}`;
    const count = 10;
    const burst = await run('dropInBurst', { prefix, count });
    assert.deepEqual(burst.received, burst.texts);
    assert.deepEqual([...burst.numbers].sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i + 1));
    assert.equal(burst.answer, 'answer');
    // One transaction per message before; now the messages made while one is in flight
    // share the next.
    assert.ok(burst.sendTransactions < count / 2, `${burst.sendTransactions} transactions for ${count} sends`);
    assert.ok(burst.receiveTransactions < count / 2, `${burst.receiveTransactions} transactions for ${count} receipts`);
    await page.reload();
    await page.waitForFunction(() => window.quickchatReady === true);
    const after = await run('dropInAfterBurst', { prefix, replay: burst.replay });
    assert.equal(after.replayed, 'decrypt_failed', 'a message of the burst opens only once: its state was kept');
    // Alice's sending chain after the burst had count + 1 messages; her next one is the
    // second (after the acknowledgement) on the chain her decryption of the answer began.
    assert.equal(after.nextHeader.previousChainLength, count + 1, "Alice's chain went on from the burst");
    assert.equal(after.nextHeader.messageNumber, 1, "Alice's decryption of the answer was kept");
    assert.equal(after.next, 'after the reload');
  });

  await check('drop-in: messages one after the other on a chain start few transactions; after a reload the chain goes on past them; an answer starts none', async () => {
    const prefix = `sequential${Date.now()}`;
    const count = 40;
    const sent = await run('dropInSequential', { prefix, count });
    assert.deepEqual(sent.received, sent.texts);
    assert.deepEqual(sent.numbers, Array.from({ length: count }, (_, i) => i + 1), 'no number passed over');
    // The chain is stored ahead by as many messages as it has (up to 16): writes at its
    // 2nd, 4th, 8th, 16th, 32nd message, not at every one.
    assert.ok(sent.sendTransactions <= 6, `${sent.sendTransactions} transactions for ${count} messages`);
    await page.reload();
    await page.waitForFunction(() => window.quickchatReady === true);
    const after = await run('dropInAfterSequential', { prefix });
    assert.equal(after.opened, 'after the reload');
    const resumed = after.nextHeader.messageNumber;
    assert.ok(resumed > count && resumed <= count + 16, `the chain resumed at ${resumed} after ${count + 1} messages`);
    assert.equal(after.question, 'question');
    assert.deepEqual(after.answer, ['answer']);
    assert.equal(after.answerHeader.messageNumber, 0);
    assert.equal(after.answerHeader.previousChainLength, resumed + 1, "Alice's previous chain, as it really ended");
    assert.equal(after.answerTransactions, 0, 'the answer was below what the disk held');
  });

  await check('drop-in: stores an earlier version left (session records in JSON) are converted through the importer module, and the conversation goes on', async () => {
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/legacy-dropin-stores.json', import.meta.url), 'utf8'));
    // A fresh page: no module loaded yet, no resource fetched yet.
    await page.reload();
    await page.waitForFunction(() => window.quickchatReady === true);
    const result = await run('dropInLegacyStores', { fixture });
    assert.equal(result.unread, fixture.unread.text, "Bob's message from before the upgrade opens");
    assert.equal(result.replied, 'hello from the new version');
    assert.equal(result.back, 'and back');
    assert.equal(result.x3dh, 0, 'the old sessions go on: no new session');
    assert.equal(result.importerLoaded, true, 'the JSON records were read by the importer module');
    // The scenario's configure() (no import from the web client) stays with that page.
    await page.reload();
    await page.waitForFunction(() => window.quickchatReady === true);
  });

  await check('full client: a store an earlier version left is converted through the importer module, and the drop-in reads it on', async () => {
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/legacy-dropin-stores.json', import.meta.url), 'utf8'));
    await page.reload();
    await page.waitForFunction(() => window.quickchatReady === true);
    const result = await run('clientLegacyStore', { fixture });
    assert.equal(result.importerLoaded, true, 'the JSON records were read by the importer module');
    assert.equal(result.layout, 5, 'the store was moved to the current layout');
    assert.equal(result.unread, fixture.unread.text, "Bob's message from before the upgrade opens");
    await page.reload();
    await page.waitForFunction(() => window.quickchatReady === true);
  });

  for (const { name, value } of vectorFiles('web-storage-import')) {
    await check(`drop-in: imports the web client's database (${name}) and decrypts what came after`, async () => {
      const result = await run('dropInImport', {
        snapshot: value.snapshot,
        userId: value.userId,
        afterSnapshot: value.afterSnapshot,
        passphrase: 'import pass',
      });
      assert.equal(result.origin, 'imported');
      const identity = value.snapshot.stores.identity.find((row) => row.value.userId === value.userId);
      assert.equal(result.fingerprint, identity.value.fingerprint);
      assert.deepEqual(result.texts, value.afterSnapshot.map((m) => m.plaintext));
      assert.equal(result.untouched, true, 'the old database is unchanged');
      assert.deepEqual(result.sessions, [...new Set(value.afterSnapshot.map((m) => m.from))]);
      assert.equal(result.clientImport.userId, value.userId);
      assert.equal(result.clientImport.fingerprint, identity.value.fingerprint);
      assert.deepEqual(result.clientImport.sessions, result.sessions);
      // As the Rust importer test counts them (browser_import.rs).
      assert.equal(result.clientImport.signedPrekeys, 1);
      assert.equal(result.clientImport.oneTimePrekeys, 100);
      assert.equal(result.clientImportOfNobody, null);
    });
  }

  const prefix = `web${Date.now()}`;
  await check('two full clients chat through the test server over WebSockets', async () => {
    const result = await run('chat', { server: chatServer.url, prefix });
    assert.equal(result.receivedId, result.sentId);
    assert.equal(result.body, 'hello from the browser');
    assert.equal(result.encrypted, true);
    assert.equal(result.back, 'and back');
    assert.equal(result.sameFingerprint, true);
    assert.equal(result.aliceSawConnected, true, 'a subscription the page dropped still delivers');
    assert.equal(result.aliceSawMessage, true, 'a subscription the page dropped still delivers');
  });

  await check('a client reopened from IndexedDB after a reload keeps its login and history; historyBefore; dispose() releases the store', async () => {
    await open();
    const result = await run('reopen', { server: chatServer.url, prefix });
    assert.equal(result.user?.username, `${prefix}_alice`);
    assert.deepEqual(result.bodies, ['hello from the browser', 'and back']);
    assert.deepEqual(result.olderBodies, ['hello from the browser'], 'historyBefore pages back by cursor');
    assert.equal(result.whileHeld, 'store_in_use', 'a second client is refused while the first holds the store');
    assert.equal(result.reopenedUser, `${prefix}_alice`, 'dispose() lets another client open the store');
  });

  await check('no uncaught errors in the page', async () => {
    assert.deepEqual(pageErrors, []);
  });
} finally {
  await browser?.close();
  http?.close();
  await chatServer.stop();
  rmSync(work, { recursive: true, force: true });
}

finish();
