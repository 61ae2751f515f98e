import { describe, expect, it } from 'vitest';
import { useAccountStore } from '../../../web/src/stores/account.ts';
import { useContactsStore } from '../../../web/src/stores/contacts.ts';
import { ALICE, BOB, GATEWAY, createHarness, settle } from '../support/app-harness.ts';

async function signedIn() {
  const h = createHarness();
  const account = useAccountStore(h.pinia);
  await account.signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
  return { h, account, contacts: useContactsStore(h.pinia) };
}

describe('contacts store', () => {
  it('adds by address in any usual spelling, one contact per AOR', async () => {
    const { contacts } = await signedIn();
    contacts.add('bob@Example.com', 'Bob');
    contacts.add('<sip:bob@example.com;transport=ws>');
    contacts.add('"Robert" <sip:bob@EXAMPLE.com>');
    expect(contacts.contacts).toEqual([{ address: BOB, name: 'Bob', addedAt: expect.any(Number) }]);
  });

  it('a bare name is a user of our own domain; nonsense and our own address are refused', async () => {
    const { contacts } = await signedIn();
    expect(contacts.add('carol').address).toBe('sip:carol@example.com');
    expect(() => contacts.add('   ')).toThrow(TypeError);
    expect(() => contacts.add('tel:+123')).toThrow(/sip:/);
    expect(() => contacts.add('bob@exa mple.com')).toThrow(/Not a valid address/);
    expect(() => contacts.add('alice@example.com')).toThrow(/your own/);
  });

  it('renames and removes, sorted by name, and keeps the change across a sign-in', async () => {
    const { h, contacts, account } = await signedIn();
    contacts.add('zed@example.com');
    contacts.add('bob@example.com');
    expect(contacts.contacts.map((c) => c.name)).toEqual(['bob', 'zed']);
    contacts.rename('sip:zed@example.com', 'Adam');
    expect(contacts.contacts.map((c) => c.name)).toEqual(['Adam', 'bob']);
    expect(() => contacts.rename(BOB, '  ')).toThrow(TypeError);
    contacts.remove(BOB);
    expect(contacts.nameOf(BOB)).toBe('bob');
    await settle();
    await account.signOut();
    await account.signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
    expect(useContactsStore(h.pinia).contacts.map((c) => [c.address, c.name])).toEqual([
      ['sip:zed@example.com', 'Adam'],
    ]);
  });
});
