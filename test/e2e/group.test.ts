// Three people in a page-mode group (RFC 5365): Alice starts a group with Bob and Carol; one MESSAGE goes to the
// gateway's URI-list service, which sends each of them a copy naming the others; both see it in one group
// conversation, and a reply from Bob goes to everyone in it (reply-to-all), landing in the same conversation.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ChatUser, WAIT } from '../support/e2e-chat.ts';
import { startChatApp, type ChatApp } from '../support/e2e-app.ts';

const USERS = { alice: 'alice-pw-5', bob: 'bob-pw-6', carol: 'carol-pw-7' } as const;

describe('a group of three', () => {
  let app: ChatApp;
  let alice: ChatUser;
  let bob: ChatUser;
  let carol: ChatUser;

  beforeAll(async () => {
    app = await startChatApp({ users: USERS });
    [alice, bob, carol] = await Promise.all([
      ChatUser.open(app, 'alice', USERS.alice),
      ChatUser.open(app, 'bob', USERS.bob),
      ChatUser.open(app, 'carol', USERS.carol),
    ]);
    for (const user of [alice, bob, carol]) await user.signIn();
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close(), carol?.close()]);
    await app?.close();
  });

  it('a group message reaches both others, and a reply goes to everyone in the same conversation', async () => {
    await alice.addContact(app.aor('bob'), 'Bob');
    await alice.addContact(app.aor('carol'), 'Carol');
    await bob.addContact(app.aor('alice'), 'Alice');
    await bob.addContact(app.aor('carol'), 'Carol');
    await carol.addContact(app.aor('alice'), 'Alice');
    await carol.addContact(app.aor('bob'), 'Bob');

    await alice.showTab('Contacts');
    await alice.page.getByRole('button', { name: 'New group' }).click();
    const picker = alice.page.getByRole('dialog', { name: 'New group' });
    await picker.getByRole('checkbox', { name: /Bob/ }).check();
    await picker.getByRole('checkbox', { name: /Carol/ }).check();
    await picker.getByRole('button', { name: 'Start group (2)' }).click();
    await alice.conversation('Bob, Carol').waitFor({ timeout: WAIT });
    await expect(alice.composer().getAttribute('aria-label')).resolves.toBe('Message everyone in Bob, Carol');
    await alice.send('Dinner on Friday, everyone?');

    for (const [user, others] of [
      [bob, 'Alice, Carol'],
      [carol, 'Alice, Bob'],
    ] as const) {
      await user.openConversation(new RegExp(`^${others}`));
      await user.conversation(others).waitFor({ timeout: WAIT });
      await user.bubble('Dinner on Friday, everyone?', 'Alice').waitFor({ timeout: WAIT });
    }
    // Both have the group open: per-recipient IMDNs (RFC 5438) take Alice's tick through delivered to read.
    await alice.waitForTick('Dinner on Friday, everyone?', 'Read');
    await alice
      .bubble('Dinner on Friday, everyone?', 'You')
      .getByText('Delivered to 2 of 2 · read by 2')
      .waitFor({ timeout: WAIT });

    // Reply to all: Bob writes in the group conversation; Alice and Carol get it there.
    await bob.send('Friday works for me');
    await alice.bubble('Friday works for me', 'Bob').waitFor({ timeout: WAIT });
    await carol.bubble('Friday works for me', 'Bob').waitFor({ timeout: WAIT });
    // Each side still has exactly one conversation: the group.
    for (const user of [alice, bob, carol]) {
      await user.showTab('Chats');
      const list = user.page.getByRole('navigation', { name: 'Conversations' }).getByRole('listitem');
      expect(await list.count()).toBe(1);
    }
    await alice.screenshot('group-alice');
    await bob.screenshot('group-bob');
    await carol.screenshot('group-carol');
    expect([...alice.browser.problems, ...bob.browser.problems, ...carol.browser.problems]).toEqual([]);
  });
});
