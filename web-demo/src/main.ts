// Entry point: reopen this tab's session (the passphrase is asked once per tab), or sign in.

import './style.css';

import { ChatApp } from './app';
import { forgetSession, savedSession } from './config';
import { byId, h } from './dom';
import { explain, loginScreen, openStore, type Ready } from './login';
import { disposeClient, sdkVersion } from './sdk';

const root = byId('app');

function chat({ client, user }: Ready): void {
  new ChatApp(root, client, user, (notice) => {
    forgetSession();
    signIn(notice);
  }).start();
}

function signIn(notice: string | null): void {
  loginScreen(root, notice, chat);
}

async function boot(): Promise<void> {
  void sdkVersion().then((v) => {
    byId('sdk-version').textContent = `quickchat ${v}`;
  });
  const session = savedSession();
  if (!session) {
    signIn(null);
    return;
  }
  root.replaceChildren(h('main', { class: 'login-page' }, h('p', { class: 'card muted', 'data-testid': 'restoring' }, `Opening ${session.username}’s encrypted store…`)));
  try {
    const client = await openStore(session);
    const user = client.currentUser();
    if (user) {
      chat({ client, user, session });
      return;
    }
    await disposeClient(client);
    signIn('Log in again: this browser has no saved login for you.');
  } catch (e) {
    forgetSession();
    signIn(explain(e));
  }
}

void boot();
