/**
 * The registration client (RFC 3261 §10.2, RFC 5626 §4.2, RFC 5627, RFC 3608, RFC 3327).
 *
 *                     register()                       2xx: binding granted, refresh armed
 *   Unregistered ─────────────────▶ Registering ─────────────────────────────▶ Registered ◀──┐
 *        ▲                           │  ▲   │ 423: again with Min-Expires        │  │ refresh│2xx
 *        │ unregister() (expires=0)  │  │   └──┘ 401/407: digest, once per round  │  └────────┘
 *        │                           ▼  │ retry timer (back-off) / flowUp()       │ refresh failed,
 *        └───────────────────────── Failed ◀──────────────────────────────────────┘ flowDown()
 *
 * How it works. One Call-ID for every REGISTER this agent sends to the registrar and a CSeq that grows by one
 * each time, digest retries included (§10.2; the host numbers them). The Contact is the agent's contact URI (with `ob` when an instance id is set) carrying
 * `+sip.instance` and `reg-id=1` (RFC 5626 §4.2.1) and the requested `expires`. Digest challenges are answered
 * by the user agent's request machinery (once per challenge round); what reaches this machine is the final
 * outcome. On a 2xx the granted interval is the `expires` of our Contact in the response (else Expires, else
 * what we asked), and a refresh is armed at half of it, which leaves the other half to recover from a failed
 * refresh before the binding lapses. Service-Route (RFC 3608) and Path (RFC 3327) are stored, and the
 * `pub-gruu`/`temp-gruu` of our Contact (RFC 5627 §5) when offered; a Flow-Timer (RFC 5626 §4.4.1) sets the
 * keep-alive interval. A 423 is retried at once with Min-Expires (§10.2.8), at most twice. A failure that more
 * attempts cannot fix (401/407 after a challenge round, 403, 404) stops; others are retried after a back-off of
 * RFC 5626 §4.5 (W = min(max, base·2^failures), a random wait in [W/2, W], or the Retry-After). Losing the flow
 * moves to Failed (430) and `flowUp` registers again at once.
 */
import {
  paramValue,
  parseUri,
  unquote,
  type NameAddr,
  type SipResponse,
  type Uri,
} from '../message/index.ts';
import type { DigestFailReason } from '../auth/index.ts';
import { InvalidStateError } from '../errors.ts';

export type RegistrationState = 'Unregistered' | 'Registering' | 'Registered' | 'Failed';

const TRANSITIONS: Readonly<Record<RegistrationState, readonly RegistrationState[]>> = {
  Unregistered: ['Registering'],
  Registering: ['Registered', 'Failed', 'Unregistered'],
  Registered: ['Registered', 'Registering', 'Failed', 'Unregistered'],
  Failed: ['Registering', 'Failed', 'Unregistered'],
};

export interface RegistrationOptions {
  /** seconds asked for in Contact `expires` (RFC 3261 §10.2.1.1); 600 by default */
  readonly expires?: number;
  /** RFC 5626 §4.5 base-time, seconds (30) */
  readonly retryBaseTime?: number;
  /** RFC 5626 §4.5 max-time, seconds (1800) */
  readonly retryMaxTime?: number;
  /**
   * RFC 3261 §10.2.1.2: this device's preference among the AOR's contacts, 0 to 1 (a forking proxy tries higher
   * q first). None by default.
   */
  readonly q?: number;
  /** RFC 3840 feature tags for the Contact, e.g. `+sip.text` (name, or name and a value already quoted) */
  readonly featureTags?: readonly (string | readonly [string, string])[];
}

/** Plain data for stores and logs. Times are in the caller's `now` units (ms). */
export interface RegistrationSnapshot {
  readonly state: RegistrationState;
  /** the status of the last final response (or the local 408/503/430), when there is one */
  readonly status: number | undefined;
  readonly reason: string | undefined;
  /** why digest authentication gave up, when it did */
  readonly authFailure: DigestFailReason | undefined;
  /** seconds granted by the registrar */
  readonly expires: number | undefined;
  readonly expiresAt: number | undefined;
  readonly refreshAt: number | undefined;
  readonly retryAt: number | undefined;
  /** consecutive failed attempts */
  readonly failures: number;
  /** the Contact value sent */
  readonly contact: string;
  readonly serviceRoute: readonly string[];
  readonly path: readonly string[];
  readonly pubGruu: string | undefined;
  readonly tempGruu: string | undefined;
  /** RFC 5626 §4.4.1 Flow-Timer, seconds */
  readonly flowTimer: number | undefined;
}

