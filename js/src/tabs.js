// Several tabs of one user over one store: one engine, in the leader tab.
//
// Two engines over one IndexedDB store would each keep their own copy of the sessions and
// drift apart (a message key used twice, a chain the peer cannot follow), so the store is
// held by one tab at a time (platform-wasm's store lock). Here the tabs of one origin elect
// that tab with a Web Lock (`quickchat-tabs:<database>`): its holder, the leader, opens the
// store and runs the engine; the other tabs (followers) call it over a BroadcastChannel of
// the same name, request and response matched by id, errors carried with their `name`,
// `code` and message. Every follower also waits on the lock, so when the leader tab closes
// (the browser releases its locks) the next one takes the lock, opens the store and
// announces itself; calls the old leader had not answered are sent again to it (or run in
// it, when it is the new leader). Nothing waits forever: a call no leader acknowledges within
// `ACK_TIMEOUT_MS` fails with `tabs_unavailable`.
//
// Why a leader tab rather than a SharedWorker: Web Locks and BroadcastChannel exist wherever
// the drop-in runs (Chromium on desktop and Android, Firefox, Safari >= 15.4), whereas
// SharedWorker is missing on some (Chrome for Android for most of its history), and a worker
// needs its own script entry, which every bundler handles differently. In a page the engine
// also keeps what cannot cross a channel: a tab's `fetchBundle` and `onIdentityChange`
// callbacks are called in that tab (the leader asks it), and bundles are fetched with the
// page's own `fetch`. And Chromium's Energy Saver does not freeze a background page holding
// a Web Lock that another page waits on, which the leader always is while tabs follow it.
//
// Where there is no Web Locks API or BroadcastChannel (Node, jsdom under vitest) none of
// this is used: crypto.js opens the engine in place, as before.

import { quickChatError } from './errors.js';
import { TabKeys, TabSessions } from './tab-engines.js';

/** How long a call waits for a leader to acknowledge it before failing. */
const ACK_TIMEOUT_MS = 20_000;

/** What followers may call on the leader's engine (nothing else of it is reachable). */
const KEY_METHODS = new Set([
  'initialize',
  'getFingerprint',
  'getPendingBundle',
  'markBundleUploaded',
  'queueOneTimePrekeys',
  'rotateSignedPrekey',
  'getIdentityMaterial',
  'resetE2EE',
  'signedPrekeyRecord',
  'oneTimePrekeyRecord',
  'oneTimePrekeyCount',
  'sessionRecord',
  'sessionRecords',
]);
const SESSION_METHODS = new Set([
  'ensureSession',
  'encryptMessage',
  'decryptFields',
  'decryptWire',
  'listSessions',
]);

/**
 * Whether the tabs of this origin can share one engine here: a browser (page or worker) with
 * Web Locks and BroadcastChannel. False in Node and in jsdom.
 */
export function tabsAvailable() {
  return (
    typeof globalThis.navigator?.locks?.request === 'function' &&
    typeof globalThis.BroadcastChannel === 'function' &&
    typeof globalThis.process?.versions?.node !== 'string'
  );
}


// An error as data for the channel: its name, message and every plain field (`code`...).
function errorData(error) {
  if (typeof error !== 'object' || error === null) return { name: 'Error', message: String(error) };
  const data = { name: String(error.name ?? 'Error'), message: String(error.message ?? error) };
  for (const [field, value] of Object.entries(error)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) data[field] = value;
  }
  return data;
}

function errorFrom(data) {
  const error = data?.name === 'TypeError' ? new TypeError(data.message) : new Error(data?.message);
  return Object.assign(error, data);
}

function randomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The tabs of one origin sharing the store `name`. `openKeys()` opens the store here (a
 * promise of the engine's `KeyManagerCore`), `openSessions(keys, token, options)` makes a
 * `SessionManagerCore` over it; both are called only while this tab leads.
 */
export class TabGroup {
  #name;
  #openKeys;
  #openSessions;
  #tabId = randomId();
  #channel = null;
  /** 'idle' | 'electing' | 'leader' | 'follower' */
  #state = 'idle';
  /** Settles when the role is known (and, for a leader, the store is open). */
  #settled = null;
  /** The engine, once this tab leads and the store is open. */
  #keys = null;
  #keysOpening = null;
  /** This tab's calls sent to a leader, by id. */
  #pending = new Map();
  #nextId = 0;
  /** On the leader: the session engines of other tabs' SessionManagers, by `tab:handle`. */
  #remoteSessions = new Map();
  /** On the leader: tabs whose end it watches for. */
  #watchedTabs = new Set();
  /** On the leader: the calls it took (`tab:id`), so that one sent again is not run twice. */
  #served = new Set();
  /** On the leader: its requests to other tabs (their `fetchBundle`), by id. */
  #asks = new Map();
  /** This tab's session handles (for `fetchBundle` and identity-change events). */
  #handles = new Map();
  #nextHandle = 0;
  #tabLock = null;

  #passphrase;
  #verifier = null;

  constructor(name, { openKeys, openSessions, passphrase }) {
    this.#name = name;
    this.#openKeys = openKeys;
    this.#openSessions = openSessions;
    this.#passphrase = typeof passphrase === 'string' ? passphrase : '';
  }

  // What tells the leader that a tab opens the store with the same passphrase (a tab with
  // another one is refused with `wrong_passphrase`, as it would be alone), without the
  // passphrase itself on the channel: PBKDF2 of it, salted with the store's name. Only
  // same-origin code can read the channel, and that code can call the engine anyway.
  #verify() {
    this.#verifier ??= (async () => {
      const subtle = globalThis.crypto?.subtle;
      if (!subtle) return null;
      const encoder = new TextEncoder();
      const secret = encoder.encode(this.#passphrase);
      const key = await subtle.importKey('raw', secret, 'PBKDF2', false, ['deriveBits']);
      const salt = encoder.encode(`quickchat-tabs:${this.#name}`);
      const bits = await subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations: 100_000 }, key, 256);
      return Array.from(new Uint8Array(bits), (b) => b.toString(16).padStart(2, '0')).join('');
    })();
    return this.#verifier;
  }

  /** The keys' engine of this group: the same methods as `KeyManagerCore`. */
  keys() {
    return new TabKeys(this);
  }

  /** Waits for the role (and, when leading, the open store); rejects when opening failed. */
  ready() {
    if (this.#state === 'idle') this.#start();
    return this.#settled;
  }

  /** A session engine for one SessionManager of this tab (the methods of `SessionManagerCore`). */
  sessions(token, options) {
    const handle = this.#nextHandle++;
    const sessions = new TabSessions(this, handle, token, options);
    this.#handles.set(handle, sessions);
    return sessions;
  }

  #start() {
    this.#state = 'electing';
    this.#channel ??= this.#openChannel();
    let settle;
    let fail;
    this.#settled = new Promise((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    const lockName = `quickchat-tabs:${this.#name}`;
    const lead = (lock) => (lock ? this.#lead(settle, fail) : undefined);
    this.#holdTabLock()
      .then(() =>
        navigator.locks.request(lockName, { ifAvailable: true }, (lock) => {
          if (lock) return lead(lock);
          // Another tab leads: follow it, and queue to lead after it.
          this.#state = 'follower';
          settle();
          navigator.locks.request(lockName, lead).catch((error) => this.#dissolve(error));
          return undefined;
        }),
      )
      .catch((error) => {
        this.#state = 'idle';
        fail(error);
      });
  }

  // This tab's own lock, held for its life: a leader waits on it to learn that the tab is
  // gone (its answers will never come). Held before the first call goes out, so a leader's
  // wait always queues behind it.
  #holdTabLock() {
    this.#tabLock ??= new Promise((granted, refused) => {
      navigator.locks
        .request(`quickchat-tab:${this.#tabId}`, () => {
          granted();
          return new Promise(() => {});
        })
        .catch(refused);
    });
    return this.#tabLock;
  }

  // The lock's callback: holds the lock for the tab's life, or lets go at once when the store
  // would not open here (the group dissolves; the next tab in line leads).
  async #lead(settle, fail) {
    const takeover = this.#state === 'follower';
    this.#state = 'leader';
    this.#announce();
    this.#keysOpening = Promise.resolve()
      .then(() => this.#openKeys())
      .then(async (keys) => {
        // The previous leader's engine was initialized by then (its keys are in the store):
        // this one is too, or the other tabs' calls would fail with `not_initialized`.
        if (takeover) await keys.getFingerprint().then(() => keys.initialize(), () => {});
        return keys;
      });
    try {
      this.#keys = await this.#keysOpening;
    } catch (error) {
      this.#dissolve(error);
      fail(error);
      return undefined;
    }
    settle();
    // This tab's calls that a previous leader had not answered: run here.
    for (const [id, call] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(call.timer);
      this.#runHere(this.#tabId, call.message).then(call.resolve, call.reject);
    }
    return new Promise(() => {});
  }

  // The store would not open while leading (a wrong passphrase, a holder outside the group):
  // let another tab lead; this tab starts over on its next call.
  #dissolve(error) {
    this.#state = 'idle';
    this.#keys = null;
    this.#keysOpening = null;
    for (const entry of this.#remoteSessions.values()) entry.engine.free?.();
    this.#remoteSessions.clear();
    this.#served.clear();
    for (const handle of this.#handles.values()) handle.dropEngine();
    for (const [id, call] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(call.timer);
      call.reject(error);
    }
    this.#channel?.close();
    this.#channel = null;
  }

  #announce() {
    this.#post({ type: 'leader', from: this.#tabId });
  }

  #post(message) {
    // No channel once the group dissolved: nothing is answered from here any more.
    this.#channel?.postMessage(message);
  }

  #openChannel() {
    const channel = new BroadcastChannel(`quickchat-tabs:${this.#name}`);
    channel.onmessage = (event) => this.#receive(event.data);
    return channel;
  }

  #receive(message) {
    if (typeof message !== 'object' || message === null) return;
    switch (message.type) {
      case 'call':
        if (this.#state === 'leader') this.#serve(message);
        break;
      case 'ack': {
        const call = message.to === this.#tabId ? this.#pending.get(message.id) : undefined;
        if (call) {
          call.leader = message.from;
          clearTimeout(call.timer);
        }
        break;
      }
      case 'result': {
        const call = message.to === this.#tabId ? this.#pending.get(message.id) : undefined;
        if (!call) break;
        this.#pending.delete(message.id);
        clearTimeout(call.timer);
        if (message.ok) call.resolve(message.value);
        else call.reject(errorFrom(message.error));
        break;
      }
      case 'leader':
        // A new leader: what the previous one had not answered goes to it.
        if (message.from === this.#tabId) break;
        for (const call of this.#pending.values()) {
          if (call.leader !== message.from) this.#send(call);
        }
        break;
      case 'fetch':
        if (message.to === this.#tabId) this.#fetchForLeader(message);
        break;
      case 'fetched': {
        const ask = message.to === this.#tabId ? this.#asks.get(message.id) : undefined;
        if (!ask) break;
        this.#asks.delete(message.id);
        if (message.ok) ask.resolve(message.value);
        else ask.reject(errorFrom(message.error));
        break;
      }
      case 'identity':
        if (message.to === this.#tabId) this.#handles.get(message.handle)?.identityChanged(message.change);
        break;
      default:
        break;
    }
  }

  /** Runs `method` on this group's engine: here when leading, else in the leader tab. */
  call(target, method, args, session) {
    if (this.#state === 'leader' && this.#keys) {
      return this.#runHere(this.#tabId, { target, method, args, session });
    }
    return this.ready().then(async () => {
      if (this.#state === 'leader') return this.#runHere(this.#tabId, { target, method, args, session });
      const verifier = await this.#verify();
      const id = this.#nextId++;
      const message = { type: 'call', from: this.#tabId, id, target, method, args, session, verifier };
      if (this.#state === 'leader') return this.#runHere(this.#tabId, message);
      return new Promise((resolve, reject) => {
        const call = { message, resolve, reject, leader: null, timer: null };
        this.#pending.set(message.id, call);
        this.#send(call);
      });
    });
  }

  #send(call) {
    clearTimeout(call.timer);
    call.leader = null;
    call.timer = setTimeout(() => {
      if (!this.#pending.delete(call.message.id)) return;
      call.reject(
        quickChatError(
          'tabs_unavailable',
          `no tab answered for the store ${this.#name} within ${ACK_TIMEOUT_MS / 1000} s ` +
            '(the tab holding it is frozen or hung?)',
        ),
      );
    }, ACK_TIMEOUT_MS);
    try {
      this.#post(call.message);
    } catch (error) {
      // Arguments that cannot be cloned (a cyclic or exotic object): refused here.
      this.#pending.delete(call.message.id);
      clearTimeout(call.timer);
      call.reject(error);
    }
  }

  // On the leader: a call from another tab.
  async #serve(message) {
    const { from, id } = message;
    this.#post({ type: 'ack', to: from, id, from: this.#tabId });
    // A tab sends a call again when a new leader announces itself; one that reached this
    // leader before its announcement would arrive twice.
    const key = `${from}:${id}`;
    if (this.#served.has(key)) return;
    this.#served.add(key);
    if (this.#served.size > 4096) this.#served.delete(this.#served.values().next().value);
    this.#watch(from);
    let reply;
    try {
      await this.#keysOpening;
      if (message.verifier !== (await this.#verify())) {
        throw quickChatError('wrong_passphrase', 'wrong passphrase for this store');
      }
      reply = { type: 'result', to: from, id, ok: true, value: await this.#runHere(from, message) };
    } catch (error) {
      reply = { type: 'result', to: from, id, ok: false, error: errorData(error) };
    }
    // The tab may have lost the lead meanwhile (the store would not open): the call is sent
    // again to the next leader, so nothing is answered from here.
    if (this.#state !== 'leader') return;
    try {
      this.#post(reply);
    } catch (error) {
      this.#post({ type: 'result', to: from, id, ok: false, error: errorData(error) });
    }
  }

  async #runHere(from, { target, method, args, session }) {
    if (!this.#keys) await this.#keysOpening;
    const keys = this.#keys;
    if (!keys) throw quickChatError('tabs_unavailable', 'the store is not open in this tab');
    if (target === 'keys' && KEY_METHODS.has(method)) return keys[method](...args);
    if (target === 'sessions' && SESSION_METHODS.has(method)) {
      const engine =
        from === this.#tabId
          ? this.#handles.get(session.handle)?.localEngine(keys)
          : this.#remoteEngine(keys, from, session);
      if (!engine) throw quickChatError('tabs_unavailable', 'the SessionManager is gone');
      return engine[method](...args);
    }
    throw new TypeError(`quickchat: no method ${target}.${method}`);
  }

  // On the leader: the session engine of a SessionManager in another tab; its bundles come
  // from that tab's `fetchBundle` when it has one, and identity changes go back to it.
  #remoteEngine(keys, from, { handle, token, server, hasFetchBundle }) {
    const key = `${from}:${handle}`;
    let entry = this.#remoteSessions.get(key);
    if (!entry) {
      const options = {
        onIdentityChange: (change) => this.#post({ type: 'identity', to: from, handle, change }),
      };
      if (server !== undefined) options.server = server;
      if (hasFetchBundle) options.fetchBundle = (peerId) => this.#ask(from, handle, peerId);
      entry = { engine: this.#openSessions(keys, token, options), token };
      this.#remoteSessions.set(key, entry);
    } else if (entry.token !== token) {
      entry.engine.setToken(token);
      entry.token = token;
    }
    return entry.engine;
  }

  // On the leader: asks tab `to` for a bundle through its `fetchBundle`.
  // A tab that stops answering (frozen) must not hold up the engine's session set-ups.
  #ask(to, handle, peerId) {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        if (!this.#asks.delete(id)) return;
        reject(new Error(`the tab did not give the bundle within ${ACK_TIMEOUT_MS / 1000} s`));
      }, ACK_TIMEOUT_MS);
      const settle = (then) => (value) => {
        clearTimeout(timer);
        then(value);
      };
      this.#asks.set(id, { resolve: settle(resolve), reject: settle(reject), to });
      this.#post({ type: 'fetch', to, from: this.#tabId, id, handle, peerId });
    });
  }

  // On the leader: when tab `tab` ends, its session engines go and its pending answers fail.
  #watch(tab) {
    if (this.#watchedTabs.has(tab)) return;
    this.#watchedTabs.add(tab);
    navigator.locks
      .request(`quickchat-tab:${tab}`, () => {
        this.#watchedTabs.delete(tab);
        for (const [key, entry] of this.#remoteSessions) {
          if (key.startsWith(`${tab}:`)) {
            entry.engine.free?.();
            this.#remoteSessions.delete(key);
          }
        }
        for (const [id, ask] of this.#asks) {
          if (ask.to !== tab) continue;
          this.#asks.delete(id);
          ask.reject(new Error('the tab that asked for this bundle was closed'));
        }
      })
      .catch(() => {});
  }

  // In a follower: the leader needs a bundle from this tab's `fetchBundle`.
  async #fetchForLeader({ from, id, handle, peerId }) {
    let reply;
    try {
      const fetchBundle = this.#handles.get(handle)?.fetchBundle;
      if (typeof fetchBundle !== 'function') throw new Error('fetchBundle is gone');
      reply = { type: 'fetched', to: from, id, ok: true, value: await fetchBundle(peerId) };
    } catch (error) {
      reply = { type: 'fetched', to: from, id, ok: false, error: errorData(error) };
    }
    try {
      this.#post(reply);
    } catch (error) {
      this.#post({ type: 'fetched', to: from, id, ok: false, error: errorData(error) });
    }
  }

  /** A session engine over `keys` in this tab (only while it leads). */
  openSessionsHere(keys, token, options) {
    return this.#openSessions(keys, token, options);
  }

  /** The engine here when leading (for the hot path), else null. */
  get leadingKeys() {
    return this.#state === 'leader' ? this.#keys : null;
  }
}
