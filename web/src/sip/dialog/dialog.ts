/**
 * A SIP dialog (RFC 3261 §12): the peer-to-peer state two user agents keep between a dialog-creating request
 * and its end, plus the counters RFC 3262 (reliable provisional responses) and RFC 6665 (a NOTIFY that arrives
 * before the SUBSCRIBE's 2xx) need from it.
 *
 *            1xx with a To tag to an INVITE           2xx to the dialog-creating request
 *   ───────────────────────────────────▶ Early ──────────────────────────────────────▶ Confirmed
 *                                          │                                               │
 *   2xx (INVITE, SUBSCRIBE, REFER),        │ non-2xx final to the INVITE,                  │ BYE received,
 *   or the first NOTIFY of a subscription  │ 481/408, BYE, terminate()                     │ final response to
 *   ──────────────────────────────────────────────────────────────────────────▶ Confirmed  │ our BYE, 481/408,
 *                                          ▼                                               ▼ terminate()
 *                                     Terminated ◀─────────────────────────────────── Terminated
 *
 * How it works. A dialog is made from the messages that create it: as UAS from the request and the response we
 * send (§12.1.1), as UAC from the request we sent and a response with a To tag (§12.1.2), or as a subscriber
 * from our SUBSCRIBE and the notifier's NOTIFY (RFC 6665 §4.1.2.4). It then sees every later message of the
 * dialog through four calls, each returning what happened rather than throwing at a peer's mistake:
 *  - `createRequest` / `createAck` / `createPrack` build the requests we send (From/To with the tags, Call-ID,
 *    CSeq, Request-URI and Route per §12.2.1.1, Max-Forwards, and Contact on target refresh requests);
 *  - `receiveRequest` checks a request the peer sent (dialog id, CSeq order, §12.2.2) and says accept or which
 *    status to reject it with;
 *  - `receiveResponse` reads a response to one of our requests (confirmation, target refresh, termination,
 *    RFC 3262 ordering of reliable provisionals);
 *  - `sendResponse` tells the UAS side that it answers the dialog-creating request (2xx confirms, non-2xx ends).
 *
 * What the caller does. The dialog adds no Via (the transaction layer owns Via and its branch) and sends
 * nothing: the caller hands built requests to a client transaction and passes responses back in. A timed-out
 * client transaction counts as a 408 (§12.2.1.2): build one with `createResponse(request, 408)` and pass it to
 * `receiveResponse`. Usages sharing one dialog (RFC 5057) are not modelled: a BYE ends the whole dialog.
 */
import { InvalidStateError, ParseError } from '../errors.ts';
import {
  SipRequest,
  isToken,
  normalizeName,
  quote,
  type SipBody,
  type SipMessage,
  type SipResponse,
  type Uri,
} from '../message/index.ts';
import { dialogKey, sameDialogId, uacDialogId, uasDialogId, type DialogId } from './dialog-id.ts';
import { formatRoute, requestTarget, routeSetFrom, type RequestTarget, type RouteSet } from './route-set.ts';

export type DialogState = 'Early' | 'Confirmed' | 'Terminated';

/** Which side of the dialog-creating request we were on. */
export type DialogRole = 'uac' | 'uas';

/** The one table of legal moves; `transition()` refuses anything else. */
const TRANSITIONS: Readonly<Record<DialogState, readonly DialogState[]>> = {
  Early: ['Confirmed', 'Terminated'],
  Confirmed: ['Terminated'],
  Terminated: [],
};

/**
 * Requests whose Contact replaces the remote target, and whose 2xx's Contact does too: INVITE (RFC 3261 §12.2),
 * UPDATE (RFC 3311 §5.1), SUBSCRIBE and NOTIFY (RFC 6665 §4.1.2.1, §4.2.2).
 */
export const TARGET_REFRESH_METHODS: ReadonlySet<string> = new Set([
  'INVITE',
  'UPDATE',
  'SUBSCRIBE',
  'NOTIFY',
]);

/** RFC 3261 §8.1.1.5: a CSeq number is below 2**31. */
const MAX_CSEQ = 2 ** 31 - 1;
/** RFC 3262 §7.1: RSeq is a 32-bit number, 1 or more. */
const MAX_RSEQ = 2 ** 32 - 1;
/** Headers that carry the dialog's own state; a caller may not set them on an in-dialog request. */
const DIALOG_OWNED = new Set(['from', 'to', 'call-id', 'cseq', 'route']);

