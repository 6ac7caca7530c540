// Two browser contexts register and chat end to end through the test server: presence,
// typing, sent/delivered/read ticks, pictures; then fingerprints, QR verification and an
// identity change.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { databaseContains, eventually, fingerprintIn, launchBrowser, makePng, Person, shot, startServer, WAIT } from '../harness.mjs';

let server;
let browser;
let alice;
let bob;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('two browsers register and chat encrypted: presence, typing, ticks, pictures', async () => {
  alice = await Person.open(browser, server, 'alice');
  await alice.testId('login-form').waitFor();
  assert.equal(await alice.testId('server-url').textContent(), server.url, 'the page talks to the test server');
  await shot(alice.page, '01-login');
  await alice.register();
  bob = await Person.open(browser, server, 'bob');
  await bob.register();

  // Presence: each sees the other online.
  await alice.waitUserOnline('bob');
  await bob.waitUserOnline('alice');
  assert.match(await alice.testId('me').textContent(), /alice$/);

  // Alice writes first; Bob has not opened the conversation: delivered, unread on his side.
  await alice.openChat('bob');
  const first = 'Hello Bob, this is end-to-end encrypted';
  await alice.send(first);
  await alice.waitStatus(first, 'delivered');
  assert.equal(await alice.message(first).getAttribute('data-encrypted'), 'true');
  await bob.user('alice').getByTestId('unread').filter({ hasText: '1' }).waitFor({ timeout: WAIT });

  // The server only ever saw ciphertext.
  assert.equal(databaseContains(server, first), false, 'the plaintext is not in the server database');
  assert.equal(databaseContains(server, 'bob'), true, 'the database check can see stored text');

  // Bob opens the chat: he reads it, Alice sees the read tick.
  await bob.openChat('alice');
  await bob.waitMessage(first);
  assert.equal(await bob.message(first).getAttribute('data-encrypted'), 'true');
  assert.equal(await bob.message(first).getAttribute('data-direction'), 'incoming');
  await alice.waitStatus(first, 'read');
  assert.equal(await alice.message(first).getByTestId('ticks').getAttribute('title'), 'Read');

  // Typing indicator, then Bob's answer.
  await bob.testId('composer-input').pressSequentially('Hi Al', { delay: 20 });
  await alice.page.getByTestId('typing').getByText('bob is typing…').waitFor({ timeout: WAIT });
  await shot(alice.page, '02-typing');
  const reply = 'Hi Alice! Loud and clear.';
  await bob.send(reply);
  await alice.waitMessage(reply);
  await eventually(async () => (await alice.testId('typing').textContent()) === '', 'the typing indicator goes away');
  await bob.waitStatus(reply, 'read');

  // A picture: exactly the bytes Alice picked arrive.
  const png = makePng(24, [220, 40, 90]);
  await alice.testId('image-input').setInputFiles({ name: 'red.png', mimeType: 'image/png', buffer: png });
  const picture = bob.page.getByTestId('message-image');
  await picture.waitFor({ timeout: WAIT });
  assert.equal(await picture.getAttribute('src'), `data:image/png;base64,${png.toString('base64')}`);
  assert.equal(await picture.evaluate((img) => img.complete && img.naturalWidth), 24, 'the picture decodes');
  await alice.page.locator('li[data-testid="message"][data-direction="outgoing"]').filter({ has: alice.page.getByTestId('message-image') }).waitFor();

  assert.deepEqual(await alice.texts(), [first, reply]);
  assert.deepEqual(await bob.texts(), [first, reply]);
  await shot(alice.page, '03-chat-alice');
  await shot(bob.page, '04-chat-bob');
  alice.assertNoPageErrors();
  bob.assertNoPageErrors();
});

