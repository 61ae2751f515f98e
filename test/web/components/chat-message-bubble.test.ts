// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { enableAutoUnmount } from '@vue/test-utils';
import ChatMessageBubble from '../../../web/src/components/chat/ChatMessageBubble.vue';
import type { ChatMessage } from '../../../web/src/drivers/index.ts';
import { BOB, CAROL, createHarness } from '../support/app-harness.ts';
import { mountWith } from '../support/mount.ts';

enableAutoUnmount(afterEach);

const base: ChatMessage = {
  id: 'm1',
  conversationId: BOB,
  direction: 'out',
  from: 'sip:alice@example.com',
  to: [BOB],
  group: false,
  text: 'hello',
  at: Date.UTC(2026, 0, 5, 14, 30),
  state: 'sent',
  stateAt: 0,
};
const nameOf = (address: string) => (address === BOB ? 'Bob' : address === CAROL ? 'Carol' : address);

function bubble(message: Partial<ChatMessage>) {
  const h = createHarness();
  return mountWith(h, ChatMessageBubble, { props: { message: { ...base, ...message }, nameOf } });
}

describe('ChatMessageBubble', () => {
  it('shows message text as text, never as HTML', () => {
    const wrapper = bubble({ text: '<img src=x onerror=alert(1)> <b>bold</b>' });
    expect(wrapper.find('img').exists()).toBe(false);
    expect(wrapper.find('b').exists()).toBe(false);
    expect(wrapper.find('.bubble__text').text()).toBe('<img src=x onerror=alert(1)> <b>bold</b>');
  });

  it('keeps line breaks and makes only http(s) URLs links', () => {
    const wrapper = bubble({ text: 'see https://example.com/a?b=1.\njavascript:alert(1)' });
    const links = wrapper.findAll('a');
    expect(links.map((a) => a.attributes('href'))).toEqual(['https://example.com/a?b=1']);
    expect(links[0]?.attributes('rel')).toContain('noopener');
    expect(wrapper.find('.bubble__text').element.textContent).toBe(
      'see https://example.com/a?b=1.\njavascript:alert(1)',
    );
  });

  it('tells each state by its tick, with a label for screen readers', () => {
    const labels: Record<string, string> = {};
    for (const state of ['sending', 'sent', 'stored', 'delivered', 'displayed'] as const) {
      labels[state] = bubble({ state }).find('[role="img"]').attributes('aria-label') ?? '';
    }
    expect(labels).toEqual({
      sending: 'Sending',
      sent: 'Sent',
      stored: 'Stored by the server, delivered when the recipient is online',
      delivered: 'Delivered',
      displayed: 'Read',
    });
  });

  it('a failed message shows the SIP status and reason, and its retry button asks for a retry', async () => {
    const wrapper = bubble({ state: 'failed', failure: { code: 404, reason: 'Not Found' } });
    expect(wrapper.find('.bubble__problem').text()).toContain('Not delivered: 404 Not Found');
    await wrapper.find('button').trigger('click');
    expect(wrapper.emitted('retry')).toEqual([['m1']]);
  });

  it('an expired message says so and offers to send it again', () => {
    const wrapper = bubble({ state: 'expired' });
    expect(wrapper.text()).toContain('Expired before it could be delivered');
    expect(wrapper.find('button').text()).toContain('Send again');
  });

  it('a group message shows how far it got with each recipient', () => {
    const wrapper = bubble({
      group: true,
      to: [BOB, CAROL],
      state: 'stored',
      recipients: [
        { address: BOB, state: 'displayed', at: 1 },
        { address: CAROL, state: 'failed', at: 1, failure: { code: 480, reason: 'Temporarily Unavailable' } },
      ],
    });
    expect(wrapper.find('summary').text()).toBe('Delivered to 1 of 2 · read by 1 · 1 failed');
    expect(wrapper.findAll('li').map((li) => li.text())).toEqual([
      'Bob: read',
      'Carol: failed (480 Temporarily Unavailable)',
    ]);
  });

  it('an incoming message has no tick', () => {
    const wrapper = bubble({ direction: 'in', from: BOB, state: 'delivered' });
    expect(wrapper.find('[role="img"]').exists()).toBe(false);
    expect(wrapper.find('article').attributes('aria-label')).toBe('Bob');
  });
});