export interface DialogOptions {
  /** Uniform in [0, 1): picks the first local CSeq of a UAS (§8.1.1.5) and the first RSeq (RFC 3262 §3). */
  random: () => number;
  /**
   * Whether the dialog-creating request travelled over TLS (or WSS). §12.1.1/§12.1.2 set the secure flag when
   * it did AND its Request-URI is sips. Defaults to true: a sips Request-URI is only ever sent over TLS.
   */
  secureTransport?: boolean;
}

export interface DialogRequestOptions {
  /** Extra headers (Content-Type, Event, Authorization …); Max-Forwards and Contact may be overridden. */
  headers?: Record<string, string | readonly string[]>;
  body?: SipBody | string;
}

/** What to do with a request the peer sent within the dialog. */
export type DialogRequestResult =
  | {
      type: 'accept';
      /** the request's Contact was written into the remote target (§12.2.2), possibly the same URI again */
      targetRefreshed: boolean;
      /** the request was a BYE: the dialog is over (§15.1.2); answer it 200 all the same */
      terminated: boolean;
    }
  | {
      type: 'reject';
      /** 400 malformed dialog fields, 481 not this dialog (§12.2.2), 500 CSeq out of order (§12.2.2) */
      status: 400 | 481 | 500;
      reason: string;
    };

/** RFC 3262 §4: how a reliable provisional response stands against the ones already received. */
export type ReliableProvisional = 'in-order' | 'retransmission' | 'out-of-order';

/** What a response to one of our in-dialog requests did to the dialog. */
export type DialogResponseResult =
  | {
      type: 'provisional';
      /** for a reliable 1xx (RFC 3262): only 'in-order' is PRACKed and processed; undefined for unreliable ones */
      reliable: ReliableProvisional | undefined;
      targetRefreshed: boolean;
    }
  | {
      type: 'final';
      status: number;
      /** this 2xx moved the dialog from Early to Confirmed (§13.2.2.4) */
      confirmed: boolean;
      /** this response ended the dialog (481/408, the answer to our BYE, a non-2xx to the INVITE) */
      terminated: boolean;
      /** the response's Contact was written into the remote target (possibly the same URI again) */
      targetRefreshed: boolean;
    }
  | { type: 'ignored'; reason: string };

/** Plain data for stores and logs (STYLE.md: protocol objects never enter reactive state). */
export interface DialogSnapshot {
  key: string;
  callId: string;
  localTag: string;
  remoteTag: string;
  role: DialogRole;
  state: DialogState;
  localSeq: number | undefined;
  remoteSeq: number | undefined;
  localUri: string;
  remoteUri: string;
  remoteTarget: string;
  routeSet: string[];
  secure: boolean;
}

/**
 * Would this response create a dialog, and in which state? RFC 3261 §12.1: a 101–199 with a To tag to an
 * INVITE makes an early dialog and a 2xx with a To tag a confirmed one; RFC 6665 §4.1.2.1 and RFC 3515 §2.4.4
 * add the 2xx to SUBSCRIBE and REFER. Undefined otherwise, and for a response whose To or CSeq is malformed.
 */
export function createsDialog(response: SipResponse): 'Early' | 'Confirmed' | undefined {
  try {
    const tag = response.toTag;
    if (tag === undefined || tag === '') return undefined;
    const method = response.cseq.method;
    const status = response.status;
    const success = status >= 200 && status < 300;
    if (method === 'INVITE')
      return status > 100 && status < 200 ? 'Early' : success ? 'Confirmed' : undefined;
    if (method === 'SUBSCRIBE' || method === 'REFER') return success ? 'Confirmed' : undefined;
    return undefined;
  } catch (e) {
    if (e instanceof ParseError) return undefined;
    throw e;
  }
}

/**
 * Why this message cannot serve to build a dialog, or undefined when it can: the fields a dialog reads (From,
 * To, Call-ID, CSeq, Record-Route, Contact) must parse, and a request or a 2xx must carry a SIP or SIPS
 * Contact, the remote target (§12.1.1, §12.1.2; a 1xx may lack one). A UAS answers a request that fails this
 * check with 400 instead of making a dialog; the factories below throw TypeError for such input.
 */
export function checkDialogFields(msg: SipMessage): string | undefined {
  try {
    // Each getter parses its header and throws ParseError when the value is malformed.
    for (const read of [
      () => msg.from,
      () => msg.to,
      () => msg.callId,
      () => msg.cseq,
      () => msg.recordRoute,
    ])
      read();
    const contact = msg.contacts[0];
    const needsContact = msg.kind === 'request' || (msg.status >= 200 && msg.status < 300);
    if (contact === undefined) return needsContact ? 'no Contact to use as the remote target' : undefined;
    if (!contact.uri.isSip) return `Contact ${contact.uri.toString()} is not a SIP or SIPS URI`;
    return undefined;
  } catch (e) {
    if (e instanceof ParseError) return e.reason;
    throw e;
  }
}