/** What the registration needs from the user agent that owns it. */
export interface RegistrationHost {
  readonly random: () => number;
  /** Is there a flow to send on (always true for UDP)? */
  flowAvailable(): boolean;
  /** Send a REGISTER (the host adds Via, From, Route, credentials); `done` gets the final outcome once. */
  sendRegister(
    fields: { callId: string; contact: string },
    now: number,
    done: (outcome: RegisterOutcome, now: number) => void,
  ): void;
  setTimer(name: string, at: number, fire: (now: number) => void): void;
  clearTimer(name: string): void;
  changed(snapshot: RegistrationSnapshot): void;
}

export interface RegisterOutcome {
  readonly response: SipResponse;
  /** the response was made up locally: a timeout (408), a transport error or no flow (503) */
  readonly local: boolean;
  readonly authFailure: DigestFailReason | undefined;
}

const REFRESH_TIMER = 'registration-refresh';
const RETRY_TIMER = 'registration-retry';
/** RFC 3261 §10.2.8: how many 423s in a row are answered before giving up. */
const MAX_423 = 2;
/** Answers more attempts cannot fix: wrong credentials, a forbidden or unknown AOR. */
const TERMINAL = new Set([401, 403, 404, 407]);

export class Registration {
  readonly #host: RegistrationHost;
  readonly #contactUri: Uri;
  readonly #instanceId: string | undefined;
  /** `;q=…` and feature tags for our Contact, formatted once */
  readonly #contactParams: string;
  readonly #callId: string;
  readonly #baseTime: number;
  readonly #maxTime: number;
  #requested: number;
  #state: RegistrationState = 'Unregistered';
  /** the application wants to be registered */
  #wanted = false;
  /** a REGISTER is outstanding; `#pendingExpires` is what it asked for */
  #inFlight = false;
  #pendingExpires = 0;
  #count423 = 0;
  #failures = 0;
  #status: number | undefined;
  #reason: string | undefined;
  #authFailure: DigestFailReason | undefined;
  #granted: number | undefined;
  #expiresAt: number | undefined;
  #refreshAt: number | undefined;
  #retryAt: number | undefined;
  #serviceRoute: Uri[] = [];
  #path: Uri[] = [];
  #pubGruu: Uri | undefined;
  #tempGruu: Uri | undefined;
  #flowTimer: number | undefined;

  constructor(
    host: RegistrationHost,
    init: { contactUri: Uri; instanceId: string | undefined; callId: string },
    options: RegistrationOptions = {},
  ) {
    const expires = options.expires ?? 600;
    if (!Number.isInteger(expires) || expires <= 0)
      throw new TypeError('registration expires must be a positive integer');
    this.#host = host;
    this.#contactUri = init.contactUri;
    this.#instanceId = init.instanceId;
    this.#callId = init.callId;
    this.#requested = expires;
    this.#baseTime = options.retryBaseTime ?? 30;
    this.#maxTime = options.retryMaxTime ?? 1800;
    const q = options.q;
    if (q !== undefined && !(q >= 0 && q <= 1)) throw new TypeError('registration q must be between 0 and 1');
    // RFC 3261 §20.10: qvalue = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]
    let params = q === undefined ? '' : `;q=${String(Math.round(q * 1000) / 1000)}`;
    for (const tag of options.featureTags ?? [])
      params += typeof tag === 'string' ? `;${tag}` : `;${tag[0]}=${tag[1]}`;
    this.#contactParams = params;
  }

  get state(): RegistrationState {
    return this.#state;
  }
  /** RFC 3608: the route for requests outside a dialog, from the last 2xx (empty when none). */
  get serviceRoute(): readonly Uri[] {
    return this.#serviceRoute;
  }
  get pubGruu(): Uri | undefined {
    return this.#pubGruu;
  }
  get tempGruu(): Uri | undefined {
    return this.#tempGruu;
  }
  get flowTimer(): number | undefined {
    return this.#flowTimer;
  }
  get wanted(): boolean {
    return this.#wanted;
  }

  snapshot(): RegistrationSnapshot {
    return {
      state: this.#state,
      status: this.#status,
      reason: this.#reason,
      authFailure: this.#authFailure,
      expires: this.#granted,
      expiresAt: this.#expiresAt,
      refreshAt: this.#refreshAt,
      retryAt: this.#retryAt,
      failures: this.#failures,
      contact: this.#contact(this.#requested),
      serviceRoute: this.#serviceRoute.map((u) => u.toString()),
      path: this.#path.map((u) => u.toString()),
      pubGruu: this.#pubGruu?.toString(),
      tempGruu: this.#tempGruu?.toString(),
      flowTimer: this.#flowTimer,
    };
  }

