/**
 * The delivery state of one outgoing instant message (RFC 3428 responses, RFC 5438 notifications), per recipient
 * and as an aggregate over the recipients of a page-mode group (RFC 5365).
 *
 *   sending ──on the wire──▶ sent ──202 / IMDN "stored"──▶ stored ──200 / IMDN "delivered"──▶ delivered
 *      │                      │ │                           │                                  │
 *      │                      │ └──200 / "delivered"────────┼──────────────────────────────────┤
 *      │                      │                             │                      IMDN "displayed"
 *      ├──expiry──▶ expired ◀─┴─────────expiry──────────────┤                                  ▼
 *      └──error───▶ failed  ◀──4xx–6xx, 408, IMDN "failed"──┘                              displayed
 *
 * How it works. A state has a rank; the table below lists, for each state, the states it may move to, and
 * `transition()` is the one place that checks a move: anything not in the table (a late "stored" after
 * "delivered", a "failed" after "delivered", any move out of displayed, failed or expired) is refused and the
 * caller ignores it, so a message's state never goes backwards however its responses and notifications are
 * reordered or duplicated. A group message keeps one state per recipient; its own state is `aggregate()` of
 * those: the least advanced recipient that has not failed (so "delivered" means delivered to everyone still
 * reachable), failed or expired only when every recipient is.
 */
export type MessageState = 'sending' | 'sent' | 'stored' | 'delivered' | 'displayed' | 'failed' | 'expired';

/** RFC 3428 §4 / RFC 5438 §5: the moves each state allows. */
export const MESSAGE_TRANSITIONS: Readonly<Record<MessageState, readonly MessageState[]>> = {
  sending: ['sent', 'stored', 'delivered', 'displayed', 'failed', 'expired'],
  sent: ['stored', 'delivered', 'displayed', 'failed', 'expired'],
  stored: ['delivered', 'displayed', 'failed', 'expired'],
  delivered: ['displayed'],
  displayed: [],
  failed: [],
  expired: [],
};

const RANK: readonly MessageState[] = ['sending', 'sent', 'stored', 'delivered', 'displayed'];

/** Is the move `from` → `to` allowed? (The same state again is not a move.) */
export function transition(from: MessageState, to: MessageState): boolean {
  return MESSAGE_TRANSITIONS[from].includes(to);
}

/** A state nothing can change any more. */
export function isFinalState(state: MessageState): boolean {
  return MESSAGE_TRANSITIONS[state].length === 0;
}

/** The state of a group message from its recipients' states (see the file comment). */
export function aggregate(states: readonly MessageState[]): MessageState {
  let least: MessageState | undefined;
  for (const s of states) {
    const rank = RANK.indexOf(s);
    if (rank >= 0 && (least === undefined || rank < RANK.indexOf(least))) least = s;
  }
  if (least !== undefined) return least;
  return states.length > 0 && states.every((s) => s === 'expired') ? 'expired' : 'failed';
}
