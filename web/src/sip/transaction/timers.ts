/**
 * The transaction timers of RFC 3261 §17 (Table 4 in §A) and RFC 6026 §8, in milliseconds.
 *
 * T1 is the round-trip estimate, T2 the longest interval between retransmissions of a non-INVITE request or an
 * INVITE's final response, and T4 how long a message may linger in the network. Every lettered timer is derived
 * from them, and several differ between unreliable (UDP) and reliable (TCP, TLS, WS, WSS, SCTP) transports:
 *
 *   timer  who                            unreliable                 reliable
 *   A      INVITE client, retransmit      T1, doubling without cap   not used
 *   B      INVITE client, give up         64·T1                      64·T1
 *   C      proxy INVITE (§16.6)           > 3 min                    > 3 min      (not used by this layer)
 *   D      INVITE client, Completed       ≥ 32 s                     0
 *   E      non-INVITE client, retransmit  T1, doubling up to T2      not used
 *   F      non-INVITE client, give up     64·T1                      64·T1
 *   G      INVITE server, resend final    T1, doubling up to T2      not used
 *   H      INVITE server, wait for ACK    64·T1                      64·T1
 *   I      INVITE server, Confirmed       T4                         0
 *   J      non-INVITE server, Completed   64·T1                      0
 *   K      non-INVITE client, Completed   T4                         0
 *   L      INVITE server, Accepted        64·T1                      64·T1        (RFC 6026 §8.7)
 *   M      INVITE client, Accepted        64·T1                      64·T1        (RFC 6026 §8.4)
 *
 * Each rule below answers "how long is this timer when it starts", `undefined` meaning "not started on this
 * transport". A duration of 0 means the machine leaves the state at once. `TimerSet` holds a machine's running
 * timers as absolute deadlines: nothing here reads a clock.
 */

/** RFC 3261 §17.1.1.1: the RTT estimate, 500 ms by default. */
export const T1 = 500;
/** RFC 3261 §17.1.2.2: the cap on non-INVITE request and INVITE response retransmission intervals. */
export const T2 = 4_000;
/** RFC 3261 §17.1.2.2: the longest time a message stays in the network. */
export const T4 = 5_000;

export interface TimerValues {
  readonly T1: number;
  readonly T2: number;
  readonly T4: number;
  /** Timer D on an unreliable transport: "at least 32 seconds" (RFC 3261 §17.1.1.2). */
  readonly D: number;
  /**
   * RFC 3261 §17.2.1: an INVITE server transaction answers 100 (Trying) itself unless the TU answers within
   * 200 ms. The RFC gives this timer no letter; it is called `Trying` here.
   */
  readonly trying: number;
}

export const DEFAULT_TIMERS: TimerValues = Object.freeze({ T1, T2, T4, D: 32_000, trying: 200 });

/** The defaults with some values replaced; every value must be a finite number ≥ 0 (T1 and T2 > 0). */
export function timerValues(overrides: Partial<TimerValues> = {}): TimerValues {
  const values = { ...DEFAULT_TIMERS, ...overrides };
  for (const [name, v] of Object.entries(values)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new TypeError(`timer ${name} must be a number ≥ 0`);
  }
  if (values.T1 === 0 || values.T2 === 0) throw new TypeError('T1 and T2 must be greater than 0');
  return Object.freeze(values);
}

/** How long a timer runs when it starts; `undefined` when it is not started on this kind of transport. */
export type TimerRule = (values: TimerValues, reliable: boolean) => number | undefined;

/** §17.1.1.2: INVITE retransmission, unreliable transports only; starts at T1, doubles at each firing. */
export const TIMER_A: TimerRule = (t, reliable) => (reliable ? undefined : t.T1);
/** §17.1.1.2: the INVITE client gives up after 64·T1 without any response. */
export const TIMER_B: TimerRule = (t) => 64 * t.T1;
/** §16.6 step 11: a proxy's INVITE timer, more than 3 minutes. Listed for completeness; proxies arm it. */
export const TIMER_C: TimerRule = () => 180_000;
/** §17.1.1.2: how long the INVITE client stays Completed to absorb final-response retransmissions. */
export const TIMER_D: TimerRule = (t, reliable) => (reliable ? 0 : t.D);
/** §17.1.2.2: non-INVITE retransmission, unreliable only; T1, doubling up to T2 (T2 flat once Proceeding). */
export const TIMER_E: TimerRule = (t, reliable) => (reliable ? undefined : t.T1);
/** §17.1.2.2: the non-INVITE client gives up after 64·T1 without a final response. */
export const TIMER_F: TimerRule = (t) => 64 * t.T1;
/** §17.2.1: final-response retransmission by the INVITE server, unreliable only; T1, doubling up to T2. */
export const TIMER_G: TimerRule = (t, reliable) => (reliable ? undefined : t.T1);
/** §17.2.1: the INVITE server gives up waiting for the ACK after 64·T1, on every transport. */
export const TIMER_H: TimerRule = (t) => 64 * t.T1;
/** §17.2.1: how long the INVITE server stays Confirmed to absorb ACK retransmissions. */
export const TIMER_I: TimerRule = (t, reliable) => (reliable ? 0 : t.T4);
/** §17.2.2: how long the non-INVITE server stays Completed to answer request retransmissions. */
export const TIMER_J: TimerRule = (t, reliable) => (reliable ? 0 : 64 * t.T1);
/** §17.1.2.2: how long the non-INVITE client stays Completed to absorb response retransmissions. */
export const TIMER_K: TimerRule = (t, reliable) => (reliable ? 0 : t.T4);
/** RFC 6026 §8.7: how long the INVITE server stays Accepted (absorbing INVITE retransmissions, passing ACKs up). */
export const TIMER_L: TimerRule = (t) => 64 * t.T1;
/** RFC 6026 §8.4: how long the INVITE client stays Accepted (passing every 2xx up to the TU). */
export const TIMER_M: TimerRule = (t) => 64 * t.T1;
/** §17.2.1: the INVITE server's 100 (Trying) when the TU is silent (see `TimerValues.trying`). */
export const TIMER_TRYING: TimerRule = (t) => t.trying;
/**
 * RFC 3261 §9.1: once a CANCEL is sent, an INVITE client transaction without a final response after 64·T1 is
 * considered cancelled and destroyed. No letter in the RFC either.
 */
export const TIMER_CANCEL: TimerRule = (t) => 64 * t.T1;

/** The next interval of a doubling retransmission timer: twice the last, at most `cap` when given. */
export function doubled(interval: number, cap?: number): number {
  return cap === undefined ? interval * 2 : Math.min(interval * 2, cap);
}
