/**
 * The core's error hierarchy (STYLE.md §Errors).
 *
 *   SipError
 *   ├── ParseError         the bytes are not a valid SIP (or MSRP) message; carries where and which status to answer
 *   ├── InvalidStateError  the API was used out of order (sending on a terminated transaction, …)
 *   └── TransportError     a driver could not deliver bytes
 *
 * A peer's misbehaviour never throws out of the core: parse failures are caught at the edge and turned into a
 * response (using `statusHint`) or an event. Only API misuse throws to the caller.
 */
export class SipError extends Error {
  override name = 'SipError';
}

export class ParseError extends SipError {
  override name = 'ParseError';
  /**
   * @param reason    what is wrong, for logs and the reason phrase of an automatic 400
   * @param offset    byte offset in the input where the problem was found (best effort, never beyond the input)
   * @param statusHint the SIP status a UAS should answer: 400 by default, 505 for an unsupported version, …
   */
  constructor(
    readonly reason: string,
    readonly offset = 0,
    readonly statusHint = 400,
  ) {
    super(`${reason} (at byte ${offset})`);
  }
}

export class InvalidStateError extends SipError {
  override name = 'InvalidStateError';
}

export class TransportError extends SipError {
  override name = 'TransportError';
}

/**
 * A read of a peer's header that may not parse (headers are parsed lazily, when first read): its value, or
 * undefined when it is malformed. Any other error is a bug of ours and propagates.
 */
export function unlessMalformed<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (e instanceof ParseError) return undefined;
    throw e;
  }
}