test('fingerprints and QR codes match across browsers; verify, unverify; an identity change is flagged', async () => {
  // Alice's own keys: fingerprint and QR code.
  await alice.testId('my-keys').click();
  const aliceFingerprint = await fingerprintIn(alice, 'own-fingerprint');
  assert.match(aliceFingerprint, /^[0-9A-F]{60}$/);
  const aliceCode = await alice.readQr('own-qr');
  assert.match(aliceCode, new RegExp(`^quickchat:v1:[^:]+:${aliceFingerprint}$`), 'the QR code holds the fingerprint');
  await shot(alice.page, '05-own-keys-qr');
  await alice.closeDialog();

  // Bob sees the same fingerprint for Alice; Alice sees Bob's own one for him.
  await bob.testId('peer-keys').click();
  assert.equal(await fingerprintIn(bob, 'peer-fingerprint'), aliceFingerprint);
  const bobFingerprint = await fingerprintIn(bob, 'own-fingerprint');
  assert.equal(await bob.testId('peer-verification-state').getAttribute('data-state'), 'unverified');

  await alice.testId('peer-keys').click();
  assert.equal(await fingerprintIn(alice, 'peer-fingerprint'), bobFingerprint);
  assert.notEqual(bobFingerprint, aliceFingerprint);
  await alice.closeDialog();

  // A wrong code is refused; Alice's scanned code verifies her.
  await bob.testId('scanned-code').fill(aliceCode.replace(/.$/, (c) => (c === '0' ? '1' : '0')));
  await bob.testId('check-scanned').click();
  await bob.page.locator('[data-testid="peer-keys-message"][data-result="mismatch"]').waitFor({ timeout: WAIT });
  assert.equal(await bob.testId('peer-verification-state').getAttribute('data-state'), 'unverified');
  await bob.testId('scanned-code').fill(aliceCode);
  await bob.testId('check-scanned').click();
  await bob.page.locator('[data-testid="peer-verification-state"][data-state="verified"]').waitFor({ timeout: WAIT });
  assert.match(await bob.testId('peer-verification-state').textContent(), /by QR code/);
  await shot(bob.page, '06-peer-verified');

  // Unverify, then verify by comparing the numbers.
  await bob.testId('unverify-peer').click();
  await bob.page.locator('[data-testid="peer-verification-state"][data-state="unverified"]').waitFor({ timeout: WAIT });
  await bob.testId('verify-peer').click();
  await bob.page.locator('[data-testid="peer-verification-state"][data-state="verified"]').waitFor({ timeout: WAIT });
  await bob.closeDialog();
  await bob.page.locator('[data-testid="verification-badge"][data-state="verified"]').waitFor({ timeout: WAIT });

  // Alice makes new keys and writes again: Bob is warned, with both fingerprints, and his
  // sending is paused because he had verified the old key.
  await alice.testId('my-keys').click();
  await alice.testId('reset-keys').click();
  await alice.testId('reset-keys-confirm').click();
  await alice.page.locator('dialog').waitFor({ state: 'detached' });
  await alice.testId('my-keys').click();
  const aliceNewFingerprint = await fingerprintIn(alice, 'own-fingerprint');
  assert.notEqual(aliceNewFingerprint, aliceFingerprint, 'new keys, new fingerprint');
  await alice.closeDialog();

  const afterReset = 'Same Alice, new keys';
  await alice.send(afterReset);
  await bob.waitMessage(afterReset);
  const warning = bob.testId('identity-warning');
  await warning.waitFor({ timeout: WAIT });
  const group = (f) => f.match(/.{5}/g).join(' ');
  assert.equal(await bob.testId('identity-previous').textContent(), group(aliceFingerprint));
  assert.equal(await bob.testId('identity-new').textContent(), group(aliceNewFingerprint));
  assert.match(await warning.textContent(), /sending is paused/);
  await bob.page.locator('[data-testid="verification-badge"][data-state="changed"]').waitFor({ timeout: WAIT });
  await shot(bob.page, '07-identity-changed');

  const blocked = 'This must not leave before the new key is accepted';
  await bob.send(blocked);
  await bob.testId('toast-error').filter({ hasText: 'Not sent' }).first().waitFor({ timeout: WAIT });
  assert.equal(await bob.testId('composer-input').inputValue(), blocked, 'the refused text is given back');

  // Accepting the new key lets Bob write again; the refused text never reached Alice.
  await bob.testId('identity-accept').click();
  await warning.waitFor({ state: 'detached', timeout: WAIT });
  await bob.page.locator('[data-testid="verification-badge"][data-state="unverified"]').waitFor({ timeout: WAIT });
  const accepted = 'Accepted your new key';
  await bob.send(accepted);
  await alice.waitMessage(accepted);
  assert.equal(await alice.count(blocked), 0);
  assert.deepEqual((await alice.texts()).slice(-2), [afterReset, accepted]);

  // Bob's page now shows Alice's new fingerprint.
  await bob.testId('peer-keys').click();
  assert.equal(await fingerprintIn(bob, 'peer-fingerprint'), aliceNewFingerprint);
  await bob.closeDialog();

  alice.assertNoPageErrors();
  bob.assertNoPageErrors();
});