/** The parts of a dialog that its factories compute. */
interface DialogInit {
  id: DialogId;
  role: DialogRole;
  state: 'Early' | 'Confirmed';
  localSeq: number | undefined;
  remoteSeq: number | undefined;
  localUri: Uri;
  localName: string | undefined;
  remoteUri: Uri;
  remoteName: string | undefined;
  remoteTarget: Uri;
  localTarget: Uri | undefined;
  routeSet: Uri[];
  secure: boolean;
  /** CSeq number and method of the dialog-creating request */
  initial: { seq: number; method: string };
  options: DialogOptions;
}

export class Dialog {
  readonly id: DialogId;
  /** `dialogKey(id)`: the key a user agent files its dialogs under */
  readonly key: string;
  readonly role: DialogRole;
  /** RFC 3261 §12.1.1/§12.1.2: the dialog was made over TLS with a sips Request-URI */
  readonly secure: boolean;
  /** the URI of our From (UAC) or To (UAS) in the dialog-creating request */
  readonly localUri: Uri;
  readonly remoteUri: Uri;

  #state: DialogState;
  #localSeq: number | undefined;
  #remoteSeq: number | undefined;
  #remoteTarget: Uri;
  #localTarget: Uri | undefined;
  #routeSet: Uri[];
  readonly #localName: string | undefined;
  readonly #remoteName: string | undefined;
  readonly #initial: { seq: number; method: string };
  readonly #random: () => number;
  #localRSeq: number | undefined;
  #remoteRSeq: { cseq: number; rseq: number } | undefined;

  private constructor(init: DialogInit) {
    this.id = init.id;
    this.key = dialogKey(init.id);
    this.role = init.role;
    this.secure = init.secure;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.#state = init.state;
    this.#localSeq = init.localSeq;
    this.#remoteSeq = init.remoteSeq;
    this.#remoteTarget = init.remoteTarget;
    this.#localTarget = init.localTarget;
    this.#routeSet = init.routeSet;
    this.#localName = init.localName;
    this.#remoteName = init.remoteName;
    this.#initial = init.initial;
    this.#random = init.options.random;
  }

  // ---- creation -------------------------------------------------------------------------------------------

  /**
   * The UAS side (§12.1.1): from the dialog-creating request we received and the 1xx/2xx with a To tag we send
   * for it. Throws TypeError when the response does not create a dialog for this request, or when the request
   * fails `checkDialogFields` (answer it 400 instead).
   */
  static uas(request: SipRequest, response: SipResponse, options: DialogOptions): Dialog {
    const state = createsDialog(response);
    if (state === undefined)
      throw new TypeError(`a ${response.status} to ${request.method} creates no dialog`);
    const problem = checkDialogFields(request);
    if (problem !== undefined) throw new TypeError(`cannot make a dialog from this request: ${problem}`);
    if (request.toTag !== undefined)
      throw new TypeError('the request is already within a dialog (To has a tag)');
    if (!sameTransaction(request, response)) throw new TypeError('the response does not answer this request');
    const id = uasDialogId(request, response.toTag);
    const contact = request.contacts[0];
    if (id === undefined || contact === undefined) throw new TypeError('unreachable: checked above');
    const cseq = request.cseq;
    return new Dialog({
      id,
      role: 'uas',
      state,
      // RFC 3261 §12.1.1: the remote sequence number is the request's CSeq; the local one starts empty.
      localSeq: undefined,
      remoteSeq: cseq.seq,
      // RFC 3261 §12.1.1: the remote URI is the From URI, the local URI the To URI.
      localUri: request.to.uri,
      localName: request.to.displayName,
      remoteUri: request.from.uri,
      remoteName: request.from.displayName,
      // RFC 3261 §12.1.1: the remote target is the request's Contact; the route set its Record-Route in order.
      remoteTarget: contact.uri,
      localTarget: response.contacts[0]?.uri,
      routeSet: routeSetFrom(request, 'uas'),
      // RFC 3261 §12.1.1: secure when the request came over TLS with a sips Request-URI.
      secure: request.uri.scheme === 'sips' && options.secureTransport !== false,
      initial: { seq: cseq.seq, method: request.method },
      options,
    });
  }

