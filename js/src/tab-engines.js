// What crypto.js calls in place of the engine's `KeyManagerCore` and `SessionManagerCore`
// when the tabs share one engine (see tabs.js): the same methods, each run by the group in
// this tab while it leads, else in the leader tab.

/** The keys' engine as seen from any tab of the group (the methods of `KeyManagerCore`). */
export class TabKeys {
  #group;

  constructor(group) {
    this.#group = group;
  }

  /** A session engine over these keys for one SessionManager of this tab. */
  sessions(token, options) {
    return this.#group.sessions(token, options);
  }

  initialize() {
    return this.#group.call('keys', 'initialize', []);
  }

  getFingerprint() {
    return this.#group.call('keys', 'getFingerprint', []);
  }

  getPendingBundle() {
    return this.#group.call('keys', 'getPendingBundle', []);
  }

  markBundleUploaded(bundle) {
    return this.#group.call('keys', 'markBundleUploaded', [bundle]);
  }

  queueOneTimePrekeys(count) {
    return this.#group.call('keys', 'queueOneTimePrekeys', [count]);
  }

  rotateSignedPrekey() {
    return this.#group.call('keys', 'rotateSignedPrekey', []);
  }

  getIdentityMaterial() {
    return this.#group.call('keys', 'getIdentityMaterial', []);
  }

  resetE2EE() {
    return this.#group.call('keys', 'resetE2EE', []);
  }

  signedPrekeyRecord() {
    return this.#group.call('keys', 'signedPrekeyRecord', []);
  }

  oneTimePrekeyRecord(keyId) {
    return this.#group.call('keys', 'oneTimePrekeyRecord', [keyId]);
  }

  oneTimePrekeyCount() {
    return this.#group.call('keys', 'oneTimePrekeyCount', []);
  }

  sessionRecord(peerId) {
    return this.#group.call('keys', 'sessionRecord', [peerId]);
  }

  sessionRecords() {
    return this.#group.call('keys', 'sessionRecords', []);
  }
}

/** The session engine of a SessionManager made over `keys`, when those are a tab group's; else null. */
export function tabSessions(keys, token, options) {
  return keys instanceof TabKeys ? keys.sessions(token, options) : null;
}

/** One SessionManager's engine as seen from any tab (the methods of `SessionManagerCore`). */
export class TabSessions {
  #group;
  #handle;
  #token;
  #options;
  #onIdentityChange;
  #local = null;
  #localKeys = null;
  /** The SessionManager's own `fetchBundle`: the leader asks this tab to call it. */
  fetchBundle;

  constructor(group, handle, token, options) {
    this.#group = group;
    this.#handle = handle;
    this.#token = token;
    this.#options = options;
    this.fetchBundle = typeof options.fetchBundle === 'function' ? options.fetchBundle : undefined;
    this.#onIdentityChange = options.onIdentityChange;
  }

  setToken(token) {
    this.#token = token;
    this.#local?.setToken(token);
  }

  onIdentityChange(callback) {
    this.#onIdentityChange = callback;
    this.#local?.onIdentityChange(callback);
  }

  /** From the leader: a peer's identity changed during a call of this SessionManager. */
  identityChanged(change) {
    try {
      this.#onIdentityChange?.(change);
    } catch (error) {
      // As the engine does with a throwing callback: reported, never thrown into a call.
      console.error('quickchat: onIdentityChange threw', error);
    }
  }

  /** The engine in this tab, while it leads over `keys` (made on first use). */
  localEngine(keys) {
    if (this.#localKeys !== keys) {
      this.#local?.free?.();
      this.#local = this.#group.openSessionsHere(keys, this.#token, {
        ...this.#options,
        onIdentityChange: this.#onIdentityChange,
      });
      this.#localKeys = keys;
    }
    return this.#local;
  }

  /** The group stopped leading: the engine here is gone. */
  dropEngine() {
    this.#local?.free?.();
    this.#local = null;
    this.#localKeys = null;
  }

  #call(method, args) {
    const keys = this.#group.leadingKeys;
    if (keys) {
      try {
        return this.localEngine(keys)[method](...args);
      } catch (error) {
        // The engine refused its options: a rejection, as in one tab.
        return Promise.reject(error);
      }
    }
    const server = this.#options.server;
    return this.#group.call('sessions', method, args, {
      handle: this.#handle,
      token: this.#token,
      server: typeof server === 'string' ? server : undefined,
      hasFetchBundle: this.fetchBundle !== undefined,
    });
  }

  ensureSession(peerId) {
    return this.#call('ensureSession', [peerId]);
  }

  encryptMessage(peerId, plaintext) {
    return this.#call('encryptMessage', [peerId, plaintext]);
  }

  decryptFields(peerId, ratchetKey, previousChainLength, messageNumber, ciphertext) {
    return this.#call('decryptFields', [peerId, ratchetKey, previousChainLength, messageNumber, ciphertext]);
  }

  decryptWire(peerId, wire) {
    return this.#call('decryptWire', [peerId, wire]);
  }

  listSessions() {
    return this.#call('listSessions', []);
  }
}
