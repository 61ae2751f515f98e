// Presence between two browsers (SPEC §8/§9), through the app as `npm start` serves it (a fresh vite build, the
// embedded gateway as presence agent on an ephemeral port): Bob watches Alice once she is his contact and sees
// her available after her sign-in (RFC 3903 PUBLISH, RFC 3856 SUBSCRIBE/NOTIFY); she chooses Away with a note and
// his contact list and conversation header say so; she signs out (her publication removed) and he sees offline.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ChatUser } from '../support/e2e-chat.ts';
import { WAIT, openAliceAndBob, signInAsContacts } from '../support/e2e-chat.ts';
import { startChatApp, type ChatApp } from '../support/e2e-app.ts';

const USERS = { alice: 'alice-pw-p', bob: 'bob-pw-p' } as const;

describe('presence between two browsers', () => {
  let app: ChatApp;
  let alice: ChatUser;
  let bob: ChatUser;

  beforeAll(async () => {
    app = await startChatApp({ users: USERS });
    [alice, bob] = await openAliceAndBob(app, USERS);
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close()]);
    await app?.close();
  });

  it('Bob sees Alice available, then Away with her note, then offline when she signs out', async () => {
    await signInAsContacts(app, alice, bob);

    // Published at sign-in (nobody chose otherwise), watched as soon as she is a contact.
    await bob.waitForPresence('Alice', 'Available');
    await alice.waitForPresence('Bob', 'Available');
    expect(await alice.page.getByRole('button', { name: /^Your status:/ }).getAttribute('aria-label')).toBe(
      'Your status: Available. Change status',
    );

    await alice.setStatus('Away', 'In a meeting');
    await bob.waitForPresence('Alice', 'Away — In a meeting');
    // The contact list says it under her name, and so does the header of their conversation.
    const contacts = bob.page.getByRole('region', { name: 'Contacts' });
    await contacts.getByText('Away — In a meeting', { exact: true }).waitFor({ timeout: WAIT });
    const conversation = await bob.openChat('Alice');
    await conversation
      .locator('header')
      .getByText('Away — In a meeting', { exact: true })
      .waitFor({ timeout: WAIT });
    await bob.screenshot('presence-bob-sees-alice-away');

    // Her choice is kept for her next sign-in (preferences), and her own chooser shows it.
    expect(await alice.page.getByRole('button', { name: /^Your status:/ }).getAttribute('aria-label')).toBe(
      'Your status: Away — In a meeting. Change status',
    );

    await alice.signOut();
    await bob.waitForPresence('Alice', 'Offline');
    await bob.screenshot('presence-bob-sees-alice-offline');
  });
});
