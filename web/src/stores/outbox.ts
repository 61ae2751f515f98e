/**
 * The outbox: what the user sent and no server has taken yet. Nothing accepted is ever lost.
 *
 *   send() ──► message + entry written in ONE IndexedDB transaction ──► flush() while online, in queue order
 *                                                                          │
 *     entry removed ◄── stored · delivered · displayed · expired ◄─────────┤ the client's events
 *     entry removed, message failed (retry button) ◄── failed by a peer ◄───┤
 *     entry kept, message waiting again ◄── failed locally (timeout, no flow: the connection dropped)
 *
 * How it works. An entry is handed to the client only after it is durable, and in queue order (an entry still
 * being written holds back the ones behind it), so a reload at any moment finds every message that was not
 * yet accepted and sends it again, in the order it was written. An entry leaves the queue when the message
 * reached a server (202 stored or 200 delivered, RFC 3428 §7), or when a peer refused it; a failure the client
 * made up itself (no answer: 408, no flow: 503/430) means the connection went away, so the entry stays and is
 * sent again when the connection is back (once more at once if the connection looks up). Every return to
 * online hands over every entry again: the client ignores ids it already has in flight (ChatClient contract),
 * and one that a new leader tab never saw is sent.
 */
import { defineStore } from 'pinia';
import { computed, shallowRef } from 'vue';
import { InvalidStateError } from '../sip/index.ts';
import type { ChatConnectionState, ChatEvent, ChatMessage, OutboxEntry } from '../drivers/index.ts';
import { useConversationsStore } from './conversations.ts';
import { useMessagesStore } from './messages.ts';
import { persist, usePinia, useServices, useSession } from './services.ts';

type StateEvent = Extract<ChatEvent, { type: 'message-state' }>;

/** local failures of one message tolerated while the connection looks up, before it is shown failed */
const LOCAL_FAILURES_WHILE_ONLINE = 2;

export const useOutboxStore = defineStore('outbox', () => {
  const services = useServices();
  const session = useSession();
  const pinia = usePinia();
  const entries = shallowRef<readonly OutboxEntry[]>([]);
  /** handed to the client since the connection last came up */
  const inFlight = new Set<string>();
  /** entries whose IndexedDB write has not committed yet */
  const unwritten = new Set<string>();
  /** entries the user retried: the client may still hold them (ChatClient.retry) */
  const retried = new Set<string>();
  const localFailures = new Map<string, number>();
  let seq = 0;

  const waiting = computed(() => entries.value.length);

  function load(list: readonly OutboxEntry[]): void {
    entries.value = [...list];
    seq = list.reduce((max, entry) => Math.max(max, entry.seq), 0);
  }

  function reset(): void {
    entries.value = [];
    inFlight.clear();
    unwritten.clear();
    retried.clear();
    localFailures.clear();
  }

  function has(id: string): boolean {
    return entries.value.some((entry) => entry.id === id);
  }

  /** Sends text in a conversation: shown at once, durable before it leaves. Resolves once written. */
  async function send(conversationId: string, text: string): Promise<ChatMessage> {
    if (!session.self) throw new InvalidStateError('sign in first');
    if (!text.trim()) throw new TypeError('nothing to send');
    const conversation = useConversationsStore(pinia).get(conversationId);
    if (!conversation) throw new TypeError(`No conversation ${conversationId}`);
    const message = useMessagesStore(pinia).addOutgoing(conversation, text);
    await queue(message);
    return message;
  }

  /** Retries a failed (or expired) message under its id. */
  async function retry(id: string): Promise<void> {
    if (has(id)) return;
    const message = useMessagesStore(pinia).retry(id);
    if (!message) throw new InvalidStateError('only a failed or expired message can be sent again');
    retried.add(id);
    localFailures.delete(id);
    await queue(message);
  }

  async function queue(message: ChatMessage): Promise<void> {
    const entry: OutboxEntry = {
      id: message.id,
      conversationId: message.conversationId,
      to: message.to,
      group: message.group,
      text: message.text,
      queuedAt: message.stateAt,
      seq: ++seq,
    };
    entries.value = [...entries.value, entry];
    unwritten.add(entry.id);
    // A failed write still sends (from memory) rather than hold the message back: persist() reports it.
    await persist(services, session, 'enqueue', (storage) => storage.enqueue(message, entry));
    unwritten.delete(entry.id);
    flush();
  }

  function online(): boolean {
    return services.client.connection.status === 'online';
  }

  /** Hands the queue to the client, in order, while online. */
  function flush(): void {
    if (!online()) return;
    const client = services.client;
    for (const entry of entries.value) {
      if (unwritten.has(entry.id)) return; // keep the order: nothing overtakes an entry being written
      if (inFlight.has(entry.id)) continue;
      inFlight.add(entry.id);
      try {
        if (retried.delete(entry.id) && client.retry(entry.id)) continue;
        const [first] = entry.to;
        if (entry.group || first === undefined) client.sendGroup(entry.to, entry.text, { id: entry.id });
        else client.send(first, entry.text, { id: entry.id });
      } catch (error) {
        // The client refused (signed out under us): the entry waits for the next time we are online.
        inFlight.delete(entry.id);
        services.onError?.(error, 'outbox flush');
        return;
      }
    }
  }

  function onConnection(state: ChatConnectionState): void {
    if (state.status !== 'online') return;
    inFlight.clear();
    flush();
  }

  function remove(id: string): void {
    entries.value = entries.value.filter((entry) => entry.id !== id);
    inFlight.delete(id);
    localFailures.delete(id);
    void persist(services, session, 'dequeue', (storage) => storage.dequeue(id));
  }

  /**
   * Sees a message's state change first. Returns true when the outbox kept a failed message to send again
   * (the message is then shown waiting, not failed).
   */
  function onState(event: StateEvent): boolean {
    if (event.recipient !== undefined || !has(event.id)) return false;
    switch (event.state) {
      case 'sending':
      case 'sent':
        return false;
      case 'stored':
      case 'delivered':
      case 'displayed':
      case 'expired':
        remove(event.id);
        return false;
      case 'failed': {
        inFlight.delete(event.id);
        if (!event.failure?.local) {
          remove(event.id);
          return false;
        }
        const failures = (localFailures.get(event.id) ?? 0) + (online() ? 1 : 0);
        localFailures.set(event.id, failures);
        if (failures >= LOCAL_FAILURES_WHILE_ONLINE) {
          remove(event.id);
          return false;
        }
        // Send it again once the current event is handled (never from inside the client's emit).
        queueMicrotask(flush);
        return true;
      }
    }
  }

  return { entries, waiting, load, reset, has, send, retry, flush, onConnection, onState };
});
