/**
 * Presence in the user agent (RFC 3856 over RFC 6665 SUBSCRIBE/NOTIFY, RFC 3903 PUBLISH, PIDF RFC 3863 with RPID
 * RFC 4480): one's own status published with its entity tag kept and refreshed, and the buddies watched. A sans-IO
 * core that wraps a UserAgent and is driven like one (SipDriver takes it as its core) — or, with `inner`, a layer
 * over the UA (the app stacks it on Conversations): inputs then go through that layer, the UA events it passes
 * on as { type: 'ua' } are looked at here, and its own events pass through unchanged.
 *
 *   app: publish / unpublish / watch / unwatch                           ▲ takeEvents(): PresenceEvent
 *   ┌──────────────────────────────────────────────────────────────────┴─────────────┐
 *   │ Presence-  publication: one PUBLISH in flight, SIP-ETag, refresh, 412/423      │
 *   │ Client     watches: one subscription per buddy, Timer N, refresh, re-SUBSCRIBE  │
 *   │            timers of its own (refresh, retry, Timer N)                          │
 *   │   ┌───────────────────────────────────────────────────────────────────────┐     │
 *   │   │ UserAgent (its PUBLISH/SUBSCRIBE finals and the NOTIFYs of our        │     │
 *   │   │ subscriptions are consumed here; the rest passes as { type: 'ua' })    │     │
 *   │   └───────────────────────────────────────────────────────────────────────┘     │
 *   └─────────────────────────────────────────────────────────────────────────────────┘
 *         receive / handleTimers / flowUp / flowDown ▲   │ takeTransmissions, nextDeadline
 *
 * The publication (RFC 3903 §4), a table and one transition():
 *
 *   Unpublished ──publish()──▶ Publishing ──2xx──▶ Published ──refresh timer / publish()──▶ Publishing
 *        ▲                      │  ▲  │  412: again without SIP-If-Match; 423: again with Min-Expires
 *        │                      │  └──┘                         Published ──unpublish()──▶ Unpublishing ──▶ Unpublished
 *        │          408/5xx/no flow ▼                           any other failure ──▶ Failed (publish() starts over)
 *        └──unpublish()──── Retrying ──timer / flowUp──▶ Publishing
 *
 * A watch (RFC 6665 §4.1.2), per buddy:
 *
 *   Subscribing ──NOTIFY active/pending──▶ Active / Pending ──NOTIFY terminated, 481 to a refresh──▶ Waiting
 *      │   ▲ 423                                │ unwatch()                                          │ timer
 *      │   └──┘          Unsubscribing ◀────────┘            Subscribing ◀────────────────────────────┘
 *      │ 403/404/489/6xx, terminated;reason=rejected|noresource|invariant ──▶ Ended (the app may watch again)
 *
 * How it works. Every input goes to the UserAgent first; then this layer drains the UA's events: the finals of
 * its own requests drive the two machines, a NOTIFY is matched to its watch by Call-ID and our From tag (so one
 * that outruns the SUBSCRIBE's 2xx is taken too) and answered at once, and everything else passes through. A
 * NOTIFY is reported as a `presence` event only when what it says (status, basic, note) differs from what was
 * last reported for that buddy: a duplicate or a refresh's NOTIFY shows nothing new. Choices the RFCs leave:
 * refresh at half the granted interval (as registration does); a NOTIFY owed after a 2xx is awaited 64·T1 (Timer
 * N), then the watch starts over; re-SUBSCRIBE at once after termination by timeout/deactivated or a 481, else
 * after Retry-After or a back-off of 5 s doubling to 10 min with jitter.
 */
import type { Dialog } from '../dialog/index.ts';
import { InvalidStateError, ParseError, unlessMalformed } from '../errors.ts';
import {
  PIDF_CONTENT_TYPE,
  PRESENCE_STATUSES,
  buildPidf,
  parsePidf,
  presenceStatus,
  statusPresence,
  type Basic,
  type PresenceStatus,
} from '../im/index.ts';
import { parseUri, type SipResponse } from '../message/index.ts';
import { randomToken, type FlowInfo } from '../transaction/index.ts';
import type { UserAgentEvent, UserAgentTransmission } from './events.ts';
import type { IncomingRequest, OutgoingRequest } from './handles.ts';
import { peerKey } from './pager.ts';
import { UaTimers, advance, earliest } from './ua-timers.ts';
import type { UserAgent } from './user-agent.ts';

export type { PresenceStatus } from '../im/pidf.ts';

/**
 * A layer the presence client can sit on instead of the bare UserAgent (the app stacks it on Conversations):
 * every input goes through it, and it passes the UA events it does not take as `{ type: 'ua', event }`.
 */
export interface PresenceInner<E extends { readonly type: string }> {
  receive(data: Uint8Array | string, now: number, flow?: FlowInfo): void;
  handleTimers(now: number): void;
  flowUp(now: number, flow: FlowInfo): void;
  flowDown(now: number): void;
  nextDeadline(): number | undefined;
  takeTransmissions(): UserAgentTransmission[];
  takeEvents(): readonly E[];
  readonly keepAliveInterval: number | undefined;
}

