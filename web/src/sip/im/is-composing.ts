/**
 * is-composing (RFC 3994): the `application/im-iscomposing+xml` status document, and `ComposingIndicator`, the
 * pure state machine of both ends of a conversation's typing indicator.
 *
 *   local (we type)                                   remote (the peer types)
 *
 *   Idle ──typed: send "active"──▶ Active              Idle ──"active" received──▶ Active
 *    ▲ ◀──15 s without typing: send "idle"───┤          ▲ ◀──its refresh lapsed────────┤
 *    ├◀────stopped: send "idle" now──────────┤          ├◀──"idle" received────────────┤
 *    └─────messageSent: send nothing─────────┘          │                              │
 *          Active ──refresh due while typing:           └◀──messageReceived────────────┘
 *                   send "active" again
 *
 * Each side has two states and two or three moves, so the moves are methods that read as the RFC does rather
 * than a table. Time comes in as `now` (ms; epoch ms if the `lastactive` of an idle status should mean
 * something to the peer). `nextDeadline()` says when to call `handleTimers(now)`; what must go on the wire comes
 * back as `send` events (or, for typing, as `typed()` returning true), and the peer's indicator as `remote`.
 */
import { ParseError } from '../errors.ts';
import { formatDateTime, parseDateTime } from './cpim.ts';
import { el, only, parseRoot, serializeXml, textOf } from './xml.ts';

export const ISCOMPOSING_NS = 'urn:ietf:params:xml:ns:im-iscomposing';
export const ISCOMPOSING_CONTENT_TYPE = 'application/im-iscomposing+xml';

export type ComposingState = 'active' | 'idle';

export interface IsComposing {
  state: ComposingState;
  /** when the composer was last active, epoch ms */
  lastActive?: number | undefined;
  /** the type of what is being composed, e.g. text/plain */
  contentType?: string | undefined;
  /** seconds within which an active state is refreshed */
  refresh?: number | undefined;
}

/** Parse an isComposing document (RFC 3994 §3.4 and its schema). Throws ParseError. */
export function parseIsComposing(body: string | Uint8Array): IsComposing {
  const root = parseRoot(body, ISCOMPOSING_NS, 'isComposing');
  const one = (local: string): string | undefined => {
    const e = only(root, ISCOMPOSING_NS, local);
    return e && textOf(e).trim();
  };
  const state = one('state');
  if (state !== 'active' && state !== 'idle')
    throw new ParseError('isComposing: <state> must be active or idle');
  const out: IsComposing = { state };
  const last = one('lastactive');
  if (last !== undefined) out.lastActive = parseDateTime(last);
  const type = one('contenttype');
  if (type) out.contentType = type;
  const refresh = one('refresh');
  if (refresh !== undefined) {
    // the schema: a positive integer number of seconds
    if (!/^\d{1,9}$/.test(refresh) || Number(refresh) < 1) throw new ParseError('isComposing: bad <refresh>');
    out.refresh = Number(refresh);
  }
  return out;
}

export function buildIsComposing(s: IsComposing): string {
  if (s.refresh !== undefined && !(Number.isInteger(s.refresh) && s.refresh > 0))
    throw new TypeError(`bad refresh ${s.refresh}`);
  const e = (local: string, text: string | undefined): false | ReturnType<typeof el> =>
    text !== undefined && el(ISCOMPOSING_NS, local, null, text);
  return serializeXml(
    el(
      ISCOMPOSING_NS,
      'isComposing',
      null,
      e('state', s.state),
      e('lastactive', s.lastActive === undefined ? undefined : formatDateTime(s.lastActive)),
      e('contenttype', s.contentType),
      e('refresh', s.refresh?.toString()),
    ),
  );
}

// RFC 3994 §3.2: a composer that has not typed for 15 s goes idle.
export const IDLE_TIMEOUT = 15_000;
// §3.3: a receiver given no refresh interval lets an active state lapse after 120 s.
export const REMOTE_REFRESH_DEFAULT = 120;
/** The refresh interval we announce, in seconds (what common implementations use). */
export const REFRESH_DEFAULT = 60;

export interface ComposingIndicatorOptions {
  /** seconds announced in our active status messages (default 60) */
  refresh?: number;
  /** ms without typing before we go idle (default 15 000) */
  idleTimeout?: number;
  /** what we compose (default text/plain) */
  contentType?: string;
}

export type ComposingEvent =
  /** send this status message to the peer now */
  | { type: 'send'; status: IsComposing }
  /** the peer's indicator changed: show or hide "typing…" */
  | { type: 'remote'; state: ComposingState };

