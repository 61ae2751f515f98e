/**
 * One session-mode chat (RFC 4975 over an INVITE dialog, RFC 3264 offer/answer): its state machine, the record
 * ChatSessions keeps for it, and the snapshot the app sees. The protocol work is in chat-sessions.ts.
 *
 *   outgoing:  Connecting ──MSRP path ready, INVITE sent──▶ Calling ──18x with SDP──▶ Early ──2xx──▶ Established
 *   incoming:  Incoming ──180 with our answer (early session)──▶ Early ──200 sent──▶ Established
 *              Incoming ──200 sent──▶ Established
 *   any state but Terminated ──CANCEL, 3xx–6xx, BYE either way, failure──▶ Terminated
 *
 * How it works. A session is the usage of one INVITE (RFC 3261 §13). Its MSRP side (RFC 4975) is one local URI
 * on one connection the driver opens for it (to the relay, RFC 4976, which it AUTHs to first; or, for an endpoint
 * that listens, a connection the peer opened), and one leg per dialog: a forked INVITE can bring several early
 * dialogs, each with its own early MSRP session (its own MsrpSession towards that fork's a=path); the 2xx keeps the
 * leg of the dialog that answered and the others are closed (the core cancels or BYEs their dialogs). A file
 * transfer (RFC 5547) is a session of its own, with one file.
 */
import type { CpimMessage, ComposingIndicator, DispositionRequest } from '../im/index.ts';
import type { Dialog } from '../dialog/index.ts';
import type { MsrpSession } from '../msrp/index.ts';
import type { NegotiatedMsrp, SessionDescription } from '../sdp/index.ts';
import type { FileTransfer, FileTransferSnapshot } from './file-transfer.ts';
import type { IncomingRequest, OutgoingRequest } from './handles.ts';
import type { MessageState } from './message-state.ts';

export type ChatSessionState = 'Connecting' | 'Calling' | 'Incoming' | 'Early' | 'Established' | 'Terminated';

/** The one table of legal moves (STYLE.md §3); `transition()` refuses anything else. */
export const CHAT_SESSION_TRANSITIONS: Readonly<Record<ChatSessionState, readonly ChatSessionState[]>> = {
  Connecting: ['Calling', 'Terminated'],
  Calling: ['Early', 'Established', 'Terminated'],
  Incoming: ['Early', 'Established', 'Terminated'],
  Early: ['Established', 'Terminated'],
  Established: ['Terminated'],
  Terminated: [],
};

export type ChatSessionKind = 'chat' | 'file';

/** The MSRP side: connecting (and AUTH to the relay), up, or gone. */
export type MsrpLinkState = 'connecting' | 'up' | 'down' | 'closed';

/** A session, as the app shows it. */
export interface ChatSessionSnapshot {
  readonly id: string;
  readonly kind: ChatSessionKind;
  readonly direction: 'outgoing' | 'incoming';
  /** the other side's address of record */
  readonly peer: string;
  readonly state: ChatSessionState;
  /** outgoing: a provisional response (180) came */
  readonly ringing: boolean;
  /** one per dialog with an MSRP session: several early ones from a forked INVITE, one once established */
  readonly legs: readonly {
    readonly dialog: string;
    readonly early: boolean;
    readonly remotePath: readonly string[];
  }[];
  readonly msrp: MsrpLinkState;
  /** our a=path */
  readonly localPath: readonly string[];
  readonly createdAt: number;
  /** when the state last changed */
  readonly at: number;
  /** why it ended: the SIP status (486, 603, 487 …) when there was one, and a reason */
  readonly status: number | undefined;
  readonly reason: string | undefined;
  readonly file: FileTransferSnapshot | undefined;
}

/** An outgoing message of a session, as the app shows it (the pager's states, RFC 5438). */
export interface SessionMessage {
  readonly id: string;
  readonly sessionId: string;
  readonly text: string;
  readonly state: MessageState;
  readonly at: number;
  readonly status: number | undefined;
  readonly reason: string | undefined;
}

// ---- the records ChatSessions keeps (internal) -------------------------------------------------------------

