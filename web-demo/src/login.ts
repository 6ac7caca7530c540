// The sign-in screen: register or log in, with the passphrase of this browser's encrypted store.

import {
  databaseName,
  defaultPassphrase,
  lastUsername,
  saveSession,
  serverUrl,
  type SavedSession,
} from './config';
import { h } from './dom';
import { createClient, disposeClient, errorCode, errorMessage, type Client, type User } from './sdk';

export interface Ready {
  client: Client;
  user: User;
  session: SavedSession;
}

/** Opens the user's encrypted IndexedDB store (and restores its saved login, if any). */
export function openStore(session: SavedSession): Promise<Client> {
  return createClient({
    server: session.server,
    storage: 'indexeddb',
    databaseName: databaseName(session.server, session.username),
    passphrase: session.passphrase,
  });
}

/** What an error means for someone signing in. */
export function explain(error: unknown): string {
  switch (errorCode(error)) {
    case 'wrong_passphrase':
      return 'Wrong store passphrase: this browser already keeps this user’s keys and history under another passphrase.';
    case 'network':
      return `Cannot reach the server at ${serverUrl()}. Is it running?`;
    case 'store_in_use':
      return 'This user’s store is open in another tab: close it there first.';
    case 'store_belongs_to_another_user':
      return 'This browser’s store for that name belongs to another account.';
    default:
      return errorMessage(error);
  }
}

export function loginScreen(root: HTMLElement, notice: string | null, onReady: (ready: Ready) => void): void {
  const username = h('input', {
    id: 'login-username',
    name: 'username',
    autocomplete: 'username',
    required: true,
    minlength: 3,
    value: lastUsername(),
    'data-testid': 'login-username',
  });
  const password = h('input', {
    id: 'login-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    'data-testid': 'login-password',
  });
  const passphrase = h('input', {
    id: 'login-passphrase',
    name: 'passphrase',
    type: 'password',
    autocomplete: 'off',
    placeholder: 'empty: the demo default (not secret)',
    'data-testid': 'login-passphrase',
  });
  const status = h('p', { class: 'status-line', 'data-testid': 'login-status', 'aria-live': 'polite' });
  const error = h('p', { class: 'error-line', 'data-testid': 'login-error', role: 'alert' });
  const loginButton = h('button', { type: 'submit', value: 'login', 'data-testid': 'login-submit' }, 'Log in');
  const registerButton = h(
    'button',
    { type: 'submit', value: 'register', class: 'secondary', 'data-testid': 'register-submit' },
    'Register',
  );

  const form = h(
    'form',
    { class: 'card login', 'data-testid': 'login-form' },
    h('h1', {}, 'Quick Chat'),
    h('p', { class: 'muted' }, 'End-to-end encrypted chat in your browser, on the quickchat SDK.'),
    notice ? h('p', { class: 'notice', 'data-testid': 'login-notice' }, notice) : null,
    h('label', { for: 'login-username' }, 'User name'),
    username,
    h('label', { for: 'login-password' }, 'Password'),
    password,
    h('label', { for: 'login-passphrase' }, 'Store passphrase'),
    passphrase,
    h(
      'p',
      { class: 'hint' },
      'Your keys, sessions and history stay in this browser (IndexedDB), encrypted with this passphrase. ',
      'Left empty, a demo default derived from the user name is used: fine for trying things out, no protection at all. ',
      'It is asked once per tab: a reload reopens the store without asking.',
    ),
    h('div', { class: 'row' }, loginButton, registerButton),
    status,
    error,
    h('p', { class: 'muted small' }, 'Server: ', h('code', { 'data-testid': 'server-url' }, serverUrl())),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const mode = ((event as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? 'login';
    const name = username.value.trim();
    error.textContent = '';
    if (name.length < 3) {
      error.textContent = 'The user name needs at least 3 characters.';
      return;
    }
    if (mode === 'register' && !password.value) {
      error.textContent = 'Choose a password.';
      return;
    }
    const session: SavedSession = {
      server: serverUrl(),
      username: name,
      passphrase: passphrase.value || defaultPassphrase(name),
    };
    for (const button of [loginButton, registerButton]) {
      button.disabled = true;
    }
    let client: Client | null = null;
    try {
      status.textContent = 'Opening the encrypted store…';
      client = await openStore(session);
      let user: User;
      const saved = client.currentUser();
      if (mode === 'register') {
        status.textContent = 'Creating the account and this device’s keys…';
        user = await client.register(name, password.value);
      } else if (saved && saved.username === name && !password.value) {
        user = saved; // this browser kept the login: the password is not needed
      } else {
        if (!password.value) {
          throw new Error('Enter your password.');
        }
        status.textContent = 'Logging in…';
        user = await client.login(name, password.value);
      }
      saveSession(session);
      status.textContent = '';
      onReady({ client, user, session });
    } catch (e) {
      if (client) {
        await disposeClient(client); // the next attempt opens the store afresh
      }
      status.textContent = '';
      error.textContent = explain(e);
      for (const button of [loginButton, registerButton]) {
        button.disabled = false;
      }
    }
  });

  root.replaceChildren(h('main', { class: 'login-page' }, form));
  (username.value ? password : username).focus();
}
