// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { enableAutoUnmount, flushPromises } from '@vue/test-utils';
import ChatComposer from '../../../web/src/components/chat/ChatComposer.vue';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { BOB, CAROL, settle } from '../support/app-harness.ts';
import { mountWith, signedInHarness } from '../support/mount.ts';

enableAutoUnmount(afterEach);

async function composer(peers = [BOB]) {
  const h = await signedInHarness();
  const conversation = useConversationsStore(h.pinia).ensure(peers);
  const wrapper = mountWith(h, ChatComposer, {
    props: { conversationId: conversation.id, label: 'Message Bob' },
  });
  return { h, wrapper, field: wrapper.find('textarea') };
}

describe('ChatComposer', () => {
  it('Enter sends and clears; Shift+Enter does not send', async () => {
    const { h, field } = await composer();
    await field.setValue('first line');
    await field.trigger('keydown', { key: 'Enter', shiftKey: true });
    expect(h.client.sent).toEqual([]);
    await field.setValue('first line\nsecond line');
    await field.trigger('keydown', { key: 'Enter' });
    await settle();
    expect(h.client.sent.map((s) => s.text)).toEqual(['first line\nsecond line']);
    expect((field.element as HTMLTextAreaElement).value).toBe('');
  });

  it('Enter while an input method is composing does not send', async () => {
    const { h, field } = await composer();
    await field.setValue('にほん');
    await field.trigger('keydown', { key: 'Enter', isComposing: true });
    await settle();
    expect(h.client.sent).toEqual([]);
  });

  it('the send button is labelled and does nothing for blank text', async () => {
    const { h, wrapper, field } = await composer();
    const button = wrapper.find('button[aria-label="Send"]');
    expect(button.attributes('disabled')).toBeDefined();
    await field.setValue('   ');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(h.client.sent).toEqual([]);
    expect(field.attributes('aria-label')).toBe('Message Bob');
  });

  it('typing tells the peer once, and sending or clearing ends it', async () => {
    const { h, field } = await composer();
    await field.setValue('h');
    await field.trigger('input');
    await field.setValue('he');
    await field.trigger('input');
    expect(h.client.composing).toEqual([{ peer: BOB, active: true }]);
    await field.setValue('');
    await field.trigger('input');
    expect(h.client.composing).toEqual([
      { peer: BOB, active: true },
      { peer: BOB, active: false },
    ]);
  });

  it('in a group, the message goes to everyone (reply to all)', async () => {
    const { h, field } = await composer([BOB, CAROL]);
    await field.setValue('hi both');
    await field.trigger('keydown', { key: 'Enter' });
    await settle();
    expect(h.client.sent).toMatchObject([{ to: [BOB, CAROL], group: true, text: 'hi both' }]);
    expect(h.client.composing).toEqual([]);
  });
});
