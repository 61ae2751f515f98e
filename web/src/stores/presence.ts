/**
 * Presence (SPEC §8): the contacts' presence as the client reports it (RFC 3856 watching), and our own status
 * (RFC 3903 publishing), chosen by the user and remembered per account in the preferences.
 *
 *   account ready ──start()──► watch every contact ──contact added / removed──► watchPresence / unwatchPresence
 *   client `presence` event ──onPresence()──► byAddress (a contact) or own (our publication)
 *   choose(status, note) ──► preferences + client.setPresence (offline: appear offline, nothing published)
 *
 * How it works. Watching is by contact: `start()` (when the account is ready, in every tab) asks the client to
 * watch every contact and then follows the contacts store, so adding someone watches them and removing them
 * stops it (the client's watch list is additive, so tabs with different views never undo each other). Only
 * addresses the client reported are in `byAddress`: a contact not heard of yet has no presence (no dot), rather
 * than a made-up "offline". Our own status is what the user chose; the client's publication events say where
 * the publication stands (publishing, published, failed with a reason).
 */
import { defineStore } from 'pinia';
import { shallowRef, watch, type WatchStopHandle } from 'vue';
import type { ChatPresence, PresenceChoice, PresenceStatus, PublicationStatus } from '../drivers/index.ts';
import { useContactsStore } from './contacts.ts';
import { usePinia, useServices, useSession } from './services.ts';

/** A contact's presence as shown. */
export interface ContactPresence {
  readonly status: PresenceStatus;
  readonly note?: string | undefined;
  /** epoch ms */
  readonly at: number;
}

/** Our own status: what the user chose, and where its publication stands. */
export interface OwnPresence {
  readonly status: PresenceStatus;
  readonly note?: string | undefined;
  readonly publication: PublicationStatus;
  /** why the last PUBLISH failed */
  readonly reason?: string | undefined;
}

export const PRESENCE_LABELS: Readonly<Record<PresenceStatus, string>> = {
  available: 'Available',
  away: 'Away',
  busy: 'Busy',
  dnd: 'Do not disturb',
  offline: 'Offline',
};

/** "Away — In a meeting", or "Away" without a note. */
export function describePresence(presence: {
  readonly status: PresenceStatus;
  readonly note?: string;
}): string {
  const note = presence.note?.trim();
  const label = PRESENCE_LABELS[presence.status];
  return note ? `${label} — ${note}` : label;
}

/** What is published when the user never chose (SPEC §8: available on sign-in). */
const DEFAULT_CHOICE: PresenceChoice = { status: 'available' };

export const usePresenceStore = defineStore('presence', () => {
  const services = useServices();
  const session = useSession();
  const pinia = usePinia();
  const client = services.client;
  const byAddress = shallowRef<ReadonlyMap<string, ContactPresence>>(new Map());
  const own = shallowRef<OwnPresence>({ status: 'available', publication: 'unpublished' });
  let stopFollowing: WatchStopHandle | undefined;

  /** The status an account publishes at sign-in: the one it chose last, else available. */
  function choiceOf(account: string): PresenceChoice {
    return services.preferences.presence(account) ?? DEFAULT_CHOICE;
  }

  /** The account is ready: show its chosen status, watch every contact and follow the contact list. */
  function start(): void {
    const self = session.self;
    if (self === undefined) return;
    stopFollowing?.();
    const choice = choiceOf(self);
    own.value = { status: choice.status, note: choice.note, publication: own.value.publication };
    const contacts = useContactsStore(pinia);
    let watched = new Set(contacts.contacts.map((c) => c.address));
    if (watched.size > 0) client.watchPresence([...watched]);
    stopFollowing = watch(
      () => contacts.contacts,
      (list) => {
        const now = new Set(list.map((c) => c.address));
        const added = [...now].filter((address) => !watched.has(address));
        const removed = [...watched].filter((address) => !now.has(address));
        watched = now;
        if (added.length > 0) client.watchPresence(added);
        if (removed.length === 0) return;
        client.unwatchPresence(removed);
        // No longer watched: no longer known (a stale status would mislead).
        const next = new Map(byAddress.value);
        for (const address of removed) next.delete(address);
        byAddress.value = next;
      },
      { flush: 'sync' },
    );
  }

  /** Signed out: nothing is watched or known any more. */
  function reset(): void {
    stopFollowing?.();
    stopFollowing = undefined;
    byAddress.value = new Map();
    own.value = { status: 'available', publication: 'unpublished' };
  }

  function onPresence(event: ChatPresence): void {
    if (event.publication !== undefined || event.address === session.self) {
      if (event.address !== session.self) return; // another account's, from a tab that has not caught up
      own.value = {
        status: event.status,
        note: event.note,
        publication: event.publication ?? own.value.publication,
        reason: event.reason,
      };
      return;
    }
    const before = byAddress.value.get(event.address);
    if (before !== undefined && before.at > event.at) return; // an older report (a replay to a new tab)
    const next = new Map(byAddress.value);
    next.set(event.address, { status: event.status, note: event.note, at: event.at });
    byAddress.value = next;
  }

  /** The user picks a status (offline: appear offline) and an optional note; remembered for the next sign-in. */
  function choose(status: PresenceStatus, note?: string): void {
    const self = session.self;
    if (self === undefined) return;
    const trimmed = note?.trim() || undefined;
    services.preferences.setPresence(self, { status, note: trimmed });
    own.value = { ...own.value, status, note: trimmed, reason: undefined };
    client.setPresence(status, trimmed);
  }

  /** A contact's presence, when the client reported one. */
  function of(address: string): ContactPresence | undefined {
    return byAddress.value.get(address);
  }

  return { byAddress, own, choiceOf, start, reset, onPresence, choose, of };
});
