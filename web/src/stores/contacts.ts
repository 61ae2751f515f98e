/**
 * Contacts: the people the user added by address, with the name the user gave them. Plain snapshots in a
 * shallowRef, replaced on every change; persisted per account.
 */
import { defineStore } from 'pinia';
import { computed, shallowRef } from 'vue';
import type { Contact } from '../drivers/index.ts';
import { domainOf, normalizeAddress, shortName } from './address.ts';
import { persist, useServices, useSession } from './services.ts';

const byName = (a: Contact, b: Contact): number =>
  a.name.localeCompare(b.name) || a.address.localeCompare(b.address);

export const useContactsStore = defineStore('contacts', () => {
  const services = useServices();
  const session = useSession();
  const contacts = shallowRef<readonly Contact[]>([]);
  const byAddress = computed(() => new Map(contacts.value.map((c) => [c.address, c])));

  function load(list: readonly Contact[]): void {
    contacts.value = [...list].sort(byName);
  }

  function reset(): void {
    contacts.value = [];
  }

  /** The name to show for an address: the contact's, else the user part. */
  function nameOf(address: string): string {
    return byAddress.value.get(address)?.name ?? shortName(address);
  }

  /**
   * Adds a contact from what the user typed (see normalizeAddress); an address already there is renamed.
   * Throws TypeError for an address that is not one.
   */
  function add(input: string, name?: string): Contact {
    const self = session.self;
    const address = normalizeAddress(input, self && domainOf(self));
    if (address === self) throw new TypeError('That is your own address');
    const existing = byAddress.value.get(address);
    const contact: Contact = {
      address,
      name: name?.trim() || existing?.name || shortName(address),
      addedAt: existing?.addedAt ?? services.now(),
    };
    save(contact);
    return contact;
  }

  function rename(address: string, name: string): void {
    const existing = byAddress.value.get(address);
    if (!existing) throw new TypeError(`No contact ${address}`);
    const trimmed = name.trim();
    if (!trimmed) throw new TypeError('A name cannot be empty');
    save({ ...existing, name: trimmed });
  }

  function remove(address: string): void {
    if (!byAddress.value.has(address)) return;
    contacts.value = contacts.value.filter((c) => c.address !== address);
    void persist(services, session, 'remove contact', (storage) => storage.deleteContact(address));
  }

  function save(contact: Contact): void {
    contacts.value = [...contacts.value.filter((c) => c.address !== contact.address), contact].sort(byName);
    void persist(services, session, 'save contact', (storage) => storage.saveContact(contact));
  }

  return { contacts, byAddress, load, reset, nameOf, add, rename, remove };
});
