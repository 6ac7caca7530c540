// The chat screen: connection state, people and groups, the open conversation, and the
// client's events.

import { clearInviteFromAddress, inviteFromAddress } from './config';
import { formatTime, h, icon, initial, toast } from './dom';
import { inviteCodeFrom, membersPanel, newGroupForm, type GroupContext } from './groups';
import { explain } from './login';
import { composer, laterStatus, MessageList } from './messages';
import { disposeClient } from './sdk';
import type {
  ChatEvent,
  Client,
  ConversationRef,
  GroupInfo,
  GroupMember,
  IdentityChange,
  MessageRecord,
  Subscription,
  User,
  UserSummary,
  Verification,
} from './sdk';
import { identityWarning, showOwnKeys, showPeerKeys, verificationBadge } from './trust';

type ConnectionState = 'connecting' | 'online' | 'offline' | 'stopped';

const key = (c: ConversationRef) => `${c.kind}:${c.id}`;

export class ChatApp {
  private users = new Map<string, UserSummary>();
  private online = new Set<string>();
  private groups: GroupInfo[] = [];
  private unread = new Map<string, number>();
  private warnings = new Map<string, IdentityChange>();

  private open: ConversationRef | null = null;
  private messages = new Map<string, MessageRecord>();
  private list: MessageList | null = null;
  private verification: Verification | null = null;
  private members: GroupMember[] = [];
  private membersOpen = false;
  private typingNames = new Map<string, { name: string; timer: number }>();
  private reloadTimer: number | undefined;
  private markedRead = new Set<string>();

  private subscription: Subscription | null = null;
  private state: ConnectionState = 'connecting';
  private retryTimer: number | undefined;

  private readonly conn = h('span', { class: 'conn', 'data-testid': 'connection', 'data-state': 'connecting', role: 'status' }, 'Connecting…');
  private readonly banner = h('div', { class: 'banner', 'data-testid': 'connection-banner', hidden: true });
  private readonly peopleList = h('ul', { class: 'entries', 'data-testid': 'user-list' });
  private readonly groupList = h('ul', { class: 'entries', 'data-testid': 'group-list' });
  private readonly pane = h('section', { class: 'pane', 'data-testid': 'pane' });

  constructor(
    private readonly root: HTMLElement,
    private readonly client: Client,
    private readonly me: User,
    private readonly signedOut: (notice: string | null) => void,
  ) {}

  // ------------------------------------------------------------------ start and stop

