// @vitest-environment happy-dom
// The <simple-chat> element in a DOM: defined once however often the script runs, configured by its
// attributes, a launcher that opens and closes a panel, everything inside its shadow root, sign-in with a
// refused password, reading and sending, and message text that stays text. The element runs on the app's stores
// over the fake ChatClient (test/web/support), as the app's component tests do.
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openChatStorage, webPreferences } from '../../../web/src/drivers/index.ts';
import type { ChatServices } from '../../../web/src/stores/services.ts';
import { defineSimpleChat } from '../../../web/src/widget/simple-chat-element.ts';
import { FakeChatClient } from '../support/fake-chat-client.ts';
import { BOB, MapStorage, settle } from '../support/app-harness.ts';

const TAG = 'test-chat';
const GATEWAY = 'wss://gw.example.com/';

interface Rig {
  readonly client: FakeChatClient;
  readonly session: MapStorage;
  readonly local: MapStorage;
  disposed: number;
}

let rig: Rig = fresh();

function fresh(): Rig {
  return { client: new FakeChatClient(), session: new MapStorage(), local: new MapStorage(), disposed: 0 };
}

// One definition for the file (the registry is per window); each test gets a fresh client and storage.
defineSimpleChat({
  name: TAG,
  runtime: () => {
    const current = rig;
    const idb = new IDBFactory();
    let ids = 0;
    const services: ChatServices = {
      client: current.client,
      openStorage: (address) => openChatStorage(idb, address),
      now: () => current.client.now,
      newId: () => `w${String(++ids)}`,
      preferences: webPreferences(current.local, current.session),
      defaultGatewayUrl: 'ws://script-host.example:8080/',
    };
    return {
      services,
      dispose: () => {
        current.disposed++;
      },
    };
  },
});

// happy-dom has no matchMedia answer for a fine pointer by default: say there is a mouse and a keyboard.
vi.stubGlobal('matchMedia', (query: string) => ({
  matches: query.includes('pointer: fine'),
  media: query,
  addEventListener: () => undefined,
  removeEventListener: () => undefined,
}));

afterEach(async () => {
  document.body.innerHTML = '';
  await settle();
  rig = fresh();
});

async function place(attributes: Record<string, string>): Promise<{ el: HTMLElement; root: ShadowRoot }> {
  const el = document.createElement(TAG);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  document.body.append(el);
  await settle();
  if (!el.shadowRoot) throw new Error('no shadow root');
  return { el, root: el.shadowRoot };
}

function launcher(root: ShadowRoot): HTMLButtonElement {
  const button = root.querySelector<HTMLButtonElement>('button.launcher');
  if (!button) throw new Error('no launcher');
  return button;
}

function field(root: ShadowRoot, name: string): HTMLInputElement {
  const input = root.querySelector<HTMLInputElement>(`input[name="${name}"]`);
  if (!input) throw new Error(`no ${name} field`);
  return input;
}

async function type(input: HTMLInputElement | HTMLTextAreaElement, value: string): Promise<void> {
  input.value = value;
  input.dispatchEvent(new Event('input'));
  await settle(2);
}

/** Opens the panel and signs in through the form; the registrar accepts. */
async function signIn(root: ShadowRoot): Promise<void> {
  if (launcher(root).getAttribute('aria-expanded') !== 'true') launcher(root).click();
  await settle(2);
  await type(field(root, 'address'), 'alice@example.com');
  await type(field(root, 'password'), 'secret');
  root.querySelector('form')?.dispatchEvent(new Event('submit', { cancelable: true }));
  await settle();
  rig.client.goOnline();
  await settle();
}

describe('<simple-chat> registration', () => {
  it('is defined once: running the script again (or another copy of it) keeps the first definition', async () => {
    const first = customElements.get(TAG);
    expect(first).toBeDefined();
    const again = defineSimpleChat({
      name: TAG,
      runtime: () => ({ services: {} as ChatServices, dispose() {} }),
    });
    expect(again).toBe(first);

    // The real script, evaluated twice (a page with two <script src=…/widget.js> tags).
    vi.resetModules();
    await import('../../../web/src/widget/index.ts');
    const real = customElements.get('simple-chat');
    expect(real).toBeDefined();
    vi.resetModules();
    await expect(import('../../../web/src/widget/index.ts')).resolves.toBeDefined();
    expect(customElements.get('simple-chat')).toBe(real);
  });
});

