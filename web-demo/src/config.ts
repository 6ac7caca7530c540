// Where the server is, and what this tab remembers.

/**
 * The server's origin: `?server=` in the page's address, else the one `npm run dev` passes
 * (`VITE_QUICKCHAT_SERVER`), else the page's own origin.
 */
export function serverUrl(): string {
  const fromQuery = new URLSearchParams(location.search).get('server');
  const configured = import.meta.env.VITE_QUICKCHAT_SERVER as string | undefined;
  return (fromQuery || configured || location.origin).replace(/\/+$/, '');
}

/** The IndexedDB database of one user on one server (so accounts never share a store). */
export function databaseName(server: string, username: string): string {
  return `quickchat-demo:${server}:${username}`;
}

/**
 * The demo's default store passphrase when none is typed in: derived from the user name, so
 * it protects nothing. The login form says so.
 */
export function defaultPassphrase(username: string): string {
  return `quickchat-demo-default:${username}`;
}

export interface SavedSession {
  server: string;
  username: string;
  passphrase: string;
}

const SESSION_KEY = 'quickchat-demo-session';
const LAST_USER_KEY = 'quickchat-demo-last-user';

/**
 * The store passphrase is asked once per tab session: it is kept in sessionStorage (gone when
 * the tab closes), so a reload reopens the store without asking again.
 */
export function savedSession(): SavedSession | null {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as SavedSession | null;
    return saved && saved.server === serverUrl() ? saved : null;
  } catch {
    return null;
  }
}

export function saveSession(session: SavedSession): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  localStorage.setItem(LAST_USER_KEY, session.username);
}

export function forgetSession(): void {
  sessionStorage.removeItem(SESSION_KEY);
}

export function lastUsername(): string {
  return localStorage.getItem(LAST_USER_KEY) ?? '';
}

/** An invite code from the address (`#join=CODE`), if the page was opened from an invite link. */
export function inviteFromAddress(): string | null {
  const match = /(?:^#|&)join=([^&]+)/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

export function clearInviteFromAddress(): void {
  history.replaceState(null, '', location.pathname + location.search);
}

/** The link that opens this page and joins a group with `code`. */
export function inviteLink(code: string): string {
  const url = new URL(location.pathname, location.origin);
  const server = serverUrl();
  if (server !== location.origin) {
    url.searchParams.set('server', server);
  }
  url.hash = `join=${encodeURIComponent(code)}`;
  return url.toString();
}