  /**
   * The UAC side (§12.1.2): from the dialog-creating request we sent and a response with a To tag (a 1xx to an
   * INVITE makes an early dialog). Throws TypeError when the response does not create a dialog for this
   * request or fails `checkDialogFields`. A 1xx without Contact leaves the Request-URI as the remote target
   * until a response brings one.
   */
  static uac(request: SipRequest, response: SipResponse, options: DialogOptions): Dialog {
    const state = createsDialog(response);
    if (state === undefined)
      throw new TypeError(`a ${response.status} to ${request.method} creates no dialog`);
    const problem = checkDialogFields(response);
    if (problem !== undefined) throw new TypeError(`cannot make a dialog from this response: ${problem}`);
    if (!sameTransaction(request, response)) throw new TypeError('the response does not answer this request');
    const id = uacDialogId(response);
    if (id === undefined || request.fromTag === undefined) throw new TypeError('our request has no From tag');
    const cseq = request.cseq;
    const dialog = new Dialog({
      id,
      role: 'uac',
      state,
      // RFC 3261 §12.1.2: the local sequence number is the request's CSeq; the remote one starts empty.
      localSeq: cseq.seq,
      remoteSeq: undefined,
      // RFC 3261 §12.1.2: the remote URI is the To URI of the request, the local URI its From URI.
      localUri: request.from.uri,
      localName: request.from.displayName,
      remoteUri: request.to.uri,
      remoteName: request.to.displayName,
      // RFC 3261 §12.1.2: the remote target is the response's Contact; the route set its Record-Route reversed.
      remoteTarget: response.contacts[0]?.uri ?? request.uri,
      localTarget: request.contacts[0]?.uri,
      routeSet: routeSetFrom(response, 'uac'),
      // RFC 3261 §12.1.2: secure when the request went over TLS with a sips Request-URI.
      secure: request.uri.scheme === 'sips' && options.secureTransport !== false,
      initial: { seq: cseq.seq, method: request.method },
      options,
    });
    const rseq = reliableRSeq(response);
    // RFC 3262 §4: the first reliable provisional response sets the sequence the next ones must follow.
    if (rseq !== undefined) dialog.#remoteRSeq = { cseq: cseq.seq, rseq };
    return dialog;
  }

  /**
   * The subscriber side when a NOTIFY arrives before the 2xx to our SUBSCRIBE or REFER (RFC 6665 §4.1.2.4):
   * the NOTIFY creates the dialog, confirmed. Pass the NOTIFY to nothing else: its CSeq is already the remote
   * sequence number. Matching the NOTIFY to the subscription (Event, id) is the caller's business.
   * Throws TypeError when the NOTIFY does not belong to this request or fails `checkDialogFields`.
   */
  static subscriber(subscribe: SipRequest, notify: SipRequest, options: DialogOptions): Dialog {
    if (subscribe.method !== 'SUBSCRIBE' && subscribe.method !== 'REFER')
      throw new TypeError(`a NOTIFY cannot create a dialog for ${subscribe.method}`);
    if (notify.method !== 'NOTIFY') throw new TypeError(`expected a NOTIFY, got ${notify.method}`);
    const problem = checkDialogFields(notify);
    if (problem !== undefined) throw new TypeError(`cannot make a dialog from this NOTIFY: ${problem}`);
    const localTag = subscribe.fromTag;
    const remoteTag = notify.fromTag;
    const contact = notify.contacts[0];
    if (localTag === undefined) throw new TypeError('our request has no From tag');
    if (notify.toTag !== localTag || notify.callId !== subscribe.callId)
      throw new TypeError('the NOTIFY does not belong to this subscription (Call-ID or To tag differ)');
    if (remoteTag === undefined || remoteTag === '') throw new TypeError('the NOTIFY has no From tag');
    if (contact === undefined) throw new TypeError('unreachable: checked above');
    return new Dialog({
      id: { callId: subscribe.callId, localTag, remoteTag },
      role: 'uac',
      state: 'Confirmed',
      localSeq: subscribe.cseq.seq,
      remoteSeq: notify.cseq.seq,
      localUri: subscribe.from.uri,
      localName: subscribe.from.displayName,
      remoteUri: subscribe.to.uri,
      remoteName: subscribe.to.displayName,
      remoteTarget: contact.uri,
      localTarget: subscribe.contacts[0]?.uri,
      // The NOTIFY is a request we receive: its Record-Route is taken in order, as at a UAS (§12.1.1).
      routeSet: routeSetFrom(notify, 'uas'),
      secure: subscribe.uri.scheme === 'sips' && options.secureTransport !== false,
      initial: { seq: subscribe.cseq.seq, method: subscribe.method },
      options,
    });
  }

  // ---- state ----------------------------------------------------------------------------------------------

