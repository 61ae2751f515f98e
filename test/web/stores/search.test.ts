import { describe, expect, it } from 'vitest';
import { useAccountStore } from '../../../web/src/stores/account.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { useMessagesStore } from '../../../web/src/stores/messages.ts';
import { useSearchStore } from '../../../web/src/stores/search.ts';
import { ALICE, BOB, CAROL, GATEWAY, createHarness, settle } from '../support/app-harness.ts';

describe('search store', () => {
  it('finds messages across all conversations and jumps to one: conversation open, message focused', async () => {
    const h = createHarness();
    await useAccountStore(h.pinia).signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
    h.client.goOnline();
    h.client.receive({ id: 'b1', from: BOB, text: 'The report is ready', at: 1 });
    h.client.receive({ id: 'c1', from: CAROL, text: 'did you read the REPORT?', at: 2 });
    h.client.receive({ id: 'c2', from: CAROL, text: 'nothing to see', at: 3 });
    await settle();
    const search = useSearchStore(h.pinia);
    await search.search('report');
    expect(search.results.map((m) => m.id)).toEqual(['c1', 'b1']);
    await search.jumpTo(search.results[1]!);
    expect(useConversationsStore(h.pinia).activeId).toBe(BOB);
    expect(useMessagesStore(h.pinia).focus).toMatchObject({ conversationId: BOB, id: 'b1' });
  });

  it('an answer to an older query never replaces the newer one; an empty query clears', async () => {
    const h = createHarness();
    await useAccountStore(h.pinia).signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
    h.client.receive({ id: 'b1', from: BOB, text: 'alpha beta' });
    await settle();
    const search = useSearchStore(h.pinia);
    const older = search.search('alpha');
    const newer = search.search('beta gamma');
    await Promise.all([older, newer]);
    expect(search.query).toBe('beta gamma');
    expect(search.results).toEqual([]);
    await search.search('alpha');
    expect(search.results).toHaveLength(1);
    await search.search('');
    expect(search.results).toEqual([]);
  });
});
