/**
 * What to call a conversation: the contact's name for one peer, the names joined for a group.
 */
import type { ConversationSummary } from '../drivers/index.ts';

export function conversationTitle(
  conversation: ConversationSummary,
  nameOf: (address: string) => string,
): string {
  const names = conversation.peers.map(nameOf);
  if (conversation.kind === 'direct' || names.length <= 3) return names.join(', ');
  return `${names.slice(0, 2).join(', ')} and ${names.length - 2} others`;
}
