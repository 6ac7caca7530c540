// Groups in three browsers: create with a member, group chat both ways, roles, an invite
// link opened by a third user, removing a member.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { eventually, launchBrowser, Person, shot, startServer, WAIT } from '../harness.mjs';

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

function member(person, name) {
  return person.page.locator(`[data-testid="member"][data-username="${name}"]`);
}

test('create a group, chat in it, change roles, join by invite link, remove a member', async () => {
  const alice = await (await Person.open(browser, server, 'alice')).register();
  const bob = await (await Person.open(browser, server, 'bob')).register();
  const carol = await (await Person.open(browser, server, 'carol')).register();
  await alice.waitUserOnline('bob');
  await alice.waitUserOnline('carol');

  // Alice creates "Team" with Bob.
  await alice.testId('new-group').click();
  await alice.testId('group-name').fill('Team');
  await alice.testId('group-description').fill('the demo group');
  await alice.page.locator('[data-testid="group-member-option"][data-username="bob"]').check();
  await shot(alice.page, '10-new-group');
  await alice.testId('create-group').click();
  await alice.page.locator('[data-testid="pane"][data-group="Team"]').waitFor({ timeout: WAIT });

  // Bob is told, and the group shows up in his list; Carol's list stays empty.
  await bob.openGroup('Team');
  assert.equal(await carol.page.locator('[data-testid="group"][data-name="Team"]').count(), 0);

  // Group chat both ways, with sender names.
  const hello = 'Welcome to the team, Bob';
  await alice.send(hello);
  await bob.waitMessage(hello);
  assert.equal(await bob.message(hello).getByTestId('message-sender').textContent(), 'alice');
  assert.equal(await bob.message(hello).getAttribute('data-encrypted'), 'false', 'group messages are not end-to-end encrypted on this platform');
  const thanks = 'Thanks Alice!';
  await bob.testId('composer-input').pressSequentially('Than', { delay: 20 });
  await alice.page.getByTestId('typing').getByText('bob is typing…').waitFor({ timeout: WAIT });
  await bob.send(thanks);
  await alice.waitMessage(thanks);
  await bob.waitStatus(thanks, 'delivered'); // the server relayed it to the group
  assert.equal(await alice.count(hello), 1);
  assert.equal(await alice.count(thanks), 1);

  // Members and roles: Alice owns the group; she makes Bob an admin.
  await alice.testId('members-toggle').click();
  await member(alice, 'alice').and(alice.page.locator('[data-role="owner"]')).waitFor({ timeout: WAIT });
  assert.equal(await member(alice, 'bob').getAttribute('data-role'), 'member');
  await member(alice, 'bob').getByTestId('make-admin').click();
  await alice.page.locator('[data-testid="member"][data-username="bob"][data-role="admin"]').waitFor({ timeout: WAIT });
  await bob.testId('members-toggle').click();
  await bob.page.locator('[data-testid="member"][data-username="bob"][data-role="admin"]').waitFor({ timeout: WAIT });
  assert.equal(await bob.testId('leave-group').count(), 1, 'members other than the owner may leave');
  assert.equal(await alice.testId('leave-group').count(), 0, 'the owner cannot leave');

  // An invite link, opened by Carol in a new tab: she signs in, joins and lands in the group.
  await alice.testId('create-invite').click();
  const link = await alice.testId('invite-link').inputValue();
  const code = await alice.testId('invite-code').textContent();
  assert.ok(link.endsWith(`#join=${encodeURIComponent(code)}`), `the link carries the code: ${link}`);
  assert.ok(link.includes(`server=${encodeURIComponent(server.url)}`), 'the link names the server');
  await shot(alice.page, '11-group-members-invite');
  await carol.newTab(link);
  await carol.login();
  await carol.page.locator('[data-testid="pane"][data-group="Team"]').waitFor({ timeout: WAIT });
  assert.equal(new URL(carol.page.url()).hash, '', 'the invite code is taken out of the address');
  await member(alice, 'carol').waitFor({ timeout: WAIT });
  assert.equal(await member(alice, 'carol').getAttribute('data-role'), 'member');

  // Carol talks to the group: both others read it.
  const hi = 'Hi all, Carol here';
  await carol.send(hi);
  await alice.waitMessage(hi);
  await bob.waitMessage(hi);
  assert.equal(await alice.message(hi).getByTestId('message-sender').textContent(), 'carol');
  await shot(bob.page, '12-group-chat');

  // Alice removes Carol.
  await member(alice, 'carol').getByTestId('remove-member').click();
  await member(alice, 'carol').waitFor({ state: 'detached', timeout: WAIT });
  await eventually(async () => (await alice.page.getByTestId('member').count()) === 2, 'two members left');

  for (const person of [alice, bob, carol]) {
    person.assertNoPageErrors();
  }
});
