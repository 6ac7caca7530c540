// Browser tests of the npm package: `npm pack`, install the tarball into a fresh app,
// build the app with Vite, serve it, and drive it in headless Chromium (playwright-core with
// the system's Chromium): the drop-in's IndexedDB store (persistence across reloads, wrong
// passphrase), its import of the web client's database, and two full clients chatting
// through the test server over real WebSockets. Also checks the installed tarball in Node.
//
//   node test/browser/run.mjs          (QC_TEST_SERVER: a running server, else one is started)
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { startServer } from '../server.mjs';
import { vectorFiles } from '../vectors.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

const results = [];
async function check(name, body) {
  const started = Date.now();
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push({ name, ok: false });
    console.log(`not ok - ${name}\n${error.stack ?? error}`);
  }
}

const work = mkdtempSync(join(tmpdir(), 'quickchat-browser-'));
const external = process.env.QC_TEST_SERVER;
const chatServer = external ? { url: external, stop: async () => {} } : await startServer();
let browser;
let http;
try {
  // The tarball, installed like any dependency (it has none of its own: works offline).
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
    cwd: packageDir,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop();
  const app = join(work, 'app');
  cpSync(join(here, 'app'), app, { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'quickchat-test-app', private: true, type: 'module', dependencies: { quickchat: `file:../${tarball}` } }),
  );
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent'], { cwd: app, stdio: 'inherit' });

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

  await check('a Vite app builds with the package (both .wasm emitted as assets)', async () => {
    await build({
      root: app,
      logLevel: 'warn',
      build: { outDir: join(app, 'dist'), target: 'es2022', emptyOutDir: true },
    });
    const assets = execFileSync('ls', [join(app, 'dist', 'assets')], { encoding: 'utf8' });
    // The app uses both entry points: both modules are emitted.
    assert.match(assets, /quickchat_wasm_bg[^\n]*\.wasm/);
    assert.match(assets, /quickchat_crypto_bg[^\n]*\.wasm/);
  });

  // Serve the built app.
  const dist = join(app, 'dist');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
  http = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(dist, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dist) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${http.address().port}`;

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

  await check('drop-in: a second tab is refused while the first holds the store', async () => {
    const other = await context.newPage();
    await other.goto(origin);
    await other.waitForFunction(() => window.quickchatReady === true, null, { timeout: 20_000 });
    const inOther = (name, args) => other.evaluate(([n, a]) => window.quickchatTests[n](a), [name, args]);
    assert.equal(await inOther('dropInInitializeError', { userId, passphrase: 'pass one' }), 'store_in_use');
    // Once the first tab is gone, the second one gets it.
    await page.goto('about:blank');
    assert.equal(await inOther('dropInInitializeError', { userId, passphrase: 'pass one' }), null);
    await other.close();
    await open();
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

const failed = results.filter((r) => !r.ok).length;
console.log(`# browser: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
