// Session mode in headless Debian Chromium: a text too long for a MESSAGE (RFC 3428 §8: over 1300 bytes) is not
// refused; the app's client opens an MSRP session (INVITE with an MSRP offer, RFC 4975) through the gateway's
// relay (a WebSocket with subprotocol `msrp`, RFC 7977; AUTH, RFC 4976) and the text arrives whole on the other
// side. The gateway's /metrics counters show that it travelled as MSRP SEND frames, not as a MESSAGE.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ChatUser } from '../support/e2e-chat.ts';
import { WAIT, openAliceAndBob, signInAsContacts } from '../support/e2e-chat.ts';
import { startChatApp, type ChatApp } from '../support/e2e-app.ts';

const USERS = { alice: 'alice-pw-s', bob: 'bob-pw-s' } as const;

/** The sum of a counter's samples whose labels include all of `labels` (Prometheus text format). */
function counter(metrics: string, name: string, labels: Readonly<Record<string, string>>): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('session mode between two browsers', () => {
  let app: ChatApp;
  let alice: ChatUser;
  let bob: ChatUser;

  beforeAll(async () => {
    app = await startChatApp({ users: USERS });
    [alice, bob] = await openAliceAndBob(app, USERS);
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close()]);
    await app?.close();
  });

  it('a 5,000-character message goes by MSRP session through the relay and Bob sees it whole', async () => {
    await signInAsContacts(app, alice, bob);
    const metricsUrl = new URL('metrics', app.httpUrl).href;
    const before = await (await fetch(metricsUrl)).text();
    const sendsBefore = counter(before, 'gateway_msrp_frames_total', { direction: 'in', kind: 'SEND' });

    // 5,000 characters: a recognisable start and end around a body that is well over the pager-mode limit.
    const text = `BEGIN ${'lorem ipsum dolor sit amet '.repeat(200)}`.slice(0, 4_996) + ' END';
    expect(text).toHaveLength(5_000);
    await alice.openChat('Bob');
    await alice.composer().fill(text);
    await alice.composer().press('Enter');

    await bob.openConversation(/^Alice/);
    const bubble = bob.bubble('BEGIN lorem ipsum', 'Alice');
    await bubble.waitFor({ timeout: WAIT * 2 });
    const shown = await bubble.innerText();
    expect(shown).toContain(text);
    // Bob has the conversation open: RFC 5438 display notification inside the session, Alice's tick says read.
    await alice.waitForTick('BEGIN lorem ipsum', 'Read', WAIT * 2);

    const after = await (await fetch(metricsUrl)).text();
    // The text crossed the relay as MSRP SEND frames from a browser (RFC 4975 §7.1.1).
    expect(
      counter(after, 'gateway_msrp_frames_total', { direction: 'in', side: 'ws', kind: 'SEND' }),
    ).toBeGreaterThan(sendsBefore);
    expect(counter(after, 'gateway_msrp_bytes_total', { direction: 'in', side: 'ws' })).toBeGreaterThan(
      5_000,
    );

    await alice.screenshot('session-alice-long-message');
    await bob.screenshot('session-bob-long-message');
    expect([...alice.browser.problems, ...bob.browser.problems]).toEqual([]);
  });
});
