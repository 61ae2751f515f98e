import { describe, expect, it } from 'vitest';
import type { ChatMessage, MessageState } from '../../../web/src/drivers/index.ts';
import { MESSAGE_STATES } from '../../../web/src/drivers/index.ts';
import { canMove, transition } from '../../../web/src/stores/message-state.ts';

const base: ChatMessage = {
  id: 'm',
  conversationId: 'sip:bob@example.com',
  direction: 'out',
  from: 'sip:alice@example.com',
  to: ['sip:bob@example.com'],
  group: false,
  text: 'x',
  at: 0,
  state: 'sending',
  stateAt: 0,
};

describe('message state machine', () => {
  it('progress states only move forward, possibly skipping', () => {
    const order: MessageState[] = ['sending', 'sent', 'stored', 'delivered', 'displayed'];
    order.forEach((from, i) =>
      order.forEach((to, j) => {
        expect(canMove(from, to)).toBe(j > i);
      }),
    );
  });

  it('failed and expired end a message; only a retry (or late proof of delivery after a failure) leaves them', () => {
    for (const to of MESSAGE_STATES) {
      expect(canMove('expired', to)).toBe(false);
      expect(canMove('failed', to)).toBe(to === 'delivered' || to === 'displayed');
    }
    expect(canMove('failed', 'sending', 'retry')).toBe(true);
    expect(canMove('expired', 'sending', 'retry')).toBe(true);
    expect(canMove('delivered', 'sending', 'retry')).toBe(false);
    expect(canMove('sent', 'sending', 'requeue')).toBe(true);
    expect(canMove('stored', 'sending', 'requeue')).toBe(false);
  });

  it('a failure keeps its status and reason; moving on clears it', () => {
    const failed = transition(base, 'failed', 5, { failure: { code: 486, reason: 'Busy Here' } });
    expect(failed).toMatchObject({
      state: 'failed',
      stateAt: 5,
      failure: { code: 486, reason: 'Busy Here' },
    });
    expect(transition(failed!, 'sending', 6, { cause: 'retry' })?.failure).toBeUndefined();
    expect(transition(failed!, 'stored', 6)).toBeUndefined();
  });

  it('a recipient of a group message moves on its own; the aggregate stays', () => {
    const group = { ...base, group: true, to: ['sip:bob@example.com', 'sip:carol@example.com'] };
    const one = transition(group, 'delivered', 3, { recipient: 'sip:carol@example.com' });
    expect(one?.state).toBe('sending');
    expect(one?.recipients?.map((r) => r.state)).toEqual(['sending', 'delivered']);
    expect(transition(one!, 'stored', 4, { recipient: 'sip:carol@example.com' })).toBeUndefined();
    expect(transition(one!, 'delivered', 4, { recipient: 'sip:nobody@example.com' })).toBeUndefined();
  });
});
