import { describe, expect, it } from 'vitest';
import { useAccountStore } from '../../../web/src/stores/account.ts';
import { useContactsStore } from '../../../web/src/stores/contacts.ts';
import { describePresence, usePresenceStore } from '../../../web/src/stores/presence.ts';
import {
  ALICE,
  BOB,
  CAROL,
  GATEWAY,
  MapStorage,
  createHarness,
  type HarnessOptions,
} from '../support/app-harness.ts';

async function signedIn(options: HarnessOptions = {}) {
  const h = createHarness(options);
  const account = useAccountStore(h.pinia);
  await account.signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
  h.client.goOnline();
  return { h, account, contacts: useContactsStore(h.pinia), presence: usePresenceStore(h.pinia) };
}

describe('presence store', () => {
  it('watches every contact, then each one added, and stops watching (and forgets) one removed', async () => {
    const local = new MapStorage();
    const first = await signedIn({ local });
    first.contacts.add(BOB, 'Bob');
    first.contacts.add(CAROL, 'Carol');
    expect([...first.h.client.watching].sort()).toEqual([BOB, CAROL]);
    await first.account.signOut();

    // The next sign-in watches the contacts kept in storage.
    const { h, contacts, presence } = await signedIn({ local, idb: first.h.idb });
    expect(h.client.watchCalls[0]).toEqual({ op: 'watch', addresses: [BOB, CAROL] });
    h.client.presence(CAROL, 'away', 'Lunch');
    expect(presence.of(CAROL)).toMatchObject({ status: 'away', note: 'Lunch' });
    contacts.remove(CAROL);
    expect(h.client.watchCalls.at(-1)).toEqual({ op: 'unwatch', addresses: [CAROL] });
    expect(presence.of(CAROL)).toBeUndefined(); // no longer watched: nothing stale shown
    expect(presence.of(BOB)).toBeUndefined(); // not reported yet: unknown, not "offline"
  });

  it("keeps each contact's latest presence; an older report (a replay to a new tab) does not undo a newer one", async () => {
    const { h, presence } = await signedIn();
    h.client.presence(BOB, 'busy');
    h.client.now += 1000;
    h.client.presence(BOB, 'dnd', 'Focus');
    h.client.emit({ type: 'presence', address: BOB, status: 'available', at: h.client.now - 5000 });
    expect(presence.of(BOB)).toMatchObject({ status: 'dnd', note: 'Focus' });
    expect(describePresence(presence.of(BOB) ?? { status: 'offline' })).toBe('Do not disturb — Focus');
  });

  it('our status: available the first time; a choice is published, remembered and used at the next sign-in', async () => {
    const local = new MapStorage();
    const first = await signedIn({ local });
    expect(first.h.client.signIns[0]?.presence).toEqual({ status: 'available' });
    expect(first.presence.own.status).toBe('available');
    first.presence.choose('away', '  In a meeting ');
    expect(first.h.client.presenceSet).toEqual([{ status: 'away', note: 'In a meeting' }]);
    expect(first.presence.own).toMatchObject({ status: 'away', note: 'In a meeting' });
    first.h.client.publication('away', 'published', 'In a meeting');
    expect(first.presence.own.publication).toBe('published');
    first.h.client.publication('away', 'failed', 'In a meeting', '403 Forbidden');
    expect(first.presence.own).toMatchObject({ publication: 'failed', reason: '403 Forbidden' });
    await first.account.signOut();
    expect(first.presence.own.status).toBe('available'); // forgotten in this tab…

    const { h, presence } = await signedIn({ local, idb: first.h.idb });
    // …but remembered for the account: the next sign-in publishes it.
    expect(h.client.signIns[0]?.presence).toEqual({ status: 'away', note: 'In a meeting' });
    expect(presence.own).toMatchObject({ status: 'away', note: 'In a meeting' });
    presence.choose('offline');
    expect(h.client.presenceSet.at(-1)).toEqual({ status: 'offline', note: undefined });
  });

  it('signing out forgets every presence and stops following the contacts', async () => {
    const { h, account, contacts, presence } = await signedIn();
    contacts.add(BOB);
    h.client.presence(BOB, 'available');
    await account.signOut();
    expect(presence.byAddress.size).toBe(0);
    const calls = h.client.watchCalls.length;
    contacts.add(CAROL);
    expect(h.client.watchCalls).toHaveLength(calls);
  });
});
