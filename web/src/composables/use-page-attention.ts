/**
 * Ties the page's visibility to the stores: while the tab is hidden, incoming messages stay unread, the unread
 * count shows in the title and desktop notifications fire (messages store); when it shows again, the open
 * conversation is marked seen and the title is plain.
 */
import { onBeforeUnmount, onMounted, watchEffect } from 'vue';
import { useConversationsStore } from '../stores/conversations.ts';
import { useServices } from '../stores/services.ts';

export function usePageAttention(doc: Document = document): void {
  const conversations = useConversationsStore();
  const attention = useServices().attention;
  const update = (): void => {
    conversations.setPageVisible(doc.visibilityState !== 'hidden');
  };
  onMounted(() => {
    update();
    doc.addEventListener('visibilitychange', update);
  });
  onBeforeUnmount(() => {
    doc.removeEventListener('visibilitychange', update);
  });
  watchEffect(() => {
    attention?.setUnread(conversations.pageVisible ? 0 : conversations.totalUnread);
  });
}