/** @internal One dialog's MSRP session. */
export interface Leg {
  readonly dialog: Dialog;
  readonly msrp: MsrpSession;
  readonly negotiated: NegotiatedMsrp;
  early: boolean;
}

/** @internal An outgoing text. */
export interface OutMessage {
  readonly id: string;
  readonly text: string;
  readonly imdn: readonly DispositionRequest[];
  readonly createdAt: number;
  state: MessageState;
  at: number;
  status: number | undefined;
  reason: string | undefined;
  /** dialog keys of the legs it went out on, and how many of them failed it */
  readonly legs: Set<string>;
  failures: number;
}

/** @internal */
export interface Session {
  readonly id: string;
  readonly kind: ChatSessionKind;
  readonly direction: 'outgoing' | 'incoming';
  readonly peer: string;
  /** the target URI (outgoing) */
  readonly target: string;
  readonly createdAt: number;
  state: ChatSessionState;
  at: number;
  status: number | undefined;
  reason: string | undefined;
  ringing: boolean;
  /** the MSRP connection (the driver's id), our URI on it, and its AUTH session (relay) */
  conn: string;
  localUri: string;
  anchor: MsrpSession;
  msrp: MsrpLinkState;
  /** o= session id and version (RFC 3264 §8: each new offer increments the version) */
  readonly sdpId: string;
  version: number;
  /** what we take; a renegotiation may change it */
  acceptTypes: readonly string[];
  /** outgoing: the INVITE and our offer; incoming: the INVITE, its offer and our answer */
  invite: OutgoingRequest | undefined;
  incoming: IncomingRequest | undefined;
  offer: SessionDescription | undefined;
  answer: SessionDescription | undefined;
  /** incoming: what our answer to the INVITE agreed on */
  negotiated: NegotiatedMsrp | undefined;
  /** incoming: accept once the MSRP path is ready / once the reliable 180 with SDP is PRACKed (RFC 3262 §3) */
  acceptWanted: boolean;
  prackPending: boolean;
  /** a renegotiation of ours in flight, or one wanted once the MSRP path is ready */
  update: { readonly outgoing: OutgoingRequest; readonly offer: SessionDescription } | undefined;
  updateWanted: boolean;
  /** RFC 3261 §14.1: after a 491, try again at this time */
  retryAt: number | undefined;
  /** outgoing: cancel when nobody answered by then */
  ringDeadline: number | undefined;
  /** a file whose receiver's connection broke: fail it unless the receiver resumes it by then */
  resumeDeadline: number | undefined;
  /** a file to go on with once the ACK of our answer to the peer's re-INVITE came */
  resume: { readonly leg: Leg; readonly from: number } | undefined;
  readonly legs: Map<string, Leg>;
  readonly messages: Map<string, OutMessage>;
  /** texts sent before the session was established: each new leg gets them too (forked early sessions) */
  readonly early: OutMessage[];
  /** texts to send again on the next leg (the connection broke under them) */
  readonly resend: OutMessage[];
  /** ids of texts shown, and received texts whose sender wants a display notification */
  readonly seen: Set<string>;
  readonly displayable: Map<string, CpimMessage>;
  readonly typing: ComposingIndicator;
  readonly file: FileTransfer | undefined;
}

export function transition(s: Session, to: ChatSessionState, now: number): boolean {
  if (s.state === to || !CHAT_SESSION_TRANSITIONS[s.state].includes(to)) return false;
  s.state = to;
  s.at = now;
  return true;
}

export function snapshot(s: Session): ChatSessionSnapshot {
  return {
    id: s.id,
    kind: s.kind,
    direction: s.direction,
    peer: s.peer,
    state: s.state,
    ringing: s.ringing,
    legs: [...s.legs.values()].map((l) => ({
      dialog: l.dialog.key,
      early: l.early,
      remotePath: l.negotiated.remotePath,
    })),
    msrp: s.msrp,
    localPath: s.anchor.localPath,
    createdAt: s.createdAt,
    at: s.at,
    status: s.status,
    reason: s.reason,
    file: s.file?.snapshot(),
  };
}

export function messageSnapshot(sessionId: string, m: OutMessage): SessionMessage {
  return { id: m.id, sessionId, text: m.text, state: m.state, at: m.at, status: m.status, reason: m.reason };
}
