// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { enableAutoUnmount, flushPromises } from '@vue/test-utils';
import AccountConnectionBanner from '../../../web/src/components/account/AccountConnectionBanner.vue';
import AccountSignIn from '../../../web/src/components/account/AccountSignIn.vue';
import { useAccountStore } from '../../../web/src/stores/account.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { useOutboxStore } from '../../../web/src/stores/outbox.ts';
import { ALICE, BOB, GATEWAY, MapStorage, createHarness, settle } from '../support/app-harness.ts';
import { mountWith, signedInHarness } from '../support/mount.ts';

enableAutoUnmount(afterEach);

describe('AccountSignIn', () => {
  it('offers the last sign-in, and signs in with what was typed', async () => {
    const local = new MapStorage();
    local.setItem('simple-chat.last-sign-in', JSON.stringify({ address: ALICE, gatewayUrl: GATEWAY }));
    const h = createHarness({ local });
    const wrapper = mountWith(h, AccountSignIn);
    const address = wrapper.find<HTMLInputElement>('input[name="address"]');
    expect(address.element.value).toBe('alice@example.com');
    expect(wrapper.find<HTMLInputElement>('input[name="gateway"]').element.value).toBe(GATEWAY);
    await wrapper.find('input[name="password"]').setValue('secret');
    await wrapper.find('form').trigger('submit');
    await settle();
    expect(h.client.signIns).toMatchObject([{ address: ALICE, password: 'secret', gatewayUrl: GATEWAY }]);
    expect(useAccountStore(h.pinia).signedIn).toBe(true);
  });

  it('prefills the gateway of the page it was served from (embedded mode), and says what is wrong', async () => {
    const h = createHarness();
    const wrapper = mountWith(h, AccountSignIn);
    await wrapper.find('input[name="address"]').setValue('alice');
    await wrapper.find('input[name="password"]').setValue('x');
    await wrapper.find('input[name="gateway"]').setValue(GATEWAY);
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(wrapper.find('[role="alert"]').text()).toMatch(/domain/);
    expect(h.client.signIns).toEqual([]);
  });
});

describe('AccountConnectionBanner', () => {
  it('is silent online, and counts down to the next attempt while reconnecting', async () => {
    // Only the countdown's clock is faked; IndexedDB (fake-indexeddb) keeps its real timers.
    vi.useFakeTimers({ now: 1_000_000, toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      const h = await signedInHarness();
      const wrapper = mountWith(h, AccountConnectionBanner);
      expect(wrapper.text()).toBe('');
      h.client.setConnection({
        status: 'reconnecting',
        attempt: 2,
        at: Date.now() + 5_000,
        reason: 'closed',
      });
      await flushPromises();
      expect(wrapper.text()).toContain('Reconnecting in 5 s');
      vi.advanceTimersByTime(2_000);
      await flushPromises();
      expect(wrapper.text()).toContain('Reconnecting in 3 s');
      h.client.setConnection({ status: 'connecting', attempt: 2 });
      await flushPromises();
      expect(wrapper.text()).toContain('Connecting… (attempt 3)');
      expect(wrapper.find('[role="status"]').exists()).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('says why it is offline and how many messages wait', async () => {
    const h = await signedInHarness();
    useConversationsStore(h.pinia).ensure([BOB]);
    h.client.setConnection({ status: 'offline', reason: 'Not connected: no network' });
    await useOutboxStore(h.pinia).send(BOB, 'later');
    const wrapper = mountWith(h, AccountConnectionBanner);
    expect(wrapper.text()).toBe('Offline. Not connected: no network · 1 message waiting to send');
  });
});