  // ---- commands ---------------------------------------------------------------------------------------------

  /** Start registering (or register again now, if registered). */
  register(now: number): void {
    this.#wanted = true;
    this.#failures = 0;
    this.#count423 = 0;
    this.#clearRetry();
    if (this.#state === 'Unregistered' || this.#state === 'Failed') this.#transition('Registering');
    if (this.#inFlight) return;
    this.#send(now, this.#requested);
  }

  /** Remove the binding (Contact expires=0) and stop refreshing. */
  unregister(now: number): void {
    this.#wanted = false;
    this.#clearRefresh();
    this.#clearRetry();
    if (this.#state === 'Unregistered' || this.#inFlight) return;
    // Only a binding that may still exist at the registrar needs removing, and only over a live flow.
    const bound = this.#expiresAt !== undefined && this.#expiresAt > now;
    if (!bound || !this.#host.flowAvailable()) {
      this.#clearBinding();
      this.#transition('Unregistered');
      return;
    }
    this.#send(now, 0);
  }

  /** The flow came up (again): RFC 5626 §4.4.1 registers again on the new flow at once. */
  flowUp(now: number): void {
    if (!this.#wanted) return;
    this.#failures = 0;
    this.#clearRetry();
    if (this.#inFlight) return;
    if (this.#state !== 'Registering') this.#transition('Registering');
    this.#send(now, this.#requested);
  }

  /** The flow is gone: the binding cannot reach us; wait for `flowUp`. */
  flowDown(): void {
    this.#clearRefresh();
    this.#clearRetry();
    if (!this.#wanted || this.#state === 'Unregistered') return;
    this.#fail(430, 'Flow Failed', undefined, false, 0);
  }

  // ---- the REGISTER transaction -----------------------------------------------------------------------------

  #send(now: number, expires: number): void {
    if (!this.#host.flowAvailable()) return; // flowUp() sends it
    this.#inFlight = true;
    this.#pendingExpires = expires;
    this.#host.sendRegister({ callId: this.#callId, contact: this.#contact(expires) }, now, (outcome, at) => {
      this.#outcome(outcome, at);
    });
  }

  #outcome(outcome: RegisterOutcome, now: number): void {
    this.#inFlight = false;
    const response = outcome.response;
    const status = response.status;
    const removing = this.#pendingExpires === 0;
    if (removing || !this.#wanted) {
      // An unregister, or a register the application took back while it was in flight.
      if (!removing && status >= 200 && status < 300 && this.#host.flowAvailable()) {
        this.#send(now, 0);
        return;
      }
      this.#status = status;
      this.#reason = response.reason;
      this.#clearBinding();
      if (this.#state !== 'Unregistered') this.#transition('Unregistered');
      // register() came while the binding was being removed: start again.
      if (this.#wanted) {
        this.#transition('Registering');
        this.#send(now, this.#requested);
      }
      return;
    }
    // The flow went down under it: flowDown() already said so, and flowUp() will register again.
    if (outcome.local && !this.#host.flowAvailable()) return;
    if (status >= 200 && status < 300) {
      this.#success(response, now);
      return;
    }
    // RFC 3261 §10.2.8: 423 Interval Too Brief: ask again with at least Min-Expires.
    const min = status === 423 ? safe(() => response.minExpires) : undefined;
    if (status === 423 && min !== undefined && min > this.#requested && this.#count423 < MAX_423) {
      this.#count423 += 1;
      this.#requested = min;
      this.#send(now, this.#requested);
      return;
    }
    const retryAfter = safe(() => response.retryAfter?.seconds);
    this.#fail(status, response.reason, outcome.authFailure, !TERMINAL.has(status), now, retryAfter);
  }

  #success(response: SipResponse, now: number): void {
    this.#count423 = 0;
    this.#failures = 0;
    this.#status = response.status;
    this.#reason = response.reason;
    this.#authFailure = undefined;
    const ours = safe(() => response.contacts.find((c) => this.#isOurs(c)));
    // RFC 3261 §10.2.4: the registrar lists every binding with its expires; ours tells what was granted.
    const fromContact = ours === undefined ? undefined : paramValue(ours.params, 'expires');
    let granted = fromContact === undefined || !/^\d+$/.test(fromContact) ? undefined : Number(fromContact);
    granted ??= safe(() => response.expires) ?? this.#pendingExpires;
    if (granted <= 0) {
      // The registrar took the binding away (or never stored it): try again later.
      this.#fail(response.status, 'binding not granted', undefined, true, now);
      return;
    }
    this.#granted = granted;
    this.#expiresAt = now + granted * 1000;
    // RFC 3608 §6.1: Service-Route replaces the stored route; RFC 3327: Path is informational for the UA.
    this.#serviceRoute = safe(() => response.serviceRoute.map((na) => na.uri)) ?? [];
    this.#path = safe(() => response.path.map((na) => na.uri)) ?? [];
    // RFC 5627 §5.1: the GRUUs come as Contact parameters of our binding.
    this.#pubGruu = ours === undefined ? undefined : gruu(ours, 'pub-gruu');
    this.#tempGruu = ours === undefined ? undefined : gruu(ours, 'temp-gruu');
    const flowTimer = response.headers.get('flow-timer');
    this.#flowTimer =
      flowTimer !== undefined && /^\s*\d+\s*$/.test(flowTimer) ? Number(flowTimer) : undefined;
    // Refresh at half the granted interval: the other half is left to recover from a failed refresh.
    this.#refreshAt = now + (granted * 1000) / 2;
    this.#host.setTimer(REFRESH_TIMER, this.#refreshAt, (at) => {
      this.#refreshAt = undefined;
      if (this.#wanted && !this.#inFlight) this.#send(at, this.#requested);
    });
    this.#transition('Registered');
  }

  #fail(
    status: number,
    reason: string | undefined,
    authFailure: DigestFailReason | undefined,
    retry: boolean,
    now: number,
    retryAfter?: number,
  ): void {
    this.#status = status;
    this.#reason = reason;
    this.#authFailure = authFailure;
    this.#failures += 1;
    this.#clearRefresh();
    if (retry && this.#host.flowAvailable()) {
      // RFC 5626 §4.5: W = min(max-time, base-time · 2^failures); wait a random time between W/2 and W.
      const w = Math.min(this.#maxTime, this.#baseTime * 2 ** this.#failures);
      const wait =
        retryAfter !== undefined && retryAfter > 0 ? retryAfter : w * (0.5 + this.#host.random() * 0.5);
      this.#retryAt = now + Math.round(wait * 1000);
      this.#host.setTimer(RETRY_TIMER, this.#retryAt, (at) => {
        this.#retryAt = undefined;
        if (!this.#wanted || this.#inFlight) return;
        this.#transition('Registering');
        this.#send(at, this.#requested);
      });
    }
    this.#transition('Failed');
  }

  // ---- helpers -----------------------------------------------------------------------------------------------

  /** RFC 5626 §4.2.1: <contact>;+sip.instance="<urn:…>";reg-id=1;expires=N */
  #contact(expires: number): string {
    let s = `<${this.#contactUri.toString()}>${this.#contactParams}`;
    if (this.#instanceId !== undefined) s += `;+sip.instance="<${this.#instanceId}>";reg-id=1`;
    return `${s};expires=${String(expires)}`;
  }

  /** Our binding in a 2xx: the same instance and reg-id (RFC 5626 §6), or the same URI (RFC 3261 §10.3). */
  #isOurs(contact: NameAddr): boolean {
    const instance = paramValue(contact.params, '+sip.instance');
    if (this.#instanceId !== undefined && instance !== undefined) {
      const regId = paramValue(contact.params, 'reg-id');
      return (
        stripAngles(instance).toLowerCase() === this.#instanceId.toLowerCase() &&
        (regId === undefined || regId === '1')
      );
    }
    return contact.uri.equals(this.#contactUri);
  }

  #clearBinding(): void {
    this.#granted = undefined;
    this.#expiresAt = undefined;
    this.#serviceRoute = [];
    this.#path = [];
    this.#pubGruu = undefined;
    this.#tempGruu = undefined;
    this.#flowTimer = undefined;
    this.#clearRefresh();
  }

  #clearRefresh(): void {
    this.#refreshAt = undefined;
    this.#host.clearTimer(REFRESH_TIMER);
  }

  #clearRetry(): void {
    this.#retryAt = undefined;
    this.#host.clearTimer(RETRY_TIMER);
  }

  #transition(to: RegistrationState): void {
    if (!TRANSITIONS[this.#state].includes(to))
      throw new InvalidStateError(`registration: no transition from ${this.#state} to ${to}`);
    this.#state = to;
    this.#host.changed(this.snapshot());
  }
}

function stripAngles(s: string): string {
  return s.startsWith('<') && s.endsWith('>') ? s.slice(1, -1) : s;
}

function gruu(contact: NameAddr, name: string): Uri | undefined {
  const raw = contact.params.get(name);
  if (raw === undefined || raw === null) return undefined;
  return safe(() => parseUri(unquote(raw)));
}

/** A peer's malformed header is ignored here, not thrown (STYLE.md §Errors). */
function safe<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
