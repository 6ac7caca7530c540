// Fingerprints, QR codes, verification and identity-change warnings.

import QRCode from 'qrcode';

import { groupFingerprint, h } from './dom';
import { explain } from './login';
import type { Client, IdentityChange, Verification } from './sdk';

/** What a QR code of this page holds: the user id and the fingerprint of their identity key. */
export function qrPayload(userId: string, fingerprint: string): string {
  return `quickchat:v1:${userId}:${fingerprint}`;
}

/** Reads a scanned code: `{userId, fingerprint}`, or null when it is not one of ours. */
export function parseQrPayload(text: string): { userId: string; fingerprint: string } | null {
  const match = /^quickchat:v1:([^:\s]+):([0-9A-F]{60})$/.exec(text.trim());
  return match ? { userId: match[1], fingerprint: match[2] } : null;
}

function qrCanvas(payload: string, testId: string): HTMLCanvasElement {
  const canvas = h('canvas', { class: 'qr', 'data-testid': testId, 'data-payload': payload, role: 'img' });
  canvas.setAttribute('aria-label', 'QR code of the fingerprint');
  void QRCode.toCanvas(canvas, payload, { width: 220, margin: 2, errorCorrectionLevel: 'M' });
  return canvas;
}

function fingerprintBlock(fingerprint: string, testId: string): HTMLElement {
  return h('code', { class: 'fingerprint', 'data-testid': testId, 'data-fingerprint': fingerprint }, groupFingerprint(fingerprint));
}

/** A modal dialog that removes itself when closed. */
export function openDialog(title: string, testId: string, ...content: (Node | null)[]): HTMLDialogElement {
  const dialog: HTMLDialogElement = h(
    'dialog',
    { class: 'card', 'data-testid': testId },
    h('header', {}, h('h2', {}, title), h('button', { class: 'link close', 'aria-label': 'Close', 'data-testid': 'dialog-close', onclick: () => dialog.close() }, '×')),
    ...content,
  );
  dialog.addEventListener('close', () => dialog.remove());
  document.body.appendChild(dialog);
  dialog.showModal();
  return dialog;
}

/** This device's fingerprint with its QR code, and resetting the keys. */
export async function showOwnKeys(client: Client, userId: string, onReset: () => void): Promise<void> {
  const fingerprint = await client.fingerprint();
  const confirmArea = h('div', { class: 'row' });
  const resetButton = h('button', { class: 'danger', 'data-testid': 'reset-keys' }, 'Reset my keys…');
  resetButton.addEventListener('click', () => {
    confirmArea.replaceChildren(
      h('p', { class: 'warning' }, 'New keys mean a new fingerprint: everyone you talk to will see a warning, and those who verified you must verify again.'),
      h(
        'button',
        {
          class: 'danger',
          'data-testid': 'reset-keys-confirm',
          onclick: async (event: Event) => {
            (event.target as HTMLButtonElement).disabled = true;
            try {
              await client.resetE2EE();
              dialog.close();
              onReset();
            } catch (e) {
              confirmArea.replaceChildren(h('p', { class: 'error-line' }, explain(e)));
            }
          },
        },
        'Yes, make new keys',
      ),
    );
  });
  const dialog = openDialog(
    'Your keys',
    'own-keys-dialog',
    h('p', { class: 'muted' }, 'Your fingerprint. People you talk to compare it with what their app shows for you, or scan the code.'),
    fingerprintBlock(fingerprint, 'own-fingerprint'),
    qrCanvas(qrPayload(userId, fingerprint), 'own-qr'),
    resetButton,
    confirmArea,
  );
}

export function verificationBadge(verification: Verification | null, warning: boolean): HTMLElement {
  if (warning || verification?.changePending) {
    return h('span', { class: 'badge warning', 'data-testid': 'verification-badge', 'data-state': 'changed' }, '⚠ Key changed');
  }
  if (verification?.verified) {
    return h('span', { class: 'badge ok', 'data-testid': 'verification-badge', 'data-state': 'verified' }, '✔ Verified');
  }
  return h('span', { class: 'badge', 'data-testid': 'verification-badge', 'data-state': 'unverified' }, 'Not verified');
}

/**
 * A peer's fingerprint next to ours, verify / unverify, and checking a scanned code.
 * `changed` is called after every change of the verification.
 */