export interface PresenceOptions<E extends { readonly type: string } = never> {
  readonly ua: UserAgent;
  /** the layer between the UA and this one (default: none, the UA itself); its other events pass through */
  readonly inner?: PresenceInner<E> | undefined;
  /** Uniform in [0, 1): the tuple id and back-off jitter. */
  readonly random: () => number;
  /** Expires asked for on PUBLISH (s); 3600 by default. */
  readonly publishExpires?: number;
  /** Expires asked for on SUBSCRIBE (s); 3600 by default. */
  readonly subscribeExpires?: number;
  /** RFC 6665 §4.1.2.4 Timer N (ms): how long a NOTIFY is awaited after the SUBSCRIBE; 64·T1 = 32 s by default. */
  readonly timerN?: number;
  /** The PIDF tuple id of this device (unique among the user's devices); random by default. */
  readonly tupleId?: string;
}

/** What `publish` takes: one of the five statuses and an optional note. */
export interface PresenceUpdate {
  readonly status: PresenceStatus;
  readonly note?: string | undefined;
}

export type PublicationState =
  'Unpublished' | 'Publishing' | 'Published' | 'Retrying' | 'Unpublishing' | 'Failed';

export interface PublicationSnapshot {
  readonly state: PublicationState;
  /** what the user chose (offline when nothing is published or wanted) */
  readonly status: PresenceStatus;
  readonly note: string | undefined;
  /** RFC 3903 §4.1: the entity tag of our publication at the presence agent */
  readonly etag: string | undefined;
  readonly expiresAt: number | undefined;
}

export type WatchState = 'pending' | 'active' | 'terminated';

export interface BuddyPresence {
  readonly uri: string;
  readonly status: PresenceStatus;
  readonly basic: Basic;
  readonly note?: string | undefined;
}

export type PresenceEvent =
  /** A buddy's presence, from a NOTIFY body, reported when it differs from the last one reported. */
  | ({ readonly type: 'presence'; readonly at: number } & BuddyPresence)
  /** A NOTIFY of a watch carried a body this layer cannot read (answered 200 all the same). */
  | { readonly type: 'presence-error'; readonly uri: string; readonly reason: string; readonly at: number }
  /**
   * A watch changed: pending (asked, not yet active, or waiting to subscribe again — `retryAt`), active, or
   * terminated for good (`reason`: the notifier's, a SIP status such as "403", or "unwatched").
   */
  | {
      readonly type: 'watch-state';
      readonly uri: string;
      readonly state: WatchState;
      readonly reason?: string | undefined;
      readonly retryAt?: number | undefined;
    }
  /** Our publication changed state. */
  | { readonly type: 'publication'; readonly publication: PublicationSnapshot }
  /** A PUBLISH failed; `retrying` when another attempt is scheduled, `local` when the failure was made up here. */
  | {
      readonly type: 'publish-failed';
      readonly status: number;
      readonly reason: string;
      readonly local: boolean;
      readonly retrying: boolean;
    }
  /** An event of the UserAgent this layer did not consume. */
  | { readonly type: 'ua'; readonly event: UserAgentEvent };

// ---- the publication machine ------------------------------------------------------------------------------------

/** The one table of legal moves of the publication; `#publicationTo()` refuses anything else. */
export const PUBLICATION_TRANSITIONS: Readonly<Record<PublicationState, readonly PublicationState[]>> = {
  Unpublished: ['Publishing'],
  Publishing: ['Published', 'Publishing', 'Retrying', 'Failed', 'Unpublishing', 'Unpublished'],
  Published: ['Publishing', 'Unpublishing', 'Retrying', 'Failed', 'Unpublished'],
  Retrying: ['Publishing', 'Unpublishing', 'Unpublished'],
  Unpublishing: ['Unpublished', 'Publishing'],
  Failed: ['Publishing', 'Unpublished'],
};

type InternalWatchState = 'Subscribing' | 'Pending' | 'Active' | 'Waiting' | 'Unsubscribing' | 'Ended';

/** The one table of legal moves of a watch. */
export const WATCH_TRANSITIONS: Readonly<Record<InternalWatchState, readonly InternalWatchState[]>> = {
  Subscribing: ['Subscribing', 'Pending', 'Active', 'Waiting', 'Unsubscribing', 'Ended'],
  Pending: ['Subscribing', 'Active', 'Pending', 'Waiting', 'Unsubscribing', 'Ended'],
  Active: ['Subscribing', 'Pending', 'Active', 'Waiting', 'Unsubscribing', 'Ended'],
  Waiting: ['Subscribing', 'Ended'],
  Unsubscribing: ['Ended'],
  Ended: [],
};

interface Watch {
  /** a serial number: the timers' names (an unwatched subscription may still be closing beside a new one) */
  readonly id: number;
  readonly uri: string;
  readonly key: string;
  state: InternalWatchState;
  /** the SUBSCRIBE that made (or is making) the current subscription: Call-ID and our From tag */
  callId: string | undefined;
  localTag: string | undefined;
  dialog: Dialog | undefined;
  expires: number;
  expiresAt: number | undefined;
  /** attempts since the last active NOTIFY, for the back-off */
  failures: number;
  /** the NOTIFY owed after the SUBSCRIBE has come (RFC 6665 §4.1.2.4) */
  notified: boolean;
  /** what was last reported, to report changes only */
  reported: string | undefined;
  /** the exposed state last reported */
  shown: WatchState | undefined;
  /** unwatch() came while the first SUBSCRIBE was in flight: end the subscription once its 2xx is in */
  unwatchOnAnswer: boolean;
}

type PublishAction = 'initial' | 'modify' | 'refresh' | 'remove';

type Owned =
  | {
      readonly kind: 'publish';
      readonly action: PublishAction;
      /** what the request publishes, so its 2xx knows what the agent now holds */
      readonly carried: PresenceUpdate | undefined;
    }
  | { readonly kind: 'subscribe'; readonly watch: Watch; readonly action: 'initial' | 'refresh' | 'remove' };

