import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../web/src/sip/errors.ts';
import {
  ComposingIndicator,
  IDLE_TIMEOUT,
  buildIsComposing,
  parseIsComposing,
  type ComposingEvent,
} from '../../../web/src/sip/im/index.ts';

// The two documents of RFC 3994 §6 (values changed): an idle one with lastactive, an active one with refresh.
const IDLE_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing iscomposing.xsd">
  <state>idle</state>
  <lastactive>2026-03-04T08:15:00Z</lastactive>
  <contenttype>audio</contenttype>
</isComposing>`;
const ACTIVE_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">
  <state>active</state>
  <contenttype>text/plain</contenttype>
  <refresh>75</refresh>
</isComposing>`;

describe('parseIsComposing / buildIsComposing', () => {
  it('reads the RFC examples', () => {
    expect(parseIsComposing(IDLE_EXAMPLE)).toEqual({
      state: 'idle',
      lastActive: Date.UTC(2026, 2, 4, 8, 15),
      contentType: 'audio',
    });
    expect(parseIsComposing(new TextEncoder().encode(ACTIVE_EXAMPLE))).toEqual({
      state: 'active',
      contentType: 'text/plain',
      refresh: 75,
    });
  });

  it('round-trips', () => {
    for (const s of [
      { state: 'active' as const, contentType: 'text/plain', refresh: 60 },
      { state: 'idle' as const, lastActive: 1_772_611_200_123, contentType: 'image/png' },
      { state: 'idle' as const },
    ])
      expect(parseIsComposing(buildIsComposing(s))).toEqual(s);
    expect(buildIsComposing({ state: 'active', refresh: 60 })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">' +
        '<state>active</state><refresh>60</refresh></isComposing>',
    );
    expect(() => buildIsComposing({ state: 'active', refresh: 0 })).toThrow(TypeError);
  });

  const ns = 'xmlns="urn:ietf:params:xml:ns:im-iscomposing"';
  it.each([
    ['another root', `<composing ${ns}><state>idle</state></composing>`],
    ['another namespace', '<isComposing xmlns="urn:x"><state>idle</state></isComposing>'],
    ['no state', `<isComposing ${ns}/>`],
    ['an unknown state', `<isComposing ${ns}><state>typing</state></isComposing>`],
    ['two states', `<isComposing ${ns}><state>idle</state><state>active</state></isComposing>`],
    ['a zero refresh', `<isComposing ${ns}><state>active</state><refresh>0</refresh></isComposing>`],
    ['a fractional refresh', `<isComposing ${ns}><state>active</state><refresh>1.5</refresh></isComposing>`],
    ['a bad lastactive', `<isComposing ${ns}><state>idle</state><lastactive>now</lastactive></isComposing>`],
    ['malformed XML', `<isComposing ${ns}><state>idle</isComposing>`],
  ])('refuses %s', (_, body) => {
    expect(() => parseIsComposing(body)).toThrow(ParseError);
  });
});

