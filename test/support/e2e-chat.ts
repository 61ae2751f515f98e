// What a user does in the app, for the e2e tests, through accessible names and roles only (what a screen reader
// user would find): sign in, add a contact, open a conversation, type, send, read ticks.
//
//   const alice = await ChatUser.open(app, 'alice', 'alice-pw');   // a fresh browser on the sign-in page
//   await alice.signIn();
//   await alice.addContact(app.aor('bob'), 'Bob');
//   await alice.openChat('Bob');
//   await alice.send('hello');
//   await alice.waitForTick('hello', 'Delivered');
//
// Every wait is bounded (WAIT ms by default) and is an awaited condition, never a sleep. No test-runner imports:
// the in-browser benchmark (test/bench/app.bench.ts) uses it too.

import type { Locator, Page } from 'playwright-core';

import { launchChromium, type ChromiumSession } from './chromium.ts';
import type { ChatApp } from './e2e-app.ts';

export const WAIT = 15_000;

/** The tick labels of ChatMessageStatus.vue. */
export type Tick = 'Sending' | 'Sent' | 'Stored' | 'Delivered' | 'Read' | 'Not delivered';

const TICK_PATTERN: Readonly<Record<Tick, RegExp>> = {
  Sending: /^Sending$/,
  Sent: /^Sent$/,
  Stored: /^Stored by the server/,
  Delivered: /^Delivered$/,
  Read: /^Read$/,
  'Not delivered': /^Not delivered/,
};