const DEFAULT_EXPIRES = 3600;
const T1 = 500;
const BACKOFF_BASE = 5_000;
const BACKOFF_MAX = 600_000;
/** RFC 6665 §4.1.3: termination reasons after which subscribing again is pointless. */
const FINAL_REASONS = new Set(['rejected', 'noresource', 'invariant']);
/** RFC 6665 §4.1.3: reasons after which the subscriber may subscribe again at once. */
const AT_ONCE_REASONS = new Set(['deactivated', 'timeout']);

export class PresenceClient<E extends { readonly type: string } = never> {
  readonly ua: UserAgent;
  readonly #inner: PresenceInner<E> | undefined;
  readonly #random: () => number;
  readonly #publishExpiresDefault: number;
  readonly #subscribeExpires: number;
  readonly #timerN: number;
  readonly #tupleId: string;
  readonly #timers = new UaTimers();

  #now: number;
  #events: (PresenceEvent | E)[] = [];
  /** our requests in flight → what they are for */
  readonly #owned = new Map<string, Owned>();

  // publication
  #pubState: PublicationState = 'Unpublished';
  /** what the user wants published (undefined: nothing, offline) */
  #wanted: PresenceUpdate | undefined;
  /** what the presence agent holds under #etag */
  #published: PresenceUpdate | undefined;
  #etag: string | undefined;
  #pubExpires: number;
  #pubExpiresAt: number | undefined;
  #pubInFlight = false;
  #pubFailures = 0;
  /** a 412 or 423 retry already made for the request in flight (no loops on a confused server) */
  #pubRecoveries = 0;

  // watches
  readonly #watches = new Map<string, Watch>();
  /** every subscription still alive on the wire, the unwatched ones too (their last NOTIFY is answered 200) */
  readonly #subs = new Set<Watch>();
  #hadFlowDown = false;
  #serial = 0;

  constructor(options: PresenceOptions<E>) {
    if (typeof options.random !== 'function') throw new TypeError('PresenceClient needs a random() option');
    for (const [name, v] of [
      ['publishExpires', options.publishExpires],
      ['subscribeExpires', options.subscribeExpires],
    ] as const)
      if (v !== undefined && !(Number.isInteger(v) && v > 0 && v < 2 ** 31))
        throw new TypeError(`bad ${name} ${String(v)}`);
    if (options.timerN !== undefined && !(options.timerN > 0))
      throw new TypeError(`bad timerN ${String(options.timerN)}`);
    if (options.tupleId !== undefined && !/^[A-Za-z_][\w.-]*$/.test(options.tupleId))
      throw new TypeError(`a tuple id is an XML ID, not ${options.tupleId}`);
    this.ua = options.ua;
    this.#inner = options.inner;
    this.#random = options.random;
    this.#publishExpiresDefault = options.publishExpires ?? DEFAULT_EXPIRES;
    this.#pubExpires = this.#publishExpiresDefault;
    this.#subscribeExpires = options.subscribeExpires ?? DEFAULT_EXPIRES;
    this.#timerN = options.timerN ?? 64 * T1;
    this.#tupleId = options.tupleId ?? `t${randomToken(this.#random, 10)}`;
    this.#now = options.ua.now;
  }

  // ---- snapshots ----------------------------------------------------------------------------------------------

  get publication(): PublicationSnapshot {
    return {
      state: this.#pubState,
      status: this.#wanted?.status ?? 'offline',
      note: this.#wanted?.note,
      etag: this.#etag,
      expiresAt: this.#pubState === 'Published' ? this.#pubExpiresAt : undefined,
    };
  }

  /** The buddies watched (not the unwatched ones still closing) and their exposed state. */
  get watching(): { uri: string; state: WatchState }[] {
    return [...this.#watches.values()].map((w) => ({ uri: w.uri, state: exposed(w.state) }));
  }

  // ---- app commands ---------------------------------------------------------------------------------------------

  /**
   * Publish our status (RFC 3903): the first PUBLISH carries the PIDF, the 2xx's SIP-ETag is kept, a change goes
   * as a modification (SIP-If-Match + body), the refresh before expiry as SIP-If-Match without a body.
   * `offline` removes the publication (as `unpublish`). Throws TypeError for an unknown status or a bad note.
   */
  publish(update: PresenceUpdate, now?: number): void {
    if (typeof update !== 'object' || update === null || !PRESENCE_STATUSES.includes(update.status))
      throw new TypeError(`unknown presence status ${String((update as { status?: unknown }).status)}`);
    if (update.note !== undefined && typeof update.note !== 'string')
      throw new TypeError('a presence note is a string');
    if (update.status === 'offline') {
      this.unpublish(now);
      return;
    }
    this.#command(now, (t) => {
      this.#wanted = { status: update.status, note: update.note };
      if (this.#pubState === 'Failed' || this.#pubState === 'Unpublished') this.#pubFailures = 0;
      this.#pubKick(t);
    });
  }