describe('<simple-chat>', () => {
  it('renders only inside its shadow root: a launcher button, collapsed', async () => {
    const { el, root } = await place({ target: 'sip:bob@example.com' });
    expect(el.childNodes.length).toBe(0);
    expect(document.body.querySelectorAll('button, section, form').length).toBe(0);
    expect(document.head.querySelectorAll('style').length).toBe(0);
    const button = launcher(root);
    expect(button.getAttribute('aria-expanded')).toBe('false');
    expect(button.getAttribute('aria-label')).toBe('Chat with bob');
    expect(root.querySelector('[role="dialog"]')).toBeNull();
  });

  it('opens into a labelled panel and closes by its button or Escape, the focus back on the launcher', async () => {
    const { root } = await place({ target: 'bob@example.com', label: 'Support' });
    launcher(root).click();
    await settle(2);
    expect(launcher(root).getAttribute('aria-expanded')).toBe('true');
    const panel = root.querySelector('[role="dialog"]');
    expect(panel?.getAttribute('aria-label')).toBe('Chat with Support');
    expect(launcher(root).getAttribute('aria-controls')).toBe(panel?.id);
    // Signed out: the sign-in form, its address field focused.
    expect(root.querySelector('form')?.getAttribute('aria-labelledby')).toBe('widget-sign-in-title');
    expect(root.activeElement).toBe(field(root, 'address'));

    root.querySelector<HTMLButtonElement>('button[aria-label="Close chat"]')?.click();
    await settle(2);
    expect(root.querySelector('[role="dialog"]')).toBeNull();
    expect(launcher(root).getAttribute('aria-expanded')).toBe('false');
    expect(root.activeElement).toBe(launcher(root));

    launcher(root).click();
    await settle(2);
    root
      .querySelector('[role="dialog"]')
      ?.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await settle(2);
    expect(root.querySelector('[role="dialog"]')).toBeNull();
    expect(root.activeElement).toBe(launcher(root));
  });

  it('reads its attributes: user prefills the address, gateway is where it signs in, label (or title) names it', async () => {
    const { el, root } = await place({
      target: 'bob@example.com',
      gateway: GATEWAY,
      user: 'alice@example.com',
      title: 'Help desk',
    });
    expect(launcher(root).getAttribute('aria-label')).toBe('Chat with Help desk');
    el.setAttribute('label', 'Support');
    await settle(2);
    expect(launcher(root).getAttribute('aria-label')).toBe('Chat with Support');

    launcher(root).click();
    await settle(2);
    expect(field(root, 'address').value).toBe('alice@example.com');
    // The address is there: the password is the field to fill.
    expect(root.activeElement).toBe(field(root, 'password'));
    await type(field(root, 'password'), 'secret');
    root.querySelector('form')?.dispatchEvent(new Event('submit', { cancelable: true }));
    await settle();
    expect(rig.client.signIns.map((s) => [s.address, s.password, s.gatewayUrl])).toEqual([
      ['sip:alice@example.com', 'secret', GATEWAY],
    ]);
  });

  it('without a gateway attribute, signs in to the host the script came from', async () => {
    const { root } = await place({ target: 'bob@example.com' });
    await signIn(root);
    expect(rig.client.signIns[0]?.gatewayUrl).toBe('ws://script-host.example:8080/');
  });

  it('says so when it has no target, instead of offering a sign-in', async () => {
    const { root } = await place({});
    launcher(root).click();
    await settle(2);
    expect(root.querySelector('[role="alert"]')?.textContent).toContain('no target address');
    expect(root.querySelector('form')).toBeNull();
  });

  it('a refused password brings the form back with the reason; signing in again starts afresh', async () => {
    const { root } = await place({ target: 'bob@example.com' });
    await signIn(root);
    expect(root.querySelector('[role="feed"]')).not.toBeNull();
    rig.client.rejectAuth();
    await settle();
    const alert = root.querySelector('[role="alert"]');
    expect(alert?.textContent).toMatch(/refused the password \(\d{3} /);
    expect(root.querySelector('[role="feed"]')).toBeNull();
    // The address is kept; the focus is where the user has to type again.
    expect(field(root, 'address').value).toBe('alice@example.com');
    expect(root.activeElement).toBe(field(root, 'password'));

    await type(field(root, 'password'), 'better-secret');
    root.querySelector('form')?.dispatchEvent(new Event('submit', { cancelable: true }));
    await settle();
    expect(rig.client.signOuts).toBe(1);
    expect(rig.client.signIns.map((s) => s.password)).toEqual(['secret', 'better-secret']);
    rig.client.goOnline();
    await settle();
    expect(root.querySelector('[role="alert"]')).toBeNull();
    expect(root.querySelector('[role="dialog"]')?.textContent).toContain('Online');
  });

  it('sends with Enter, a new line with Shift+Enter, to the target', async () => {
    const { root } = await place({ target: 'bob@example.com', label: 'Bob' });
    await signIn(root);
    const composer = root.querySelector<HTMLTextAreaElement>('textarea[aria-label="Message Bob"]');
    if (!composer) throw new Error('no composer');
    expect(root.activeElement).toBe(composer);
    await type(composer, 'first line');
    composer.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', shiftKey: true, cancelable: true }));
    await settle(2);
    expect(rig.client.sent).toEqual([]);
    await type(composer, 'first line\nsecond line');
    composer.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', cancelable: true }));
    await settle();
    expect(rig.client.sent.map((s) => [s.to, s.text])).toEqual([[[BOB], 'first line\nsecond line']]);
    const mine = root.querySelector('[role="feed"] article[aria-label="You"]');
    expect(mine?.textContent).toContain('first line\nsecond line');
    expect(mine?.querySelector('[role="img"]')?.getAttribute('aria-label')).toBe('Sending');
    rig.client.state(rig.client.sent[0]?.id ?? '', 'delivered');
    await settle();
    expect(mine?.isConnected && mine.querySelector('[role="img"]')?.getAttribute('aria-label')).toBe(
      'Delivered',
    );
  });

  it('messages that come while the panel is closed wait as unread; opening it reads them (read receipt)', async () => {
    const { root } = await place({ target: 'bob@example.com', label: 'Bob' });
    await signIn(root);
    launcher(root).click();
    await settle(2);
    const incoming = rig.client.receive({
      id: 'in-1',
      from: BOB,
      text: 'are you there?',
      wantsDisplayed: true,
    });
    await settle();
    expect(rig.client.displayed).toEqual([]);
    expect(launcher(root).getAttribute('aria-label')).toBe('Chat with Bob, 1 unread');
    expect(root.querySelector('.launcher__badge')?.textContent).toBe('1');

    launcher(root).click();
    await settle();
    expect(rig.client.displayed).toEqual([[incoming.id]]);
    expect(launcher(root).getAttribute('aria-label')).toBe('Chat with Bob');
    expect(root.querySelector('[role="feed"] article[aria-label="bob"]')?.textContent).toContain(
      'are you there?',
    );
  });

  it('the typing indicator names the chat while the target types', async () => {
    const { root } = await place({ target: 'bob@example.com', label: 'Support' });
    await signIn(root);
    rig.client.remoteComposing(BOB, true);
    await settle(2);
    expect(root.querySelector('.typing')?.textContent).toContain('Support is typing');
    rig.client.remoteComposing(BOB, false);
    await settle(2);
    expect(root.querySelector('.typing')?.textContent?.trim()).toBe('');
  });

  it('shows message text as text, never as HTML', async () => {
    const { root } = await place({ target: 'bob@example.com' });
    await signIn(root);
    const attack = '<img src=x onerror=alert(1)><b>bold</b>';
    rig.client.receive({ id: 'x-1', from: BOB, text: attack });
    await settle();
    const bubble = root.querySelector('[role="feed"] article');
    expect(bubble?.textContent).toContain(attack);
    expect(root.querySelectorAll('img, b').length).toBe(0);
    expect(document.querySelectorAll('img, [onerror]').length).toBe(0);
  });

  it('leaving the page lets go of its runtime; the session comes back from this tab’s storage', async () => {
    const { el, root } = await place({ target: 'bob@example.com' });
    await signIn(root);
    el.remove();
    await settle();
    expect(rig.disposed).toBe(1);
    // The same tab, the element back (a single-page host that re-renders): signed in again by itself.
    const session = rig.session;
    rig = { ...fresh(), session, local: rig.local };
    const again = await place({ target: 'bob@example.com' });
    expect(rig.client.signIns.map((s) => s.address)).toEqual(['sip:alice@example.com']);
    launcher(again.root).click();
    await settle(2);
    expect(again.root.querySelector('form[aria-labelledby="widget-sign-in-title"]')).toBeNull();
    expect(again.root.querySelector('[role="feed"]')).not.toBeNull();
  });
});
