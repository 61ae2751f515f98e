/**
 * Conversations: one per peer, one per group of peers; ordered by last activity, each with its unread count
 * and the preview of its last message. Also what belongs to a conversation but is not a message: the peer
 * typing, and the notes about what a peer cannot take (capability learning).
 *
 * Unread: an incoming message counts unless its conversation is open while the page is visible; opening the
 * conversation, or the page becoming visible on it, marks it seen (messages.markSeen sends the display
 * notifications).
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowReactive } from 'vue';
import type { CapabilityNote, ChatMessage, ConversationSummary } from '../drivers/index.ts';
import { conversationIdFor, isGroupId } from './address.ts';
import { useMessagesStore } from './messages.ts';
import { persist, usePinia, useServices, useSession } from './services.ts';

const PREVIEW_LENGTH = 120;

function previewOf(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > PREVIEW_LENGTH ? `${line.slice(0, PREVIEW_LENGTH - 1)}…` : line;
}

export const useConversationsStore = defineStore('conversations', () => {
  const services = useServices();
  const session = useSession();
  const pinia = usePinia();
  const byId = shallowReactive(new Map<string, ConversationSummary>());
  const activeId = ref<string | undefined>();
  const pageVisible = ref(true);
  /** peers typing to us now */
  const typing = shallowReactive(new Set<string>());
  /** peer → what it refused, newest last */
  const notes = shallowReactive(new Map<string, readonly CapabilityNote[]>());

  const list = computed(() =>
    [...byId.values()].sort((a, b) => b.lastActivity - a.lastActivity || a.id.localeCompare(b.id)),
  );
  const active = computed(() => (activeId.value === undefined ? undefined : byId.get(activeId.value)));
  const totalUnread = computed(() => {
    let sum = 0;
    for (const conversation of byId.values()) sum += conversation.unread;
    return sum;
  });

  function load(conversations: readonly ConversationSummary[], learned: readonly CapabilityNote[]): void {
    byId.clear();
    for (const conversation of conversations) byId.set(conversation.id, conversation);
    notes.clear();
    for (const note of learned) addNote(note);
  }

  function reset(): void {
    byId.clear();
    notes.clear();
    typing.clear();
    activeId.value = undefined;
  }

  function get(id: string): ConversationSummary | undefined {
    return byId.get(id);
  }

  function save(conversation: ConversationSummary): void {
    byId.set(conversation.id, conversation);
    void persist(services, session, 'save conversation', (storage) => storage.saveConversation(conversation));
  }

  /** The conversation with these peers (ourselves excluded), created empty when new. */
  function ensure(peers: readonly string[]): ConversationSummary {
    const unique = [...new Set(peers)].filter((peer) => peer !== session.self).sort();
    if (unique.length === 0) throw new TypeError('A conversation needs someone else in it');
    const id = conversationIdFor(unique);
    const existing = byId.get(id);
    if (existing) return existing;
    const created: ConversationSummary = {
      id,
      kind: isGroupId(id) ? 'group' : 'direct',
      peers: unique,
      lastActivity: services.now(),
      preview: '',
      previewFromSelf: false,
      unread: 0,
    };
    save(created);
    return created;
  }

  /** Opens a conversation (creating it for these peers when needed): loads its history, marks it seen. */
  async function openWith(peers: readonly string[]): Promise<void> {
    await open(ensure(peers).id);
  }

  async function open(id: string): Promise<void> {
    if (!byId.has(id)) throw new TypeError(`No conversation ${id}`);
    activeId.value = id;
    const messages = useMessagesStore(pinia);
    await messages.load(id);
    if (activeId.value === id && pageVisible.value) messages.markSeen(id);
  }

  function close(): void {
    activeId.value = undefined;
  }

  /** A message was added to a conversation: preview, order, unread. */
  function noteMessage(message: ChatMessage): void {
    const conversation = byId.get(message.conversationId);
    if (!conversation) return;
    const seen = activeId.value === conversation.id && pageVisible.value;
    const unread = message.direction === 'in' && message.state !== 'displayed' && !seen ? 1 : 0;
    // An empty conversation's activity was its creation: its first message's time replaces it.
    const empty = conversation.preview === '';
    const newest = empty || message.at >= conversation.lastActivity;
    save({
      ...conversation,
      lastActivity: empty ? message.at : Math.max(conversation.lastActivity, message.at),
      preview: newest ? previewOf(message.text) : conversation.preview,
      previewFromSelf: newest ? message.direction === 'out' : conversation.previewFromSelf,
      unread: conversation.unread + unread,
    });
  }

  function clearUnread(id: string): void {
    const conversation = byId.get(id);
    if (conversation && conversation.unread !== 0) save({ ...conversation, unread: 0 });
  }

  function setPageVisible(visible: boolean): void {
    pageVisible.value = visible;
    if (visible && activeId.value !== undefined) useMessagesStore(pinia).markSeen(activeId.value);
  }

  function setTyping(peer: string, active: boolean): void {
    if (active) typing.add(peer);
    else typing.delete(peer);
  }

  /** The user is typing in a conversation (direct ones only: is-composing goes to one peer, RFC 3994). */
  function typed(id: string, active: boolean): void {
    const conversation = byId.get(id);
    if (!conversation || conversation.kind !== 'direct' || !session.self) return;
    const peer = conversation.peers[0];
    if (peer === undefined || services.client.connection.status !== 'online') return;
    services.client.setComposing(peer, active);
  }

  function addNote(note: CapabilityNote): void {
    const others = (notes.get(note.peer) ?? []).filter((n) => n.capability !== note.capability);
    notes.set(note.peer, [...others, note]);
  }

  /** The client learned what a peer cannot take: shown in its conversation, kept for the next session. */
  function learn(note: CapabilityNote): void {
    addNote(note);
    void persist(services, session, 'save capability', (storage) => storage.saveCapability(note));
  }

  function notesFor(id: string): CapabilityNote[] {
    const conversation = byId.get(id);
    if (!conversation) return [];
    return conversation.peers.flatMap((peer) => (notes.get(peer) ?? []).filter((note) => !note.supported));
  }

  return {
    activeId,
    active,
    pageVisible,
    typing,
    list,
    totalUnread,
    load,
    reset,
    get,
    ensure,
    open,
    openWith,
    close,
    noteMessage,
    clearUnread,
    setPageVisible,
    setTyping,
    typed,
    learn,
    notesFor,
  };
});
