/**
 * PresenceAgent: the embedded core's presence agent (RFC 3856 §3, "PA in the server") for its own users — the event
 * state compositor for PUBLISH (RFC 3903) and the notifier for SUBSCRIBE/NOTIFY (RFC 6665) of the `presence`
 * package, with PIDF (RFC 3863) + RPID (RFC 4480) bodies read and written by the core's codec (im/pidf.ts).
 *
 *   PUBLISH ─► publications (etag → PIDF, expiry) ─► compose(aor) ─► changed? ─► NOTIFY every watcher of aor
 *   SUBSCRIBE ─► subscription (a dialog of ours) ─► 200 + NOTIFY at once
 *
 *   one subscription:   (SUBSCRIBE)──► Active ──expires / Expires: 0 / policy──► Terminated
 *                                      │  ▲
 *                                      └──┘ refresh, state change (a NOTIFY each)
 *
 * How it works. It is sans-IO like the protocol core: requests and `now` (ms) go in, answers and NOTIFY requests
 * come out, and `nextDeadline()` says when `expire(now)` has work (publications and subscriptions that run out).
 * The caller (sip-core.ts) authenticates, sends the answers on the server transaction, sends each NOTIFY along
 * its route set like any request the core originates and reports every NOTIFY's final status back with
 * `notifyAnswered`. A subscription has at most one NOTIFY in flight: changes while it is pending are folded into
 * one NOTIFY with the newest state when the answer comes (RFC 6665 §4.2.2 leaves the pace to the notifier), so the
 * watcher's view is never older than the last NOTIFY it took.
 *
 * Composition: every unexpired publication of a presentity, oldest first, gives its tuples (ids kept, renamed only
 * when two publications use the same one); the person (RPID activities and note) comes from the newest
 * publication that has one; the entity is the AOR. No publication: one tuple, basic=closed (offline).
 *
 * Authorization is a hook (`authorize`): the default lets any user of the domain watch any other and refuses the
 * rest (403); pending/allow/block by the presentity and presence.winfo come later and plug in there.
 */
import {
  DeadlineQueue,
  InvalidStateError,
  PIDF_CONTENT_TYPE,
  SipRequest,
  buildPidf,
  createResponse,
  formatNameAddr,
  parsePidf,
  type NameAddr,
  type Presence,
  type PresenceNote,
  type PresenceTuple,
  type SipResponse,
  type Uri,
} from '../../web/src/sip/server.ts';

export const PRESENCE_EVENT = 'presence';
/** RFC 3857: watcher information; not served yet (489), but recognised as the PA's so it is not proxied. */
export const WINFO_EVENT = 'presence.winfo';

/** What the policy says about a watcher (RFC 3857 §5's pending/block come with the policy store). */
export type PresenceDecision = 'allow' | 'reject';

/** The authorization hook: may `watcher` (an authenticated URI) see `presentity` (user@domain)? */
export type PresencePolicy = (watcher: Uri, presentity: string) => PresenceDecision;

export interface PresenceAgentOptions {
  /** the users' domain (lower case) */
  readonly domain: string;
  readonly random: () => number;
  /** the Contact of the agent's dialogs: where in-dialog SUBSCRIBEs come back (the core itself) */
  readonly contact: string;
  /** RFC 3903 §6 step 4 / RFC 6665 §4.2.1.1: shorter Expires get 423 (default 60 s) */
  readonly minExpires?: number | undefined;
  /** Expires when the request has none (default 3600 s) */
  readonly defaultExpires?: number | undefined;
  /** longer Expires are shortened to this (default 3600 s) */
  readonly maxExpires?: number | undefined;
  readonly authorize?: PresencePolicy | undefined;
}

/** A NOTIFY to send; report its final status with `notifyAnswered(subscriptionId, cseq, status)`. */
export interface PresenceNotify {
  readonly subscriptionId: string;
  readonly cseq: number;
  /** the watcher's AOR (user@domain), for a fallback route through its registered flow */
  readonly watcher: string;
  /** this NOTIFY ends the subscription (nothing is waited for after it) */
  readonly final: boolean;
  readonly request: SipRequest;
}

