// Groups: the creation form and the members panel (roles, adding, removing, invite links).

import { inviteLink } from './config';
import { h } from './dom';
import type { Client, GroupInfo, GroupMember, UserSummary } from './sdk';

export interface GroupContext {
  client: Client;
  me: { userId: string };
  users: () => UserSummary[];
  /** Runs an action, reporting its failure; resolves to whether it succeeded. */
  run: (what: () => Promise<unknown>) => Promise<boolean>;
  /** After a change of the group's members or roles. */
  changed: (groupId: string) => void;
}

/** Takes an invite code out of what was pasted: the code itself, or an invite link. */
export function inviteCodeFrom(text: string): string {
  const trimmed = text.trim();
  const match = /#(?:.*&)?join=([^&]+)/.exec(trimmed);
  return match ? decodeURIComponent(match[1]) : trimmed;
}

export function newGroupForm(ctx: GroupContext, created: (group: GroupInfo) => void): HTMLElement {
  const name = h('input', { required: true, placeholder: 'Group name', 'data-testid': 'group-name', 'aria-label': 'Group name' });
  const description = h('input', { placeholder: 'Description (optional)', 'data-testid': 'group-description', 'aria-label': 'Description' });
  const others = ctx.users().filter((u) => u.id !== ctx.me.userId);
  const options = others.map((user) =>
    h(
      'label',
      { class: 'check' },
      h('input', { type: 'checkbox', value: user.id, 'data-testid': 'group-member-option', 'data-username': user.username }),
      user.username,
    ),
  );
  const form = h(
    'form',
    { class: 'card new-group', 'data-testid': 'new-group-form' },
    h('h2', {}, 'New group'),
    name,
    description,
    h('fieldset', {}, h('legend', {}, 'Members'), options.length ? options : h('p', { class: 'muted' }, 'Nobody else has an account yet.')),
    h('button', { type: 'submit', 'data-testid': 'create-group' }, 'Create group'),
    h('p', { class: 'muted small' }, 'Group messages are not end-to-end encrypted on this platform (as in the Quick Chat web client): the server can read them.'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const memberIds = options
      .map((label) => label.querySelector('input')!)
      .filter((box) => box.checked)
      .map((box) => box.value);
    void ctx.run(async () => {
      const group = await ctx.client.createGroup(name.value.trim(), memberIds, description.value.trim() || undefined);
      // Tell the members now (they are members already, so the server relays it to them).
      await ctx.client.sendGroupEvent(group.id, 'group_created', { name: group.name }).catch(() => undefined);
      created(group);
    });
  });
  return form;
}

/** The last invite code made for each group in this tab (shown again when the panel is redrawn). */
const invites = new Map<string, string>();

const ROLE_LABEL: Record<GroupMember['role'], string> = { owner: 'owner', admin: 'admin', member: 'member' };

export function membersPanel(ctx: GroupContext, group: GroupInfo, members: GroupMember[], left: () => void): HTMLElement {
  const myRole = members.find((m) => m.user_id === ctx.me.userId)?.role ?? 'member';
  const isOwner = myRole === 'owner';
  const canManage = myRole === 'owner' || myRole === 'admin';
  const refresh = () => ctx.changed(group.id);
  const announce = (event: string, extra: Record<string, unknown>) =>
    ctx.client.sendGroupEvent(group.id, event, extra).catch(() => undefined);

  const rows = members.map((member) => {
    const self = member.user_id === ctx.me.userId;
    const actions: HTMLElement[] = [];
    if (isOwner && !self && member.role !== 'owner') {
      const next = member.role === 'admin' ? 'member' : 'admin';
      actions.push(
        h(
          'button',
          {
            class: 'small secondary',
            'data-testid': next === 'admin' ? 'make-admin' : 'make-member',
            onclick: () =>
              ctx.run(async () => {
                await ctx.client.setGroupRole(group.id, member.user_id, next);
                await announce('member_role_changed', { userId: member.user_id, role: next });
                refresh();
              }),
          },
          next === 'admin' ? 'Make admin' : 'Make member',
        ),
      );
    }
    if (canManage && !self && member.role !== 'owner' && (isOwner || member.role === 'member')) {
      actions.push(
        h(
          'button',
          {
            class: 'small danger',
            'data-testid': 'remove-member',
            onclick: () =>
              ctx.run(async () => {
                await ctx.client.removeGroupMember(group.id, member.user_id);
                await announce('member_removed', { userId: member.user_id });
                refresh();
              }),
          },
          'Remove',
        ),
      );
    }
    return h(
      'li',
      { 'data-testid': 'member', 'data-username': member.username, 'data-role': member.role },
      h('span', { class: 'grow' }, member.username, self ? ' (you)' : ''),
      h('span', { class: `badge role-${member.role}`, 'data-testid': 'member-role' }, ROLE_LABEL[member.role]),
      ...actions,
    );
  });

  const panel = h('div', { class: 'members-panel', 'data-testid': 'members-panel' }, h('h3', {}, `Members (${members.length})`), h('ul', { class: 'members' }, rows));

  if (canManage) {
    const candidates = ctx.users().filter((u) => !members.some((m) => m.user_id === u.id));
    if (candidates.length) {
      const select = h(
        'select',
        { 'data-testid': 'add-member-select', 'aria-label': 'Add a member' },
        candidates.map((u) => h('option', { value: u.id }, u.username)),
      );
      const add = h('form', { class: 'row' }, select, h('button', { type: 'submit', class: 'small', 'data-testid': 'add-member' }, 'Add'));
      add.addEventListener('submit', (event) => {
        event.preventDefault();
        void ctx.run(async () => {
          await ctx.client.addGroupMembers(group.id, [select.value]);
          await announce('member_added', { userId: select.value });
          refresh();
        });
      });
      panel.append(add);
    }
    const output = h('div', { class: 'invite' });
    const showInvite = (code: string) => {
      const link = inviteLink(code);
      const field = h('input', { readonly: true, value: link, 'data-testid': 'invite-link', 'aria-label': 'Invite link' });
      output.replaceChildren(
        h('p', { class: 'small' }, 'Invite link (valid 7 days), or the code ', h('code', { 'data-testid': 'invite-code' }, code), ':'),
        h(
          'div',
          { class: 'row' },
          field,
          h('button', { type: 'button', class: 'small secondary', onclick: () => void navigator.clipboard?.writeText(link).catch(() => field.select()) }, 'Copy'),
        ),
      );
    };
    const shown = invites.get(group.id);
    if (shown) {
      showInvite(shown);
    }
    panel.append(
      h(
        'button',
        {
          class: 'small secondary',
          'data-testid': 'create-invite',
          onclick: () =>
            ctx.run(async () => {
              const invite = await ctx.client.createInvite(group.id, 7 * 24 * 3600 * 1000);
              invites.set(group.id, invite.link_code);
              showInvite(invite.link_code);
            }),
        },
        'Create invite link',
      ),
      output,
    );
  }
  if (!isOwner) {
    panel.append(
      h(
        'button',
        {
          class: 'small danger',
          'data-testid': 'leave-group',
          onclick: () =>
            ctx.run(async () => {
              await announce('member_left', { userId: ctx.me.userId });
              await ctx.client.leaveGroup(group.id);
              left();
            }),
        },
        'Leave group',
      ),
    );
  }
  return panel;
}
