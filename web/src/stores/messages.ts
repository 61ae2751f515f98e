/**
 * Messages: every loaded conversation's messages in time order, each a plain snapshot replaced when its state
 * changes (so a bubble re-renders by identity, and 10,000 messages cost no deep reactivity).
 *
 *   client events ──► applyState / receive / echo ──► list of the conversation (shallowReactive array)
 *                                                 └─► storage (the same snapshot) · conversations.noteMessage
 *
 * How it works. A conversation's history is read from storage once, the first time anything needs it; incoming
 * messages wait for that (in one chain, so they keep their order), which makes the duplicate check exact: a
 * message whose id is already in the conversation is dropped, whether it was seen a second ago (a forked or
 * retransmitted MESSAGE the client let through) or before a reload. State changes for a message that is not in
 * memory (its conversation was never opened in this tab) are applied to the stored copy.
 */
import { defineStore } from 'pinia';
import { shallowReactive, shallowRef } from 'vue';
import type {
  ChatEvent,
  ChatMessage,
  ConversationSummary,
  IncomingChatMessage,
  OutgoingChatMessage,
} from '../drivers/index.ts';
import { groupPeers } from './address.ts';
import { useContactsStore } from './contacts.ts';
import { useConversationsStore } from './conversations.ts';
import { transition } from './message-state.ts';
import { persist, usePinia, useServices, useSession } from './services.ts';

type StateEvent = Extract<ChatEvent, { type: 'message-state' }>;

export interface MessageFocus {
  readonly conversationId: string;
  readonly id: string;
  /** grows on every jump, so jumping to the same message twice scrolls twice */
  readonly seq: number;
}

const NOTICE_LENGTH = 140;

/** Replaces an array's items without one giant spread (engines cap the argument count near 65,536). */
function replaceAll<T>(list: T[], items: readonly T[]): void {
  list.splice(0);
  for (let i = 0; i < items.length; i += 10_000) list.push(...items.slice(i, i + 10_000));
}

