// File transfer in headless Debian Chromium (SPEC §7 "File transfer (RFC 5547)", §9 "file send … with
// progress"): Alice attaches a 2 MB file for Bob through the attach button's file picker; Bob sees the offer
// (name, size) and accepts it; the bytes go by MSRP through the gateway's relay (RFC 4975/4976/7977) with a
// progress bar; Bob's Download link is an object URL whose bytes are exactly Alice's (SHA-256 compared), with the
// file's name in its `download` attribute.

import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ChatUser } from '../support/e2e-chat.ts';
import { WAIT, openAliceAndBob, signInAsContacts } from '../support/e2e-chat.ts';
import { startChatApp, type ChatApp } from '../support/e2e-app.ts';

const USERS = { alice: 'alice-pw-f', bob: 'bob-pw-f' } as const;
const NAME = 'holiday-report.bin';
const SIZE = 2 * 1024 * 1024 + 12_345;

/** Deterministic bytes that do not compress or repeat in short runs (xorshift32). */
function fileBytes(size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('file transfer between two browsers', () => {
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

  it('Alice attaches a 2 MB file, Bob accepts, progress shows, and his download has the same bytes', async () => {
    await signInAsContacts(app, alice, bob);
    const bytes = fileBytes(SIZE);
    const sha256 = createHash('sha256').update(bytes).digest('hex');

    await alice.openChat('Bob');
    await alice.attachFile(NAME, 'application/octet-stream', bytes);
    const sent = alice.fileBubble(NAME, 'You');
    await sent.getByText('Waiting for Bob to accept').waitFor({ timeout: WAIT });
    expect(await sent.innerText()).toContain('2.0 MB');

    await bob.openConversation(/^Alice/);
    const offer = bob.fileBubble(NAME, 'Alice');
    await offer.getByText('Alice wants to send you a file').waitFor({ timeout: WAIT });
    // Every value the progress bar takes is recorded in the page, however fast the transfer goes.
    await bob.page.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { progressSeen: number[] }).progressSeen = seen;
      const note = (el: Element): void => {
        const now = el.getAttribute('aria-valuenow');
        if (el.getAttribute('role') === 'progressbar' && now !== null) seen.push(Number(now));
      };
      new MutationObserver((records) => {
        for (const record of records) {
          if (record.target instanceof Element) note(record.target);
          for (const node of record.addedNodes)
            if (node instanceof Element) node.querySelectorAll('[role=progressbar]').forEach(note);
        }
      }).observe(document.body, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeFilter: ['aria-valuenow'],
      });
    });
    await offer.getByRole('button', { name: 'Accept' }).click();

    const download = offer.getByRole('link', { name: 'Download' });
    await download.waitFor({ timeout: WAIT * 2 });
    await offer.getByText('Received', { exact: true }).waitFor({ timeout: WAIT });
    await sent.getByText('Sent', { exact: true }).waitFor({ timeout: WAIT });

    const seen = await bob.page.evaluate(
      () => (window as unknown as { progressSeen: number[] }).progressSeen,
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((v) => v >= 0 && v <= 100)).toBe(true);
    expect(seen.some((v) => v > 0 && v < 100)).toBe(true);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);

    expect(await download.getAttribute('download')).toBe(NAME);
    const href = await download.getAttribute('href');
    expect(href).toMatch(/^blob:/);
    const got = await bob.page.evaluate(async (url) => {
      const body = await (await fetch(url)).arrayBuffer();
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body));
      return {
        size: body.byteLength,
        sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
      };
    }, href ?? '');
    expect(got).toEqual({ size: SIZE, sha256 });

    await alice.screenshot('files-alice-sent');
    await bob.screenshot('files-bob-received');
    expect([...alice.browser.problems, ...bob.browser.problems]).toEqual([]);
  });
});
