// Moving an account between the web app, the npm package and the native CLI, end to end:
// the test server over real sockets, real IndexedDB in headless Chromium (the packed
// tarball in a Vite app), the real `quickchat` binary with redb stores.
//
//   1. web app → native: the web app's keys live in `quick-chat-e2ee` (written as the web
//      app writes them) with a session it used both ways; the package's `exportAccount`
//      seals them; `quickchat import` takes the file, and the CLI goes on in that session.
//   2. native → browser → native: `quickchat export`; `importAccount` in the full client on
//      IndexedDB (bad files refused first), which goes on in the session, survives a
//      reload, and exports again; `quickchat import --replace` brings it back to the
//      original store, which goes on once more.
// Each time the peer sees the same identity, and the backend holds one first message
// (`x3dh` block) for the whole conversation: no session was started anew.
//
//   node test/browser/moving.mjs   (QC_TEST_SERVER: a running server, else one is started;
//                                   QUICKCHAT_CLI: the binary, else cargo builds it)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { installPackedApp } from './packed-app.mjs';
import { checks, serveDirectory } from './harness.mjs';
import { startServer } from '../server.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FILE_PASSPHRASE = 'file passphrase of the move';

function cliBinary() {
  if (process.env.QUICKCHAT_CLI) return process.env.QUICKCHAT_CLI;
  const built = spawnSync('cargo', ['build', '--quiet', '-p', 'quickchat-cli', '--bin', 'quickchat'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error('cannot build the quickchat CLI');
  return join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'debug', 'quickchat');
}

const { check, finish } = checks('moving an account');
const work = mkdtempSync(join(tmpdir(), 'quickchat-moving-'));
const external = process.env.QC_TEST_SERVER;
const chatServer = external ? { url: external, stop: async () => {} } : await startServer();
const cli = cliBinary();
const stamp = Date.now();

/** A CLI user: its store in the work directory; `run(args, env)` → `{code, stdout, stderr}`. */
function cliUser(name, store = `${name}.redb`) {
  const user = {
    name,
    password: `${name} password`,
    store: join(work, store),
    run(args, env = {}) {
      const result = spawnSync(cli, args, {
        encoding: 'utf8',
        timeout: 90_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          QUICKCHAT_SERVER: chatServer.url,
          QUICKCHAT_STORE: user.store,
          QUICKCHAT_PASSPHRASE: `${name} store passphrase`,
          QUICKCHAT_PASSWORD: user.password,
          QUICKCHAT_WAIT: '30',
          QUICKCHAT_INSECURE_FAST_KDF: '1',
          ...env,
        },
      });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    ok(args, env) {
      const result = user.run(args, env);
      assert.equal(result.code, 0, `quickchat ${args.join(' ')}: ${result.stderr}`);
      return result;
    },
    json(args, env) {
      return JSON.parse(user.ok(args, env).stdout.trim());
    },
    /** The next message event (what the store has not seen yet is caught up first). */
    listen() {
      return user.json(['listen', '--count', '1', '--type', 'message', '--timeout', '60']).message;
    },
    fingerprint(peer) {
      return user.ok(['fingerprint', peer]).stdout;
    },
  };
  return user;
}

/** Every message between two users as the backend keeps them (no token, PROTOCOL §7). */
async function backendHistory(peer, me) {
  const answer = await fetch(`${chatServer.url}/api/messages/${peer}?user=${me}`);
  assert.equal(answer.status, 200);
  return answer.json();
}

/** One first message (`x3dh`) in the whole conversation, the very first, all encrypted. */
async function assertOneSession(a, b, count) {
  const kept = await backendHistory(a, b);
  assert.equal(kept.length, count, JSON.stringify(kept.map((m) => m.content.slice(0, 40))));
  assert.ok(kept.every((m) => m.encrypted), 'every message end-to-end encrypted');
  const firsts = kept.filter((m) => m.content.includes('"x3dh"'));
  assert.equal(firsts.length, 1, 'no session was started anew');
  assert.equal(firsts[0].id, kept[0].id);
}

async function registerRest(username, password) {
  const response = await fetch(`${chatServer.url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(response.status, 201);
  const user = await response.json();
  return { userId: user.id, username, token: user.token };
}

let browser;
let http;
try {
  const app = installPackedApp({ packageDir, work, template: join(here, 'moving-app'), name: 'quickchat-moving-app' });
  await build({
    root: app,
    logLevel: 'warn',
    // The web app's crypto layer as the browser bench rebuilds it (its `idb` and `tweetnacl`
    // resolve from js/node_modules).
    resolve: { alias: { 'web-client-reference': join(packageDir, 'bench', 'web-client-reference.mjs') } },
    build: { outDir: join(app, 'dist'), target: 'es2022', emptyOutDir: true },
  });
  const served = await serveDirectory(join(app, 'dist'));
  http = served.server;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });

  /** A page in a fresh browser context (its own IndexedDB). */
  async function openPage() {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(served.origin);
    await page.waitForFunction(() => window.quickchatReady === true, null, { timeout: 20_000 });
    const run = (name, args) => page.evaluate(([n, a]) => window.quickchatTests[n](a), [name, args]);
    return { context, page, run, errors };
  }

  await check("web app's database → exportAccount → quickchat import: the CLI goes on in the web app's session", async () => {
    const tab = await openPage();
    const alice = await registerRest(`web${stamp}_alice`, 'alice password');
    const bob = cliUser(`web${stamp}_bob`);
    const bobId = bob.json(['register', bob.name]).userId;

    // The web app and Bob talk: a session both ways, with a DH step on each side.
    await tab.run('webAppStart', { server: chatServer.url, user: alice });
    assert.deepEqual(await tab.run('webAppSend', { peerId: bobId, text: 'hello from the web app' }), { x3dh: true });
    assert.equal(bob.listen().body, 'hello from the web app');
    bob.ok(['send', alice.username, 'hello web app']);
    assert.deepEqual(await tab.run('webAppReceive', { peerId: bobId }), ['hello web app']);
    assert.deepEqual(await tab.run('webAppSend', { peerId: bobId, text: 'still the web app' }), { x3dh: false });
    assert.equal(bob.listen().body, 'still the web app');
    bob.ok(['send', alice.username, 'last one to the web app']);
    assert.deepEqual(await tab.run('webAppReceive', { peerId: bobId }), ['last one to the web app']);
    const bobSees = bob.fingerprint(alice.username);

    const exported = await tab.run('webAppExport', { passphrase: FILE_PASSPHRASE, userId: alice.userId });
    assert.deepEqual(exported.refusals, {
      noPassphrase: 'invalid_argument',
      history: 'invalid_argument',
      nobody: 'not_initialized',
      noDatabase: 'not_initialized',
    });
    assert.equal(exported.untouched, true, "the web app's database is unchanged");
    assert.deepEqual(exported.databases, ['quick-chat-e2ee'], 'nothing else was created, no-such-database neither');
    const file = Buffer.from(exported.file);
    assert.equal(file.subarray(0, 8).toString('latin1'), 'QCACCT\0\n');
    assert.ok(!file.includes(alice.userId) && !file.includes(FILE_PASSPHRASE), 'nothing in the clear');
    assert.ok(Math.abs(exported.namedLength - file.length) < 64, 'the same account with userId named');
    const path = join(work, 'from-the-web-app.qcaccount');
    writeFileSync(path, file);

    // Into a new native store: a wrong passphrase first (nothing changes), then the file.
    const moved = cliUser(alice.username, 'alice-native.redb');
    moved.password = 'alice password';
    const wrong = moved.run(['import', path], { QUICKCHAT_FILE_PASSPHRASE: 'not it' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /wrong passphrase/);
    const imported = moved.json(['import', path], { QUICKCHAT_FILE_PASSPHRASE: FILE_PASSPHRASE });
    assert.equal(imported.userId, alice.userId);
    assert.equal(imported.sessions, 1);
    assert.equal(imported.loggedIn, false, 'the web app keeps no login the file could carry');
    moved.ok(['login', alice.username]);
    const bare = (text) => text.replace(/\s/g, '');
    assert.equal(bare(moved.ok(['fingerprint']).stdout), bare(bobSees), 'the identity Bob knows');

    // The session goes on from the CLI, both ways.
    moved.ok(['send', bob.name, 'from the CLI after the move']);
    assert.equal(bob.listen().body, 'from the CLI after the move');
    bob.ok(['send', alice.username, 'welcome, CLI']);
    assert.equal(moved.listen().body, 'welcome, CLI');
    assert.equal(bob.fingerprint(alice.username), bobSees, 'Bob sees the same identity');
    await assertOneSession(bobId, alice.userId, 6);
    assert.deepEqual(tab.errors, []);
    await tab.context.close();
  });

  await check('quickchat export → importAccount (IndexedDB) → the browser goes on, exports again → quickchat import --replace', async () => {
    const carol = cliUser(`nat${stamp}_carol`);
    const dave = cliUser(`nat${stamp}_dave`);
    const carolId = carol.json(['register', carol.name]).userId;
    const daveId = dave.json(['register', dave.name]).userId;
    carol.ok(['send', dave.name, 'hello from native']);
    assert.equal(dave.listen().body, 'hello from native');
    dave.ok(['send', carol.name, 'hello back']);
    assert.equal(carol.listen().body, 'hello back');
    const daveSees = dave.fingerprint(carol.name);

    const path = join(work, 'from-native.qcaccount');
    carol.ok(['export', '--out', path, '--history'], { QUICKCHAT_FILE_PASSPHRASE: FILE_PASSPHRASE });
    const tab = await openPage();
    const databaseName = `moved-${stamp}`;
    const imported = await tab.run('clientImport', {
      server: chatServer.url,
      databaseName,
      file: Array.from(readFileSync(path)),
      passphrase: FILE_PASSPHRASE,
      peerId: daveId,
      text: 'from the browser after the move',
    });
    assert.deepEqual(imported.refusals, {
      wrongPassphrase: 'wrong_passphrase',
      truncated: 'archive_damaged',
      newer: 'archive_too_new',
    });
    assert.equal(imported.emptyAfterRefusals, true, 'the refused files changed nothing');
    assert.deepEqual([imported.importerBefore, imported.importerAfter], [false, true], 'the reader is loaded for the import only');
    assert.equal(imported.summary.userId, carolId);
    assert.deepEqual(imported.summary.sessions, [daveId]);
    assert.equal(imported.summary.messages, 2);
    assert.deepEqual(imported.summary.user, { userId: carolId, username: carol.name });
    assert.equal(imported.sentEncrypted, true);
    assert.equal(dave.listen().body, 'from the browser after the move');
    dave.ok(['send', carol.name, 'welcome, browser']);

    // After a reload: the store kept the account; the answer arrives; the browser exports.
    await tab.page.reload();
    await tab.page.waitForFunction(() => window.quickchatReady === true, null, { timeout: 20_000 });
    const again = await tab.run('clientReceiveAndExport', {
      server: chatServer.url,
      databaseName,
      peerId: daveId,
      text: 'welcome, browser',
      passphrase: FILE_PASSPHRASE,
    });
    assert.deepEqual(again.user, { userId: carolId, username: carol.name });
    assert.equal(again.received, 'welcome, browser');
    assert.equal(typeof again.movedAt, 'number');
    assert.equal(again.refused, 'account_moved');
    assert.equal(again.stillMoved, true);
    assert.equal(again.refusedAfterReopen, 'account_moved');
    assert.deepEqual(tab.errors, []);
    await tab.context.close();

    // Back into the original (moved) store, which holds the account: only with --replace.
    const back = join(work, 'from-the-browser.qcaccount');
    writeFileSync(back, Buffer.from(again.file));
    const refused = carol.run(['import', back], { QUICKCHAT_FILE_PASSPHRASE: FILE_PASSPHRASE });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /already holds/);
    const replaced = carol.json(['import', back, '--replace'], { QUICKCHAT_FILE_PASSPHRASE: FILE_PASSPHRASE });
    assert.equal(replaced.userId, carolId);
    assert.equal(replaced.messages, 4, 'the history came back with it');
    assert.equal(replaced.loggedIn, true);
    carol.ok(['send', dave.name, 'native again']);
    assert.equal(dave.listen().body, 'native again');
    dave.ok(['send', carol.name, 'welcome home']);
    assert.equal(carol.listen().body, 'welcome home');
    assert.equal(dave.fingerprint(carol.name), daveSees, 'Dave sees the same identity throughout');
    await assertOneSession(daveId, carolId, 6);
  });
} finally {
  await browser?.close();
  http?.close();
  await chatServer.stop();
  rmSync(work, { recursive: true, force: true });
}

finish();
