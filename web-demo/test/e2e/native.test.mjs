// The native client (the `quickchat` CLI) and a browser user talk to each other through the
// test server, both ways, end to end encrypted, and agree on each other's fingerprints.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { eventually, fingerprintIn, launchBrowser, NativeUser, Person, shot, startServer } from '../harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const lines = (text) =>
  text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

test('the native CLI and a browser user read each other’s messages', async () => {
  const alice = await (await Person.open(browser, server, 'alice')).register();
  const nate = new NativeUser(server, 'nate');
  const [registered] = lines((await nate.run('register', 'nate')).stdout);
  assert.equal(registered.username, 'nate');

  // The CLI listens; the browser sees it come online and writes to it.
  const listener = nate.listen('--type', 'message');
  const toNative = 'Hello native client, greetings from Chromium';
  try {
    await alice.waitUserOnline('nate');
    await alice.openChat('nate');
    await alice.send(toNative);
    await alice.waitStatus(toNative, 'delivered');
    const event = await eventually(
      () => listener.events.find((e) => e.type === 'message' && e.message.body === toNative) ?? false,
      'the CLI prints the browser’s message',
    );
    assert.equal(event.message.encrypted, true);
    assert.equal(event.message.direction, 'incoming');
    assert.equal(event.message.decryptError, null);
  } finally {
    const { code, signal } = await listener.stop();
    assert.ok(code === 0 || signal === 'SIGINT', `listen stops cleanly (${code}, ${signal}): ${listener.stderr()}`);
  }

  // The CLI answers; the browser shows it, decrypted.
  const toBrowser = 'Hello Chromium, the native client read you';
  const [sent] = lines((await nate.run('send', 'alice', toBrowser)).stdout);
  assert.equal(sent.encrypted, true);
  await alice.waitMessage(toBrowser);
  assert.equal(await alice.message(toBrowser).getAttribute('data-direction'), 'incoming');
  assert.equal(await alice.message(toBrowser).getAttribute('data-encrypted'), 'true');
  assert.deepEqual(await alice.texts(), [toNative, toBrowser]);

  // Both sides agree on both fingerprints.
  const natesOwn = (await nate.run('fingerprint')).stdout.replace(/\s+/g, '');
  const alicesAsNateSeesIt = (await nate.run('fingerprint', 'alice')).stdout.replace(/\s+/g, '');
  assert.match(natesOwn, /^[0-9A-F]{60}$/);
  await alice.testId('peer-keys').click();
  assert.equal(await fingerprintIn(alice, 'peer-fingerprint'), natesOwn);
  const alicesOwn = await fingerprintIn(alice, 'own-fingerprint');
  assert.equal(alicesOwn, alicesAsNateSeesIt);
  await shot(alice.page, '13-native-fingerprints');
  await alice.closeDialog();

  // The CLI verifies Alice against the fingerprint the page shows (it refuses a different one).
  await assert.rejects(nate.run('verify', 'alice', '--fingerprint', natesOwn), /exited/);
  await nate.run('verify', 'alice', '--fingerprint', alicesOwn);
  const [verification] = lines((await nate.run('verification', 'alice')).stdout);
  assert.equal(verification.verified, true, JSON.stringify(verification));

  // The CLI's own history holds both messages, in order.
  const history = lines((await nate.run('history', 'alice')).stdout).map((m) => m.body);
  assert.deepEqual(history.slice(-2), [toNative, toBrowser]);

  // A message the CLI sends while the browser is closed arrives when it comes back.
  await alice.page.close();
  const whileAway = 'Sent while your tab was closed';
  await nate.run('send', 'alice', whileAway);
  await alice.newTab();
  await alice.login();
  await alice.openChat('nate');
  await alice.waitMessage(whileAway);
  assert.equal(await alice.count(whileAway), 1);
  await shot(alice.page, '14-native-chat');
  alice.assertNoPageErrors();
});
