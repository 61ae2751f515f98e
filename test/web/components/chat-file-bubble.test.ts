// @vitest-environment happy-dom
/**
 * Files in the conversation view: the attach button and the drop zone send files, a file bubble shows the offer
 * (Accept / Decline), the progress bar (role progressbar, aria-valuenow), Cancel, and the Download link (an
 * object URL with the file's name, revoked when the bubble goes away).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { enableAutoUnmount, flushPromises } from '@vue/test-utils';
import ChatConversationView from '../../../web/src/components/chat/ChatConversationView.vue';
import { useContactsStore } from '../../../web/src/stores/contacts.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { BOB, CAROL, settle } from '../support/app-harness.ts';
import { mountWith, signedInHarness } from '../support/mount.ts';

enableAutoUnmount(afterEach);

async function view(peers: string[] = [BOB]) {
  const h = await signedInHarness();
  useContactsStore(h.pinia).add(BOB, 'Bob');
  const conversation = useConversationsStore(h.pinia).ensure(peers);
  await useConversationsStore(h.pinia).open(conversation.id);
  const wrapper = mountWith(h, ChatConversationView, { props: { conversation } });
  await flushPromises();
  return { h, wrapper };
}

const OFFER = {
  id: 'in-1',
  direction: 'receive' as const,
  peer: BOB,
  name: 'photo.png',
  type: 'image/png',
  size: 2048,
};

function button(wrapper: Awaited<ReturnType<typeof view>>['wrapper'], text: string) {
  const found = wrapper.findAll('button').find((b) => b.text() === text);
  if (!found) throw new Error(`no button ${text}`);
  return found;
}

describe('file bubbles', () => {
  it('an offer shows name, size and type with Accept and Decline, which answer it', async () => {
    const { h, wrapper } = await view();
    h.client.file({ ...OFFER, state: 'offered' });
    await settle();
    const bubble = wrapper.find('article.file');
    expect(bubble.attributes('aria-label')).toBe('Bob');
    expect(bubble.find('.file__name').text()).toBe('photo.png');
    expect(bubble.find('.file__meta').text()).toBe('2.0 KB · PNG image');
    expect(bubble.text()).toContain('Bob wants to send you a file');
    await button(wrapper, 'Accept').trigger('click');
    await button(wrapper, 'Decline').trigger('click');
    expect(h.client.fileAnswers.map((a) => a.op)).toEqual(['accept', 'decline']);
  });

  it('while it goes: a progress bar with the percent and Cancel; once received: a Download link, revoked on leaving', async () => {
    const { h, wrapper } = await view();
    h.client.file({ ...OFFER, state: 'offered' });
    h.client.file({ ...OFFER, state: 'transferring', bytes: 1024 });
    await settle();
    const bar = wrapper.find('[role="progressbar"]');
    expect(bar.attributes('aria-valuenow')).toBe('50');
    expect(bar.attributes('aria-label')).toBe('Receiving photo.png');
    expect(wrapper.find('.file__status').text()).toBe('Receiving… 50% (1.0 KB of 2.0 KB)');
    await button(wrapper, 'Cancel').trigger('click');
    expect(h.client.fileAnswers).toEqual([{ op: 'cancel', id: 'in-1' }]);

    const revoke = vi.spyOn(URL, 'revokeObjectURL');
    h.client.file({ ...OFFER, state: 'complete', bytes: 2048, data: new Blob(['x'.repeat(2048)]) });
    await settle();
    expect(wrapper.find('[role="progressbar"]').exists()).toBe(false);
    const link = wrapper.find('a.file__btn');
    expect(link.text()).toBe('Download');
    expect(link.attributes('download')).toBe('photo.png');
    const href = link.attributes('href');
    expect(href).toMatch(/^blob:/);
    wrapper.unmount();
    expect(revoke).toHaveBeenCalledWith(href);
    revoke.mockRestore();
  });

  it('a failed transfer says why; a declined one says declined', async () => {
    const { h, wrapper } = await view();
    h.client.file({ ...OFFER, id: 'a', state: 'failed', reason: 'hash mismatch' });
    h.client.file({ ...OFFER, id: 'b', state: 'cancelled', reason: 'declined' });
    await settle();
    const statuses = wrapper.findAll('.file__status').map((s) => s.text());
    expect(statuses).toEqual(['Failed: hash mismatch', 'Declined']);
  });
});

describe('sending files from the conversation', () => {
  it('the attach button opens the file picker; each file chosen goes to the peer', async () => {
    const { h, wrapper } = await view();
    const attach = wrapper.find('button[aria-label="Attach a file"]');
    const input = wrapper.find('input[type="file"]');
    const click = vi.spyOn(input.element as HTMLInputElement, 'click');
    await attach.trigger('click');
    expect(click).toHaveBeenCalled();
    const chosen = [new File(['aa'], 'a.txt', { type: 'text/plain' }), new File(['b'], 'b.txt')];
    Object.defineProperty(input.element, 'files', { value: chosen, configurable: true });
    await input.trigger('change');
    await settle();
    expect(h.client.filesSent.map((s) => [s.to, s.file.name, s.file.size])).toEqual([
      [BOB, 'a.txt', 2],
      [BOB, 'b.txt', 1],
    ]);
    expect(wrapper.findAll('article.file').map((a) => a.find('.file__name').text())).toEqual([
      'a.txt',
      'b.txt',
    ]);
  });

  it('dragging files over the conversation shows the drop zone; dropping sends them', async () => {
    const { h, wrapper } = await view();
    const section = wrapper.find('section.view');
    const files = [new File(['dropped'], 'drop.txt', { type: 'text/plain' })];
    const drag = (type: string) => {
      const event = new Event(type, { bubbles: true, cancelable: true });
      Object.defineProperty(event, 'dataTransfer', {
        value: { types: ['Files'], files, dropEffect: 'none' },
      });
      section.element.dispatchEvent(event);
      return event;
    };
    expect(drag('dragenter').defaultPrevented).toBe(true);
    await flushPromises();
    expect(wrapper.find('.view__drop').text()).toBe('Drop files to send them to Bob');
    expect(drag('dragover').defaultPrevented).toBe(true);
    drag('drop');
    await settle();
    expect(wrapper.find('.view__drop').exists()).toBe(false);
    expect(h.client.filesSent.map((s) => s.file.name)).toEqual(['drop.txt']);
  });

  it('a group conversation has no attach button and ignores dropped files', async () => {
    const { h, wrapper } = await view([BOB, CAROL]);
    expect(wrapper.find('button[aria-label="Attach a file"]').exists()).toBe(false);
    const event = new Event('dragenter', { bubbles: true, cancelable: true });
    Object.defineProperty(event, 'dataTransfer', { value: { types: ['Files'], files: [] } });
    wrapper.find('section.view').element.dispatchEvent(event);
    await flushPromises();
    expect(event.defaultPrevented).toBe(false);
    expect(wrapper.find('.view__drop').exists()).toBe(false);
    expect(h.client.filesSent).toEqual([]);
  });
});
