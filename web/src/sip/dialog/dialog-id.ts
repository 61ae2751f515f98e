/**
 * The dialog identifier (RFC 3261 §12): Call-ID, local tag, remote tag.
 *
 *                 From tag         To tag
 *   UAC side      local            remote        (we sent the request: our tag is in From)
 *   UAS side      remote           local         (we received it: our tag is in To)
 *
 * How it works. The same two tags identify the dialog at both ends, swapped: each side calls its own tag
 * "local". Which header holds which tag depends only on who sent the request of the transaction at hand, so
 * `uacDialogId` reads a request we sent or a response to it, and `uasDialogId` reads a request we received
 * (or our response to it). A dialog-creating request has no To tag yet, so the UAS passes the tag it is about
 * to put in its response.
 *
 * Comparison is exact. Call-IDs are compared byte by byte (§20.8); tags are opaque tokens that each side
 * echoes verbatim, so this stack compares them exactly too rather than folding case.
 *
 * A missing From tag (an RFC 2543 peer) counts as the empty remote tag, as §12.1.1 asks ("null"). A missing To
 * tag on a response never makes a dialog (§12.1: only responses with a To tag do), so `uacDialogId` returns
 * undefined for it.
 */
import type { SipMessage } from '../message/index.ts';

export interface DialogId {
  readonly callId: string;
  readonly localTag: string;
  /** '' stands for the "null" tag of an RFC 2543 peer (§12.1.1) */
  readonly remoteTag: string;
}

/** '|' is neither in a Call-ID word nor in a tag token (§25.1), so the key is unambiguous. */
export function dialogKey(id: DialogId): string {
  return `${id.callId}|${id.localTag}|${id.remoteTag}`;
}

/** The key of a dialog set: every dialog created by one request shares Call-ID and local tag (§13.2.2.4). */
export function dialogSetKey(callId: string, localTag: string): string {
  return `${callId}|${localTag}`;
}

export function sameDialogId(a: DialogId, b: DialogId): boolean {
  return a.callId === b.callId && a.localTag === b.localTag && a.remoteTag === b.remoteTag;
}

// RFC 3261 §12.1.2: at the UAC, the local tag is the From tag and the remote tag the To tag.
/**
 * The dialog id seen by the UAC of a transaction: a request we sent, or a response to it.
 * Undefined when a tag is missing (no dialog can be identified). Throws ParseError if From/To/Call-ID are bad.
 */
export function uacDialogId(msg: SipMessage): DialogId | undefined {
  const localTag = msg.fromTag;
  const remoteTag = msg.toTag;
  if (localTag === undefined || remoteTag === undefined) return undefined;
  return { callId: msg.callId, localTag, remoteTag };
}

// RFC 3261 §12.1.1: at the UAS, the local tag is the To tag and the remote tag the From tag.
/**
 * The dialog id seen by the UAS of a transaction: a request we received (or our response to it). For a
 * dialog-creating request, pass the tag our response carries as `localTag`. Undefined when there is no local
 * tag. Throws ParseError if From/To/Call-ID are bad.
 */
export function uasDialogId(msg: SipMessage, localTag: string | undefined = msg.toTag): DialogId | undefined {
  if (localTag === undefined) return undefined;
  return { callId: msg.callId, localTag, remoteTag: msg.fromTag ?? '' };
}
