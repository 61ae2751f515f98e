/**
 * Media-type lists as MSRP negotiates them (RFC 4975 §8.6): `a=accept-types` and `a=accept-wrapped-types` hold
 * types, `type/*` ranges and `*`; a message/cpim body (RFC 3862) wraps another type, which the receiver checks
 * against the wrapped list.
 */

/** The type/subtype of a Content-Type value, lowercased, without parameters. */
export function bareType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** Whether `type` is covered by the list entry `pattern` (`*`, `text/*`, or an exact type). */
export function mediaTypeMatches(pattern: string, type: string): boolean {
  const p = bareType(pattern);
  const t = bareType(type);
  if (p === '*' || p === t) return true;
  return p.endsWith('/*') && t.startsWith(p.slice(0, -1));
}

/** Whether any entry of `list` covers `type`. */
export function acceptsType(list: readonly string[], type: string): boolean {
  return list.some((p) => mediaTypeMatches(p, type));
}

/**
 * RFC 4975 §8.6: can a peer announcing `accept` / `wrapped` take a message of `type`, wrapping `inner` when
 * `type` is message/cpim? A wrapped type may be one of either list.
 */
export function acceptsContent(
  accept: readonly string[],
  wrapped: readonly string[],
  type: string,
  inner?: string,
): boolean {
  if (!acceptsType(accept, type)) return false;
  if (inner === undefined || bareType(type) !== 'message/cpim') return true;
  return acceptsType(wrapped, inner) || acceptsType(accept, inner);
}

/**
 * The Content-Type inside a message/cpim body (RFC 3862 §3: message headers, a blank line, then the MIME headers
 * of the encapsulated content), read from the first bytes only; undefined when they do not reach it.
 */
export function cpimInnerType(body: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(body.subarray(0, 4096));
  const blank = text.indexOf('\r\n\r\n');
  if (blank < 0) return undefined;
  const mime = text.slice(blank + 4);
  const end = mime.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  return /(?:^|\r\n)content-type[ \t]*:[ \t]*([^\r\n]+)/i.exec(mime.slice(0, end))?.[1]?.trim();
}