  /** Remove our publication (RFC 3903 §4.5: SIP-If-Match + Expires: 0); watchers then see us offline. */
  unpublish(now?: number): void {
    this.#command(now, (t) => {
      this.#wanted = undefined;
      this.#pubKick(t);
    });
  }

  /**
   * Watch a buddy (RFC 3856 §6: SUBSCRIBE with Event: presence, Accept: application/pidf+xml), kept up until
   * `unwatch`. Watching a buddy already watched is a no-op. Throws TypeError for a malformed URI.
   */
  watch(uri: string, now?: number): void {
    checkUri(uri);
    this.#command(now, (t) => {
      const key = peerKey(uri);
      if (this.#watches.has(key)) return;
      const w: Watch = {
        id: ++this.#serial,
        uri,
        key,
        state: 'Subscribing',
        callId: undefined,
        localTag: undefined,
        dialog: undefined,
        expires: this.#subscribeExpires,
        expiresAt: undefined,
        failures: 0,
        notified: false,
        reported: undefined,
        shown: undefined,
        unwatchOnAnswer: false,
      };
      this.#watches.set(key, w);
      this.#subs.add(w);
      this.#show(w, undefined, undefined);
      this.#subscribe(w, t);
    });
  }

  /**
   * Stop watching (RFC 6665 §4.1.2.3: SUBSCRIBE with Expires: 0 in the dialog). Reported as terminated at once;
   * the notifier's last NOTIFY is answered but not reported. Unknown buddies are ignored.
   */
  unwatch(uri: string, now?: number): void {
    checkUri(uri);
    this.#command(now, (t) => {
      const w = this.#watches.get(peerKey(uri));
      if (w === undefined) return;
      this.#watches.delete(w.key);
      this.#emit({ type: 'watch-state', uri: w.uri, state: 'terminated', reason: 'unwatched' });
      w.shown = 'terminated';
      this.#timers.clear(timerName(w));
      if (w.state === 'Waiting') {
        this.#watchTo(w, 'Ended');
        return;
      }
      if (w.dialog === undefined || w.dialog.state === 'Terminated') {
        // The first SUBSCRIBE is still out: end the subscription once its 2xx makes the dialog.
        w.unwatchOnAnswer = true;
        return;
      }
      this.#unsubscribe(w, t);
    });
  }

  // ---- the driver's side (SansIoCore) --------------------------------------------------------------------------

  receive(data: Uint8Array | string, now: number, flow?: FlowInfo): void {
    (this.#inner ?? this.ua).receive(data, now, flow);
    this.#settle();
  }

  handleTimers(now: number): void {
    (this.#inner ?? this.ua).handleTimers(now);
    this.#settle();
    this.#at(now);
    this.#timers.runDue(this.#now);
    this.#settle();
  }

  nextDeadline(): number | undefined {
    return earliest((this.#inner ?? this.ua).nextDeadline(), this.#timers.next());
  }

  takeTransmissions(): UserAgentTransmission[] {
    this.#settle();
    return (this.#inner ?? this.ua).takeTransmissions();
  }

  takeEvents(): (PresenceEvent | E)[] {
    this.#settle();
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /**
   * A (new) connection: waiting retries go now, and after a reconnection (SPEC §3) the publication and every
   * subscription are refreshed, since the agent may have lost the old flow.
   */
  flowUp(now: number, flow: FlowInfo): void {
    (this.#inner ?? this.ua).flowUp(now, flow);
    this.#settle();
    const t = this.#at(now);
    const reconnected = this.#hadFlowDown;
    this.#hadFlowDown = false;
    if (this.#pubState === 'Retrying' || (reconnected && this.#pubState === 'Published')) {
      this.#timers.clear('publish');
      this.#pubSend(t);
    }
    for (const w of this.#watches.values()) {
      if (w.state === 'Waiting') {
        this.#timers.clear(timerName(w));
        this.#subscribe(w, t);
      } else if (reconnected && (w.state === 'Active' || w.state === 'Pending')) {
        this.#refresh(w, t);
      }
    }
    this.#settle();
  }

  flowDown(now: number): void {
    this.#hadFlowDown = true;
    (this.#inner ?? this.ua).flowDown(now);
    this.#settle();
  }

  get keepAliveInterval(): number | undefined {
    return (this.#inner ?? this.ua).keepAliveInterval;
  }

  // ---- the step -------------------------------------------------------------------------------------------------

  #at(now: number | undefined): number {
    this.#now = advance(this.#now, this.ua.now, now);
    return this.#now;
  }

  #command(now: number | undefined, work: (now: number) => void): void {
    const t = this.#at(now);
    this.#settle();
    work(t);
    this.#settle();
  }

  #settle(): void {
    const inner = this.#inner;
    for (let guard = 0; guard < 10_000; guard++) {
      if (inner === undefined) {
        const events = this.ua.takeEvents();
        if (events.length === 0) return;
        this.#at(undefined);
        for (const event of events) this.#onUaEvent(event);
        continue;
      }
      // Stacked: the UA's events reach us through the layers below, as { type: 'ua', event } when none took them.
      const events = inner.takeEvents();
      if (events.length === 0) return;
      this.#at(undefined);
      for (const event of events) {
        if (isPassedUaEvent(event)) this.#onUaEvent(event.event);
        else this.#events.push(event);
      }
    }
  }

  #emit(event: PresenceEvent): void {
    this.#events.push(event);
  }

  #onUaEvent(event: UserAgentEvent): void {
    switch (event.type) {
      case 'incoming-request':
        if (event.incoming.method === 'NOTIFY' && this.#onNotify(event.incoming)) return;
        break;
      case 'final':
        if (this.#onFinal(event.outgoing, event.response, event.local)) return;
        break;
      case 'progress':
        if (this.#owned.has(event.outgoing.id)) return;
        break;
      case 'incoming-cancelled':
      case 'ack':
      case 'prack':
      case 'auto-response':
      case 'malformed':
      case 'dropped':
      case 'dialog':
      case 'registration':
      case 'keepalive':
        break;
    }
    this.#emit({ type: 'ua', event });
  }

  #onFinal(outgoing: OutgoingRequest, response: SipResponse, local: boolean): boolean {
    const owned = this.#owned.get(outgoing.id);
    if (owned === undefined) return false;
    this.#owned.delete(outgoing.id);
    const t = this.#now;
    if (owned.kind === 'publish') this.#onPublishFinal(owned.action, owned.carried, response, local, t);
    else this.#onSubscribeFinal(owned.watch, owned.action, outgoing, response, t);
    return true;
  }

  // ---- publication (RFC 3903) -----------------------------------------------------------------------------------

  #publicationTo(next: PublicationState): void {
    const from = this.#pubState;
    if (!PUBLICATION_TRANSITIONS[from].includes(next))
      throw new InvalidStateError(`publication: ${from} → ${next} is not a legal move`);
    this.#pubState = next;
    if (next !== 'Published' && next !== 'Publishing') this.#timers.clear('publish-refresh');
    if (from !== next) this.#emit({ type: 'publication', publication: this.publication });
  }

  /** Something changed: send what the wish needs, unless a PUBLISH is in flight (RFC 3903 §4: one at a time). */
  #pubKick(now: number): void {
    if (this.#pubInFlight) return;
    if (this.#wanted === undefined) {
      this.#timers.clear('publish');
      if (this.#etag === undefined) {
        if (this.#pubState !== 'Unpublished') this.#publicationTo('Unpublished');
        return;
      }
      this.#pubSend(now);
      return;
    }
    if (this.#pubState === 'Retrying') return; // the retry timer (or flowUp) sends the latest wish
    if (this.#pubState === 'Published' && sameUpdate(this.#published, this.#wanted)) return;
    this.#pubSend(now);
  }

  /** Send the PUBLISH the state calls for: remove, initial, modify or refresh. */
  #pubSend(now: number): void {
    if (this.#pubInFlight) return;
    this.#timers.clear('publish');
    const wanted = this.#wanted;
    const etag = this.#etag;
    let action: PublishAction;
    if (wanted === undefined) {
      if (etag === undefined) {
        this.#publicationTo('Unpublished');
        return;
      }
      action = 'remove';
    } else if (etag === undefined) action = 'initial';
    else action = sameUpdate(this.#published, wanted) ? 'refresh' : 'modify';
    // RFC 3903 §4.1: the Request-URI, From and To are the presentity's AOR; Event names the package.
    const headers: Record<string, string> = { Event: 'presence' };
    // RFC 3903 §4.5: removal is Expires: 0; otherwise the interval we want.
    headers.Expires = action === 'remove' ? '0' : String(this.#pubExpires);
    // RFC 3903 §4.3–4.5: refresh, modification and removal name the publication by its entity tag.
    if (etag !== undefined) headers['SIP-If-Match'] = etag;
    const aor = this.ua.aor.toString();
    let body: string | undefined;
    // RFC 3903 §4.3: a refresh carries no body; §4.2, §4.4: an initial publication or a modification does.
    if (wanted !== undefined && action !== 'refresh') {
      body = buildPidf(
        statusPresence(aor, wanted.status, wanted.note, { tupleId: this.#tupleId, contact: aor }),
      );
    }
    // A refresh of a live publication stays Published: the user's status does not change.
    const stays = action === 'refresh' && this.#pubState === 'Published';
    if (!stays) this.#publicationTo(action === 'remove' ? 'Unpublishing' : 'Publishing');
    this.#pubInFlight = true;
    const out = this.ua.request('PUBLISH', this.ua.aor, {
      headers,
      body,
      contentType: body === undefined ? undefined : PIDF_CONTENT_TYPE,
      now,
    });
    // The request carries what it publishes, so the 2xx knows what the agent now holds.
    this.#owned.set(out.id, { kind: 'publish', action, carried: wanted });
  }

  #onPublishFinal(
    action: PublishAction,
    carried: PresenceUpdate | undefined,
    response: SipResponse,
    local: boolean,
    now: number,
  ): void {
    this.#pubInFlight = false;
    const status = response.status;
    if (status >= 200 && status < 300) {
      this.#pubFailures = 0;
      this.#pubRecoveries = 0;
      if (action === 'remove') {
        this.#etag = undefined;
        this.#published = undefined;
        this.#pubExpiresAt = undefined;
        this.#publicationTo('Unpublished');
        this.#pubKick(now);
        return;
      }
      // RFC 3903 §4.2: the 2xx carries the entity tag of the publication and the granted Expires.
      this.#etag = unlessMalformed(() => response.sipETag);
      if (action !== 'refresh') this.#published = carried;
      const granted = unlessMalformed(() => response.expires) ?? this.#pubExpires;
      this.#pubExpiresAt = now + granted * 1000;
      if (this.#pubState === 'Published') this.#emit({ type: 'publication', publication: this.publication });
      else this.#publicationTo('Published');
      this.#armPublishRefresh(granted, now);
      this.#pubKick(now);
      return;
    }
    // RFC 3903 §4.6 (412): the agent has no publication under that tag: publish afresh, without SIP-If-Match.
    if (status === 412 && this.#etag !== undefined && this.#pubRecoveries < 2) {
      this.#pubRecoveries += 1;
      this.#etag = undefined;
      this.#published = undefined;
      if (action === 'remove') {
        this.#publicationTo('Unpublished');
        this.#pubKick(now);
        return;
      }
      this.#pubSend(now);
      return;
    }
    // RFC 3903 §4.6 (423): the interval was too short: again with the agent's Min-Expires.
    const min = status === 423 ? unlessMalformed(() => response.minExpires) : undefined;
    if (min !== undefined && min > this.#pubExpires && this.#pubRecoveries < 2) {
      this.#pubRecoveries += 1;
      this.#pubExpires = min;
      this.#pubSend(now);
      return;
    }
    this.#pubRecoveries = 0;
    const retrying = retryable(status) && this.#wanted !== undefined;
    this.#emit({ type: 'publish-failed', status, reason: response.reason, local, retrying });
    if (action === 'remove' || this.#wanted === undefined) {
      // Nothing more to do for a removal that failed: the publication lapses at its expiry.
      this.#etag = undefined;
      this.#published = undefined;
      this.#publicationTo('Unpublished');
      this.#pubKick(now);
      return;
    }
    if (!retrying) {
      this.#etag = undefined;
      this.#published = undefined;
      this.#publicationTo('Failed');
      return;
    }
    this.#pubFailures += 1;
    this.#publicationTo('Retrying');
    const retryAfter = unlessMalformed(() => response.headers.get('retry-after'));
    this.#timers.set('publish', now + this.#backoff(this.#pubFailures, retryAfter), (at) => {
      this.#pubSend(at);
    });
  }

  #armPublishRefresh(granted: number, now: number): void {
    // Refresh at half the granted interval (as registration does): the other half is left for recovery.
    this.#timers.set('publish-refresh', now + (granted * 1000) / 2, (at) => {
      if (this.#pubState === 'Published') this.#pubSend(at);
    });
  }

  // ---- watches (RFC 6665, RFC 3856) -----------------------------------------------------------------------------

  #watchTo(w: Watch, next: InternalWatchState): void {
    if (!WATCH_TRANSITIONS[w.state].includes(next))
      throw new InvalidStateError(`watch ${w.uri}: ${w.state} → ${next} is not a legal move`);
    w.state = next;
    if (next === 'Ended') {
      this.#timers.clear(timerName(w));
      this.#timers.clear(timerNName(w));
      this.#subs.delete(w);
      if (this.#watches.get(w.key) === w) this.#watches.delete(w.key);
      if (w.dialog !== undefined) w.dialog.terminate();
    }
  }

  /** Report the exposed state when it changed (and the watch is still the app's). */
  #show(w: Watch, reason: string | undefined, retryAt: number | undefined): void {
    if (this.#watches.get(w.key) !== w) return;
    const state = w.state === 'Ended' ? 'terminated' : exposed(w.state);
    if (state === w.shown && retryAt === undefined) return;
    w.shown = state;
    this.#emit({ type: 'watch-state', uri: w.uri, state, reason, retryAt });
  }

  /** RFC 3856 §6, RFC 6665 §4.1.2.1: a new subscription (a new dialog). */
  #subscribe(w: Watch, now: number): void {
    if (w.dialog !== undefined && w.dialog.state !== 'Terminated') w.dialog.terminate();
    w.dialog = undefined;
    w.notified = false;
    w.expiresAt = undefined;
    this.#watchTo(w, 'Subscribing');
    const out = this.ua.request('SUBSCRIBE', w.uri, {
      headers: {
        Event: 'presence',
        Accept: PIDF_CONTENT_TYPE,
        Expires: String(w.expires),
      },
      now,
    });
    w.callId = out.request.callId;
    w.localTag = out.request.fromTag;
    this.#owned.set(out.id, { kind: 'subscribe', watch: w, action: 'initial' });
    // RFC 6665 §4.1.2.4: if no NOTIFY comes within Timer N, the subscription is considered failed.
    const callId = w.callId;
    this.#timers.set(timerNName(w), now + this.#timerN, (at) => {
      if (w.notified || w.state !== 'Subscribing' || w.callId !== callId) return;
      this.#retry(w, at, 'no NOTIFY (Timer N)', undefined, false);
    });
  }

  /** RFC 6665 §4.1.2.2: a refresh is a SUBSCRIBE in the dialog with the same Event. */
  #refresh(w: Watch, now: number): void {
    const dialog = w.dialog;
    if (dialog === undefined || dialog.state === 'Terminated') {
      this.#subscribe(w, now);
      return;
    }
    const out = this.ua.request('SUBSCRIBE', dialog, {
      headers: { Event: 'presence', Accept: PIDF_CONTENT_TYPE, Expires: String(w.expires) },
      now,
    });
    this.#owned.set(out.id, { kind: 'subscribe', watch: w, action: 'refresh' });
  }

  /** RFC 6665 §4.1.2.3: unsubscribing is a refresh with Expires: 0; the notifier's terminated NOTIFY ends it. */
  #unsubscribe(w: Watch, now: number): void {
    const dialog = w.dialog;
    if (dialog === undefined || dialog.state === 'Terminated') {
      this.#watchTo(w, 'Ended');
      return;
    }
    this.#watchTo(w, 'Unsubscribing');
    const out = this.ua.request('SUBSCRIBE', dialog, {
      headers: { Event: 'presence', Accept: PIDF_CONTENT_TYPE, Expires: '0' },
      now,
    });
    this.#owned.set(out.id, { kind: 'subscribe', watch: w, action: 'remove' });
    // The final NOTIFY is awaited for Timer N; without it the subscription is forgotten anyway.
    this.#timers.set(timerName(w), now + this.#timerN, () => {
      if (w.state === 'Unsubscribing') this.#watchTo(w, 'Ended');
    });
  }

  #onSubscribeFinal(
    w: Watch,
    action: 'initial' | 'refresh' | 'remove',
    outgoing: OutgoingRequest,
    response: SipResponse,
    now: number,
  ): void {
    const status = response.status;
    if (action === 'remove') {
      if (status >= 300 && w.state === 'Unsubscribing') this.#watchTo(w, 'Ended');
      return;
    }
    if (w.state === 'Ended' || w.state === 'Unsubscribing' || w.state === 'Waiting') return;
    if (action === 'initial' && outgoing.request.callId !== w.callId) return; // an attempt given up on
    if (status >= 200 && status < 300) {
      if (action === 'initial') w.dialog ??= outgoing.dialog;
      if (w.unwatchOnAnswer) {
        this.#unsubscribe(w, now);
        return;
      }
      // RFC 6665 §4.1.2.1: the 2xx's Expires is the duration granted (never longer than asked).
      const granted = unlessMalformed(() => response.expires) ?? w.expires;
      this.#armRefresh(w, granted, now);
      return;
    }
    // RFC 6665 §4.1.2.1: a 423 names the shortest interval the notifier takes in Min-Expires.
    const min = status === 423 ? unlessMalformed(() => response.minExpires) : undefined;
    if (min !== undefined && min > w.expires) {
      w.expires = min;
      if (action === 'initial') this.#subscribe(w, now);
      else this.#refresh(w, now);
      return;
    }
    if (w.unwatchOnAnswer) {
      this.#watchTo(w, 'Ended');
      return;
    }
    if (action === 'refresh') {
      // RFC 6665 §4.1.2.2: a 481 (or a 408, which ends the dialog, RFC 3261 §12.2.1.2) means the subscription is
      // gone: subscribe anew. Another failure leaves it valid until its expiry: try again before then.
      if (status === 481 || status === 408 || w.dialog?.state === 'Terminated') {
        this.#retry(w, now, String(status), undefined, true);
        return;
      }
      const left = (w.expiresAt ?? now) - now;
      if (left > 10_000) {
        this.#timers.set(timerName(w), now + Math.min(left / 2, BACKOFF_MAX), (at) => {
          this.#refresh(w, at);
        });
        return;
      }
      this.#retry(w, now, String(status), undefined, false);
      return;
    }
    // The first SUBSCRIBE failed: a refusal ends the watch; a transient failure is tried again later.
    if (retryable(status)) {
      const retryAfter = unlessMalformed(() => response.headers.get('retry-after'));
      this.#retry(w, now, String(status), retryAfter === undefined ? undefined : Number(retryAfter), false);
      return;
    }
    this.#watchTo(w, 'Ended');
    this.#showEnded(w, String(status));
  }

  #showEnded(w: Watch, reason: string): void {
    if (w.shown === 'terminated') return;
    w.shown = 'terminated';
    this.#emit({ type: 'watch-state', uri: w.uri, state: 'terminated', reason });
  }

  #armRefresh(w: Watch, granted: number, now: number): void {
    w.expiresAt = now + granted * 1000;
    if (granted <= 0) return;
    // Refresh at half the granted interval, as registration does.
    this.#timers.set(timerName(w), now + (granted * 1000) / 2, (at) => {
      if (w.state === 'Active' || w.state === 'Pending') this.#refresh(w, at);
    });
  }

  /**
   * Subscribe again (a new dialog): at once when `atOnce` and nothing failed since the last active NOTIFY, else
   * after `retryAfter` seconds or the back-off.
   */
  #retry(w: Watch, now: number, reason: string, retryAfter: number | undefined, atOnce: boolean): void {
    if (w.dialog !== undefined && w.dialog.state !== 'Terminated') w.dialog.terminate();
    w.failures += 1;
    this.#timers.clear(timerNName(w));
    this.#watchTo(w, 'Waiting');
    const delay =
      atOnce && w.failures === 1 && retryAfter === undefined ? 0 : this.#backoff(w.failures, retryAfter);
    const at = now + delay;
    this.#show(w, reason, at);
    this.#timers.set(timerName(w), at, (t) => {
      if (w.state === 'Waiting') this.#subscribe(w, t);
    });
  }

  /** 5 s · 2^(n−1), at most 10 min, with jitter (half to all of it); at least Retry-After. */
  #backoff(failures: number, retryAfter: number | string | undefined): number {
    const base = Math.min(BACKOFF_BASE * 2 ** Math.max(0, failures - 1), BACKOFF_MAX);
    const jittered = base * (0.5 + 0.5 * this.#random());
    const after = Number(retryAfter);
    return Number.isFinite(after) && after > 0 ? Math.max(after * 1000, jittered) : jittered;
  }

  // ---- NOTIFY (RFC 6665 §4.1.3) ---------------------------------------------------------------------------------

  /** A NOTIFY for one of our subscriptions: answer it and act on it. False: not ours, pass it on. */
  #onNotify(incoming: IncomingRequest): boolean {
    const request = incoming.request;
    const w = this.#subscriptionOf(request.callId, request.toTag);
    if (w === undefined) return false;
    const now = this.#now;
    // RFC 6665 §4.1.3: a NOTIFY whose Event does not match the subscription's is answered 489.
    const event = unlessMalformed(() => request.event);
    if (event?.event.toLowerCase() !== 'presence' || event.id !== undefined) {
      incoming.reject(489, 'Bad Event', undefined, now);
      return true;
    }
    const substate = unlessMalformed(() => request.subscriptionState);
    if (substate === undefined) {
      incoming.reject(400, 'Missing or bad Subscription-State', undefined, now);
      return true;
    }
    // RFC 6665 §4.1.2.4: with a forking proxy, NOTIFYs may come from several notifiers; we keep the first one's
    // dialog and end the others with 481 (§4.1.3: a NOTIFY for no subscription of ours).
    const dialog = incoming.dialog;
    if (w.dialog !== undefined && dialog !== undefined && w.dialog !== dialog) {
      incoming.reject(481, 'Subscription Does Not Exist', undefined, now);
      dialog.terminate();
      return true;
    }
    if (w.state === 'Ended' || w.state === 'Waiting') {
      incoming.reject(481, 'Subscription Does Not Exist', undefined, now);
      dialog?.terminate();
      return true;
    }
    incoming.accept({}, now);
    w.dialog ??= dialog;
    w.notified = true;
    this.#timers.clear(timerNName(w));
    if (w.state === 'Unsubscribing') {
      if (substate.state === 'terminated') this.#watchTo(w, 'Ended');
      return true;
    }
    if (substate.state === 'terminated') {
      this.#onTerminated(w, substate.reason?.toLowerCase(), substate.retryAfter, now);
      return true;
    }
    if (substate.state === 'active') {
      w.failures = 0;
      this.#watchTo(w, 'Active');
    } else {
      // pending, or a state this layer does not know: not (yet) active.
      this.#watchTo(w, 'Pending');
    }
    // RFC 6665 §4.1.3: the expires parameter tells the subscriber when the subscription ends; refresh by it.
    if (substate.expires !== undefined) this.#armRefresh(w, Math.min(substate.expires, w.expires), now);
    this.#show(w, undefined, undefined);
    this.#readBody(w, incoming, now);
    return true;
  }

  #subscriptionOf(callId: string, toTag: string | undefined): Watch | undefined {
    for (const w of this.#subs) if (w.callId === callId && w.localTag === toTag) return w;
    return undefined;
  }

  #onTerminated(w: Watch, reason: string | undefined, retryAfter: number | undefined, now: number): void {
    if (w.dialog !== undefined) w.dialog.terminate();
    if (reason !== undefined && FINAL_REASONS.has(reason)) {
      // RFC 6665 §4.1.3: rejected, noresource and invariant: subscribing again would not help.
      this.#watchTo(w, 'Ended');
      this.#showEnded(w, reason);
      return;
    }
    // RFC 6665 §4.1.3: deactivated and timeout: subscribe again at once; probation and giveup: after
    // retry-after; no reason or an unknown one: again, with the back-off.
    const atOnce = reason === undefined || AT_ONCE_REASONS.has(reason);
    this.#retry(w, now, reason ?? 'terminated', retryAfter, atOnce);
  }

  /** A NOTIFY body: a PIDF document read into a status; reported only when it says something new. */
  #readBody(w: Watch, incoming: IncomingRequest, now: number): void {
    const request = incoming.request;
    if (request.body.length === 0) return; // RFC 6665 §4.2.2: a NOTIFY may carry no state (pending)
    if (this.#watches.get(w.key) !== w) return;
    const type = unlessMalformed(() => request.contentType);
    if (type === undefined || `${type.type}/${type.subtype}`.toLowerCase() !== PIDF_CONTENT_TYPE) {
      const got = type === undefined ? 'none' : `${type.type}/${type.subtype}`;
      this.#emit({ type: 'presence-error', uri: w.uri, reason: `not PIDF (Content-Type ${got})`, at: now });
      return;
    }
    let status: PresenceStatus;
    let basic: Basic;
    let note: string | undefined;
    try {
      const doc = parsePidf(request.body);
      status = presenceStatus(doc);
      basic = status === 'offline' ? 'closed' : 'open';
      note = doc.note;
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      this.#emit({ type: 'presence-error', uri: w.uri, reason: e.message, at: now });
      return;
    }
    const key = JSON.stringify([status, basic, note ?? null]);
    if (key === w.reported) return;
    w.reported = key;
    const event: PresenceEvent =
      note === undefined
        ? { type: 'presence', uri: w.uri, status, basic, at: now }
        : { type: 'presence', uri: w.uri, status, basic, note, at: now };
    this.#emit(event);
  }
}