export class ComposingIndicator {
  local: ComposingState = 'idle';
  remote: ComposingState = 'idle';
  readonly #refresh: number;
  readonly #idleTimeout: number;
  readonly #contentType: string;
  #lastTyped = 0;
  #lastSent = 0;
  #remoteExpiry = 0;

  constructor(options: ComposingIndicatorOptions = {}) {
    const { refresh = REFRESH_DEFAULT, idleTimeout = IDLE_TIMEOUT, contentType = 'text/plain' } = options;
    if (!Number.isInteger(refresh) || refresh < 1) throw new TypeError(`bad refresh ${refresh}`);
    if (!(idleTimeout > 0)) throw new TypeError(`bad idleTimeout ${idleTimeout}`);
    this.#refresh = refresh;
    this.#idleTimeout = idleTimeout;
    this.#contentType = contentType;
  }

  /** The active status message to send when `typed()` says so. */
  get activeStatus(): IsComposing {
    return { state: 'active', contentType: this.#contentType, refresh: this.#refresh };
  }

  /** When we go idle unless typing goes on. */
  get idleDeadline(): number | undefined {
    return this.local === 'active' ? this.#lastTyped + this.#idleTimeout : undefined;
  }

  /** When our active state must be announced again: a tenth of the interval early, for the trip. */
  get refreshDeadline(): number | undefined {
    return this.local === 'active' ? this.#lastSent + this.#refresh * 900 : undefined;
  }

  /** When the peer's active state lapses. */
  get remoteDeadline(): number | undefined {
    return this.remote === 'active' ? this.#remoteExpiry : undefined;
  }

  /**
   * A keystroke. True when an active status must be sent now (`activeStatus`): on leaving idle (§3.2), and
   * when the refresh is due; not on every keystroke.
   */
  typed(now: number): boolean {
    const quiet = now < (this.idleDeadline ?? 0) && now < (this.refreshDeadline ?? 0);
    this.#lastTyped = now;
    if (quiet) return false;
    this.local = 'active';
    this.#lastSent = now;
    return true;
  }

  /** An active status went out at `now` (later than `typed()` asked, say): the refresh counts from here. */
  sent(now: number): void {
    if (this.local === 'active') this.#lastSent = now;
  }

  /** §3.2: sending the message ends composition; the peer infers idle from the message, so nothing is sent. */
  messageSent(_now: number): void {
    this.local = 'idle';
  }

  /**
   * The user stopped composing without sending (cleared the draft, left the conversation): idle now rather
   * than after the timeout (§3.2 lets a composer go idle sooner). The idle status to send, or undefined when
   * we were idle already.
   */
  stopped(_now: number): IsComposing | undefined {
    if (this.local !== 'active') return undefined;
    this.local = 'idle';
    return { state: 'idle', lastActive: this.#lastTyped, contentType: this.#contentType };
  }

  /** §3.3: a status message from the peer; `refresh` in seconds, absent → 120 s. */
  received(state: ComposingState, refresh: number | undefined, now: number): ComposingEvent | undefined {
    if (state === 'active')
      this.#remoteExpiry = now + (refresh && refresh > 0 ? refresh : REMOTE_REFRESH_DEFAULT) * 1000;
    return this.#setRemote(state);
  }

  /** §3.3: a message from the peer ends its composition. */
  messageReceived(_now: number): ComposingEvent | undefined {
    return this.#setRemote('idle');
  }

  nextDeadline(): number | undefined {
    const all = [this.idleDeadline, this.refreshDeadline, this.remoteDeadline].filter((d) => d !== undefined);
    return all.length ? Math.min(...all) : undefined;
  }

  handleTimers(now: number): ComposingEvent[] {
    const out: ComposingEvent[] = [];
    if (now >= (this.idleDeadline ?? Infinity)) {
      this.local = 'idle';
      out.push({
        type: 'send',
        status: { state: 'idle', lastActive: this.#lastTyped, contentType: this.#contentType },
      });
    } else if (now >= (this.refreshDeadline ?? Infinity)) {
      this.#lastSent = now;
      out.push({ type: 'send', status: this.activeStatus });
    }
    const remote = now >= (this.remoteDeadline ?? Infinity) && this.#setRemote('idle');
    if (remote) out.push(remote);
    return out;
  }

  #setRemote(state: ComposingState): ComposingEvent | undefined {
    if (this.remote === state) return undefined;
    this.remote = state;
    return { type: 'remote', state };
  }
}
