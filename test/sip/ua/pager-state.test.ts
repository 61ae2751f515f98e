/**
 * The per-message state table (message-state.ts): every move it allows and every one it refuses, and the
 * aggregate of a group's recipients. The pager tests show the same rules from the wire.
 */
import { describe, expect, it } from 'vitest';
import {
  MESSAGE_TRANSITIONS,
  aggregateMessageState as aggregate,
  isFinalMessageState as isFinal,
  messageTransition as transition,
  type MessageState,
} from '../../../web/src/sip/index.ts';

const STATES: MessageState[] = ['sending', 'sent', 'stored', 'delivered', 'displayed', 'failed', 'expired'];

describe('message states', () => {
  it('allows exactly the forward moves: never backwards, nothing out of displayed, failed or expired', () => {
    const allowed = STATES.flatMap((from) =>
      STATES.filter((to) => transition(from, to)).map((to) => `${from}→${to}`),
    );
    expect(allowed).toEqual([
      'sending→sent',
      'sending→stored',
      'sending→delivered',
      'sending→displayed',
      'sending→failed',
      'sending→expired',
      'sent→stored',
      'sent→delivered',
      'sent→displayed',
      'sent→failed',
      'sent→expired',
      'stored→delivered',
      'stored→displayed',
      'stored→failed',
      'stored→expired',
      'delivered→displayed',
    ]);
    // a late "stored" after "delivered", a failure after delivery, the same state again: refused
    expect(transition('delivered', 'stored')).toBe(false);
    expect(transition('delivered', 'failed')).toBe(false);
    expect(transition('sent', 'sent')).toBe(false);
    expect(STATES.filter(isFinal)).toEqual(['displayed', 'failed', 'expired']);
    expect(Object.keys(MESSAGE_TRANSITIONS)).toEqual(STATES);
  });

  it('a group is as far as its least advanced recipient still reachable; failed or expired only when all are', () => {
    expect(aggregate(['delivered', 'displayed', 'stored'])).toBe('stored');
    expect(aggregate(['delivered', 'failed', 'displayed'])).toBe('delivered');
    expect(aggregate(['displayed', 'displayed'])).toBe('displayed');
    expect(aggregate(['failed', 'expired'])).toBe('failed');
    expect(aggregate(['expired', 'expired'])).toBe('expired');
    expect(aggregate(['sending', 'failed'])).toBe('sending');
    expect(aggregate(['failed'])).toBe('failed');
  });
});
