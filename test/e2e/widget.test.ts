// The embeddable widget in headless Debian Chromium, in a page of ANOTHER origin: a tiny host server on
// 127.0.0.1 (its own ephemeral port) serves a page with hostile CSS, `<script src="http://127.0.0.1:GATEWAY/
// widget.js">` and `<simple-chat target=… label=…>`; the gateway (embedded mode, as `npm start` runs it, the
// build from `vite build`) allows that origin with --origin (config `origins`). Alice chats in the widget; Bob
// uses the app in his own browser. Messages go both ways with ticks reaching delivered and read, a refused
// password is said so, the page's CSS does not reach into the widget and the widget's CSS does not reach out,
// and a message that looks like HTML is text that runs nothing.

import { createServer, type Server } from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Dialog, Locator, Page } from 'playwright-core';

import { launchChromium, type ChromiumSession } from '../support/chromium.ts';
import { buildApp, startChatApp, type ChatApp } from '../support/e2e-app.ts';
import { ChatUser, WAIT, waitUntil } from '../support/e2e-chat.ts';
import { freePort, LOOPBACK } from '../support/ports.ts';

const USERS = { alice: 'alice-pw-w', bob: 'bob-pw-w' } as const;

/** A page that tries hard to restyle everything, with or without the widget in it. */
function hostPage(gatewayPort: number, widget: boolean): string {
  const embed = widget
    ? `<simple-chat target="bob@localhost" label="Bob"></simple-chat>
    <script src="http://${LOOPBACK}:${String(gatewayPort)}/widget.js"></script>`
    : '';
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>A shop somewhere else</title>
    <style>
      * { color: red !important; font-size: 40px; }
      html { font-size: 40px; }
      body { font-family: serif; line-height: 3; letter-spacing: 3px; text-align: center; margin: 20px; }
      button { display: none; }
      :root { --bg: red; --text: red; --accent: red; --surface: red; }
    </style>
  </head>
  <body>
    <h1 id="host-title">The host page</h1>
    <p id="host-text">Its own text, in its own style.</p>
    <button id="host-button" type="button">Its own button</button>
    ${embed}
  </body>
</html>`;
}

/** The computed styles of the host's own elements that a leaking stylesheet would change. */
async function hostStyles(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const out: Record<string, string> = {};
    const properties = [
      'color',
      'font-size',
      'font-family',
      'line-height',
      'display',
      'margin',
      'box-sizing',
    ];
    for (const selector of ['html', 'body', '#host-title', '#host-text', '#host-button']) {
      const element = document.querySelector(selector);
      if (!element) continue;
      const style = getComputedStyle(element);
      for (const property of properties) out[`${selector} ${property}`] = style.getPropertyValue(property);
    }
    out['page stylesheets'] = String(document.styleSheets.length + document.adoptedStyleSheets.length);
    out['head styles'] = String(document.head.querySelectorAll('style, link').length);
    out['title'] = document.title;
    return out;
  });
}

describe('the widget in a page of another origin', () => {
  let staticDir: string;
  let app: ChatApp;
  let host: Server;
  let hostUrl: string;
  let alice: ChromiumSession;
  let bob: ChatUser;
  const dialogs: string[] = [];

  beforeAll(async () => {
    // `npm run build`'s steps: the app, then the widget (widget.js) beside it.
    staticDir = await buildApp();
    const gatewayPort = await freePort('tcp');
    host = createServer((request, response) => {
      const bare = request.url === '/bare';
      response
        .writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
        .end(hostPage(gatewayPort, !bare));
    });
    await new Promise<void>((resolve) => host.listen(0, LOOPBACK, resolve));
    const address = host.address();
    if (address === null || typeof address === 'string') throw new Error('host server has no port');
    hostUrl = `http://${LOOPBACK}:${String(address.port)}`;
    // --origin: the host page's origin for the widget; the app the gateway serves itself (Bob's) needs none.
    app = await startChatApp({ users: USERS, staticDir, config: { port: gatewayPort, origins: [hostUrl] } });
    [alice, bob] = await Promise.all([
      launchChromium({ name: 'alice-widget' }),
      ChatUser.open(app, 'bob', USERS.bob),
    ]);
    for (const [who, page] of [
      ['alice', alice.page],
      ['bob', bob.page],
    ] as const)
      page.on('dialog', (dialog: Dialog) => {
        dialogs.push(`${who}: ${dialog.type()} ${dialog.message()}`);
        void dialog.dismiss();
      });
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close()]);
    await app?.close();
    await new Promise((resolve) => host?.close(resolve));
    if (staticDir) rmSync(staticDir, { recursive: true, force: true });
  });

  const panel = (): Locator => alice.page.getByRole('dialog', { name: 'Chat with Bob' });
  const launcher = (): Locator => alice.page.getByRole('button', { name: /^Chat with Bob/ });
  const bubble = (text: string, from: string): Locator =>
    panel()
      .getByRole('feed')
      .getByRole('article', { name: from, exact: true })
      .filter({ hasText: text })
      .last();
  const tick = (text: string, label: RegExp): Locator =>
    bubble(text, 'You').getByRole('img', { name: label });

  it('is served as one script for other origins; Alice signs in inside it (a wrong password is said so)', async () => {
    const script = await fetch(new URL('widget.js', app.httpUrl), { headers: { Origin: hostUrl } });
    expect(script.status).toBe(200);
    expect(script.headers.get('access-control-allow-origin')).toBe('*');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const body = await script.text();
    expect(body.length).toBe(readFileSync(join(staticDir, 'widget.js'), 'utf8').length);
    // One self-contained classic script: no module syntax, no chunk or stylesheet to fetch.
    expect(body).not.toMatch(/\bimport\s*\(|^\s*import\s|\.css["'`]/m);

    await alice.page.goto(hostUrl, { waitUntil: 'load' });
    await launcher().waitFor({ timeout: WAIT });
    expect(await launcher().getAttribute('aria-expanded')).toBe('false');
    await launcher().click();
    expect(await launcher().getAttribute('aria-expanded')).toBe('true');
    const form = panel().getByRole('form', { name: 'Sign in to chat with Bob' });
    await form.getByLabel('Address').fill('alice@localhost');
    await form.getByLabel('Password').fill('not-her-password');
    await form.getByRole('button', { name: 'Sign in' }).click();
    await form
      .getByRole('alert')
      .getByText(/refused the password/)
      .waitFor({ timeout: WAIT });
    await alice.screenshot('widget-password-refused');

    await form.getByLabel('Password').fill(USERS.alice);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await panel().getByText('Online', { exact: true }).waitFor({ timeout: WAIT });
    expect(await form.count()).toBe(0);
  });

  it('messages go both ways; ticks reach delivered, then read when the other side looks', async () => {
    await bob.signIn();
    const composer = panel().getByRole('textbox', { name: 'Message Bob' });
    await composer.fill('Hello from the widget');
    await composer.press('Enter');
    await tick('Hello from the widget', /^Delivered$/).waitFor({ timeout: WAIT });

    await bob.openConversation(/^alice/);
    await bob.bubble('Hello from the widget', 'alice').waitFor({ timeout: WAIT });
    await tick('Hello from the widget', /^Read$/).waitFor({ timeout: WAIT });

    // Bob answers; the panel is open, so it is read at once. Shift+Enter made a second line.
    await bob.composer().fill('Hi Alice,');
    await bob.composer().press('Shift+Enter');
    await bob.composer().pressSequentially('welcome!');
    await bob.composer().press('Enter');
    await bubble('welcome!', 'bob').waitFor({ timeout: WAIT });
    expect(await bubble('welcome!', 'bob').textContent()).toContain('Hi Alice,\nwelcome!');
    await bob.waitForTick('welcome!', 'Read');
  });

  it('a message that looks like HTML shows as text in the widget and runs nothing', async () => {
    const attack = '<img src=x onerror=alert(1)>';
    await bob.send(attack);
    const shown = bubble(attack, 'bob');
    await shown.waitFor({ timeout: WAIT });
    expect(await shown.textContent()).toContain(attack);
    await bob.waitForTick(attack, 'Read');
    expect(await panel().locator('img').count()).toBe(0);
    expect(
      await alice.page.evaluate(
        () => document.querySelector('simple-chat')?.shadowRoot?.querySelectorAll('img, [onerror]').length,
      ),
    ).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it("the host's CSS does not reach into the widget, and the widget's does not reach out", async () => {
    // Inside: the app's look, whatever the page says about *, html, body and button.
    const inside = await alice.page.evaluate(() => {
      const root = document.querySelector('simple-chat')?.shadowRoot;
      const style = (selector: string): CSSStyleDeclaration => {
        const element = root?.querySelector(selector);
        if (!element) throw new Error(`no ${selector} in the widget`);
        return getComputedStyle(element);
      };
      const text = style('.bubble__text');
      return {
        launcherDisplay: style('.launcher').display,
        composerDisplay: style('.composer__send').display,
        textColor: text.color,
        textSize: text.fontSize,
        textFamily: text.fontFamily,
        textLineHeight: text.lineHeight,
        textLetterSpacing: text.letterSpacing,
        textAlign: style('.panel').textAlign,
        titleSize: style('.panel__title').fontSize,
        timeSize: style('.bubble__meta').fontSize,
        panelBackground: style('.panel').backgroundColor,
        composerSize: style('.composer__field').fontSize,
      };
    });
    const red = 'rgb(255, 0, 0)';
    expect(inside.launcherDisplay).toBe('grid');
    expect(inside.composerDisplay).toBe('grid');
    expect(inside.textColor).not.toBe(red);
    expect(inside.textSize).toBe('15px');
    expect(inside.composerSize).toBe('15px');
    expect(inside.textFamily).toMatch(/^system-ui/);
    expect(inside.textLineHeight).toBe('21.75px');
    expect(inside.textLetterSpacing).toBe('normal');
    expect(inside.textAlign).toBe('start');
    // rem in the app's components is the browser's 16 px here, not the page's 40 px.
    expect(inside.titleSize).toBe('16px');
    expect(inside.timeSize).toBe('11.52px');
    expect(inside.panelBackground).not.toBe(red);

    // Outside: the host's elements look as they do on the same page without the widget.
    const withWidget = await hostStyles(alice.page);
    const bare = await alice.context.newPage();
    try {
      await bare.goto(`${hostUrl}/bare`, { waitUntil: 'load' });
      expect(withWidget).toEqual(await hostStyles(bare));
    } finally {
      await bare.close();
    }
    expect(withWidget['#host-text color']).toBe(red);
    expect(withWidget['#host-button display']).toBe('none');
    await alice.screenshot('widget-in-host-page');
  });

  it('fills a phone-sized screen, follows a dark colour scheme, and closes back to the launcher', async () => {
    await alice.page.setViewportSize({ width: 375, height: 700 });
    const box = await panel().boundingBox();
    expect(box).toEqual({ x: 0, y: 0, width: 375, height: 700 });
    const background = (): Promise<string> =>
      panel().evaluate((element) => getComputedStyle(element).backgroundColor);
    expect(await background()).toBe('rgb(244, 245, 247)');
    await alice.page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).toBe('rgb(15, 18, 22)');
    // Bubbles ease into their new colour (a 0.6 s transition): the dark one, once it is there.
    const incoming = bubble('welcome!', 'bob');
    await waitUntil(
      async () =>
        (await incoming.evaluate((element) => getComputedStyle(element).backgroundColor)) ===
        'rgb(31, 36, 44)',
      'the incoming bubble dark',
    );
    await alice.screenshot('widget-phone-dark');
    await alice.page.keyboard.press('Escape');
    await panel().waitFor({ state: 'detached', timeout: WAIT });
    expect(await launcher().getAttribute('aria-expanded')).toBe('false');
    expect(await launcher().evaluate((button) => button.getRootNode() instanceof ShadowRoot)).toBe(true);
    expect([...alice.problems, ...bob.browser.problems]).toEqual([]);
  });
});
