/**
 * One conversation API over pager mode (RFC 3428, pager.ts) and session mode (RFC 4975, chat-sessions.ts): the app
 * says "send this to that peer" and the conversation picks the mode, as SPEC.md §7 asks ("automatic mode choice").
 *
 *   app: send(peer, text) / sendFile(peer, file) / setComposing / markDisplayed / end      ▲ takeEvents():
 *                         │                                                                  │ message, message-state,
 *   ┌─────────────────────▼──────────────────────────────────────────────────────────────────┴─ composing, mode (+ the
 *   │ Conversations   one record per peer: its chat session, recent traffic, idle clock       │   session and file
 *   │   ┌────────────────────────────────────────────────────────────────────────────┐       │   events, passed on)
 *   │   │ ChatSessions ── Pager ── UserAgent                                          │       │
 *   │   └────────────────────────────────────────────────────────────────────────────┘       │
 *   └─────────────────────────────────────────────────────────────────────────────────────────┘
 *
 * The rule (ModePolicy; the defaults in brackets):
 *  1. A peer with a chat session that is not over gets every text in it (texts typed while it is being set up
 *     wait in it; a forked INVITE shows them on every early session).
 *  2. Otherwise a text goes pager mode, unless its MESSAGE body would be over `maxPagerBytes` [1300, RFC 3428 §8]:
 *     then a session is started for it, without the user choosing. A file always goes in a session of its own
 *     (RFC 5547).
 *  3. A busy conversation upgrades: when `busyMessages` [6] texts went either way within `busyWindow` [60 s], at
 *     least one each way, a session is started and the next texts use it. So that two busy peers do not both
 *     INVITE, only the side whose address of record sorts first starts it; the other accepts it (an incoming chat
 *     session from a peer is accepted automatically and becomes the conversation's session).
 *  4. A session with no text either way for `idleTimeout` [5 min] is ended (BYE); the conversation is back in
 *     pager mode.
 *  5. A session that ends before it was established (486, 603, 488, no answer …) hands its waiting texts back to
 *     pager mode when they fit there; bigger ones fail with the session's reason.
 * Message states have one shape for both modes: the pager's (sending → sent → stored → delivered → displayed, or
 * failed / expired), with `mode` saying which carried the message.
 */
import type { ComposingState, DispositionRequest } from '../im/index.ts';
import type { FlowInfo } from '../transaction/index.ts';
import type { ChatSessionsEvent, ChatSessions } from './chat-sessions.ts';
import type { ChatSessionState } from './chat-session.ts';
import type { UserAgentTransmission } from './events.ts';
import type { FileOffer } from './file-transfer.ts';
import type { MessageState } from './message-state.ts';
import { peerKey, type IncomingMessage, type Pager } from './pager.ts';
import { advance, earliest } from './ua-timers.ts';

export type ConversationMode = 'pager' | 'session';

export interface ModePolicy {
  /** RFC 3428 §8: MESSAGE bodies over this many bytes go in a session */
  readonly maxPagerBytes: number;
  /** texts (both ways, at least one each way) within `busyWindow` ms that make a conversation busy */
  readonly busyMessages: number;
  readonly busyWindow: number;
  /** ms without a text in a session before it is ended */
  readonly idleTimeout: number;
}

export const DEFAULT_MODE_POLICY: ModePolicy = Object.freeze({
  maxPagerBytes: 1300,
  busyMessages: 6,
  busyWindow: 60_000,
  idleTimeout: 300_000,
});

export interface ConversationsOptions {
  /** session mode, wrapping the pager (ChatSessionsOptions.pager) */
  readonly sessions: ChatSessions;
  readonly policy?: Partial<ModePolicy>;
  /** accept incoming chat sessions from peers (default true); file offers are always the app's to answer */
  readonly autoAccept?: boolean;
}

export interface ConversationSendOptions {
  /** RFC 5438: ask for delivery and display notifications */
  readonly imdn?: boolean | readonly DispositionRequest[];
  /** the message id (an MSRP ident: 4–32 of [A-Za-z0-9._-+%=], starting alphanumeric) */
  readonly id?: string;
}