/** The answer to a PUBLISH or SUBSCRIBE, and the NOTIFYs it causes (to send after the answer). */
export interface PresenceResult {
  readonly response: SipResponse;
  readonly notifies: PresenceNotify[];
}

type SubscriptionState = 'active' | 'terminated';
type TerminationReason = 'timeout' | 'noresource' | 'rejected' | 'deactivated';

// RFC 6665 §4.1.2: a subscription is active until it is terminated, and nothing follows termination.
const TRANSITIONS: Record<SubscriptionState, readonly SubscriptionState[]> = {
  active: ['active', 'terminated'],
  terminated: [],
};

interface Publication {
  etag: string;
  readonly aor: string;
  presence: Presence;
  expiresAt: number;
  /** order of the last change (composition: oldest first, newest person wins) */
  changed: number;
  /** the flow token of the browser connection it last came on (undefined: not a browser of ours) */
  flow: string | undefined;
}

interface Subscription {
  readonly id: string;
  readonly presentity: string;
  readonly watcher: string;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** From of our NOTIFYs (the SUBSCRIBE's To without tag) */
  readonly local: string;
  /** To of our NOTIFYs (the SUBSCRIBE's From without tag) */
  readonly remote: string;
  remoteTarget: Uri;
  readonly routeSet: readonly string[];
  remoteCSeq: number;
  localCSeq: number;
  readonly eventId: string | undefined;
  expiresAt: number;
  state: SubscriptionState;
  reason: TerminationReason | undefined;
  /** CSeq of the NOTIFY waiting for its final response */
  inFlight: number | undefined;
  /** something changed while a NOTIFY was in flight */
  dirty: boolean;
}

type Expiry = { readonly kind: 'publication' | 'subscription'; readonly key: string };

/** RFC 6665 §4.2.2: a NOTIFY answered with one of these means the watcher is gone. */
const WATCHER_GONE = new Set([404, 408, 430, 480, 481]);
const TAG_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export class PresenceAgent {
  readonly #o: PresenceAgentOptions;
  readonly #min: number;
  readonly #max: number;
  readonly #default: number;
  readonly #authorize: PresencePolicy;
  readonly #publications = new Map<string, Publication>();
  readonly #publicationsOf = new Map<string, Set<string>>();
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #byDialog = new Map<string, string>();
  readonly #watchersOf = new Map<string, Set<string>>();
  /** the last composed document per presentity with watchers (NOTIFY only on a change) */
  readonly #composed = new Map<string, string>();
  readonly #expiries = new DeadlineQueue<Expiry>();
  #changes = 0;
  #ids = 0;

  constructor(options: PresenceAgentOptions) {
    this.#o = options;
    this.#min = options.minExpires ?? 60;
    this.#max = Math.max(options.maxExpires ?? 3600, this.#min);
    this.#default = Math.min(options.defaultExpires ?? 3600, this.#max);
    const domain = options.domain.toLowerCase();
    this.#authorize =
      options.authorize ?? ((watcher) => (watcher.host.toLowerCase() === domain ? 'allow' : 'reject'));
  }

  get publicationCount(): number {
    return this.#publications.size;
  }

  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** The event package of a request, lower case ('' when it has no Event header). */
  static eventOf(request: SipRequest): string {
    try {
      return request.event?.event.toLowerCase() ?? '';
    } catch {
      return '';
    }
  }

  /** A SUBSCRIBE the agent serves: `presence` and `presence.winfo` (the latter refused for now). */
  static servesSubscribe(request: SipRequest): boolean {
    const event = PresenceAgent.eventOf(request);
    return event === PRESENCE_EVENT || event === WINFO_EVENT;
  }

  /** Is this in-dialog request part of one of our subscriptions? */
  hasDialog(request: SipRequest): boolean {
    return this.#byDialog.has(dialogKey(request.callId, request.toTag ?? '', request.fromTag ?? ''));
  }

  // ---- PUBLISH (RFC 3903 §6) ----------------------------------------------------------------------------------

  /**
   * A PUBLISH for `presentity` (user@domain) from its own, authenticated user (the caller checks that: RFC 3903
   * §6 step 1). Initial (body, no SIP-If-Match), refresh (SIP-If-Match, no body), modify (both), remove
   * (SIP-If-Match, Expires: 0).
   */
  publish(request: SipRequest, presentity: string, now: number, flow?: string): PresenceResult {
    const reply = (status: number, headers: Record<string, string> = {}, reason?: string): PresenceResult =>
      this.#answer(request, status, headers, reason);
    // RFC 3903 §6 step 2: the event package must be one the compositor knows, else 489 with Allow-Events.
    if (PresenceAgent.eventOf(request) !== PRESENCE_EVENT)
      return reply(489, { 'Allow-Events': PRESENCE_EVENT });
    let ifMatch: string | undefined;
    let expires: number | undefined;
    try {
      ifMatch = request.sipIfMatch;
      expires = request.expires;
    } catch {
      return reply(400, {}, 'Bad SIP-If-Match or Expires');
    }
    // RFC 3903 §6 step 3: an entity-tag we do not know (or of another presentity) → 412.
    const existing = ifMatch === undefined ? undefined : this.#publications.get(ifMatch);
    if (ifMatch !== undefined && (existing === undefined || existing.aor !== presentity)) return reply(412);
    const seconds = expires ?? this.#default;
    // RFC 3903 §6 step 4: too short (but not a removal) → 423 with Min-Expires.
    if (seconds > 0 && seconds < this.#min) return reply(423, { 'Min-Expires': String(this.#min) });
    const hasBody = request.body.length > 0;
    if (seconds === 0) {
      if (existing === undefined) return reply(400, {}, 'Expires: 0 needs SIP-If-Match');
      // RFC 3903 §4.5: removal; the state goes at once and the watchers hear of it.
      this.#dropPublication(existing);
      return {
        response: this.#response(request, 200, { Expires: '0' }),
        notifies: this.#changed(presentity, now),
      };
    }
    // RFC 3903 §6 step 5: an initial publication carries a body; a refresh need not.
    if (existing === undefined && !hasBody) return reply(400, {}, 'Initial PUBLISH without a body');
    let presence: Presence | undefined;
    if (hasBody) {
      const type = request.contentType;
      if (type === undefined || `${type.type}/${type.subtype}` !== PIDF_CONTENT_TYPE)
        return reply(415, { Accept: PIDF_CONTENT_TYPE });
      try {
        presence = parsePidf(request.body);
      } catch {
        return reply(400, {}, 'Bad PIDF document');
      }
    }
    const granted = Math.min(seconds, this.#max);
    // RFC 3903 §6 step 7/8: a new entity-tag for every successful publication, returned in SIP-ETag.
    const etag = this.#token(16);
    const expiresAt = now + granted * 1000;
    let publication: Publication;
    if (existing === undefined) {
      if (presence === undefined) return reply(400, {}, 'Initial PUBLISH without a body');
      publication = { etag, aor: presentity, presence, expiresAt, changed: ++this.#changes, flow };
    } else {
      this.#dropPublication(existing);
      publication = existing;
      publication.etag = etag;
      publication.expiresAt = expiresAt;
      publication.flow = flow;
      if (presence !== undefined) {
        publication.presence = presence;
        publication.changed = ++this.#changes;
      }
    }
    this.#publications.set(etag, publication);
    setOf(this.#publicationsOf, presentity).add(etag);
    this.#expiries.push(publication.expiresAt, { kind: 'publication', key: etag });
    const response = this.#response(request, 200, { 'SIP-ETag': etag, Expires: String(granted) });
    return { response, notifies: presence === undefined ? [] : this.#changed(presentity, now) };
  }

  // ---- SUBSCRIBE (RFC 6665 §4.2.1, RFC 3856 §6) -------------------------------------------------------------

  /**
   * A SUBSCRIBE from `watcher` (the authenticated user's URI): for `presentity` (user@domain) when it is out of
   * dialog, a refresh or removal of one of our subscriptions when it has a To tag.
   */
  subscribe(request: SipRequest, watcher: Uri, presentity: string | undefined, now: number): PresenceResult {
    const reply = (status: number, headers: Record<string, string> = {}, reason?: string): PresenceResult =>
      this.#answer(request, status, headers, reason);
    // RFC 6665 §4.2.1.1: a package we do not serve → 489 with the ones we do.
    if (PresenceAgent.eventOf(request) !== PRESENCE_EVENT)
      return reply(489, { 'Allow-Events': PRESENCE_EVENT });
    let expires: number | undefined;
    let contact: NameAddr | undefined;
    try {
      expires = request.expires;
      contact = request.contacts[0];
    } catch {
      return reply(400, {}, 'Bad Expires or Contact');
    }
    const seconds = Math.min(expires ?? this.#default, this.#max);
    // RFC 6665 §4.2.1.1: an interval shorter than we allow (but not 0) → 423 with Min-Expires.
    if (seconds > 0 && seconds < this.#min) return reply(423, { 'Min-Expires': String(this.#min) });
    if (request.toTag !== undefined) return this.#refresh(request, watcher, seconds, contact, now);
    if (presentity === undefined) return reply(404);
    // RFC 3856 §6.7: the body we send is PIDF; a subscriber that accepts none of it gets 406.
    if (!acceptsPidf(request)) return reply(406, { Accept: PIDF_CONTENT_TYPE });
    // RFC 6665 §4.1.1/§8.2.1: the dialog needs the subscriber's Contact.
    if (contact === undefined) return reply(400, {}, 'SUBSCRIBE without Contact');
    // RFC 3856 §6.6: the presentity's policy decides; refused watchers get 403.
    if (this.#authorize(watcher, presentity) !== 'allow') return reply(403);

    const localTag = this.#token(10);
    const from = request.from;
    const to = request.to;
    const subscription: Subscription = {
      id: `s${(++this.#ids).toString(36)}`,
      presentity,
      watcher: `${watcher.user ?? ''}@${watcher.host.toLowerCase()}`,
      callId: request.callId,
      localTag,
      remoteTag: request.fromTag ?? '',
      local: formatNameAddr({ ...to, params: to.params.with('tag', undefined) }),
      remote: formatNameAddr({ ...from, params: from.params.with('tag', undefined) }),
      remoteTarget: contact.uri,
      // RFC 3261 §12.1.1: the UAS's route set is the Record-Route list, in order.
      routeSet: request.headers.getAll('record-route'),
      remoteCSeq: request.cseq.seq,
      localCSeq: 0,
      eventId: request.event?.id,
      expiresAt: now + seconds * 1000,
      state: 'active',
      reason: undefined,
      inFlight: undefined,
      dirty: false,
    };
    const response = this.#response(request, 200, { Expires: String(seconds) }, localTag);
    // RFC 6665 §4.4.3: Expires: 0 is a fetch — the state once, in a terminating NOTIFY.
    if (seconds === 0) {
      transition(subscription, 'terminated');
      subscription.reason = 'timeout';
      return { response, notifies: [this.#build(subscription, now)] };
    }
    this.#subscriptions.set(subscription.id, subscription);
    this.#byDialog.set(dialogKey(subscription.callId, localTag, subscription.remoteTag), subscription.id);
    setOf(this.#watchersOf, presentity).add(subscription.id);
    // What the watchers know now: later NOTIFYs go out when the composed document differs from it.
    if (!this.#composed.has(presentity)) this.#composed.set(presentity, this.compose(presentity));
    this.#expiries.push(subscription.expiresAt, { kind: 'subscription', key: subscription.id });
    // RFC 6665 §4.2.1.2: a NOTIFY with the current state goes at once.
    return { response, notifies: this.#notify(subscription, now) };
  }

  /** RFC 6665 §4.2.1.2/§4.2.1.3: refresh (200 + NOTIFY) or removal (200 + terminated NOTIFY). */
  #refresh(
    request: SipRequest,
    watcher: Uri,
    seconds: number,
    contact: NameAddr | undefined,
    now: number,
  ): PresenceResult {
    const id = this.#byDialog.get(dialogKey(request.callId, request.toTag ?? '', request.fromTag ?? ''));
    const subscription = id === undefined ? undefined : this.#subscriptions.get(id);
    // RFC 6665 §4.2.1.2: no such subscription → 481.
    if (subscription === undefined || subscription.state !== 'active') return this.#answer(request, 481);
    if (`${watcher.user ?? ''}@${watcher.host.toLowerCase()}` !== subscription.watcher)
      return this.#answer(request, 403);
    // RFC 3261 §12.2.2: a CSeq lower than the last one is out of order → 500.
    const cseq = request.cseq.seq;
    if (cseq <= subscription.remoteCSeq)
      return this.#answer(request, 500, { 'Retry-After': '1' }, 'Out of order CSeq');
    subscription.remoteCSeq = cseq;
    // RFC 3261 §12.2.2: a target refresh request may change the remote target.
    if (contact !== undefined) subscription.remoteTarget = contact.uri;
    const response = this.#response(request, 200, { Expires: String(seconds) });
    if (seconds === 0) return { response, notifies: this.#terminate(subscription, 'timeout', now) };
    subscription.expiresAt = now + seconds * 1000;
    this.#expiries.push(subscription.expiresAt, { kind: 'subscription', key: subscription.id });
    return { response, notifies: this.#notify(subscription, now) };
  }

  // ---- NOTIFY outcomes and expiry ---------------------------------------------------------------------------

  /** The final status of a NOTIFY we sent; may release a NOTIFY that waited for it. */
  notifyAnswered(subscriptionId: string, cseq: number, status: number, now: number): PresenceNotify[] {
    const subscription = this.#subscriptions.get(subscriptionId);
    if (subscription === undefined || subscription.inFlight !== cseq || status < 200) return [];
    subscription.inFlight = undefined;
    // RFC 6665 §4.2.2: a 481 (or a timeout: the watcher is gone) removes the subscription, without a NOTIFY.
    if (WATCHER_GONE.has(status)) {
      this.#forget(subscription);
      return [];
    }
    if (!subscription.dirty) return [];
    subscription.dirty = false;
    return this.#notify(subscription, now);
  }

  /** When `expire` next has work (a publication or a subscription runs out); early is harmless. */
  nextDeadline(): number | undefined {
    return this.#expiries.peek()?.at;
  }

  /** Publications and subscriptions whose time is up: the NOTIFYs that follow. */
  /**
   * A browser's connection closed (RFC 5626 §5.3: its flow failed). What it published described a device that is
   * gone: RFC 3903 soft state would keep it until it expires, but the device cannot refresh it any more, and a
   * watcher should not see someone online who closed the tab; so it goes now and the watchers hear of it. A device
   * that only lost its connection for a moment publishes afresh when it is back (its refresh gets 412).
   */
  flowClosed(flow: string, now: number): PresenceNotify[] {
    const changed = new Set<string>();
    for (const publication of [...this.#publications.values()]) {
      if (publication.flow !== flow) continue;
      this.#dropPublication(publication);
      changed.add(publication.aor);
    }
    const notifies: PresenceNotify[] = [];
    for (const aor of changed) notifies.push(...this.#changed(aor, now));
    return notifies;
  }

  expire(now: number): PresenceNotify[] {
    const notifies: PresenceNotify[] = [];
    const changed = new Set<string>();
    for (let top = this.#expiries.peek(); top !== undefined && top.at <= now; top = this.#expiries.peek()) {
      this.#expiries.pop();
      const { kind, key } = top.item;
      if (kind === 'publication') {
        const publication = this.#publications.get(key);
        if (publication === undefined || publication.expiresAt > now) continue;
        // RFC 3903 §4.1: an expired publication is removed from the composition.
        this.#dropPublication(publication);
        changed.add(publication.aor);
        continue;
      }
      const subscription = this.#subscriptions.get(key);
      if (subscription === undefined || subscription.state !== 'active' || subscription.expiresAt > now)
        continue;
      // RFC 6665 §4.2.2: a subscription that runs out ends with a NOTIFY terminated;reason=timeout.
      notifies.push(...this.#terminate(subscription, 'timeout', now));
    }
    for (const aor of changed) notifies.push(...this.#changed(aor, now));
    return notifies;
  }

  // ---- composition (RFC 3903 §4, RFC 4479) ------------------------------------------------------------------

  /** The presentity's composed PIDF document. */
  compose(presentity: string): string {
    const entity = `sip:${presentity}`;
    const publications = [...(this.#publicationsOf.get(presentity) ?? [])]
      .map((etag) => this.#publications.get(etag))
      .filter((p): p is Publication => p !== undefined)
      .sort((a, b) => a.changed - b.changed);
    // RFC 3856 §6.8 / the contract: nothing published → one closed tuple (offline).
    if (publications.length === 0) return buildPidf({ entity, basic: 'closed', tupleId: 'offline' });
    const tuples: PresenceTuple[] = [];
    const ids = new Set<string>();
    for (const p of publications)
      for (const tuple of p.presence.tuples) {
        // RFC 3863 §4.1.4: tuple ids are unique within a document.
        let id = tuple.id;
        for (let n = 2; ids.has(id); n++) id = `${tuple.id}-${n}`;
        ids.add(id);
        tuples.push({ ...tuple, id });
      }
    const person = [...publications]
      .reverse()
      .find((p) => p.presence.activities.length > 0 || p.presence.note !== undefined)?.presence;
    const notes = new Map<string, PresenceNote>();
    for (const note of publications.flatMap((p) => p.presence.notes))
      if (!notes.has(note.text)) notes.set(note.text, note);
    return buildPidf({
      entity,
      tuples,
      notes: [...notes.values()],
      activities: person?.activities ?? [],
      note: person?.note,
    });
  }

  // ---- internals --------------------------------------------------------------------------------------------

  /** The presentity's state may have changed: a NOTIFY to each watcher when the composed document did. */
  #changed(presentity: string, now: number): PresenceNotify[] {
    const watchers = this.#watchersOf.get(presentity);
    if (watchers === undefined || watchers.size === 0) return [];
    const document = this.compose(presentity);
    if (this.#composed.get(presentity) === document) return [];
    this.#composed.set(presentity, document);
    const notifies: PresenceNotify[] = [];
    for (const id of watchers) {
      const subscription = this.#subscriptions.get(id);
      if (subscription !== undefined) notifies.push(...this.#notify(subscription, now));
    }
    return notifies;
  }

  #terminate(subscription: Subscription, reason: TerminationReason, now: number): PresenceNotify[] {
    transition(subscription, 'terminated');
    subscription.reason = reason;
    this.#unlink(subscription);
    return this.#notify(subscription, now);
  }

  /** A NOTIFY now, or after the one in flight is answered. A terminating one ends the subscription. */
  #notify(subscription: Subscription, now: number): PresenceNotify[] {
    if (subscription.inFlight !== undefined) {
      subscription.dirty = true;
      return [];
    }
    const notify = this.#build(subscription, now);
    if (notify.final) this.#forget(subscription);
    else subscription.inFlight = notify.cseq;
    return [notify];
  }

  /** RFC 6665 §4.2.2 and §8.2.3 / RFC 3856 §6.8: the NOTIFY request on the subscription's dialog. */
  #build(subscription: Subscription, now: number): PresenceNotify {
    const cseq = ++subscription.localCSeq;
    const remaining = Math.max(0, Math.round((subscription.expiresAt - now) / 1000));
    const state =
      subscription.state === 'active'
        ? `active;expires=${remaining}`
        : `terminated;reason=${subscription.reason ?? 'timeout'}`;
    const event =
      subscription.eventId === undefined ? PRESENCE_EVENT : `${PRESENCE_EVENT};id=${subscription.eventId}`;
    const headers: [string, string][] = [
      ...subscription.routeSet.map((r): [string, string] => ['Route', r]),
      ['Max-Forwards', '70'],
      ['From', `${subscription.local};tag=${subscription.localTag}`],
      ['To', `${subscription.remote};tag=${subscription.remoteTag}`],
      ['Call-ID', subscription.callId],
      ['CSeq', `${cseq} NOTIFY`],
      ['Contact', `<${this.#o.contact}>`],
      ['Event', event],
      ['Subscription-State', state],
      ['Content-Type', PIDF_CONTENT_TYPE],
    ];
    const request = new SipRequest(
      'NOTIFY',
      subscription.remoteTarget,
      headers,
      this.compose(subscription.presentity),
    );
    return {
      subscriptionId: subscription.id,
      cseq,
      watcher: subscription.watcher,
      final: subscription.state === 'terminated',
      request,
    };
  }

  #dropPublication(publication: Publication): void {
    this.#publications.delete(publication.etag);
    const set = this.#publicationsOf.get(publication.aor);
    set?.delete(publication.etag);
    if (set?.size === 0) this.#publicationsOf.delete(publication.aor);
  }

  /** No more NOTIFYs for the presentity's changes (the terminating one may still be on its way). */
  #unlink(subscription: Subscription): void {
    const set = this.#watchersOf.get(subscription.presentity);
    set?.delete(subscription.id);
    if (set?.size === 0) {
      this.#watchersOf.delete(subscription.presentity);
      this.#composed.delete(subscription.presentity);
    }
  }

  #forget(subscription: Subscription): void {
    this.#unlink(subscription);
    this.#subscriptions.delete(subscription.id);
    this.#byDialog.delete(dialogKey(subscription.callId, subscription.localTag, subscription.remoteTag));
  }

  #answer(
    request: SipRequest,
    status: number,
    headers: Record<string, string> = {},
    reason?: string,
  ): PresenceResult {
    return { response: this.#response(request, status, headers, undefined, reason), notifies: [] };
  }

  #response(
    request: SipRequest,
    status: number,
    headers: Record<string, string | string[]>,
    toTag?: string,
    reason?: string,
  ): SipResponse {
    const options: Parameters<typeof createResponse>[2] = { headers };
    // RFC 3261 §8.2.6.2: a To tag on a final response to an out-of-dialog request.
    if (request.toTag === undefined) options.toTag = toTag ?? this.#token(10);
    if (reason !== undefined) options.reason = reason;
    if (status === 200 && request.method === 'SUBSCRIBE') {
      headers.Contact = `<${this.#o.contact}>`;
      // RFC 3261 §12.1.1: the UAS copies Record-Route into the response that creates the dialog.
      const recordRoute = request.headers.getAll('record-route');
      if (request.toTag === undefined && recordRoute.length > 0)
        options.headers = { ...headers, 'Record-Route': recordRoute };
    }
    return createResponse(request, status, options);
  }

  #token(length: number): string {
    let token = '';
    for (let i = 0; i < length; i++)
      token += TAG_ALPHABET.charAt(Math.floor(this.#o.random() * TAG_ALPHABET.length));
    return token;
  }
}

function transition(subscription: Subscription, to: SubscriptionState): void {
  if (!TRANSITIONS[subscription.state].includes(to))
    throw new InvalidStateError(`presence subscription: ${subscription.state} → ${to}`);
  subscription.state = to;
}

function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\n${localTag}\n${remoteTag}`;
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  return set;
}

/** RFC 3261 §20.1: no Accept means the package's default (PIDF, RFC 3856 §6.7); else it must be listed. */
function acceptsPidf(request: SipRequest): boolean {
  let accept;
  try {
    accept = request.accept;
  } catch {
    return true;
  }
  if (accept.length === 0) return true;
  return accept.some(
    (m) => (m.type === '*' || m.type === 'application') && (m.subtype === '*' || m.subtype === 'pidf+xml'),
  );
}
