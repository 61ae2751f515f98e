/**
 * The one shape every parser under benchmark is wrapped in.
 *
 * - `routing`: parse, then read what a proxy/edge needs to route (start line, top Via branch, From/To tags,
 *   Call-ID, CSeq, Max-Forwards, Route values, Content-Length) through the library's own API.
 * - `full`: parse, then decode every header value and every URI (Request-URI, From/To/Contact/Route/
 *   Record-Route) with the library's own facilities.
 * - `accepts`: the RFC 4475 classification — `true` when the library parses (and fully decodes) the bytes,
 *   `false` when it rejects them (throws, or returns null/undefined/false). Never throws itself.
 *
 * Both modes throw when the library signals a failure, so a parser cannot look fast by failing early: the
 * harness checks every mode against the corpus before it times anything.
 */
export interface ParserAdapter {
  readonly name: string;
  readonly routing: (raw: string) => unknown;
  readonly full: (raw: string) => unknown;
  readonly accepts: (raw: Buffer) => boolean;
}

/** What routing mode returns: small, so nothing is dead-code-eliminated and the harness can check it. */
export interface RoutingFields {
  /** Request method (undefined for a response). */
  readonly method: string | undefined;
  /** Status code (undefined for a request). */
  readonly status: number | undefined;
  readonly viaBranch: string | undefined;
  readonly fromTag: string | undefined;
  readonly toTag: string | undefined;
  readonly callId: string | undefined;
  readonly cseq: number | undefined;
  readonly cseqMethod: string | undefined;
  readonly maxForwards: number | undefined;
  /** Number of Route values as the library splits them; undefined when it keeps Route unsplit. */
  readonly routeCount: number | undefined;
  /** The Route values in whatever form the library offers them (raw strings or parsed objects). */
  readonly route: unknown;
  readonly contentLength: number | undefined;
}

/** What full mode returns: the parsed message plus everything decoded from it, kept alive together. */
export interface FullResult {
  readonly message: unknown;
  readonly decoded: readonly unknown[];
}

/** Thrown by an adapter (at load time or per mode) whose parser cannot be benchmarked yet. */
export class AdapterUnavailableError extends Error {
  override name = 'AdapterUnavailableError';
}

/** Thrown by a mode when the library signalled that it could not parse or decode something. */
export class ParseFailure extends Error {
  override name = 'ParseFailure';
}

export function fail(what: string): never {
  throw new ParseFailure(what);
}

/** The string form given to the string-based parsers: latin1, one char per byte, so Content-Length in bytes
 *  equals the length in chars and no byte is replaced (RFC 4475 files carry NUL and non-UTF-8 octets). */
export function wireString(raw: Buffer): string {
  return raw.toString('latin1');
}

/** Runs a mode and maps "threw" or "returned nothing" to `false`. */
export function acceptsVia(mode: (raw: string) => unknown, raw: Buffer): boolean {
  try {
    const result = mode(wireString(raw));
    return result !== undefined && result !== null && result !== false;
  } catch {
    return false;
  }
}