  get state(): DialogState {
    return this.#state;
  }
  /** CSeq of the last request we sent in the dialog; undefined until a UAS sends its first (§12.1.1) */
  get localSeq(): number | undefined {
    return this.#localSeq;
  }
  /** CSeq of the last request the peer sent; undefined until a UAC receives its first (§12.1.2) */
  get remoteSeq(): number | undefined {
    return this.#remoteSeq;
  }
  /** where our requests go: the peer's Contact, refreshed by target refresh requests (§12.2) */
  get remoteTarget(): Uri {
    return this.#remoteTarget;
  }
  /** our Contact, put on the target refresh requests we send (§12.2.1.1) */
  get localTarget(): Uri | undefined {
    return this.#localTarget;
  }
  /** fixed once the dialog is confirmed (§12.2); an early dialog's is recomputed from the 2xx (§13.2.2.4) */
  get routeSet(): RouteSet {
    return this.#routeSet;
  }
  /** RFC 3262 §4: RSeq of the last in-order reliable provisional response received, for its request */
  get remoteRSeq(): number | undefined {
    return this.#remoteRSeq?.rseq;
  }
  /** RFC 3262 §3: RSeq of the last reliable provisional response we sent (undefined before the first) */
  get localRSeq(): number | undefined {
    return this.#localRSeq;
  }
  /** Request-URI, Route and next hop of the next request we send (§12.2.1.1) */
  get target(): RequestTarget {
    return requestTarget(this.#routeSet, this.#remoteTarget);
  }

  /** Change the Contact our target refresh requests carry (a new flow, a new GRUU). */
  setLocalTarget(uri: Uri): void {
    if (this.#state === 'Terminated') throw new InvalidStateError(`dialog ${this.key} is terminated`);
    this.#localTarget = uri;
  }

  /**
   * End the dialog: the user agent decided so (a session or subscription ended, a 199 from RFC 6228, the INVITE
   * transaction ended without a final response for this early dialog). Idempotent.
   */
  terminate(): void {
    if (this.#state !== 'Terminated') this.#transition('Terminated');
  }

  snapshot(): DialogSnapshot {
    return {
      key: this.key,
      callId: this.id.callId,
      localTag: this.id.localTag,
      remoteTag: this.id.remoteTag,
      role: this.role,
      state: this.#state,
      localSeq: this.#localSeq,
      remoteSeq: this.#remoteSeq,
      localUri: this.localUri.toString(),
      remoteUri: this.remoteUri.toString(),
      remoteTarget: this.#remoteTarget.toString(),
      routeSet: this.#routeSet.map((u) => u.toString()),
      secure: this.secure,
    };
  }

  // ---- requests we send -----------------------------------------------------------------------------------

  /**
   * A new request within the dialog (§12.2.1.1): Request-URI and Route from the route set and remote target,
   * To with the remote tag, From with the local tag, the dialog's Call-ID, the next local CSeq, Max-Forwards 70,
   * and Contact (our local target) on a target refresh request unless `headers` brings one. No Via: the client
   * transaction adds it. Throws InvalidStateError on a terminated dialog, TypeError for ACK/CANCEL (see
   * `createAck`; a CANCEL is built from the request it cancels, §9.1) or for headers the dialog owns.
   */
  createRequest(method: string, options: DialogRequestOptions = {}): SipRequest {
    if (this.#state === 'Terminated') throw new InvalidStateError(`dialog ${this.key} is terminated`);
    // RFC 3261 §15: the callee must not send a BYE on an early dialog (it answers the INVITE instead).
    if (method === 'BYE' && this.#state === 'Early' && this.role === 'uas')
      throw new InvalidStateError('the callee cannot send BYE on an early dialog: answer the INVITE instead');
    if (!isToken(method)) throw new TypeError(`bad method "${method}"`);
    if (method === 'ACK') throw new TypeError('build the ACK of a 2xx with createAck()');
    if (method === 'CANCEL') throw new TypeError('a CANCEL is built from the request it cancels (§9.1)');
    checkHeaders(options.headers);
    // RFC 3261 §12.2.1.1: one more than the last local CSeq; a UAS's first request starts it (§8.1.1.5).
    const seq = this.#localSeq === undefined ? randomInt(this.#random, 1, 2 ** 30) : this.#localSeq + 1;
    if (seq > MAX_CSEQ) throw new InvalidStateError(`dialog ${this.key} has used up its CSeq numbers`);
    this.#localSeq = seq;
    return this.#build(method, seq, TARGET_REFRESH_METHODS.has(method), options);
  }

  /**
   * The ACK for a 2xx to an INVITE of this dialog (§13.2.2.4): built like any in-dialog request, with the CSeq
   * number of the INVITE and the method ACK; the local CSeq does not move. Pass the 2xx to `receiveResponse`
   * first (it may update the remote target and route set the ACK follows). Credentials the INVITE carried go
   * in `headers`, an answer to an offer in the 2xx in `body`. Allowed on a terminated dialog: a retransmitted
   * 2xx must be ACKed again.
   */
  createAck(response: SipResponse, options: DialogRequestOptions = {}): SipRequest {
    if (this.#state === 'Early')
      throw new InvalidStateError('pass the 2xx to receiveResponse() before ACKing it');
    if (response.status < 200 || response.status >= 300)
      throw new TypeError('only a 2xx is ACKed by the UAC core');
    const cseq = response.cseq;
    if (cseq.method !== 'INVITE') throw new TypeError(`a 2xx to ${cseq.method} is not ACKed`);
    if (!this.#isOurs(response)) throw new TypeError('the 2xx belongs to another dialog');
    checkHeaders(options.headers);
    return this.#build('ACK', cseq.seq, false, options);
  }

  /**
   * The PRACK for a reliable provisional response of this dialog (RFC 3262 §7.1): a new in-dialog request whose
   * RAck names the response's RSeq and CSeq. Only PRACK what `receiveResponse` called 'in-order'.
   */
  createPrack(response: SipResponse, options: DialogRequestOptions = {}): SipRequest {
    const rseq = reliableRSeq(response);
    if (rseq === undefined)
      throw new TypeError('not a reliable provisional response (no Require: 100rel + RSeq)');
    if (!this.#isOurs(response)) throw new TypeError('the response belongs to another dialog');
    const cseq = response.cseq;
    const headers = { ...options.headers, RAck: `${String(rseq)} ${String(cseq.seq)} ${cseq.method}` };
    return this.createRequest('PRACK', { ...options, headers });
  }

  /**
   * The RSeq for the next reliable provisional response we send (RFC 3262 §3): a random start between 1 and
   * 2**31-1, then one more each time.
   */
  nextRSeq(): number {
    if (this.#state === 'Terminated') throw new InvalidStateError(`dialog ${this.key} is terminated`);
    const next = this.#localRSeq === undefined ? randomInt(this.#random, 1, MAX_CSEQ) : this.#localRSeq + 1;
    if (next > MAX_RSEQ) throw new InvalidStateError(`dialog ${this.key} has used up its RSeq numbers`);
    this.#localRSeq = next;
    return next;
  }

  #build(method: string, seq: number, withContact: boolean, options: DialogRequestOptions): SipRequest {
    const target = requestTarget(this.#routeSet, this.#remoteTarget);
    const request = new SipRequest(method, target.requestUri, undefined, options.body);
    const h = request.headers;
    // RFC 3261 §8.1.1.6: Max-Forwards starts at 70.
    h.append('Max-Forwards', '70');
    for (const route of target.route) h.append('Route', formatRoute(route));
    // RFC 3261 §12.2.1.1: To carries the remote URI and tag, From the local URI and tag, Call-ID the dialog's.
    h.append('From', formatAddress(this.#localName, this.localUri, this.id.localTag));
    h.append('To', formatAddress(this.#remoteName, this.remoteUri, this.id.remoteTag));
    h.append('Call-ID', this.id.callId);
    h.append('CSeq', `${String(seq)} ${method}`);
    // RFC 3261 §12.2.1.1: a target refresh request carries our Contact, the same one unless it must change.
    const ownContact = options.headers !== undefined && hasHeader(options.headers, 'contact');
    if (withContact && !ownContact && this.#localTarget !== undefined)
      h.append('Contact', `<${this.#localTarget.toString()}>`);
    for (const [name, value] of Object.entries(options.headers ?? {})) h.set(name, value);
    return request;
  }

  // ---- requests the peer sends ----------------------------------------------------------------------------

  /**
   * Check a request the peer sent within the dialog (§12.2.2) and apply it: remember its CSeq, refresh the
   * remote target from a target refresh request's Contact, end the dialog on BYE. Never throws at the peer's
   * mistakes: the result names the status to answer with (400, 481, 500).
   */
  receiveRequest(request: SipRequest): DialogRequestResult {
    let id: DialogId | undefined;
    let seq: number;
    let contact: Uri | undefined;
    const method = request.method;
    try {
      id = uasDialogId(request);
      seq = request.cseq.seq;
      contact = TARGET_REFRESH_METHODS.has(method) ? request.contacts[0]?.uri : undefined;
    } catch (e) {
      if (e instanceof ParseError) return { type: 'reject', status: 400, reason: e.reason };
      throw e;
    }
    // RFC 3261 §12.2.2: a request whose tags match no dialog of ours is answered 481.
    if (this.#state === 'Terminated' || id === undefined || !sameDialogId(id, this.id))
      return { type: 'reject', status: 481, reason: 'Call/Transaction Does Not Exist' };
    // RFC 3261 §12.2.2, §13.2.2.4: ACK and CANCEL carry the CSeq of the request they belong to, so they take no
    // part in the ordering (an ACK may well follow a request with a higher number).
    if (method === 'ACK' || method === 'CANCEL')
      return { type: 'accept', targetRefreshed: false, terminated: false };
    // RFC 3261 §12.2.2: a CSeq lower than the remote sequence number is out of order: 500.
    if (this.#remoteSeq !== undefined && seq < this.#remoteSeq)
      return { type: 'reject', status: 500, reason: 'CSeq Out of Order' };
    // RFC 3261 §12.2.2: otherwise the remote sequence number takes the request's CSeq (set it if empty).
    this.#remoteSeq = seq;
    // RFC 3261 §12.2.2: a target refresh request's Contact, if present, replaces the remote target.
    const newTarget = contact?.isSip === true ? contact : undefined;
    if (newTarget !== undefined) this.#remoteTarget = newTarget;
    const targetRefreshed = newTarget !== undefined;
    // RFC 3261 §15.1.2: a BYE ends the dialog; the UAS still answers it (and any request pending) normally.
    if (method === 'BYE') {
      this.#transition('Terminated');
      return { type: 'accept', targetRefreshed, terminated: true };
    }
    return { type: 'accept', targetRefreshed, terminated: false };
  }

  /**
   * Tell the dialog about a response we send to a request within it. Only the answer to the dialog-creating
   * request matters: a 2xx confirms an early dialog, a non-2xx final ends it (§12.3). A no-op on a terminated
   * dialog (the 200 to a BYE). Throws TypeError for a response of another dialog.
   */
  sendResponse(response: SipResponse): void {
    if (this.#state === 'Terminated') return;
    const id = uasDialogId(response);
    if (id === undefined || !sameDialogId(id, this.id))
      throw new TypeError('the response belongs to another dialog');
    const cseq = response.cseq;
    const initial =
      this.role === 'uas' && cseq.seq === this.#initial.seq && cseq.method === this.#initial.method;
    if (!initial || this.#state !== 'Early' || response.status < 200) return;
    // RFC 3261 §12.1.1: the UAS's 2xx to the INVITE confirms the dialog; §12.3: a non-2xx final ends it.
    this.#transition(response.status < 300 ? 'Confirmed' : 'Terminated');
  }

  // ---- responses to our requests --------------------------------------------------------------------------

  /**
   * A response to a request we sent within the dialog, or to the dialog-creating request (§12.2.1.2,
   * §13.2.2.4, RFC 3262 §4). Never throws at the peer's mistakes: what does not fit is 'ignored'.
   */
  receiveResponse(response: SipResponse): DialogResponseResult {
    if (this.#state === 'Terminated') return { type: 'ignored', reason: 'the dialog is terminated' };
    let id: DialogId | undefined;
    let cseq: { seq: number; method: string };
    let contact: Uri | undefined;
    let rseq: number | undefined;
    try {
      id = uacDialogId(response);
      cseq = response.cseq;
      contact = response.contacts[0]?.uri;
      rseq = reliableRSeq(response);
    } catch (e) {
      if (e instanceof ParseError) return { type: 'ignored', reason: `malformed response: ${e.reason}` };
      throw e;
    }
    if (id === undefined || !sameDialogId(id, this.id))
      return { type: 'ignored', reason: 'the response belongs to another dialog' };
    if (this.#localSeq === undefined || cseq.seq > this.#localSeq)
      return { type: 'ignored', reason: 'no request of ours has that CSeq' };
    const status = response.status;
    const initial =
      this.role === 'uac' && cseq.seq === this.#initial.seq && cseq.method === this.#initial.method;
    const newTarget = contact?.isSip === true ? contact : undefined;

    if (status < 200) {
      let reliable: ReliableProvisional | undefined;
      if (rseq !== undefined) {
        reliable = this.#orderReliable(cseq.seq, rseq);
        // RFC 3262 §4: a reliable 1xx out of sequence is neither PRACKed nor processed further.
        if (reliable !== 'in-order') return { type: 'provisional', reliable, targetRefreshed: false };
      }
      // RFC 3261 §12.1.2: an early dialog follows the Contact of the later provisional responses too.
      const targetRefreshed = initial && this.#state === 'Early' && newTarget !== undefined;
      if (targetRefreshed) this.#remoteTarget = newTarget;
      return { type: 'provisional', reliable, targetRefreshed };
    }

    if (status < 300) {
      let confirmed = false;
      if (initial && this.#state === 'Early') {
        // RFC 3261 §13.2.2.4: the 2xx confirms the early dialog and its Record-Route recomputes the route set
        // (RFC 2543 did not require proxies to mirror Record-Route in a 1xx); nothing else is recomputed.
        this.#routeSet = routeSetFrom(response, 'uac');
        this.#transition('Confirmed');
        confirmed = true;
      }
      // RFC 3261 §12.2.1.2: a 2xx to a target refresh request replaces the remote target with its Contact.
      const targetRefreshed = TARGET_REFRESH_METHODS.has(cseq.method) && newTarget !== undefined;
      if (targetRefreshed) this.#remoteTarget = newTarget;
      // RFC 3261 §15.1.1: the answer to our BYE ends the dialog.
      const terminated = cseq.method === 'BYE';
      if (terminated) this.#transition('Terminated');
      return { type: 'final', status, confirmed, terminated, targetRefreshed };
    }

    // RFC 3261 §12.2.1.2: a 481 or a 408 (a timeout counts as one) to a request within the dialog ends it.
    // RFC 3261 §12.3: a non-2xx final response to the dialog-creating INVITE ends its early dialog.
    // RFC 3261 §15.1.1: any final answer to our BYE ends it, except a challenge, which is retried with credentials.
    const terminated =
      status === 481 ||
      status === 408 ||
      (initial && this.#state === 'Early') ||
      (cseq.method === 'BYE' && status !== 401 && status !== 407);
    if (terminated) this.#transition('Terminated');
    return { type: 'final', status, confirmed: false, terminated, targetRefreshed: false };
  }

  // RFC 3262 §4: the UAC keeps, per request, the RSeq of the last in-order reliable 1xx; the first one sets it,
  // each next must be exactly one more. A lower or equal RSeq is a retransmission, a higher one a gap.
  #orderReliable(cseq: number, rseq: number): ReliableProvisional {
    const last = this.#remoteRSeq;
    if (last !== undefined && cseq < last.cseq) return 'retransmission';
    if (last === undefined || cseq > last.cseq || rseq === last.rseq + 1) {
      this.#remoteRSeq = { cseq, rseq };
      return 'in-order';
    }
    return rseq <= last.rseq ? 'retransmission' : 'out-of-order';
  }

  /** Is this response, to one of our requests, from this dialog's peer? (From tag ours, To tag theirs) */
  #isOurs(response: SipResponse): boolean {
    const id = uacDialogId(response);
    return id !== undefined && sameDialogId(id, this.id);
  }

  #transition(to: DialogState): void {
    if (!TRANSITIONS[this.#state].includes(to))
      throw new InvalidStateError(`dialog ${this.key}: no transition from ${this.#state} to ${to}`);
    this.#state = to;
  }
}

// ---- helpers --------------------------------------------------------------------------------------------

/** The RSeq of a reliable provisional response (RFC 3262 §7.1: 101–199, Require: 100rel, RSeq), else undefined. */
export function reliableRSeq(response: SipResponse): number | undefined {
  if (response.status <= 100 || response.status >= 200) return undefined;
  if (!response.require.some((o) => o.toLowerCase() === '100rel')) return undefined;
  return response.rseq;
}

/** Same Call-ID, From tag and CSeq: the response answers the request (the transaction layer matched it). */
function sameTransaction(request: SipRequest, response: SipResponse): boolean {
  const a = request.cseq;
  const b = response.cseq;
  return (
    request.callId === response.callId &&
    request.fromTag === response.fromTag &&
    a.seq === b.seq &&
    a.method === b.method &&
    a.method === request.method
  );
}

function formatAddress(displayName: string | undefined, uri: Uri, tag: string): string {
  const name = displayName === undefined || displayName === '' ? '' : quote(displayName) + ' ';
  // A tag of '' is the "null" tag of an RFC 2543 peer (§12.1.1): it is left out.
  return `${name}<${uri.toString()}>${tag === '' ? '' : `;tag=${tag}`}`;
}

function hasHeader(headers: Record<string, unknown>, key: string): boolean {
  return Object.keys(headers).some((name) => normalizeName(name)[1] === key);
}

function checkHeaders(headers: Record<string, unknown> | undefined): void {
  for (const name of Object.keys(headers ?? {})) {
    if (DIALOG_OWNED.has(normalizeName(name)[1]))
      throw new TypeError(`${name} is set by the dialog, not by the caller`);
  }
}

/** An integer in [low, high] from an injected uniform [0, 1) generator. */
function randomInt(random: () => number, low: number, high: number): number {
  const r = random();
  if (!(r >= 0 && r < 1)) throw new TypeError(`random() returned ${String(r)}, not a number in [0, 1)`);
  return low + Math.floor(r * (high - low + 1));
}
