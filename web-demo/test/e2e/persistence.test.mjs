// What must survive: a page reload (history and sessions in IndexedDB, the store reopened
// without asking again in the same tab), a new tab (sign in again, same store), and a test
// server restarted mid-chat (messages sent while it was down arrive exactly once).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launchBrowser, Person, shot, startServer, WAIT } from '../harness.mjs';

let server;
let browser;
let alice;
let bob;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  alice = await (await Person.open(browser, server, 'alice')).register();
  bob = await (await Person.open(browser, server, 'bob')).register();
  await alice.waitUserOnline('bob');
  await bob.waitUserOnline('alice');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a reload keeps history and sessions', async () => {
  await alice.openChat('bob');
  await alice.send('Before the reload 1');
  await bob.openChat('alice');
  await bob.waitMessage('Before the reload 1');
  await bob.send('Before the reload 2');
  await alice.waitMessage('Before the reload 2');

  // Reload: no sign-in form, the same conversation, every message once.
  await alice.reload();
  assert.equal(await alice.testId('login-form').count(), 0, 'the store reopens without asking in the same tab');
  await alice.openChat('bob');
  await alice.waitMessage('Before the reload 2');
  assert.deepEqual(await alice.texts(), ['Before the reload 1', 'Before the reload 2']);
  assert.equal(await alice.status('Before the reload 1'), 'read');

  // The sessions survived: both directions still decrypt.
  await alice.send('After the reload 1');
  await bob.waitMessage('After the reload 1');
  await bob.send('After the reload 2');
  await alice.waitMessage('After the reload 2');
  assert.equal(await alice.message('After the reload 2').getAttribute('data-encrypted'), 'true');

  // Bob reloads too, then a new tab for Alice: she signs in with her password (the store
  // passphrase is the demo default), and finds everything.
  await bob.reload();
  await bob.openChat('alice');
  await bob.waitMessage('After the reload 2');
  await alice.newTab();
  await alice.testId('login-form').waitFor({ timeout: WAIT });
  assert.equal(await alice.testId('login-username').inputValue(), 'alice', 'the last user name is offered');
  // A wrong password, then a wrong store passphrase: both refused with a clear message.
  await alice.testId('login-password').fill('not the password');
  await alice.testId('login-submit').click();
  await alice.testId('login-error').filter({ hasText: /\S/ }).waitFor({ timeout: WAIT });
  assert.doesNotMatch(await alice.testId('login-error').textContent(), /passphrase/);
  await alice.testId('login-passphrase').fill('not the passphrase');
  await alice.testId('login-password').fill(alice.password);
  await alice.testId('login-submit').click();
  await alice.testId('login-error').getByText('Wrong store passphrase', { exact: false }).waitFor({ timeout: WAIT });
  await shot(alice.page, '15-wrong-passphrase');
  await alice.testId('login-passphrase').fill('');
  await alice.login();
  await alice.openChat('bob');
  await alice.waitMessage('After the reload 2');
  assert.deepEqual(await alice.texts(), ['Before the reload 1', 'Before the reload 2', 'After the reload 1', 'After the reload 2']);
  await alice.send('From the new tab');
  await bob.waitMessage('From the new tab');

  // Log out and in again in the same tab.
  await alice.testId('logout').click();
  await alice.testId('login-notice').waitFor({ timeout: WAIT });
  await alice.login();
  await alice.openChat('bob');
  await alice.waitMessage('From the new tab');
  await shot(alice.page, '16-after-reload');

  alice.assertNoPageErrors();
  bob.assertNoPageErrors();
});

test('the server restarted mid-chat loses nothing: every message sent meanwhile arrives exactly once', async () => {
  await alice.openChat('bob');
  await bob.openChat('alice');
  await alice.send('Just before the restart');
  await bob.waitMessage('Just before the restart');

  await server.stop();
  await alice.page.locator('[data-testid="connection"]:not([data-state="online"])').waitFor({ timeout: WAIT });
  await bob.page.locator('[data-testid="connection"]:not([data-state="online"])').waitFor({ timeout: WAIT });
  assert.match(await alice.testId('connection-banner').textContent(), /Offline/);

  // Both write while the server is down: the messages wait on their devices.
  const fromAlice = ['While down A1', 'While down A2', 'While down A3'];
  const fromBob = ['While down B1', 'While down B2'];
  for (const text of fromAlice) {
    await alice.send(text);
    await alice.waitStatus(text, 'pending');
  }
  for (const text of fromBob) {
    await bob.send(text);
    await bob.waitStatus(text, 'pending');
  }
  await shot(alice.page, '17-offline-outbox');

  await server.restart();
  await alice.waitOnline();
  await bob.waitOnline();

  // Everything arrives, once, in order; the senders' ticks move on.
  for (const text of fromAlice) {
    await bob.waitMessage(text);
    await alice.waitStatus(text, 'read');
  }
  for (const text of fromBob) {
    await alice.waitMessage(text);
    await bob.waitStatus(text, 'read');
  }
  const after = 'After the restart';
  await alice.send(after);
  await bob.waitMessage(after);
  await alice.waitStatus(after, 'read');
  for (const person of [alice, bob]) {
    for (const text of [...fromAlice, ...fromBob, after]) {
      assert.equal(await person.count(text), 1, `${person.name} shows “${text}” once`);
    }
  }
  // (Not their order: the outbox flushes them within a millisecond or two, and history sorts
  // messages that share a millisecond by id.)
  await shot(bob.page, '18-after-restart');

  // And once in the stored history too.
  await bob.reload();
  await bob.openChat('alice');
  await bob.waitMessage(after);
  for (const text of [...fromAlice, ...fromBob, after]) {
    assert.equal(await bob.count(text), 1, `bob’s history holds “${text}” once`);
  }
  alice.assertNoPageErrors();
  bob.assertNoPageErrors();
});