/** An outgoing message, the same for both modes. */
export interface ConversationMessage {
  readonly id: string;
  readonly peer: string;
  readonly text: string;
  readonly mode: ConversationMode;
  readonly state: MessageState;
  readonly at: number;
  readonly status: number | undefined;
  readonly reason: string | undefined;
}

export interface ConversationSnapshot {
  readonly peer: string;
  readonly mode: ConversationMode;
  readonly sessionId: string | undefined;
  readonly sessionState: ChatSessionState | undefined;
  readonly lastActivity: number;
}

export type ConversationEvent =
  /** A text to show, whichever mode brought it. */
  | {
      readonly type: 'message';
      readonly peer: string;
      readonly mode: ConversationMode;
      readonly message: IncomingMessage;
    }
  /** An outgoing text changed state (one shape for both modes). */
  | { readonly type: 'message-state'; readonly message: ConversationMessage }
  /** The peer started or stopped typing. */
  | { readonly type: 'composing'; readonly peer: string; readonly state: ComposingState; readonly at: number }
  /** The conversation moved to a session or back to pager mode, and why. */
  | {
      readonly type: 'mode';
      readonly peer: string;
      readonly mode: ConversationMode;
      readonly reason: string;
    };

export type ConversationsEvent = ConversationEvent | ChatSessionsEvent;

interface Outgoing {
  readonly id: string;
  readonly peer: string;
  readonly target: string;
  readonly text: string;
  readonly imdn: ConversationSendOptions['imdn'];
  mode: ConversationMode;
  state: MessageState;
  at: number;
  status: number | undefined;
  reason: string | undefined;
  /** the session it waits in / went in */
  session: string | undefined;
}

interface Conversation {
  readonly peer: string;
  target: string;
  session: string | undefined;
  established: boolean;
  /** when texts went (out) or came (in), within the busy window */
  recent: { at: number; out: boolean }[];
  lastActivity: number;
}

const enc = new TextEncoder();
const MEMORY = 1000;

export class Conversations {
  readonly sessions: ChatSessions;
  readonly pager: Pager;
  readonly policy: ModePolicy;
  readonly #autoAccept: boolean;
  readonly #self: string;
  #now: number;
  #events: ConversationsEvent[] = [];
  readonly #conversations = new Map<string, Conversation>();
  readonly #messages = new Map<string, Outgoing>();
  /** received texts by id → the session they came in (undefined: pager) */
  readonly #received = new Map<string, string | undefined>();
  /** sessions that were established once (rule 5 applies to the others) */
  readonly #establishedSessions = new Set<string>();

  constructor(options: ConversationsOptions) {
    const pager = options.sessions.pager;
    if (pager === undefined) throw new TypeError('Conversations needs ChatSessions built with a pager');
    this.sessions = options.sessions;
    this.pager = pager;
    this.policy = { ...DEFAULT_MODE_POLICY, ...options.policy };
    for (const [k, v] of Object.entries(this.policy))
      if (!(typeof v === 'number' && v > 0)) throw new TypeError(`bad policy ${k}: ${String(v)}`);
    this.#autoAccept = options.autoAccept ?? true;
    this.#self = pager.ua.aor.aor;
    this.#now = pager.ua.now;
  }

  // ---- snapshots ----------------------------------------------------------------------------------------------

  conversation(peer: string): ConversationSnapshot | undefined {
    const c = this.#conversations.get(peerKey(peer));
    if (c === undefined) return undefined;
    const state = c.session === undefined ? undefined : this.sessions.session(c.session)?.state;
    return {
      peer: c.peer,
      mode: c.established && state !== 'Terminated' ? 'session' : 'pager',
      sessionId: c.session,
      sessionState: state,
      lastActivity: c.lastActivity,
    };
  }