export const useMessagesStore = defineStore('messages', () => {
  const services = useServices();
  const session = useSession();
  const pinia = usePinia();
  /** conversation id → its messages, oldest first; one array per conversation for the store's lifetime */
  const lists = new Map<string, ChatMessage[]>();
  /** message id → conversation id, for every message in memory */
  const where = new Map<string, string>();
  const loads = new Map<string, Promise<void>>();
  /** conversation id → its incoming messages still `delivered` (not seen yet): markSeen touches only these */
  const unseen = new Map<string, Set<string>>();
  const focus = shallowRef<MessageFocus | undefined>();
  let focusSeq = 0;
  let incoming: Promise<void> = Promise.resolve();
  /** grows on reset (sign-out): work started before it is dropped */
  let generation = 0;

  /** The messages of a conversation (reactive; loaded or not). */
  function listOf(conversationId: string): readonly ChatMessage[] {
    let list = lists.get(conversationId);
    if (!list) {
      list = shallowReactive<ChatMessage[]>([]);
      lists.set(conversationId, list);
    }
    return list;
  }

  function mutable(conversationId: string): ChatMessage[] {
    return listOf(conversationId) as ChatMessage[];
  }

  function find(id: string): ChatMessage | undefined {
    const conversationId = where.get(id);
    if (conversationId === undefined) return undefined;
    const list = mutable(conversationId);
    for (let i = list.length - 1; i >= 0; i--) if (list[i]?.id === id) return list[i];
    return undefined;
  }

  function trackSeen(message: ChatMessage): void {
    let ids = unseen.get(message.conversationId);
    if (message.direction === 'in' && message.state === 'delivered') {
      if (!ids) unseen.set(message.conversationId, (ids = new Set()));
      ids.add(message.id);
    } else ids?.delete(message.id);
  }

  /** Inserts (in time order; usually at the end) or replaces a message in memory. */
  function put(message: ChatMessage): void {
    trackSeen(message);
    const list = mutable(message.conversationId);
    if (where.has(message.id)) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i]?.id !== message.id) continue;
        list[i] = message;
        return;
      }
    }
    where.set(message.id, message.conversationId);
    let at = list.length;
    while (at > 0 && (list[at - 1]?.at ?? 0) > message.at) at--;
    if (at === list.length) list.push(message);
    else list.splice(at, 0, message);
  }

  function save(message: ChatMessage): void {
    void persist(services, session, 'save message', (storage) => storage.saveMessage(message));
  }

  /** Reads a conversation's history once; messages already in memory (newer) win over stored copies. */
  function load(conversationId: string): Promise<void> {
    let loading = loads.get(conversationId);
    if (!loading) {
      const started = generation;
      loading = (async () => {
        const stored =
          (await persist(services, session, 'load messages', (s) => s.loadMessages(conversationId))) ?? [];
        if (started !== generation) return;
        const list = mutable(conversationId);
        const live = new Map(list.map((m) => [m.id, m]));
        const merged = stored.filter((m) => !live.has(m.id)).concat(list);
        merged.sort((a, b) => a.at - b.at);
        unseen.delete(conversationId);
        for (const message of merged) {
          where.set(message.id, conversationId);
          trackSeen(message);
        }
        replaceAll(list, merged);
      })();
      loads.set(conversationId, loading);
    }
    return loading;
  }

  function isLoaded(conversationId: string): boolean {
    return loads.has(conversationId);
  }

  /** A message the user just wrote (the outbox persists it with its entry). */
  function addOutgoing(conversation: ConversationSummary, text: string): ChatMessage {
    const now = services.now();
    const message: ChatMessage = {
      id: services.newId(),
      conversationId: conversation.id,
      direction: 'out',
      from: session.self ?? '',
      to: conversation.peers,
      group: conversation.kind === 'group',
      text,
      at: now,
      state: 'sending',
      stateAt: now,
      recipients:
        conversation.kind === 'group'
          ? conversation.peers.map((address) => ({ address, state: 'sending' as const, at: now }))
          : undefined,
    };
    put(message);
    useConversationsStore(pinia).noteMessage(message);
    return message;
  }

  function update(next: ChatMessage): void {
    put(next);
    save(next);
  }

  /** A message made elsewhere (a file, stores/files.ts) added or changed: in memory and history; `note` moves
   * its conversation (preview, order, unread). */
  function upsert(message: ChatMessage, note: boolean): void {
    update(message);
    if (note) useConversationsStore(pinia).noteMessage(message);
  }

  function applyState(event: StateEvent): void {
    const options = { failure: event.failure, recipient: event.recipient };
    const message = find(event.id);
    if (message) {
      const next = transition(message, event.state, event.at, options);
      if (next) update(next);
      return;
    }
    // Not in memory: change the stored copy (its conversation was never opened here).
    void persist(services, session, 'update message', async (storage) => {
      const stored = await storage.getMessage(event.id);
      const next = stored && transition(stored, event.state, event.at, options);
      if (next) await storage.saveMessage(next);
    });
  }

  /** The user retries a failed or expired message: back to sending, every recipient afresh. */
  function retry(id: string): ChatMessage | undefined {
    const message = find(id);
    const next = message && transition(message, 'sending', services.now(), { cause: 'retry' });
    if (!next) return undefined;
    const fresh: ChatMessage = {
      ...next,
      recipients: next.recipients?.map((r) => ({
        address: r.address,
        state: 'sending' as const,
        at: next.stateAt,
      })),
    };
    put(fresh);
    return fresh;
  }

  /** The outbox took a message back after a connection loss: it shows as waiting again. */
  function requeue(id: string): void {
    const message = find(id);
    const next = message && transition(message, 'sending', services.now(), { cause: 'requeue' });
    if (next) update(next);
  }

  function receive(message: IncomingChatMessage): Promise<void> {
    incoming = incoming
      .then(() => receiveNow(message))
      .catch((error: unknown) => services.onError?.(error, 'receive'));
    return incoming;
  }

  async function receiveNow(incomingMessage: IncomingChatMessage): Promise<void> {
    const self = session.self;
    const started = generation;
    if (!self) return;
    const conversations = useConversationsStore(pinia);
    const participants = incomingMessage.participants;
    const peers = participants
      ? groupPeers(self, incomingMessage.from, participants)
      : [incomingMessage.from];
    const conversation = conversations.ensure(peers);
    conversations.setTyping(incomingMessage.from, false);
    await load(conversation.id);
    if (started !== generation || where.has(incomingMessage.id)) return;
    const message: ChatMessage = {
      id: incomingMessage.id,
      conversationId: conversation.id,
      direction: 'in',
      from: incomingMessage.from,
      fromName: incomingMessage.fromName,
      to: participants ?? [self],
      group: participants !== undefined,
      text: incomingMessage.text,
      at: incomingMessage.at,
      state: 'delivered',
      stateAt: incomingMessage.receivedAt,
      wantsDisplayed: incomingMessage.wantsDisplayed,
    };
    update(message);
    conversations.noteMessage(message);
    const seen = conversations.activeId === conversation.id && conversations.pageVisible;
    if (seen) markSeen(conversation.id);
    else if (!conversations.pageVisible) notify(message);
  }

  function notify(message: ChatMessage): void {
    const attention = services.attention;
    if (!attention) return;
    const text =
      message.text.length > NOTICE_LENGTH ? `${message.text.slice(0, NOTICE_LENGTH - 1)}…` : message.text;
    attention.notify({
      title: useContactsStore(pinia).nameOf(message.from),
      body: text,
      tag: message.conversationId,
      onClick: () => {
        void useConversationsStore(pinia).open(message.conversationId);
      },
    });
  }

  /** A message this account sent elsewhere (another tab or device): shown here too. */
  function echo(outgoing: OutgoingChatMessage): Promise<void> {
    incoming = incoming.then(async () => {
      const self = session.self;
      if (!self || where.has(outgoing.id)) return;
      const conversations = useConversationsStore(pinia);
      const conversation = conversations.ensure(outgoing.to);
      const started = generation;
      await load(conversation.id);
      if (started !== generation || where.has(outgoing.id)) return;
      const message: ChatMessage = {
        id: outgoing.id,
        conversationId: conversation.id,
        direction: 'out',
        from: self,
        to: outgoing.to,
        group: outgoing.group,
        text: outgoing.text,
        at: outgoing.at,
        state: 'sending',
        stateAt: outgoing.at,
      };
      update(message);
      conversations.noteMessage(message);
    });
    return incoming;
  }

  /**
   * The user sees this conversation: its incoming messages become displayed, the senders that asked get a
   * display notification (RFC 5438 §7.2.1.2: only once the user has actually seen the message), unread is 0.
   */
  function markSeen(conversationId: string): void {
    const list = mutable(conversationId);
    const pending = unseen.get(conversationId);
    const notify: string[] = [];
    const now = services.now();
    // Only what was not seen yet is touched, newest first (usually the last few messages of a long history).
    for (let i = list.length - 1; i >= 0 && pending !== undefined && pending.size > 0; i--) {
      const message = list[i];
      if (!message || !pending.has(message.id)) continue;
      pending.delete(message.id);
      if (message.direction !== 'in' || message.state !== 'delivered') continue;
      const seen: ChatMessage = { ...message, state: 'displayed', stateAt: now };
      list[i] = seen;
      save(seen);
      if (message.wantsDisplayed) notify.push(message.id);
    }
    pending?.clear();
    notify.reverse();
    if (notify.length > 0 && services.client.address !== undefined) services.client.markDisplayed(notify);
    useConversationsStore(pinia).clearUnread(conversationId);
  }

  function focusOn(conversationId: string, id: string): void {
    focus.value = { conversationId, id, seq: ++focusSeq };
  }

  function reset(): void {
    generation++;
    incoming = Promise.resolve();
    for (const list of lists.values()) list.splice(0);
    where.clear();
    loads.clear();
    unseen.clear();
    focus.value = undefined;
  }

  return {
    focus,
    listOf,
    find,
    load,
    isLoaded,
    addOutgoing,
    upsert,
    applyState,
    retry,
    requeue,
    receive,
    echo,
    markSeen,
    focusOn,
    reset,
  };
});
