import { describe, expect, it } from 'vitest';
import { useAccountStore } from '../../../web/src/stores/account.ts';
import { useContactsStore } from '../../../web/src/stores/contacts.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { useOutboxStore } from '../../../web/src/stores/outbox.ts';
import { FakeChatClient } from '../support/fake-chat-client.ts';
import { ALICE, BOB, GATEWAY, createHarness, settle } from '../support/app-harness.ts';

async function signedIn() {
  const h = createHarness();
  const account = useAccountStore(h.pinia);
  await account.start();
  await account.signIn({ address: 'alice@Example.COM', password: 'secret', gatewayUrl: GATEWAY });
  return { h, account };
}

describe('account store: sign in and the connection', () => {
  it('signs in with the normalized address, mirrors the connection and remembers the gateway', async () => {
    const { h, account } = await signedIn();
    expect(account.phase).toBe('signed-in');
    expect(account.address).toBe(ALICE);
    expect(h.client.signIns).toEqual([
      {
        address: ALICE,
        password: 'secret',
        gatewayUrl: GATEWAY,
        displayName: undefined,
        capabilities: [],
        presence: { status: 'available' },
      },
    ]);
    expect(account.connection).toEqual({ status: 'connecting', attempt: 0 });
    h.client.goOnline();
    expect(account.connection.status).toBe('online');
    h.client.setConnection({ status: 'reconnecting', attempt: 2, at: h.client.now + 4000, reason: 'closed' });
    expect(account.connection).toMatchObject({ status: 'reconnecting', attempt: 2, at: h.client.now + 4000 });
    // The sign-in form is prefilled next time; the password stays in this tab's session only.
    expect(JSON.parse(h.local.getItem('simple-chat.last-sign-in') ?? '{}')).toMatchObject({
      address: ALICE,
      gatewayUrl: GATEWAY,
    });
    expect(h.local.map.size).toBe(1);
    expect(JSON.parse(h.sessionStore.getItem('simple-chat.session') ?? '{}')).toMatchObject({
      password: 'secret',
    });
  });

  it('refuses a bad address, a bad gateway URL or an empty password with a message for the form', async () => {
    const h = createHarness();
    const account = useAccountStore(h.pinia);
    await expect(account.signIn({ address: 'alice', password: 'x', gatewayUrl: GATEWAY })).rejects.toThrow(
      TypeError,
    );
    expect(account.error).toMatch(/domain/);
    await expect(
      account.signIn({ address: 'alice@example.com', password: 'x', gatewayUrl: 'http://host/' }),
    ).rejects.toThrow(/ws:\/\//);
    await expect(
      account.signIn({ address: 'alice@example.com', password: '', gatewayUrl: GATEWAY }),
    ).rejects.toThrow(/password/);
    expect(account.phase).toBe('signed-out');
  });

  it('a rejected password is asked again, and the new one signs in the same account', async () => {
    const { h, account } = await signedIn();
    h.client.rejectAuth();
    expect(account.passwordRejected).toBe(true);
    await account.retryPassword('better');
    expect(h.client.signOuts).toBe(1);
    expect(h.client.signIns.map((s) => s.password)).toEqual(['secret', 'better']);
    expect(account.phase).toBe('signed-in');
    expect(account.passwordRejected).toBe(false);
    expect(JSON.parse(h.sessionStore.getItem('simple-chat.session') ?? '{}')).toMatchObject({
      password: 'better',
    });
  });

  it('sign-out unregisters, forgets the session and empties the stores', async () => {
    const { h, account } = await signedIn();
    useContactsStore(h.pinia).add('bob@example.com');
    expect(useContactsStore(h.pinia).contacts).toHaveLength(1);
    await account.signOut();
    expect(h.client.signOuts).toBe(1);
    expect(account.phase).toBe('signed-out');
    expect(account.address).toBeUndefined();
    expect(useContactsStore(h.pinia).contacts).toHaveLength(0);
    expect(h.sessionStore.getItem('simple-chat.session')).toBeNull();
    expect(account.connection.status).toBe('offline');
  });

  it('a reload signs in again from the tab session and finds contacts, conversations and outbox', async () => {
    const { h } = await signedIn();
    useContactsStore(h.pinia).add('bob@example.com', 'Bob');
    await useConversationsStore(h.pinia).openWith([BOB]);
    await useOutboxStore(h.pinia).send(BOB, 'written while offline');
    await settle();
    for (const storage of h.storages) storage.close();

    // The same browser tab after a reload: same IndexedDB, same sessionStorage, a new page.
    const after = createHarness({
      idb: h.idb,
      local: h.local,
      session: h.sessionStore,
      client: new FakeChatClient(),
    });
    const account = useAccountStore(after.pinia);
    await account.start();
    expect(account.phase).toBe('signed-in');
    expect(after.client.signIns[0]).toMatchObject({ address: ALICE, password: 'secret' });
    expect(useContactsStore(after.pinia).nameOf(BOB)).toBe('Bob');
    expect(useConversationsStore(after.pinia).list.map((c) => c.id)).toEqual([BOB]);
    expect(useOutboxStore(after.pinia).entries.map((e) => e.text)).toEqual(['written while offline']);
  });

  it('another tab signed in: this tab shows the same account without signing in again', async () => {
    const h = createHarness();
    h.local.setItem('simple-chat.last-sign-in', JSON.stringify({ address: ALICE, gatewayUrl: GATEWAY }));
    h.client.signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
    const account = useAccountStore(h.pinia);
    await account.start();
    expect(account.phase).toBe('signed-in');
    expect(account.address).toBe(ALICE);
    expect(h.client.signIns).toHaveLength(1);
    // A password refused later can be given again from this tab too.
    h.client.rejectAuth();
    await account.retryPassword('again');
    expect(h.client.signIns[1]).toMatchObject({ address: ALICE, password: 'again', gatewayUrl: GATEWAY });
    // … and a sign-out there signs this tab out too.
    await h.client.signOut();
    expect(account.phase).toBe('signed-out');
  });

  it('a sign-in refused by the client (another account in another tab) leaves the tab signed out', async () => {
    const h = createHarness();
    h.client.signInError = new Error('another tab is signed in as sip:bob@example.com');
    const account = useAccountStore(h.pinia);
    await expect(account.signIn({ address: ALICE, password: 'x', gatewayUrl: GATEWAY })).rejects.toThrow(
      /another tab/,
    );
    expect(account.phase).toBe('signed-out');
    expect(account.error).toMatch(/another tab/);
  });
});