  message(id: string): ConversationMessage | undefined {
    const m = this.#messages.get(id);
    return m === undefined ? undefined : snapshot(m);
  }

  // ---- app commands ---------------------------------------------------------------------------------------------

  /** Send a text to a peer in whichever mode the rule picks. Returns its id and that mode. */
  send(
    peer: string,
    text: string,
    options: ConversationSendOptions = {},
    now?: number,
  ): { readonly id: string; readonly mode: ConversationMode } {
    if (typeof text !== 'string') throw new TypeError('the message text must be a string');
    const key = peerKey(peer);
    return this.#command(now, (t) => {
      const c = this.#conversation(key, peer);
      this.#traffic(c, true, t);
      const live = this.#liveSession(c);
      // Rule 1 and 2: a live session, or a body too big for pager mode.
      let mode: ConversationMode = live !== undefined ? 'session' : 'pager';
      let id: string | undefined;
      if (mode === 'pager') {
        if (enc.encode(text).length <= this.policy.maxPagerBytes) {
          const result = this.pager.send(c.target, text, { imdn: options.imdn, id: options.id }, t);
          if (result.ok) id = result.id;
        }
        if (id === undefined) mode = 'session';
      }
      if (mode === 'session') {
        const sessionId = live ?? this.#upgrade(c, 'a message too big for pager mode', t);
        id = this.sessions.send(sessionId, text, { imdn: options.imdn, id: options.id }, t);
      }
      const m: Outgoing = {
        id: id!,
        peer: key,
        target: c.target,
        text,
        imdn: options.imdn,
        mode,
        state: 'sending',
        at: t,
        status: undefined,
        reason: undefined,
        session: mode === 'session' ? c.session : undefined,
      };
      this.#remember(m);
      this.#emit({ type: 'message-state', message: snapshot(m) });
      this.#maybeBusy(c, t);
      return { id: m.id, mode };
    });
  }

  /** Send a file (RFC 5547): always a session of its own. Returns the session id. */
  sendFile(peer: string, file: FileOffer, now?: number): string {
    const key = peerKey(peer);
    return this.#command(now, (t) => {
      const c = this.#conversation(key, peer);
      this.#traffic(c, true, t);
      return this.sessions.invite(c.target, { file, now: t });
    });
  }

  /** The user saw these received texts (display notifications where asked, in either mode). */
  markDisplayed(ids: Iterable<string>, now?: number): void {
    this.#command(now, (t) => {
      const bySession = new Map<string | undefined, string[]>();
      for (const id of ids) {
        if (!this.#received.has(id)) continue;
        const session = this.#received.get(id);
        bySession.set(session, [...(bySession.get(session) ?? []), id]);
      }
      for (const [session, list] of bySession)
        if (session === undefined) this.pager.markDisplayed(list, t);
        else if (this.sessions.session(session)?.state !== 'Terminated')
          this.sessions.markDisplayed(session, list, t);
    });
  }

  /** RFC 3994: typing to a peer goes where the conversation is. */
  setComposing(peer: string, typing: boolean, now?: number): void {
    const key = peerKey(peer);
    this.#command(now, (t) => {
      const c = this.#conversations.get(key);
      const live = c === undefined ? undefined : this.#liveSession(c);
      if (live !== undefined && c?.established === true) this.sessions.setComposing(live, typing, t);
      else this.pager.setComposing(peer, typing, t);
    });
  }

  /** End the conversation's session (pager mode from now on). */
  end(peer: string, now?: number): void {
    const c = this.#conversations.get(peerKey(peer));
    if (c?.session === undefined) return;
    const session = c.session;
    this.#command(now, (t) => {
      this.sessions.end(session, t);
      this.#downgrade(c, 'ended by the user');
    });
  }

  // ---- the SIP driver's side, and the MSRP driver's (through `sessions`) ------------------------------------------

  receive(data: Uint8Array | string, now: number, flow?: FlowInfo): void {
    this.sessions.receive(data, now, flow);
    this.#settle();
  }

  handleTimers(now: number): void {
    this.sessions.handleTimers(now);
    const t = this.#at(now);
    for (const c of this.#conversations.values()) {
      // Rule 4: an idle session ends.
      if (c.session === undefined || !c.established || c.lastActivity + this.policy.idleTimeout > t) continue;
      this.sessions.end(c.session, t);
      this.#downgrade(c, `idle for ${String(Math.round(this.policy.idleTimeout / 1000))} s`);
    }
    this.#settle();
  }

  nextDeadline(): number | undefined {
    let next = this.sessions.nextDeadline();
    for (const c of this.#conversations.values()) {
      if (c.session === undefined || !c.established) continue;
      const at = c.lastActivity + this.policy.idleTimeout;
      next = earliest(next, at);
    }
    return next;
  }

  takeTransmissions(): UserAgentTransmission[] {
    this.#settle();
    return this.sessions.takeTransmissions();
  }

  takeEvents(): ConversationsEvent[] {
    this.#settle();
    const out = this.#events;
    this.#events = [];
    return out;
  }

  flowUp(now: number, flow: FlowInfo): void {
    this.sessions.flowUp(now, flow);
    this.#settle();
  }

  flowDown(now: number): void {
    this.sessions.flowDown(now);
    this.#settle();
  }

  get keepAliveInterval(): number | undefined {
    return this.sessions.keepAliveInterval;
  }

  // ---- the step -------------------------------------------------------------------------------------------------

  #at(now: number | undefined): number {
    this.#now = advance(this.#now, this.pager.ua.now, now);
    return this.#now;
  }

  #command<T>(now: number | undefined, work: (now: number) => T): T {
    const t = this.#at(now);
    this.#settle();
    const result = work(t);
    this.#settle();
    return result;
  }

  #settle(): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const events = this.sessions.takeEvents();
      if (events.length === 0) return;
      const t = this.#at(undefined);
      for (const e of events) this.#onEvent(e, t);
    }
  }

  #onEvent(e: ChatSessionsEvent, now: number): void {
    switch (e.type) {
      case 'message': {
        const session = 'sessionId' in e ? e.sessionId : undefined;
        const peer = e.message.from;
        const c = this.#conversation(peerKey(peer), peer);
        this.#traffic(c, false, now);
        this.#received.set(e.message.id, session);
        if (this.#received.size > MEMORY) this.#received.delete(this.#received.keys().next().value as string);
        this.#emit({
          type: 'message',
          peer: c.peer,
          mode: session === undefined ? 'pager' : 'session',
          message: e.message,
        });
        this.#maybeBusy(c, now);
        return;
      }
      case 'message-state': {
        if ('recipient' in e && e.recipient !== undefined) return; // a group's per-recipient copy: not ours
        const m = this.#messages.get(e.id);
        if (m === undefined) return;
        const fromSession = 'sessionId' in e;
        if (fromSession !== (m.mode === 'session')) return; // the other mode's leftovers of a handed-over text
        if (fromSession && e.state === 'failed' && this.#fallBack(m, now)) return;
        this.#advance(m, e.state, e.status, e.reason);
        return;
      }
      case 'composing':
        this.#emit({ type: 'composing', peer: e.peer, state: e.state, at: e.at });
        return;
      case 'incoming-session':
        this.#emit(e);
        if (e.session.kind !== 'chat') return;
        {
          const c = this.#conversation(e.session.peer, e.request.from.uri.toString());
          if (this.#liveSession(c) === undefined) c.session = e.session.id;
          if (this.#autoAccept) this.sessions.accept(e.session.id, now);
        }
        return;
      case 'session': {
        this.#emit(e);
        const s = e.session;
        if (s.state === 'Established') this.#establishedSessions.add(s.id);
        const c = this.#conversations.get(s.peer);
        if (c === undefined || c.session !== s.id) return;
        if (s.state === 'Established' && !c.established) {
          c.established = true;
          c.lastActivity = now;
          this.#emit({ type: 'mode', peer: c.peer, mode: 'session', reason: 'session established' });
        }
        if (s.state === 'Terminated') this.#downgrade(c, s.reason ?? 'session ended');
        return;
      }
      case 'capability':
      case 'file-data':
      case 'file':
      case 'message-expired':
      case 'msrp-close':
      case 'msrp-connect':
      case 'ua':
        this.#emit(e);
    }
  }

  #emit(event: ConversationsEvent): void {
    this.#events.push(event);
  }

  // ---- conversations ------------------------------------------------------------------------------------------

  #conversation(key: string, target: string): Conversation {
    let c = this.#conversations.get(key);
    if (c === undefined) {
      c = { peer: key, target, session: undefined, established: false, recent: [], lastActivity: this.#now };
      this.#conversations.set(key, c);
    }
    return c;
  }

  /** The conversation's session while it is not over. */
  #liveSession(c: Conversation): string | undefined {
    if (c.session === undefined) return undefined;
    const state = this.sessions.session(c.session)?.state;
    return state === undefined || state === 'Terminated' ? undefined : c.session;
  }

  #traffic(c: Conversation, out: boolean, now: number): void {
    c.lastActivity = now;
    c.recent.push({ at: now, out });
    while ((c.recent[0]?.at ?? now) < now - this.policy.busyWindow) c.recent.shift();
  }

  /** Rule 3: a busy conversation gets a session (started by the side whose AOR sorts first). */
  #maybeBusy(c: Conversation, now: number): void {
    if (this.#liveSession(c) !== undefined || this.#self > c.peer) return;
    const { recent } = c;
    if (recent.length < this.policy.busyMessages || !recent.some((r) => r.out) || !recent.some((r) => !r.out))
      return;
    this.#upgrade(
      c,
      `${String(recent.length)} messages within ${String(this.policy.busyWindow / 1000)} s`,
      now,
    );
  }

  #upgrade(c: Conversation, reason: string, now: number): string {
    const id = this.sessions.invite(c.target, { now });
    c.session = id;
    c.established = false;
    this.#emit({ type: 'mode', peer: c.peer, mode: 'session', reason: `upgrading: ${reason}` });
    return id;
  }

  #downgrade(c: Conversation, reason: string): void {
    const was = c.established;
    c.established = false;
    c.session = undefined;
    c.recent = [];
    if (was) this.#emit({ type: 'mode', peer: c.peer, mode: 'pager', reason });
  }

  /** Rule 5: a text whose session never came up goes pager mode when it fits. */
  #fallBack(m: Outgoing, now: number): boolean {
    const session = m.session === undefined ? undefined : this.sessions.session(m.session);
    if (session === undefined || session.state !== 'Terminated') return false;
    if (this.#everEstablished(session.id) || enc.encode(m.text).length > this.policy.maxPagerBytes)
      return false;
    const result = this.pager.send(m.target, m.text, { imdn: m.imdn, id: m.id }, now);
    if (!result.ok) return false;
    m.mode = 'pager';
    m.session = undefined;
    return true;
  }

  #everEstablished(sessionId: string): boolean {
    return this.#establishedSessions.has(sessionId);
  }

  #remember(m: Outgoing): void {
    this.#messages.set(m.id, m);
    if (this.#messages.size <= MEMORY) return;
    for (const [id, old] of this.#messages)
      if (old.state === 'displayed' || old.state === 'failed' || old.state === 'expired') {
        this.#messages.delete(id);
        return;
      }
  }

  #advance(m: Outgoing, state: MessageState, status: number | undefined, reason: string | undefined): void {
    if (m.state === state) return;
    m.state = state;
    m.at = this.#now;
    m.status = status;
    m.reason = reason;
    this.#emit({ type: 'message-state', message: snapshot(m) });
  }
}

function snapshot(m: Outgoing): ConversationMessage {
  const { id, peer, text, mode, state, at, status, reason } = m;
  return { id, peer, text, mode, state, at, status, reason };
}
