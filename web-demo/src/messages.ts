// The message list of a conversation and its composer.

import { formatTime, h, icon } from './dom';
import { imageToDataUrl } from './images';
import type { MessageRecord, MessageStatus } from './sdk';

const TICKS: Record<MessageStatus, [string, string]> = {
  pending: ['', 'Waiting to be sent'],
  sent: ['✓', 'Sent'],
  delivered: ['✓✓', 'Delivered'],
  read: ['✓✓', 'Read'],
  failed: ['⚠', 'Not sent'],
};

const RANK: Record<MessageStatus, number> = { pending: 0, failed: 0, sent: 1, delivered: 2, read: 3 };

/** The further of two statuses of an outgoing message (events and reloads may cross). */
export function laterStatus(a: MessageStatus, b: MessageStatus): MessageStatus {
  return RANK[b] >= RANK[a] ? b : a;
}

function signature(record: MessageRecord): string {
  return `${record.status}|${record.body}|${record.decryptError ?? ''}`;
}

function messageItem(record: MessageRecord, senderName: string | null): HTMLElement {
  if (record.kind === 'system') {
    return h('li', { class: 'msg system', 'data-testid': 'message', 'data-id': record.id }, h('span', { class: 'body' }, record.body));
  }
  const outgoing = record.direction === 'outgoing';
  const failed = Boolean(record.decryptError);
  const [tick, tickTitle] = TICKS[record.status];
  const content = failed
    ? h('span', { class: 'body undecryptable' }, '⚠ This message could not be decrypted.')
    : record.kind === 'image' && record.imageData
      ? h('img', { class: 'msg-image', src: record.imageData, alt: record.body || 'picture', 'data-testid': 'message-image' })
      : h('span', { class: 'body', 'data-testid': 'message-body' }, record.body);
  return h(
    'li',
    {
      class: `msg ${outgoing ? 'out' : 'in'}`,
      'data-testid': 'message',
      'data-id': record.id,
      'data-direction': record.direction,
      'data-status': record.status,
      'data-encrypted': String(record.encrypted),
    },
    h(
      'div',
      { class: 'bubble' },
      senderName && !outgoing ? h('div', { class: 'sender', 'data-testid': 'message-sender' }, senderName) : null,
      content,
      h(
        'div',
        { class: 'meta' },
        record.encrypted ? h('span', { class: 'lock', title: 'End-to-end encrypted', 'data-testid': 'lock' }, icon('lock')) : null,
        h('time', { datetime: new Date(record.timestamp).toISOString() }, formatTime(record.timestamp)),
        outgoing
          ? h('span', { class: `ticks ${record.status}`, title: tickTitle, 'aria-label': tickTitle, 'data-testid': 'ticks' }, record.status === 'pending' ? icon('clock') : tick)
          : null,
      ),
    ),
  );
}

/** A list that keeps the elements of unchanged messages (pictures are not decoded again). */
export class MessageList {
  readonly element = h('ol', { class: 'messages', 'data-testid': 'messages', 'aria-live': 'polite' });
  private rendered = new Map<string, { sig: string; node: HTMLElement }>();

  constructor(private senderName: ((record: MessageRecord) => string | null) | null) {}

  render(records: Iterable<MessageRecord>): void {
    const sorted = [...records].sort((a, b) => a.timestamp - b.timestamp || a.id.localeCompare(b.id));
    const atBottom = this.element.scrollHeight - this.element.scrollTop - this.element.clientHeight < 80;
    const next = new Map<string, { sig: string; node: HTMLElement }>();
    const nodes: HTMLElement[] = [];
    for (const record of sorted) {
      const sig = signature(record);
      let entry = this.rendered.get(record.id);
      if (!entry || entry.sig !== sig) {
        entry = { sig, node: messageItem(record, this.senderName?.(record) ?? null) };
      }
      next.set(record.id, entry);
      nodes.push(entry.node);
    }
    this.rendered = next;
    if (nodes.length === 0) {
      this.element.replaceChildren(h('li', { class: 'empty muted' }, 'No messages yet. Say hello!'));
    } else {
      this.element.replaceChildren(...nodes);
    }
    if (atBottom) {
      this.element.scrollTop = this.element.scrollHeight;
    }
  }
}

export interface ComposerActions {
  sendText(text: string): Promise<unknown>;
  sendImage(dataUrl: string): Promise<unknown>;
  typing(typing: boolean): void;
  error(error: unknown): void;
}

/** Text field, send button and picture button, with typing notifications. */
export function composer(actions: ComposerActions, placeholder: string): HTMLFormElement {
  const input = h('input', {
    class: 'grow',
    placeholder,
    autocomplete: 'off',
    'aria-label': 'Message',
    'data-testid': 'composer-input',
  });
  const file = h('input', { type: 'file', accept: 'image/*', hidden: true, 'data-testid': 'image-input' });
  let typing = false;
  let lastTypingSent = 0;
  let idle: number | undefined;
  const stopTyping = () => {
    if (typing) {
      typing = false;
      actions.typing(false);
    }
  };
  input.addEventListener('input', () => {
    const now = Date.now();
    if (input.value && (!typing || now - lastTypingSent > 2500)) {
      typing = true;
      lastTypingSent = now;
      actions.typing(true);
    }
    clearTimeout(idle);
    idle = window.setTimeout(stopTyping, 3000);
    if (!input.value) {
      stopTyping();
    }
  });
  file.addEventListener('change', async () => {
    const picked = file.files?.[0];
    file.value = '';
    if (!picked) {
      return;
    }
    try {
      await actions.sendImage(await imageToDataUrl(picked));
    } catch (e) {
      actions.error(e);
    }
  });
  const form = h(
    'form',
    { class: 'composer', 'data-testid': 'composer' },
    h('button', { type: 'button', class: 'icon-button secondary', title: 'Send a picture', 'aria-label': 'Send a picture', 'data-testid': 'image-button', onclick: () => file.click() }, icon('image')),
    file,
    input,
    h('button', { type: 'submit', 'data-testid': 'send' }, 'Send'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) {
      return;
    }
    input.value = '';
    clearTimeout(idle);
    stopTyping();
    actions.sendText(text).catch((e: unknown) => {
      if (!input.value) {
        input.value = text; // give the text back so it is not lost
      }
      actions.error(e);
    });
  });
  return form;
}
