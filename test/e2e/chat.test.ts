// Two people chatting in headless Debian Chromium, through the app as `npm start` serves it (a fresh vite build,
// the embedded gateway on an ephemeral port): sign-in, messages both ways, ticks that move to delivered and
// then to read when the other side looks, the typing indicator, store-and-forward for someone signed out, and
// text that is never HTML. Alice and Bob each have their own browser (own profile: own IndexedDB and storage).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Dialog } from 'playwright-core';

import type { ChatUser } from '../support/e2e-chat.ts';
import { WAIT, openAliceAndBob, signInAsContacts } from '../support/e2e-chat.ts';
import { startChatApp, type ChatApp } from '../support/e2e-app.ts';

const USERS = { alice: 'alice-pw-1', bob: 'bob-pw-2' } as const;

describe('chat between two browsers', () => {
  let app: ChatApp;
  let alice: ChatUser;
  let bob: ChatUser;
  const dialogs: string[] = [];

  beforeAll(async () => {
    app = await startChatApp({ users: USERS });
    [alice, bob] = await openAliceAndBob(app, USERS);
    for (const user of [alice, bob])
      user.page.on('dialog', (dialog: Dialog) => {
        dialogs.push(`${user.user}: ${dialog.type()} ${dialog.message()}`);
        void dialog.dismiss();
      });
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close()]);
    await app?.close();
  });

  it('both sign in; messages go both ways; ticks go delivered, then read when the other side opens the chat', async () => {
    await signInAsContacts(app, alice, bob);

    await alice.openChat('Bob');
    await alice.send('Hi Bob, lunch at noon?');
    await alice.waitForTick('Hi Bob, lunch at noon?', 'Delivered');
    // Bob has not looked yet: delivered, not read; his list shows the conversation as unread.
    const bobsList = bob.page.getByRole('navigation', { name: 'Conversations' });
    await bob.showTab('Chats');
    await bobsList.getByText('1 unread').waitFor({ timeout: WAIT });
    expect(
      await alice.bubble('Hi Bob, lunch at noon?', 'You').getByRole('img').getAttribute('aria-label'),
    ).toBe('Delivered');

    await bob.openConversation(/^Alice/);
    await bob.bubble('Hi Bob, lunch at noon?', 'Alice').waitFor({ timeout: WAIT });
    await alice.waitForTick('Hi Bob, lunch at noon?', 'Read');

    // Bob answers; Alice has the chat open, so his message is read at once.
    await bob.send('Sure, see you there');
    await alice.bubble('Sure, see you there', 'Bob').waitFor({ timeout: WAIT });
    await bob.waitForTick('Sure, see you there', 'Read');

    await alice.screenshot('chat-alice-read-ticks');
    await bob.screenshot('chat-bob-read-ticks');
    expect([...alice.browser.problems, ...bob.browser.problems]).toEqual([]);
  });

  it('the typing indicator appears while the other side types and clears when the message arrives', async () => {
    const indicator = alice.conversation('Bob').getByText('Bob is typing');
    await bob.composer().pressSequentially('Running 5 min', { delay: 30 });
    await indicator.waitFor({ timeout: WAIT });
    await bob.screenshot('typing-bob-writes');
    await alice.screenshot('typing-alice-sees-indicator');
    await bob.composer().press('Enter');
    await alice.bubble('Running 5 min', 'Bob').waitFor({ timeout: WAIT });
    await indicator.waitFor({ state: 'detached', timeout: WAIT });
    await alice.screenshot('typing-cleared');
  });

  it('a message that looks like HTML shows as text and runs nothing', async () => {
    const attack = '<img src=x onerror=alert(1)>';
    await alice.send(attack);
    const shown = bob.bubble(attack, 'Alice');
    await shown.waitFor({ timeout: WAIT });
    await alice.waitForTick(attack, 'Read');
    expect(await shown.textContent()).toContain(attack);
    for (const user of [alice, bob]) {
      expect(await user.page.getByRole('feed').locator('img[src="x"]').count()).toBe(0);
      // The page's own check: nothing ran the handler (an alert would also have been a dialog).
      expect(await user.page.evaluate(() => document.querySelectorAll('[onerror]').length)).toBe(0);
    }
    await bob.screenshot('xss-shown-as-text');
    expect(dialogs).toEqual([]);
  });

  it('Bob, signed out, gets what Alice sent meanwhile when he signs in again', async () => {
    await bob.page.getByRole('button', { name: 'Sign out' }).click();
    await bob.page.getByRole('form', { name: 'Sign in to SIMPLE chat' }).waitFor({ timeout: WAIT });

    await alice.send('Are you there?');
    await alice.send('Call me when you are back');
    // RFC 3428 §7: the gateway's store took them (202): a cloud, not two ticks.
    await alice.waitForTick('Are you there?', 'Stored');
    await alice.waitForTick('Call me when you are back', 'Stored');
    await alice.screenshot('offline-alice-stored');

    await bob.signIn();
    await bob.openConversation(/^Alice/);
    await bob.bubble('Call me when you are back', 'Alice').waitFor({ timeout: WAIT });
    const texts = await bob.page.getByRole('feed').getByRole('article', { name: 'Alice' }).allTextContents();
    const first = texts.findIndex((t) => t.includes('Are you there?'));
    const second = texts.findIndex((t) => t.includes('Call me when you are back'));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second).toBeGreaterThan(first);
    // History from before the sign-out is still there (IndexedDB).
    await bob.bubble('Hi Bob, lunch at noon?', 'Alice').waitFor({ timeout: WAIT });
    await alice.waitForTick('Call me when you are back', 'Read');
    await bob.screenshot('offline-bob-received');
  });
});
