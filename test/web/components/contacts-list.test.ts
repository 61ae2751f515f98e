// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { enableAutoUnmount, flushPromises } from '@vue/test-utils';
import ContactsList from '../../../web/src/components/contacts/ContactsList.vue';
import { useContactsStore } from '../../../web/src/stores/contacts.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { BOB, CAROL } from '../support/app-harness.ts';
import { mountWith, signedInHarness } from '../support/mount.ts';

enableAutoUnmount(afterEach);

describe('ContactsList', () => {
  it('adds a contact by address, refusing a bad one with a message', async () => {
    const h = await signedInHarness();
    const wrapper = mountWith(h, ContactsList);
    expect(wrapper.text()).toContain('No contacts yet');
    await wrapper.find('button[aria-expanded]').trigger('click');
    const [address, name] = wrapper.findAll('form[aria-label="Add a contact"] input');
    await address?.setValue('not an address@@');
    await wrapper.find('form[aria-label="Add a contact"]').trigger('submit');
    expect(wrapper.find('[role="alert"]').exists()).toBe(true);
    await address?.setValue('bob@example.com');
    await name?.setValue('Bob');
    await wrapper.find('form[aria-label="Add a contact"]').trigger('submit');
    expect(useContactsStore(h.pinia).contacts).toMatchObject([{ address: BOB, name: 'Bob' }]);
    expect(wrapper.find('.contact__name').text()).toBe('Bob');
  });

  it('renames inline and removes after a confirmation', async () => {
    const h = await signedInHarness();
    useContactsStore(h.pinia).add(BOB, 'Bob');
    const wrapper = mountWith(h, ContactsList);
    await wrapper.find('button[aria-label="Rename Bob"]').trigger('click');
    const input = wrapper.find('input[aria-label="New name for sip:bob@example.com"]');
    await input.setValue('Robert');
    await wrapper.find('.contact form').trigger('submit');
    await flushPromises();
    expect(useContactsStore(h.pinia).nameOf(BOB)).toBe('Robert');
    await wrapper.find('button[aria-label="Remove Robert"]').trigger('click');
    expect(wrapper.find('[role="dialog"]').text()).toContain('Remove Robert?');
    await wrapper.find('.btn--danger').trigger('click');
    expect(useContactsStore(h.pinia).contacts).toEqual([]);
  });

  it('a contact opens its conversation; two or more start a group', async () => {
    const h = await signedInHarness();
    useContactsStore(h.pinia).add(BOB, 'Bob');
    useContactsStore(h.pinia).add(CAROL, 'Carol');
    const wrapper = mountWith(h, ContactsList);
    await wrapper.find('.contact__main').trigger('click');
    await flushPromises();
    expect(useConversationsStore(h.pinia).activeId).toBe(BOB);
    await wrapper.findAll('.contacts__bar button')[1]?.trigger('click');
    const boxes = wrapper.findAll('input[type="checkbox"]');
    await boxes[0]?.setValue(true);
    await boxes[1]?.setValue(true);
    await wrapper.find('[role="dialog"] form').trigger('submit');
    await flushPromises();
    expect(useConversationsStore(h.pinia).active).toMatchObject({ kind: 'group', peers: [BOB, CAROL] });
  });
});