export async function showPeerKeys(
  client: Client,
  me: { userId: string },
  peer: { id: string; username: string },
  changed: () => void,
): Promise<void> {
  const [mine, verification] = await Promise.all([client.fingerprint(), client.verification(peer.id)]);
  const state = h('p', { 'data-testid': 'peer-verification-state' });
  const actions = h('div', { class: 'row' });
  const message = h('p', { class: 'status-line', 'data-testid': 'peer-keys-message', 'aria-live': 'polite' });

  const show = (v: Verification) => {
    if (v.changePending) {
      state.className = 'warning';
      state.textContent = `⚠ ${peer.username}’s key changed since you last saw it. Compare the new fingerprint before you trust it.`;
    } else if (v.verified) {
      state.className = 'ok';
      const how = v.method === 'qr_code' ? 'by QR code' : 'by comparing the numbers';
      state.textContent = `✔ Verified ${how}${v.verifiedAt ? ` on ${new Date(v.verifiedAt).toLocaleString()}` : ''}.`;
    } else {
      state.className = 'muted';
      state.textContent = 'Not verified. Compare the fingerprints in person or on a call, or scan their code.';
    }
    state.dataset.state = v.changePending ? 'changed' : v.verified ? 'verified' : 'unverified';
    actions.replaceChildren(
      v.verified && !v.changePending
        ? h('button', { class: 'secondary', 'data-testid': 'unverify-peer', onclick: () => act(() => client.unverifyPeer(peer.id), 'Verification removed.') }, 'Remove verification')
        : h('button', { 'data-testid': 'verify-peer', onclick: () => act(() => client.verifyPeer(peer.id, 'manual'), 'Marked as verified.') }, 'They match: mark as verified'),
    );
  };

  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      const v = await client.verification(peer.id);
      theirs.replaceWith((theirs = fingerprintBlock(v.currentFingerprint, 'peer-fingerprint')));
      show(v);
      message.textContent = done;
      changed();
    } catch (e) {
      message.textContent = explain(e);
    }
  };

  const scanned = h('input', { class: 'grow', placeholder: 'quickchat:v1:…', 'data-testid': 'scanned-code', 'aria-label': 'Scanned code' });
  const check = h('form', { class: 'row' }, scanned, h('button', { type: 'submit', class: 'secondary', 'data-testid': 'check-scanned' }, 'Check'));
  check.addEventListener('submit', (event) => {
    event.preventDefault();
    const code = parseQrPayload(scanned.value);
    if (!code) {
      message.textContent = 'That is not a Quick Chat fingerprint code.';
      return;
    }
    void (async () => {
      const current = await client.peerFingerprint(peer.id);
      if (code.userId !== peer.id || code.fingerprint !== current) {
        message.textContent = `✘ The scanned code does not match ${peer.username}’s key. Do not verify.`;
        message.dataset.result = 'mismatch';
        return;
      }
      message.dataset.result = 'match';
      await act(() => client.verifyPeer(peer.id, 'qr_code'), '✔ The scanned code matches: verified by QR code.');
    })();
  });

  let theirs = fingerprintBlock(verification.currentFingerprint, 'peer-fingerprint');
  show(verification);
  openDialog(
    `Keys of ${peer.username}`,
    'peer-keys-dialog',
    h('h3', {}, `${peer.username}’s fingerprint`),
    theirs,
    state,
    actions,
    h('h3', {}, 'Your fingerprint'),
    fingerprintBlock(mine, 'own-fingerprint'),
    h('p', { class: 'muted small' }, `Let ${peer.username} scan this, or paste a code you scanned from their screen below.`),
    qrCanvas(qrPayload(me.userId, mine), 'own-qr'),
    check,
    message,
  );
}

/** The warning shown above a conversation when the peer's identity key changed. */
export function identityWarning(
  client: Client,
  peer: { id: string; username: string },
  change: IdentityChange | null,
  verification: Verification | null,
  resolved: () => void,
  openKeys: () => void,
): HTMLElement {
  const blocked = change?.wasVerified ?? verification?.changePending ?? false;
  const accept = async () => {
    try {
      await client.acceptIdentity(peer.id);
      resolved();
    } catch (e) {
      box.append(h('p', { class: 'error-line' }, explain(e)));
    }
  };
  const box = h(
    'div',
    { class: 'identity-warning', role: 'alert', 'data-testid': 'identity-warning' },
    h('strong', {}, `⚠ ${peer.username}’s security key changed.`),
    h(
      'p',
      {},
      'They may have reinstalled or reset their keys, or someone may be trying to intercept the conversation. ',
      blocked ? 'You had verified the old key, so sending is paused until you accept or verify the new one.' : 'Compare the new fingerprint with them.',
    ),
    change
      ? h(
          'p',
          { class: 'small' },
          'Before: ',
          h('code', { 'data-testid': 'identity-previous' }, groupFingerprint(change.previousFingerprint)),
          h('br'),
          'Now: ',
          h('code', { 'data-testid': 'identity-new' }, groupFingerprint(change.newFingerprint)),
        )
      : null,
    h(
      'div',
      { class: 'row' },
      h('button', { 'data-testid': 'identity-compare', onclick: openKeys }, 'Compare fingerprints'),
      h('button', { class: 'secondary', 'data-testid': 'identity-accept', onclick: accept }, 'Accept the new key'),
    ),
  );
  return box;
}