/** Polls `check` until it returns true (bounded). For conditions the page cannot signal as an event. */
export async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = WAIT,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`not ${what} within ${String(timeoutMs)} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class ChatUser {
  private constructor(
    readonly app: ChatApp,
    readonly user: string,
    readonly password: string,
    readonly browser: ChromiumSession,
  ) {}

  /** A new browser (own profile) on the app's sign-in page. */
  static async open(app: ChatApp, user: string, password: string): Promise<ChatUser> {
    const browser = await launchChromium({ name: user });
    const chatUser = new ChatUser(app, user, password, browser);
    await browser.page.goto(app.httpUrl, { waitUntil: 'load' });
    return chatUser;
  }

  get page(): Page {
    return this.browser.page;
  }

  get aor(): string {
    return this.app.aor(this.user);
  }

  /** Fills the sign-in form (the gateway URL is prefilled for the embedded mode) and waits until online. */
  async signIn(): Promise<void> {
    const page = this.page;
    const form = page.getByRole('form', { name: 'Sign in to SIMPLE chat' });
    await form.getByLabel('Address').fill(`${this.user}@${this.app.domain}`);
    await form.getByLabel('Password').fill(this.password);
    const gateway = await form.getByLabel('Gateway').inputValue();
    // The embedded mode: the form offers the WebSocket of the host that served the page.
    if (gateway !== this.app.wsUrl)
      throw new Error(`the gateway field says ${gateway}, not ${this.app.wsUrl}`);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await this.waitOnline();
  }

  /** Waits until the account menu says Online (registered). */
  async waitOnline(timeoutMs = WAIT): Promise<void> {
    await this.page
      .getByRole('complementary', { name: 'Chats and contacts' })
      .getByText('Online', { exact: true })
      .waitFor({ timeout: timeoutMs });
  }

  /** The connection banner's text (empty while online with nothing waiting). */
  async banner(): Promise<string> {
    return ((await this.page.getByRole('status').first().textContent()) ?? '').trim();
  }

  async showTab(name: 'Chats' | 'Contacts'): Promise<void> {
    await this.page.getByRole('tab', { name: new RegExp(`^${name}`) }).click();
  }

  async addContact(address: string, name: string): Promise<void> {
    await this.showTab('Contacts');
    const contacts = this.page.getByRole('region', { name: 'Contacts' });
    await contacts.getByRole('button', { name: 'Add', exact: true }).click();
    const form = this.page.getByRole('form', { name: 'Add a contact' });
    await form.getByLabel('Address').fill(address);
    await form.getByLabel('Name (optional)').fill(name);
    await form.getByRole('button', { name: 'Add contact' }).click();
    await contacts.getByRole('button', { name: new RegExp(`^${name}`) }).waitFor({ timeout: WAIT });
  }

  /** Opens the conversation with a contact (from the contact list). */
  async openChat(name: string): Promise<Locator> {
    await this.showTab('Contacts');
    await this.page
      .getByRole('region', { name: 'Contacts' })
      .getByRole('button', { name: new RegExp(`^${name}`) })
      .click();
    return this.conversation(name);
  }

  /** Opens a conversation from the list of conversations (one that came in, say). */
  async openConversation(title: string | RegExp): Promise<Locator> {
    await this.showTab('Chats');
    const nav = this.page.getByRole('navigation', { name: 'Conversations' });
    const button = nav.getByRole('button', { name: title });
    await button.first().waitFor({ timeout: WAIT });
    await button.first().click();
    return this.page.getByRole('region', { name: /^Conversation with / });
  }

  conversation(title: string): Locator {
    return this.page.getByRole('region', { name: `Conversation with ${title}` });
  }

  /** The open conversation's composer. */
  composer(): Locator {
    return this.page.getByRole('textbox', { name: /^Message / });
  }

  /** Types (key by key, so the app sees typing) and sends with Enter. */
  async send(text: string): Promise<void> {
    const composer = this.composer();
    await composer.fill(text);
    await composer.press('Enter');
    await this.bubble(text, 'You').waitFor({ timeout: WAIT });
  }

  /** The bubble of a message in the open conversation, from `from` ("You" for ours, else the sender's name). */
  bubble(text: string, from?: string): Locator {
    const feed = this.page.getByRole('feed');
    const articles =
      from === undefined ? feed.getByRole('article') : feed.getByRole('article', { name: from, exact: true });
    return articles.filter({ hasText: text }).last();
  }

  /** Waits until our message `text` shows `tick`. */
  async waitForTick(text: string, tick: Tick, timeoutMs = WAIT): Promise<void> {
    await this.bubble(text, 'You')
      .getByRole('img', { name: TICK_PATTERN[tick] })
      .waitFor({ timeout: timeoutMs });
  }

  /** Attaches a file to the open conversation through the attach button and the browser's file picker. */
  async attachFile(name: string, mimeType: string, buffer: Buffer): Promise<void> {
    const [chooser] = await Promise.all([
      this.page.waitForEvent('filechooser', { timeout: WAIT }),
      this.page.getByRole('button', { name: 'Attach a file' }).click(),
    ]);
    await chooser.setFiles({ name, mimeType, buffer });
  }

  /** The bubble of a file transfer in the open conversation (by file name), from `from` ("You" for ours). */
  fileBubble(name: string, from?: string): Locator {
    return this.bubble(name, from);
  }

  /** Chooses our status in the account area (label as the chooser shows it: 'Away', 'Appear offline' …). */
  async setStatus(label: string, note = ''): Promise<void> {
    await this.page.getByRole('button', { name: /^Your status:/ }).click();
    const dialog = this.page.getByRole('dialog', { name: 'Set your status' });
    await dialog.getByRole('radio', { name: label, exact: true }).check();
    const field = dialog.getByLabel('Note (optional)');
    if (await field.isEnabled()) await field.fill(note);
    await dialog.getByRole('button', { name: 'Set status' }).click();
    await dialog.waitFor({ state: 'detached', timeout: WAIT });
  }

  /** Waits until a contact's presence dot says `label` ("Away — In a meeting", "Offline" …). */
  async waitForPresence(name: string, label: string, timeoutMs = WAIT): Promise<void> {
    await this.showTab('Contacts');
    const contacts = this.page.getByRole('region', { name: 'Contacts' });
    await contacts
      .getByRole('listitem')
      .filter({ has: this.page.getByRole('button', { name: new RegExp(`^${name}`) }) })
      .getByRole('img', { name: label, exact: true })
      .waitFor({ timeout: timeoutMs });
  }

  async signOut(): Promise<void> {
    await this.page.getByRole('button', { name: 'Sign out' }).click();
    await this.page.getByRole('form', { name: 'Sign in to SIMPLE chat' }).waitFor({ timeout: WAIT });
  }

  async screenshot(file: string): Promise<string> {
    return this.browser.screenshot(file);
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

/** Alice and Bob, each in a browser of their own (not signed in yet). */
export function openAliceAndBob(
  app: ChatApp,
  users: { readonly alice: string; readonly bob: string },
): Promise<[ChatUser, ChatUser]> {
  return Promise.all([ChatUser.open(app, 'alice', users.alice), ChatUser.open(app, 'bob', users.bob)]);
}

/** Both sign in, and each adds the other as a contact ("Bob", "Alice"). */
export async function signInAsContacts(app: ChatApp, alice: ChatUser, bob: ChatUser): Promise<void> {
  await alice.signIn();
  await bob.signIn();
  await alice.addContact(app.aor('bob'), 'Bob');
  await bob.addContact(app.aor('alice'), 'Alice');
}
