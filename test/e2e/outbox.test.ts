// Never lose a message: a message written while the gateway is unreachable waits in the outbox (IndexedDB),
// survives a reload of the page, and is sent once the gateway is back; the history survives the reload too.
//
// "Unreachable" is real: the gateway process goes away (connections drop, the port closes). For the reload the
// page itself must load, so the gateway comes back first refusing every WebSocket handshake (an Origin allow-list
// that admits nobody: 403), which keeps SIP unreachable while the page reloads; then it comes back for real.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { gatewayConfig } from '../../gateway/config.ts';

import type { ChatUser } from '../support/e2e-chat.ts';
import { WAIT, waitUntil, openAliceAndBob, signInAsContacts } from '../support/e2e-chat.ts';
import { startChatApp, type ChatApp } from '../support/e2e-app.ts';

const USERS = { alice: 'alice-pw-3', bob: 'bob-pw-4' } as const;
/** the reconnection back-off grows to 60 s at most (drivers/backoff.ts); a few failures stay well below that */
const RECONNECT_WAIT = 75_000;

describe('outbox and history across an outage and a reload', () => {
  let app: ChatApp;
  let alice: ChatUser;
  let bob: ChatUser;

  beforeAll(async () => {
    app = await startChatApp({ users: USERS });
    [alice, bob] = await openAliceAndBob(app, USERS);
    await signInAsContacts(app, alice, bob);
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close()]);
    await app?.close();
  });

  it('keeps a message written during an outage through a reload, and sends it once the gateway is back', async () => {
    await alice.openChat('Bob');
    await alice.send('Before the outage');
    await alice.waitForTick('Before the outage', 'Delivered');
    await bob.openConversation(/^Alice/);
    await bob.send('Got it');
    await alice.bubble('Got it', 'Bob').waitFor({ timeout: WAIT });

    // The gateway goes away.
    await app.stop();
    await waitUntil(
      async () => /Reconnecting|Connection lost/.test(await alice.banner()),
      'Alice sees the outage',
    );
    await alice.send('Written while the gateway is down');
    await alice.waitForTick('Written while the gateway is down', 'Sending');
    await waitUntil(
      async () => (await alice.banner()).includes('1 message waiting to send'),
      'the banner counts the waiting message',
    );
    await alice.screenshot('outbox-written-offline');

    // The page can load again, but SIP stays unreachable (every WebSocket refused: no connection allowed per
    // address): reload.
    await app.start({ limits: { ...gatewayConfig({ upstream: undefined }).limits, maxConnectionsPerIp: 0 } });
    await alice.page.reload({ waitUntil: 'load' });
    await alice.openChat('Bob');
    await alice.bubble('Before the outage', 'You').waitFor({ timeout: WAIT });
    await alice.bubble('Got it', 'Bob').waitFor({ timeout: WAIT });
    await alice.waitForTick('Written while the gateway is down', 'Sending');
    await waitUntil(
      async () => (await alice.banner()).includes('1 message waiting to send'),
      'the outbox came back from IndexedDB',
    );
    await alice.screenshot('outbox-after-reload');
    expect(await bob.page.getByText('Written while the gateway is down').count()).toBe(0);

    // The gateway is back for real: the outbox is sent, once.
    await app.stop();
    await app.start();
    await alice.waitOnline(RECONNECT_WAIT);
    await bob.waitOnline(RECONNECT_WAIT);
    await bob.bubble('Written while the gateway is down', 'Alice').waitFor({ timeout: WAIT });
    await alice.waitForTick('Written while the gateway is down', 'Read');
    await waitUntil(async () => (await alice.banner()) === '', 'nothing waits any more');
    expect(await bob.page.getByRole('feed').getByText('Written while the gateway is down').count()).toBe(1);
    await alice.screenshot('outbox-sent-after-reconnection');
    await bob.screenshot('outbox-bob-received');
  });
});