  start(): void {
    const joinForm = h(
      'form',
      { class: 'row join', 'data-testid': 'join-form' },
      h('input', { class: 'grow', placeholder: 'Invite code or link', 'aria-label': 'Invite code or link', 'data-testid': 'join-code' }),
      h('button', { type: 'submit', class: 'small secondary', 'data-testid': 'join-submit' }, 'Join'),
    );
    joinForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const input = joinForm.querySelector('input')!;
      const code = inviteCodeFrom(input.value);
      if (code) {
        input.value = '';
        void this.join(code);
      }
    });
    this.root.replaceChildren(
      h(
        'div',
        { class: 'app' },
        h(
          'header',
          { class: 'topbar' },
          h('span', { class: 'brand' }, 'Quick Chat'),
          this.conn,
          h('span', { class: 'grow' }),
          h('span', { class: 'me', 'data-testid': 'me' }, h('span', { class: 'avatar' }, initial(this.me.username)), this.me.username),
          h('button', { class: 'secondary small', 'data-testid': 'my-keys', onclick: () => this.showOwnKeys() }, 'My keys'),
          h('button', { class: 'secondary small', 'data-testid': 'logout', onclick: () => this.logout() }, 'Log out'),
        ),
        this.banner,
        h(
          'div',
          { class: 'layout' },
          h(
            'aside',
            { class: 'sidebar' },
            h('h2', {}, 'People'),
            this.peopleList,
            h('div', { class: 'row section-head' }, h('h2', { class: 'grow' }, 'Groups'), h('button', { class: 'small secondary', 'data-testid': 'new-group', onclick: () => this.showNewGroup() }, 'New group')),
            this.groupList,
            joinForm,
          ),
          this.pane,
        ),
      ),
    );
    this.showPlaceholder();
    this.subscription = this.client.onEvent((event) => this.handle(event));
    window.addEventListener('online', this.networkChanged);
    window.addEventListener('offline', this.networkChanged);
    document.addEventListener('visibilitychange', this.visibilityChanged);
    window.addEventListener('hashchange', this.hashChanged);
    this.client.connect();
    void this.refreshUsers();
    void this.refreshGroups();
    void this.refreshUnread();
    this.hashChanged();
  }

  private stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
    window.removeEventListener('online', this.networkChanged);
    window.removeEventListener('offline', this.networkChanged);
    document.removeEventListener('visibilitychange', this.visibilityChanged);
    window.removeEventListener('hashchange', this.hashChanged);
    clearInterval(this.retryTimer);
  }

  private async logout(): Promise<void> {
    this.stop();
    try {
      await this.client.logout();
    } catch {
      // signing out locally is what matters
    }
    await disposeClient(this.client);
    this.signedOut('You are logged out. Your keys and history stay in this browser.');
  }

  /** Runs an action; a failure becomes an error notice. */
  private readonly run = async (what: () => Promise<unknown>): Promise<boolean> => {
    try {
      await what();
      return true;
    } catch (e) {
      toast(explain(e), 'error');
      return false;
    }
  };

  // ------------------------------------------------------------------ events

  private handle(event: ChatEvent): void {
    switch (event.type) {
      case 'connected':
        this.setState('online');
        this.online = new Set(this.client.onlineUsers().map((u) => u.userId));
        this.renderPeople();
        this.renderHeader();
        void this.refreshUsers();
        void this.refreshGroups();
        break;
      case 'caught_up':
        void this.refreshUnread();
        this.scheduleReload();
        if (this.open?.kind === 'direct') {
          void this.loadVerification();
        }
        break;
      case 'catch_up_failed':
        toast(`Could not fetch missed messages: ${event.reason}`, 'warning');
        break;
      case 'disconnected':
        this.online.clear();
        this.renderPeople();
        this.renderHeader();
        this.setState('offline', `Connection lost (${event.reason}).`);
        break;
      case 'reconnecting':
        this.setState('offline', null, Date.now() + event.delayMs, event.attempt);
        break;
      case 'stopped':
        this.setState('stopped', event.error);
        break;
      case 'session_expired':
        this.stop();
        void disposeClient(this.client).then(() => this.signedOut('Your login expired: log in again.'));
        break;
      case 'presence':
        if (event.online) {
          this.online.add(event.userId);
        } else {
          this.online.delete(event.userId);
        }
        if (!this.users.has(event.userId)) {
          void this.refreshUsers();
        }
        this.renderPeople();
        if (this.open?.kind === 'direct' && this.open.id === event.userId) {
          this.renderHeader();
        }
        break;
      case 'message':
      case 'group_message':
        this.received(event.message, event.live);
        break;
      case 'message_status':
        this.statusChanged([event.messageId], event.status);
        break;
      case 'messages_read':
        this.statusChanged(event.messageIds, 'read');
        break;
      case 'typing':
        this.typing({ kind: 'direct', id: event.userId }, event.userId, event.username, event.typing);
        break;
      case 'group_typing':
        this.typing({ kind: 'group', id: event.groupId }, event.userId, event.username, event.typing);
        break;
      case 'group_event':
        void this.refreshGroups();
        if (this.open?.kind === 'group' && this.open.id === event.groupId) {
          void this.loadMembers();
          this.scheduleReload();
        }
        break;
      case 'identity_changed': {
        const change = event.change;
        this.warnings.set(change.peerId, change);
        const name = this.users.get(change.peerId)?.username ?? 'A contact';
        toast(`⚠ ${name}’s security key changed.`, 'warning');
        this.renderPeople();
        if (this.open?.kind === 'direct' && this.open.id === change.peerId) {
          void this.loadVerification();
        }
        break;
      }
      case 'decryption_failed':
        toast(`A message from ${this.users.get(event.from)?.username ?? event.from} could not be decrypted.`, 'error');
        this.scheduleReload();
        break;
      case 'server_error':
        toast(`Server: ${event.message}`, 'error');
        break;
      default:
        break;
    }
  }

  private readonly networkChanged = () => {
    if (!navigator.onLine) {
      this.setState('offline', 'This device has no network.');
    }
  };

  private readonly visibilityChanged = () => {
    if (document.visibilityState === 'visible') {
      this.markOpenRead();
    }
  };

  private readonly hashChanged = () => {
    const code = inviteFromAddress();
    if (code) {
      clearInviteFromAddress();
      void this.join(code);
    }
  };

  private setState(state: ConnectionState, detail: string | null = null, retryAt?: number, attempt?: number): void {
    this.state = state;
    this.conn.dataset.state = state;
    clearInterval(this.retryTimer);
    const outbox = 'Messages you send now wait on this device and go out when the connection is back.';
    switch (state) {
      case 'online':
        this.conn.textContent = 'Online';
        this.banner.hidden = true;
        this.banner.replaceChildren();
        break;
      case 'connecting':
        this.conn.textContent = 'Connecting…';
        break;
      case 'offline': {
        const show = () => {
          const seconds = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : null;
          this.conn.textContent = seconds === null ? 'Offline' : seconds > 0 ? `Offline · retrying in ${seconds}s` : 'Reconnecting…';
        };
        show();
        if (retryAt) {
          this.retryTimer = window.setInterval(show, 1000);
        }
        this.banner.hidden = false;
        this.banner.className = 'banner offline';
        this.banner.replaceChildren(
          h('strong', {}, 'Offline. '),
          detail ?? (attempt ? `Reconnecting (attempt ${attempt}). ` : ''),
          ' ',
          outbox,
        );
        break;
      }
      case 'stopped':
        this.conn.textContent = 'Disconnected';
        this.banner.hidden = false;
        this.banner.className = 'banner error';
        this.banner.replaceChildren(
          h('strong', {}, 'The connection stopped'),
          detail ? `: ${detail}. ` : '. ',
          h('button', { class: 'small', 'data-testid': 'reconnect', onclick: () => { this.setState('connecting'); this.client.connect(); } }, 'Reconnect'),
        );
        break;
    }
  }

  // ------------------------------------------------------------------ people and groups

  private async refreshUsers(): Promise<void> {
    try {
      const users = await this.client.users();
      this.users = new Map(users.map((u) => [u.id, u]));
      if (this.client.isConnected()) {
        this.online = new Set(this.client.onlineUsers().map((u) => u.userId));
      }
      this.renderPeople();
    } catch (e) {
      if (this.state === 'online') {
        toast(`Could not load the user list: ${explain(e)}`, 'error');
      }
    }
  }

  private async refreshGroups(): Promise<void> {
    try {
      this.groups = await this.client.groups();
      this.renderGroups();
      if (this.open?.kind === 'group' && !this.groups.some((g) => g.id === this.open!.id)) {
        this.showPlaceholder('You are no longer a member of that group.');
      }
    } catch {
      // offline: the list stays as it was
    }
  }

  private async refreshUnread(): Promise<void> {
    try {
      const summaries = await this.client.conversations();
      this.unread = new Map(summaries.map((s) => [key(s.conversation), s.unread]));
      if (this.open) {
        this.unread.set(key(this.open), 0);
      }
      this.renderPeople();
      this.renderGroups();
    } catch {
      // counts stay as they were
    }
  }

  private renderPeople(): void {
    const people = [...this.users.values()]
      .filter((u) => u.id !== this.me.userId)
      .sort((a, b) => Number(this.online.has(b.id)) - Number(this.online.has(a.id)) || a.username.localeCompare(b.username));
    if (people.length === 0) {
      this.peopleList.replaceChildren(h('li', { class: 'muted small' }, 'Nobody else here yet. Open this page in another browser and register a second user.'));
      return;
    }
    this.peopleList.replaceChildren(
      ...people.map((user) => {
        const online = this.online.has(user.id);
        const unread = this.unread.get(`direct:${user.id}`) ?? 0;
        const active = this.open?.kind === 'direct' && this.open.id === user.id;
        return h(
          'li',
          {},
          h(
            'button',
            {
              class: `entry${active ? ' active' : ''}`,
              'data-testid': 'user',
              'data-username': user.username,
              'data-online': String(online),
              onclick: () => this.openDirect(user.id),
            },
            h('span', { class: 'avatar' }, initial(user.username), h('span', { class: `dot ${online ? 'on' : 'off'}` })),
            h(
              'span',
              { class: 'grow' },
              h('span', { class: 'name' }, user.username),
              h('span', { class: 'sub', 'data-testid': 'presence' }, online ? 'online' : user.lastSeen ? `last seen ${formatTime(user.lastSeen)}` : 'offline'),
            ),
            this.warnings.has(user.id) ? h('span', { class: 'badge warning', title: 'Security key changed' }, '⚠') : null,
            unread > 0 ? h('span', { class: 'unread', 'data-testid': 'unread' }, String(unread)) : null,
          ),
        );
      }),
    );
  }

  private renderGroups(): void {
    if (this.groups.length === 0) {
      this.groupList.replaceChildren(h('li', { class: 'muted small' }, 'No groups yet.'));
      return;
    }
    this.groupList.replaceChildren(
      ...this.groups.map((group) => {
        const unread = this.unread.get(`group:${group.id}`) ?? 0;
        const active = this.open?.kind === 'group' && this.open.id === group.id;
        return h(
          'li',
          {},
          h(
            'button',
            { class: `entry${active ? ' active' : ''}`, 'data-testid': 'group', 'data-name': group.name, 'data-group-id': group.id, onclick: () => this.openGroup(group.id) },
            h('span', { class: 'avatar group' }, '#'),
            h('span', { class: 'grow' }, h('span', { class: 'name' }, group.name), group.description ? h('span', { class: 'sub' }, group.description) : null),
            unread > 0 ? h('span', { class: 'unread', 'data-testid': 'unread' }, String(unread)) : null,
          ),
        );
      }),
    );
  }

  private async join(code: string): Promise<void> {
    await this.run(async () => {
      const joined = await this.client.joinGroup(code);
      // Opened from an invite link, the page joins right after signing in, while the socket
      // may still be connecting: the members' lists refresh on this event, so wait for it
      // (up to 10 s) instead of sending into a closed socket.
      for (let waited = 0; waited < 10_000 && !this.client.isConnected(); waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await this.client.sendGroupEvent(joined.group_id, 'member_joined', { userId: this.me.userId }).catch(() => undefined);
      await this.refreshGroups();
      toast('You joined the group.', 'info');
      await this.openGroup(joined.group_id);
    });
  }

  // ------------------------------------------------------------------ the pane

  private showPlaceholder(text = 'Pick someone on the left to chat with, or a group.'): void {
    this.open = null;
    this.list = null;
    this.pane.replaceChildren(h('div', { class: 'placeholder muted', 'data-testid': 'placeholder' }, text));
    this.renderPeople();
    this.renderGroups();
  }

  private showNewGroup(): void {
    this.open = null;
    this.list = null;
    const ctx = this.groupContext();
    this.pane.replaceChildren(
      newGroupForm(ctx, (group) => {
        toast(`Group ${group.name} created.`, 'info');
        void this.refreshGroups().then(() => this.openGroup(group.id));
      }),
    );
    this.renderPeople();
    this.renderGroups();
  }

  private groupContext(): GroupContext {
    return {
      client: this.client,
      me: this.me,
      users: () => [...this.users.values()],
      run: this.run,
      changed: () => {
        void this.loadMembers();
        void this.refreshGroups();
      },
    };
  }

  private showOwnKeys(): void {
    void this.run(() =>
      showOwnKeys(this.client, this.me.userId, () => {
        toast('New keys made: your fingerprint changed.', 'warning');
      }),
    );
  }

  private async openDirect(peerId: string): Promise<void> {
    const peer = this.users.get(peerId);
    if (!peer) {
      return;
    }
    this.openConversation({ kind: 'direct', id: peerId });
    const header = h('header', { class: 'pane-header', 'data-testid': 'pane-header' });
    const warningSlot = h('div', { 'data-testid': 'warning-slot' });
    this.list = new MessageList(null);
    this.pane.replaceChildren(
      header,
      warningSlot,
      this.list.element,
      h('div', { class: 'typing', 'data-testid': 'typing', 'aria-live': 'polite' }),
      composer(
        {
          sendText: (text) => this.send(() => this.client.sendText(peerId, text)),
          sendImage: (url) => this.send(() => this.client.sendImage(peerId, url)),
          typing: (typing) => void this.client.setTyping(peerId, typing).catch(() => undefined),
          error: (e) => this.sendFailed(e),
        },
        `Message ${peer.username}`,
      ),
      h('p', { class: 'muted small footnote' }, icon('lock'), ' Messages are end-to-end encrypted. Pictures travel unencrypted, as in the Quick Chat web client.'),
    );
    this.pane.dataset.kind = 'direct';
    this.pane.dataset.peer = peer.username;
    this.renderHeader();
    await this.reload();
    await this.loadVerification();
  }

  private async openGroup(groupId: string): Promise<void> {
    const group = this.groups.find((g) => g.id === groupId);
    if (!group) {
      return;
    }
    this.openConversation({ kind: 'group', id: groupId });
    this.list = new MessageList((record) => this.users.get(record.senderId)?.username ?? null);
    this.pane.replaceChildren(
      h('header', { class: 'pane-header', 'data-testid': 'pane-header' }),
      h('div', { 'data-testid': 'members-slot' }),
      this.list.element,
      h('div', { class: 'typing', 'data-testid': 'typing', 'aria-live': 'polite' }),
      composer(
        {
          sendText: (text) => this.send(() => this.client.sendGroupText(groupId, text)),
          sendImage: (url) => this.send(() => this.client.sendGroupImage(groupId, url)),
          typing: (typing) => void this.client.setGroupTyping(groupId, typing).catch(() => undefined),
          error: (e) => this.sendFailed(e),
        },
        `Message ${group.name}`,
      ),
      h('p', { class: 'muted small footnote' }, 'Group messages are not end-to-end encrypted on this platform (as in the Quick Chat web client).'),
    );
    this.pane.dataset.kind = 'group';
    this.pane.dataset.group = group.name;
    this.renderHeader();
    try {
      await this.client.groupHistory(groupId, 100); // what the server has, stored locally
    } catch {
      // offline: local history only
    }
    await this.reload();
    await this.loadMembers();
  }

  private openConversation(conversation: ConversationRef): void {
    this.open = conversation;
    this.messages.clear();
    this.markedRead.clear();
    this.verification = null;
    this.members = [];
    this.membersOpen = false;
    this.unread.set(key(conversation), 0);
    delete this.pane.dataset.peer;
    delete this.pane.dataset.group;
    this.renderPeople();
    this.renderGroups();
  }

  private renderHeader(): void {
    const header = this.pane.querySelector<HTMLElement>('[data-testid="pane-header"]');
    if (!header || !this.open) {
      return;
    }
    if (this.open.kind === 'direct') {
      const peer = this.users.get(this.open.id);
      if (!peer) {
        return;
      }
      const online = this.online.has(peer.id);
      header.replaceChildren(
        h('span', { class: 'avatar' }, initial(peer.username), h('span', { class: `dot ${online ? 'on' : 'off'}` })),
        h('div', { class: 'grow' }, h('h2', { 'data-testid': 'pane-title' }, peer.username), h('span', { class: 'sub', 'data-testid': 'pane-presence' }, online ? 'online' : 'offline')),
        verificationBadge(this.verification, this.warnings.has(peer.id)),
        h('button', { class: 'small secondary', 'data-testid': 'peer-keys', onclick: () => this.showPeerKeys(peer) }, 'Fingerprints'),
      );
      const slot = this.pane.querySelector<HTMLElement>('[data-testid="warning-slot"]')!;
      const change = this.warnings.get(peer.id) ?? null;
      if (change || this.verification?.changePending) {
        slot.replaceChildren(
          identityWarning(
            this.client,
            peer,
            change,
            this.verification,
            () => {
              this.warnings.delete(peer.id);
              this.renderPeople();
              void this.loadVerification();
            },
            () => this.showPeerKeys(peer),
          ),
        );
      } else {
        slot.replaceChildren();
      }
    } else {
      const group = this.groups.find((g) => g.id === this.open!.id);
      if (!group) {
        return;
      }
      const myRole = this.members.find((m) => m.user_id === this.me.userId)?.role;
      header.replaceChildren(
        h('span', { class: 'avatar group' }, '#'),
        h(
          'div',
          { class: 'grow' },
          h('h2', { 'data-testid': 'pane-title' }, group.name),
          h('span', { class: 'sub' }, this.members.length ? `${this.members.length} members` : '', myRole ? ` · you are ${myRole}` : ''),
        ),
        h(
          'button',
          {
            class: 'small secondary',
            'data-testid': 'members-toggle',
            'aria-expanded': String(this.membersOpen),
            onclick: () => {
              this.membersOpen = !this.membersOpen;
              this.renderHeader();
            },
          },
          this.membersOpen ? 'Hide members' : 'Members',
        ),
      );
      const slot = this.pane.querySelector<HTMLElement>('[data-testid="members-slot"]')!;
      slot.replaceChildren(
        this.membersOpen
          ? membersPanel(this.groupContext(), group, this.members, () => {
              void this.refreshGroups();
              this.showPlaceholder('You left the group.');
            })
          : '',
      );
    }
  }

  private showPeerKeys(peer: UserSummary): void {
    void this.run(() =>
      showPeerKeys(this.client, this.me, peer, () => {
        void this.loadVerification();
      }),
    );
  }

  private async loadVerification(): Promise<void> {
    const open = this.open;
    if (open?.kind !== 'direct') {
      return;
    }
    try {
      const verification = await this.client.verification(open.id);
      if (this.open === open) {
        this.verification = verification;
        if (verification.verified && !verification.changePending) {
          this.warnings.delete(open.id);
        }
        this.renderHeader();
        this.renderPeople();
      }
    } catch (e) {
      if (errorIsNoKeys(e)) {
        const slot = this.pane.querySelector<HTMLElement>('[data-testid="warning-slot"]');
        slot?.replaceChildren(h('div', { class: 'banner warning' }, 'This user has not published encryption keys yet: they need to log in once with an end-to-end client.'));
      }
    }
  }

  private async loadMembers(): Promise<void> {
    const open = this.open;
    if (open?.kind !== 'group') {
      return;
    }
    try {
      const members = await this.client.groupMembers(open.id);
      if (this.open === open) {
        this.members = members;
        this.renderHeader();
      }
    } catch {
      // offline
    }
  }

  // ------------------------------------------------------------------ messages

  private async send(what: () => Promise<MessageRecord>): Promise<void> {
    const sending = what();
    this.scheduleReload(); // a message waiting in the outbox shows at once
    await sending;
    // What the store holds now: for a group message, the server's copy may already have
    // replaced the local one (it has another id).
    this.scheduleReload();
  }

  private sendFailed(error: unknown): void {
    const text = explain(error);
    toast(`Not sent: ${text}`, 'error');
    if (this.open?.kind === 'direct') {
      void this.loadVerification();
    }
  }

  private received(record: MessageRecord, live: boolean): void {
    const conversation = record.conversation;
    if (conversation.kind === 'group' && !this.groups.some((g) => g.id === conversation.id)) {
      void this.refreshGroups();
    }
    if (this.open && key(this.open) === key(conversation)) {
      if (conversation.kind === 'group' && record.direction === 'outgoing') {
        // The server's copy of our own message: it replaced the local one in the store.
        this.scheduleReload();
        return;
      }
      this.merge(record);
      this.renderMessages();
      this.scheduleReload();
      if (record.direction === 'incoming') {
        this.clearTyping(conversation, record.senderId);
      }
      return;
    }
    // Messages found by catch-up are counted from the store once it is done (caught_up).
    if (record.direction === 'incoming' && record.kind !== 'system' && live) {
      this.unread.set(key(conversation), (this.unread.get(key(conversation)) ?? 0) + 1);
      this.renderPeople();
      this.renderGroups();
    }
  }

  private statusChanged(ids: string[], status: MessageRecord['status']): void {
    let missing = false;
    for (const id of ids) {
      const record = this.messages.get(id);
      if (record) {
        record.status = laterStatus(record.status, status);
      } else {
        missing = true;
      }
    }
    this.renderMessages();
    if (missing) {
      this.scheduleReload();
    }
  }

  /** Adds or updates a record; the status of an outgoing message never goes back. */
  private merge(record: MessageRecord): void {
    if (!this.open || key(this.open) !== key(record.conversation)) {
      return;
    }
    const known = this.messages.get(record.id);
    if (known && record.direction === 'outgoing') {
      record = { ...record, status: laterStatus(known.status, record.status) };
    }
    this.messages.set(record.id, record);
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = window.setTimeout(() => void this.reload(), 60);
  }

  /** The open conversation from the local store (history survives reloads: it is in IndexedDB). */
  private async reload(): Promise<void> {
    const open = this.open;
    if (!open) {
      return;
    }
    try {
      const records = await this.client.history(open, undefined, 200);
      if (this.open !== open) {
        return;
      }
      const previous = this.messages;
      this.messages = new Map();
      for (const record of records) {
        const known = previous.get(record.id);
        if (known && record.direction === 'outgoing') {
          record.status = laterStatus(known.status, record.status);
        }
        this.messages.set(record.id, record);
      }
      this.renderMessages();
    } catch (e) {
      toast(`Could not read the history: ${explain(e)}`, 'error');
    }
  }

  private renderMessages(): void {
    this.list?.render(this.messages.values());
    this.markOpenRead();
  }

  private markOpenRead(): void {
    const open = this.open;
    if (!open || document.visibilityState !== 'visible') {
      return;
    }
    const unread = [...this.messages.values()].filter(
      (m) => m.direction === 'incoming' && m.kind !== 'system' && m.status !== 'read' && !this.markedRead.has(m.id),
    );
    if (unread.length === 0) {
      return;
    }
    for (const m of unread) {
      this.markedRead.add(m.id);
    }
    if (open.kind === 'direct') {
      this.client.markRead(open.id, unread.map((m) => m.id)).catch(() => {
        for (const m of unread) {
          this.markedRead.delete(m.id); // try again later (e.g. once back online)
        }
      });
    } else {
      const last = unread.reduce((a, b) => (b.timestamp >= a.timestamp ? b : a));
      void this.client.markGroupRead(open.id, last.id).catch(() => undefined);
    }
  }

  // ------------------------------------------------------------------ typing

  private typing(conversation: ConversationRef, userId: string, username: string, typing: boolean): void {
    if (userId === this.me.userId) {
      return;
    }
    const id = `${key(conversation)}|${userId}`;
    const known = this.typingNames.get(id);
    if (known) {
      clearTimeout(known.timer);
      this.typingNames.delete(id);
    }
    if (typing) {
      const name = this.users.get(userId)?.username ?? username;
      this.typingNames.set(id, { name, timer: window.setTimeout(() => this.clearTyping(conversation, userId), 6000) });
    }
    this.renderTyping();
  }

  private clearTyping(conversation: ConversationRef, userId: string): void {
    const id = `${key(conversation)}|${userId}`;
    const known = this.typingNames.get(id);
    if (known) {
      clearTimeout(known.timer);
      this.typingNames.delete(id);
      this.renderTyping();
    }
  }

  private renderTyping(): void {
    const element = this.pane.querySelector<HTMLElement>('[data-testid="typing"]');
    if (!element || !this.open) {
      return;
    }
    const prefix = `${key(this.open)}|`;
    const names = [...this.typingNames.entries()].filter(([id]) => id.startsWith(prefix)).map(([, v]) => v.name);
    element.textContent = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
  }
}

function errorIsNoKeys(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === 'peer_has_no_keys';
}
