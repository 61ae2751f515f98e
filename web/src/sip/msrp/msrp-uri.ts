/**
 * MSRP URIs (RFC 4975 §6, §9) with the `ws` transport of RFC 7977 §5.2.
 *
 *   msrp://bob.example.com:8888/9di4ea;tcp        msrps://df7jal23ls0d.invalid/98cjs;ws
 *   └┬─┘   └──────┬───────┘ └─┬┘ └─┬──┘ └┬┘
 *  scheme       host        port session transport (then ;name=value params)
 *
 * Parsing is strict (ParseError with the offending text); comparison follows §6.1.
 */
import { ParseError } from '../errors.ts';

export interface MsrpUri {
  /** `msrps` (TLS, or WSS with the `ws` transport) rather than `msrp` */
  readonly secure: boolean;
  readonly user: string | undefined;
  /** as written (compare with msrpUriEquals, which ignores case) */
  readonly host: string;
  readonly port: number | undefined;
  /** case-sensitive; absent in a relay's own URI (RFC 4976 §5) */
  readonly sessionId: string | undefined;
  /** lowercased: `tcp`, `ws`, or an extension */
  readonly transport: string;
  /** the other `;name[=value]` parameters, as written */
  readonly params: readonly string[];
  /** the URI as it was given */
  readonly text: string;
}

/** RFC 4975 §6: the port when the URI has none, for msrp and msrps alike. */
export const MSRP_DEFAULT_PORT = 2855;

// RFC 4975 §9: MSRP-URI = msrp-scheme "://" authority ["/" session-id] ";" transport *( ";" URI-parameter );
// session-id = 1*( unreserved / "+" / "=" / "/" ); transport = "tcp" / 1*ALPHANUM; URI-parameter = token ["=" token].
const URI =
  /^(msrps?):\/\/(?:([\w\-.~!$&'()*+,;=:%]*)@)?(\[[\da-f:.]+\]|[\w\-.]+)(?::(\d{1,5}))?(?:\/([\w\-.~+=/]+))?;([a-z\d]+)((?:;[\w\-.!%*+`'~]+(?:=[\w\-.!%*+`'~]+)?)*)$/i;

/** Parses one MSRP URI; throws ParseError (status hint 400) when it is not one. */
export function parseMsrpUri(text: string): MsrpUri {
  const m = URI.exec(text);
  const port = m?.[4] === undefined ? undefined : Number(m[4]);
  if (m === null || (port !== undefined && port > 65535))
    throw new ParseError(`not an MSRP URI: "${text.slice(0, 80)}"`);
  return {
    secure: m[1]!.length === 5,
    user: m[2],
    host: m[3]!,
    port,
    sessionId: m[5],
    transport: m[6]!.toLowerCase(),
    params: m[7] === '' ? [] : m[7]!.slice(1).split(';'),
    text,
  };
}

/** The URI, or undefined when `text` is not one. */
export function tryMsrpUri(text: string): MsrpUri | undefined {
  try {
    return parseMsrpUri(text);
  } catch {
    return undefined;
  }
}

/** Writes a URI from its parts (the inverse of parseMsrpUri, without the user part's escapes being checked). */
export function formatMsrpUri(
  uri: Omit<MsrpUri, 'text' | 'params'> & { params?: readonly string[] },
): string {
  let s = `msrp${uri.secure ? 's' : ''}://${uri.user !== undefined ? uri.user + '@' : ''}${uri.host}`;
  if (uri.port !== undefined) s += `:${uri.port}`;
  if (uri.sessionId !== undefined) s += `/${uri.sessionId}`;
  s += `;${uri.transport}`;
  for (const p of uri.params ?? []) s += `;${p}`;
  return s;
}

/**
 * RFC 4975 §6.1: two MSRP URIs are equal when scheme, host and transport match ignoring case, the ports match
 * (2855 when absent) and the session-ids match exactly. The user part and other parameters are not compared.
 * Either side may be text; text that is not an MSRP URI equals nothing.
 */
export function msrpUriEquals(a: MsrpUri | string, b: MsrpUri | string): boolean {
  const x = typeof a === 'string' ? tryMsrpUri(a) : a;
  const y = typeof b === 'string' ? tryMsrpUri(b) : b;
  if (x === undefined || y === undefined) return false;
  return (
    x.secure === y.secure &&
    x.host.toLowerCase() === y.host.toLowerCase() &&
    (x.port ?? MSRP_DEFAULT_PORT) === (y.port ?? MSRP_DEFAULT_PORT) &&
    x.sessionId === y.sessionId &&
    x.transport === y.transport
  );
}