describe('ComposingIndicator: our side', () => {
  const T0 = 1_000_000;

  it('sends active on the first keystroke, not on every keystroke', () => {
    const c = new ComposingIndicator();
    expect(c.nextDeadline()).toBeUndefined();
    expect(c.typed(T0)).toBe(true);
    expect(c.local).toBe('active');
    expect(c.activeStatus).toEqual({ state: 'active', contentType: 'text/plain', refresh: 60 });
    expect(c.typed(T0 + 200)).toBe(false);
    expect(c.typed(T0 + 3000)).toBe(false);
    expect(c.idleDeadline).toBe(T0 + 3000 + IDLE_TIMEOUT);
  });

  it('goes idle, and says so, 15 s after the last keystroke', () => {
    const c = new ComposingIndicator();
    c.typed(T0);
    c.typed(T0 + 4000);
    expect(c.nextDeadline()).toBe(T0 + 19_000);
    expect(c.handleTimers(T0 + 18_999)).toEqual([]);
    expect(c.handleTimers(T0 + 19_000)).toEqual<ComposingEvent[]>([
      { type: 'send', status: { state: 'idle', lastActive: T0 + 4000, contentType: 'text/plain' } },
    ]);
    expect(c.local).toBe('idle');
    expect(c.nextDeadline()).toBeUndefined();
    expect(c.typed(T0 + 30_000)).toBe(true); // typing again: active again
  });

  it('refreshes active before the refresh interval lapses while typing goes on', () => {
    const c = new ComposingIndicator({ refresh: 60 });
    const sentAt: number[] = [];
    for (let t = T0; t <= T0 + 150_000; t += 5000) {
      for (const e of c.handleTimers(t)) if (e.type === 'send') sentAt.push(t);
      if (c.typed(t)) sentAt.push(t);
    }
    expect(sentAt[0]).toBe(T0);
    for (let i = 1; i < sentAt.length; i++)
      expect((sentAt[i] ?? 0) - (sentAt[i - 1] ?? 0)).toBeLessThan(60_000);
    expect(sentAt.length).toBe(3); // 0 s, 55 s, 110 s: not every 5 s keystroke
  });

  it('fires the refresh from the timer too, a tenth of the interval early', () => {
    const c = new ComposingIndicator({ refresh: 60, idleTimeout: 120_000, contentType: 'audio' });
    c.typed(T0);
    expect(c.refreshDeadline).toBe(T0 + 54_000);
    expect(c.nextDeadline()).toBe(T0 + 54_000);
    expect(c.handleTimers(T0 + 54_000)).toEqual([
      { type: 'send', status: { state: 'active', contentType: 'audio', refresh: 60 } },
    ]);
    expect(c.refreshDeadline).toBe(T0 + 108_000);
  });

  it('counts the refresh from when the active status really went out', () => {
    const c = new ComposingIndicator();
    c.typed(T0);
    c.sent(T0 + 2000);
    expect(c.refreshDeadline).toBe(T0 + 56_000);
  });

  it('goes idle without sending anything when the message is sent', () => {
    const c = new ComposingIndicator();
    c.typed(T0);
    c.messageSent(T0 + 1000);
    expect(c.local).toBe('idle');
    expect(c.nextDeadline()).toBeUndefined();
    expect(c.handleTimers(T0 + 60_000)).toEqual([]);
    expect(c.typed(T0 + 61_000)).toBe(true);
  });

  it('refuses bad options', () => {
    expect(() => new ComposingIndicator({ refresh: 0 })).toThrow(TypeError);
    expect(() => new ComposingIndicator({ refresh: 1.5 })).toThrow(TypeError);
    expect(() => new ComposingIndicator({ idleTimeout: -1 })).toThrow(TypeError);
  });
});

describe('ComposingIndicator: the peer', () => {
  const T0 = 5_000_000;

  it('shows the peer active until its refresh interval lapses', () => {
    const c = new ComposingIndicator();
    expect(c.received('active', 30, T0)).toEqual({ type: 'remote', state: 'active' });
    expect(c.nextDeadline()).toBe(T0 + 30_000);
    expect(c.handleTimers(T0 + 29_999)).toEqual([]);
    expect(c.handleTimers(T0 + 30_000)).toEqual([{ type: 'remote', state: 'idle' }]);
    expect(c.remote).toBe('idle');
    expect(c.handleTimers(T0 + 40_000)).toEqual([]);
  });

  it('uses 120 s when the peer gave no refresh, and extends on each refresh', () => {
    const c = new ComposingIndicator();
    c.received('active', undefined, T0);
    expect(c.remoteDeadline).toBe(T0 + 120_000);
    expect(c.received('active', 90, T0 + 60_000)).toBeUndefined(); // still active: no change to report
    expect(c.remoteDeadline).toBe(T0 + 150_000);
  });

  it('goes idle on an idle status, and on the message itself', () => {
    const c = new ComposingIndicator();
    c.received('active', 60, T0);
    expect(c.received('idle', undefined, T0 + 1000)).toEqual({ type: 'remote', state: 'idle' });
    expect(c.received('idle', undefined, T0 + 2000)).toBeUndefined();
    c.received('active', 60, T0 + 3000);
    expect(c.messageReceived(T0 + 4000)).toEqual({ type: 'remote', state: 'idle' });
    expect(c.nextDeadline()).toBeUndefined();
    expect(c.messageReceived(T0 + 5000)).toBeUndefined();
  });

  it('keeps both sides apart: the earliest deadline wins', () => {
    const c = new ComposingIndicator();
    c.received('active', 10, T0);
    c.typed(T0 + 1000);
    expect(c.nextDeadline()).toBe(T0 + 10_000);
    expect(c.handleTimers(T0 + 10_000)).toEqual([{ type: 'remote', state: 'idle' }]);
    expect(c.nextDeadline()).toBe(T0 + 16_000);
    expect(c.handleTimers(T0 + 16_000)).toMatchObject([{ type: 'send', status: { state: 'idle' } }]);
  });
});