function exposed(state: InternalWatchState): WatchState {
  switch (state) {
    case 'Active':
      return 'active';
    case 'Subscribing':
    case 'Pending':
    case 'Waiting':
      return 'pending';
    case 'Unsubscribing':
    case 'Ended':
      return 'terminated';
  }
}

/** The refresh or retry timer of a watch (and the wait for the last NOTIFY after unsubscribing). */
function timerName(w: Watch): string {
  return `watch:${String(w.id)}`;
}

/** RFC 6665 §4.1.2.4 Timer N of a watch's SUBSCRIBE. */
function timerNName(w: Watch): string {
  return `timer-n:${String(w.id)}`;
}

function sameUpdate(a: PresenceUpdate | undefined, b: PresenceUpdate | undefined): boolean {
  return a?.status === b?.status && a?.note === b?.note;
}

/** Failures worth another attempt later: timeouts, no flow, server trouble. */
function retryable(status: number): boolean {
  return status === 408 || status === 480 || status >= 500 || status === 430;
}

function checkUri(uri: string): void {
  if (typeof uri !== 'string') throw new TypeError('a URI is a string');
  try {
    parseUri(uri);
  } catch (e) {
    if (e instanceof ParseError) throw new TypeError(`bad URI ${uri}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** A UA event a lower layer passed on untouched. */
function isPassedUaEvent(event: { readonly type: string }): event is { type: 'ua'; event: UserAgentEvent } {
  return event.type === 'ua' && 'event' in event;
}
