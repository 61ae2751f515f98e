// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { enableAutoUnmount, flushPromises } from '@vue/test-utils';
import AppShell from '../../../web/src/components/app/AppShell.vue';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { BOB, GATEWAY, createHarness, settle } from '../support/app-harness.ts';
import { mountWith, signedInHarness } from '../support/mount.ts';

enableAutoUnmount(afterEach);

describe('AppShell', () => {
  it('signed out: the sign-in page; signed in: sidebar and conversation', async () => {
    const h = createHarness();
    const wrapper = mountWith(h, AppShell);
    await flushPromises();
    expect(wrapper.find('form[aria-labelledby="sign-in-title"]').exists()).toBe(true);
    await wrapper.find('input[name="address"]').setValue('alice@example.com');
    await wrapper.find('input[name="password"]').setValue('secret');
    await wrapper.find('input[name="gateway"]').setValue(GATEWAY);
    await wrapper.find('form').trigger('submit');
    await settle();
    expect(wrapper.find('aside[aria-label="Chats and contacts"]').exists()).toBe(true);
    expect(wrapper.find('.shell').attributes('data-pane')).toBe('list');
    h.client.receive({ id: 'x', from: BOB, text: 'hello Alice' });
    await settle();
    await wrapper.find('.conv').trigger('click');
    await flushPromises();
    expect(wrapper.find('.shell').attributes('data-pane')).toBe('chat');
    expect(wrapper.find('section[aria-label="Conversation with bob"]').exists()).toBe(true);
    expect(wrapper.find('[role="feed"]').text()).toContain('hello Alice');
  });

  it('a hidden tab shows the unread count in the title and notifies; visible again clears both', async () => {
    const h = await signedInHarness();
    mountWith(h, AppShell);
    await flushPromises();
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
    h.client.receive({ id: 'x', from: BOB, text: 'ping' });
    h.client.receive({ id: 'y', from: BOB, text: 'ping again' });
    await settle();
    expect(h.attention.unread).toBe(2);
    expect(h.attention.notices.map((n) => n.body)).toEqual(['ping', 'ping again']);
    Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
    await flushPromises();
    expect(h.attention.unread).toBe(0);
    expect(useConversationsStore(h.pinia).totalUnread).toBe(2);
  });

  it('the password refused by the registrar is asked again in a dialog', async () => {
    const h = await signedInHarness();
    const wrapper = mountWith(h, AppShell);
    await flushPromises();
    h.client.rejectAuth();
    await flushPromises();
    const dialog = wrapper.find('[role="dialog"]');
    expect(dialog.text()).toContain('Password refused');
    await dialog.find('input[type="password"]').setValue('new-secret');
    await dialog.find('form').trigger('submit');
    await flushPromises();
    expect(h.client.signIns.map((s) => s.password)).toEqual(['secret', 'new-secret']);
    expect(wrapper.find('[role="dialog"]').exists()).toBe(false);
  });

  it('signing out returns to the sign-in page', async () => {
    const h = await signedInHarness();
    const wrapper = mountWith(h, AppShell);
    await flushPromises();
    await wrapper.find('button[aria-label="Sign out"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('form[aria-labelledby="sign-in-title"]').exists()).toBe(true);
    expect(h.client.signOuts).toBe(1);
  });
});
