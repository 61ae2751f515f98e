/**
 * Search across all conversations (history in IndexedDB), newest first, and the jump to a result: its
 * conversation opens and the message list scrolls to it and highlights it. A slow answer to an older query
 * never replaces the answer to a newer one.
 */
import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { ChatMessage } from '../drivers/index.ts';
import { useConversationsStore } from './conversations.ts';
import { useMessagesStore } from './messages.ts';
import { persist, usePinia, useServices, useSession } from './services.ts';

export const SEARCH_LIMIT = 50;

export const useSearchStore = defineStore('search', () => {
  const services = useServices();
  const session = useSession();
  const pinia = usePinia();
  const query = ref('');
  const results = shallowRef<readonly ChatMessage[]>([]);
  const busy = ref(false);
  let asked = 0;

  async function search(text: string): Promise<void> {
    query.value = text;
    const mine = ++asked;
    if (!text.trim()) {
      results.value = [];
      busy.value = false;
      return;
    }
    busy.value = true;
    const found = await persist(services, session, 'search', (storage) =>
      storage.searchMessages(text, SEARCH_LIMIT),
    );
    if (mine !== asked) return;
    results.value = found ?? [];
    busy.value = false;
  }

  async function jumpTo(message: ChatMessage): Promise<void> {
    const conversations = useConversationsStore(pinia);
    if (!conversations.get(message.conversationId)) return;
    await conversations.open(message.conversationId);
    useMessagesStore(pinia).focusOn(message.conversationId, message.id);
  }

  function reset(): void {
    asked++;
    query.value = '';
    results.value = [];
    busy.value = false;
  }

  return { query, results, busy, search, jumpTo, reset };
});
