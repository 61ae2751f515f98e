/**
 * The per-message state machine as the app shows it (ticks), fed by the client's events.
 *
 *   sending ──► sent ──► stored ──► delivered ──► displayed
 *     │ ▲        │ │       │                         ▲
 *     │ └requeue─┘ │       │                         │
 *     ├────────────┴───────┴──► failed ──late delivered/displayed
 *     └────────────┴───────┴──► expired
 *   failed ──retry──► sending
 *
 * How it works. The progress states only move forward, and skipping is fine (a 200 with no 1xx goes from
 * sending to delivered): a late "stored" after "delivered" is ignored (RFC 5438 notifications may arrive in
 * any order). failed and expired end a message, with two exits: the user's retry, and a delivery or display
 * notification that still arrives after a local failure (a timeout while the message did get through; the
 * truth wins). `requeue` is the outbox taking a message back after a connection loss: the clock tick again.
 */
import type { ChatFailure, MessageState } from '../drivers/index.ts';
import type { ChatMessage, RecipientStatus } from '../drivers/index.ts';

export type Cause = 'event' | 'retry' | 'requeue';

const FORWARD: readonly MessageState[] = ['sending', 'sent', 'stored', 'delivered', 'displayed'];

const TRANSITIONS: Readonly<Record<Cause, Readonly<Record<MessageState, readonly MessageState[]>>>> = {
  event: {
    sending: ['sent', 'stored', 'delivered', 'displayed', 'failed', 'expired'],
    sent: ['stored', 'delivered', 'displayed', 'failed', 'expired'],
    stored: ['delivered', 'displayed', 'failed', 'expired'],
    delivered: ['displayed'],
    displayed: [],
    failed: ['delivered', 'displayed'],
    expired: [],
  },
  retry: {
    sending: [],
    sent: [],
    stored: [],
    delivered: [],
    displayed: [],
    failed: ['sending'],
    expired: ['sending'],
  },
  requeue: {
    sending: [],
    sent: ['sending'],
    stored: [],
    delivered: [],
    displayed: [],
    failed: ['sending'],
    expired: [],
  },
};

export function canMove(from: MessageState, to: MessageState, cause: Cause = 'event'): boolean {
  return TRANSITIONS[cause][from].includes(to);
}

/** How far a progress state has come (for sorting recipients); -1 for failed/expired. */
export function progressOf(state: MessageState): number {
  return FORWARD.indexOf(state);
}

/**
 * The message after a state change, or undefined when the change is not legal (ignored). `recipient` changes
 * one recipient of a group message and leaves the aggregate alone.
 */
export function transition(
  message: ChatMessage,
  to: MessageState,
  at: number,
  options: {
    readonly failure?: ChatFailure | undefined;
    readonly recipient?: string | undefined;
    readonly cause?: Cause;
  } = {},
): ChatMessage | undefined {
  const cause = options.cause ?? 'event';
  if (options.recipient !== undefined) {
    const recipients =
      message.recipients ?? message.to.map((address) => ({ address, state: 'sending', at: message.at }));
    const index = recipients.findIndex((r) => r.address === options.recipient);
    const current = recipients[index];
    if (!current || !canMove(current.state, to, cause)) return undefined;
    const next: RecipientStatus = {
      address: current.address,
      state: to,
      at,
      failure: to === 'failed' ? options.failure : undefined,
    };
    return { ...message, recipients: recipients.map((r, i) => (i === index ? next : r)) };
  }
  if (!canMove(message.state, to, cause)) return undefined;
  return {
    ...message,
    state: to,
    stateAt: at,
    failure: to === 'failed' ? (options.failure ?? { code: 0, reason: 'Failed' }) : undefined,
  };
}
