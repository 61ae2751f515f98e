/**
 * SDP offer/answer (RFC 3264) for MSRP media (RFC 4975 §8, RFC 6135 a=setup, RFC 7977 over WebSocket, RFC 5547
 * file transfer).
 *
 *   createMsrpOffer(init) ──► offer ──► answerMsrpOffer(offer, local) ──► { answer, accepted[] } | { reason }
 *                                                      │
 *   readMsrpAnswer(offer, answer) ◄────────────────────┘ ──► negotiated streams, for the offerer
 *
 * An MSRP media line is `m=message <port> TCP/MSRP *` (TCP/TLS/MSRP for msrps, TCP/WS/MSRP and TCP/WSS/MSRP for
 * WebSocket) with a=path (the URIs to reach the endpoint, relays first), a=accept-types, optionally
 * a=accept-wrapped-types and a=max-size, a=setup and a direction. The answer keeps every offered m-line in place
 * (RFC 3264 §6): the MSRP lines it can take are answered, every other line is declined with port 0. The result of
 * a negotiation (`NegotiatedMsrp`) is what an MsrpSession needs: the peer's path, what it accepts, and whether
 * this side opens the connection.
 */
import { ParseError } from '../errors.ts';
import { mediaTypeMatches } from '../msrp/content-types.ts';
import { parseMsrpUri, tryMsrpUri } from '../msrp/msrp-uri.ts';
import { fileAttributes, readFileAttributes, type FileTransferAttributes } from './file-attributes.ts';
import {
  hasSdpAttribute,
  sdpAttribute,
  type SdpAttribute,
  type SdpMedia,
  type SessionDescription,
} from './sdp.ts';

export type MsrpProto = 'TCP/MSRP' | 'TCP/TLS/MSRP' | 'TCP/WS/MSRP' | 'TCP/WSS/MSRP';
/** RFC 6135 §4 (RFC 4145 values): who opens the TCP connection */
export type MsrpSetup = 'active' | 'passive' | 'actpass' | 'holdconn';
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

const PROTOS: readonly string[] = ['TCP/MSRP', 'TCP/TLS/MSRP', 'TCP/WS/MSRP', 'TCP/WSS/MSRP'];
const DIRECTIONS: readonly MediaDirection[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

/** What one side says in its MSRP media line. */
export interface MsrpMediaInit {
  /** a=path: relays (from an AUTH's Use-Path) first, then the endpoint's own URI */
  readonly path: readonly string[];
  readonly acceptTypes: readonly string[];
  readonly acceptWrappedTypes?: readonly string[];
  readonly maxSize?: number;
  /** an offer says `actpass` by default; an answer picks `active` or `passive` (see answerMsrpOffer) */
  readonly setup?: MsrpSetup;
  readonly direction?: MediaDirection;
  /** RFC 5547: the file offered (push: sendonly) or asked for (pull: recvonly) */
  readonly file?: FileTransferAttributes;
  /** the m= port; by default the last path URI's (2855 when it has none, 9 over WebSocket) */
  readonly port?: number;
  /** by default from the last path URI: msrps → TCP/TLS/MSRP, `;ws` → TCP/WS(S)/MSRP */
  readonly proto?: MsrpProto;
  /** i= text (RFC 5547 suggests a description of the file) */
  readonly info?: string;
}

export interface MsrpOfferInit extends MsrpMediaInit {
  /** o= session id (RFC 4566 §5.2: e.g. an NTP timestamp or a random number); digits */
  readonly sessionId: string;
  /** o= version, incremented by every new offer of the session (RFC 3264 §8) */
  readonly sessionVersion?: string;
  /** c= and o= address; the last path URI's host by default */
  readonly address?: string;
}

/** What an m=message line of a description says. */
export interface MsrpMedia {
  /** the m-line's position in the description */
  readonly index: number;
  readonly port: number;
  readonly proto: MsrpProto;
  readonly path: readonly string[];
  readonly acceptTypes: readonly string[];
  readonly acceptWrappedTypes: readonly string[];
  readonly maxSize: number | undefined;
  readonly setup: MsrpSetup | undefined;
  readonly direction: MediaDirection;
  readonly file: FileTransferAttributes | undefined;
}

/** One MSRP stream both sides agreed on: what an MsrpSession is built from. */
export interface NegotiatedMsrp {
  readonly index: number;
  /** the peer's a=path: MsrpSessionOptions.remotePath */
  readonly remotePath: readonly string[];
  /** our a=path (its last URI is MsrpSessionOptions.localUri) */
  readonly localPath: readonly string[];
  /** what the peer accepts, i.e. what we may send (see acceptsContent) */
  readonly remoteAcceptTypes: readonly string[];
  readonly remoteAcceptWrappedTypes: readonly string[];
  readonly remoteMaxSize: number | undefined;
  /** whether this side opens the connection (RFC 6135 §4.2) */
  readonly active: boolean;
  /** this side's direction */
  readonly direction: MediaDirection;
  /** the peer's file attributes, for a file transfer */
  readonly file: FileTransferAttributes | undefined;
}

export type MsrpAnswerResult =
  | { readonly ok: true; readonly answer: SessionDescription; readonly accepted: readonly NegotiatedMsrp[] }
  /** nothing in the offer can be taken: answer the INVITE 488 Not Acceptable Here with `reason` */
  | { readonly ok: false; readonly status: 488; readonly reason: string };

export interface MsrpAnswerOptions {
  /**
   * Our side of each MSRP line we are willing to take: one init (used for the first acceptable line only; the
   * rest are declined), or a function of the offered line returning an init, or undefined to decline it.
   */
  readonly local: MsrpMediaInit | ((offered: MsrpMedia) => MsrpMediaInit | undefined);
  readonly sessionId: string;
  readonly sessionVersion?: string;
  readonly address?: string;
}

// ---- offer ------------------------------------------------------------------------------------------------------

/** An offer with one MSRP media line (RFC 4975 §8.1). Throws TypeError on a bad path. */
export function createMsrpOffer(init: MsrpOfferInit): SessionDescription {
  const { address, addrType } = addressOf(init.address, init.path);
  return {
    origin: {
      username: '-',
      sessionId: init.sessionId,
      sessionVersion: init.sessionVersion ?? init.sessionId,
      netType: 'IN',
      addrType,
      address,
    },
    name: '-',
    connection: `IN ${addrType} ${address}`,
    attributes: [],
    lines: [['t', '0 0']],
    media: [mediaLine(init, init.setup ?? 'actpass', init.direction ?? 'sendrecv')],
  };
}

function mediaLine(init: MsrpMediaInit, setup: MsrpSetup, direction: MediaDirection): SdpMedia {
  const last = pathEnd(init.path);
  const ws = last.transport === 'ws';
  const proto =
    init.proto ?? (`TCP/${ws ? (last.secure ? 'WSS/' : 'WS/') : last.secure ? 'TLS/' : ''}MSRP` as MsrpProto);
  if (init.acceptTypes.length === 0) throw new TypeError('accept-types cannot be empty');
  // RFC 4975 §8.6: accept-types, accept-wrapped-types and max-size; §8.2: path; RFC 6135: setup.
  const attributes: SdpAttribute[] = [
    { name: 'accept-types', value: init.acceptTypes.join(' ') },
    ...(init.acceptWrappedTypes?.length
      ? [{ name: 'accept-wrapped-types', value: init.acceptWrappedTypes.join(' ') }]
      : []),
    ...(init.maxSize !== undefined ? [{ name: 'max-size', value: String(init.maxSize) }] : []),
    { name: 'path', value: init.path.join(' ') },
    { name: 'setup', value: setup },
    { name: direction, value: undefined },
    ...(init.file !== undefined ? fileAttributes(init.file) : []),
  ];
  return {
    media: 'message',
    port: init.port ?? (ws ? 9 : (last.port ?? 2855)),
    portCount: undefined,
    proto,
    formats: ['*'],
    connection: undefined,
    attributes,
    lines: init.info === undefined ? [] : [['i', init.info]],
  };
}

function pathEnd(path: readonly string[]): ReturnType<typeof parseMsrpUri> {
  if (path.length === 0) throw new TypeError('an MSRP path needs at least one URI');
  for (const uri of path) if (tryMsrpUri(uri) === undefined) throw new TypeError(`not an MSRP URI: ${uri}`);
  return parseMsrpUri(path.at(-1)!);
}

function addressOf(
  given: string | undefined,
  path: readonly string[],
): { address: string; addrType: string } {
  const address = given ?? pathEnd(path).host.replace(/^\[|\]$/g, '');
  return { address, addrType: address.includes(':') ? 'IP6' : 'IP4' };
}

// ---- reading --------------------------------------------------------------------------------------------------

/**
 * The MSRP media line at `index`: undefined when it is not one (another media, another proto) or it is declined
 * (port 0); a ParseError when it is one but its attributes are malformed or missing (a=path, a=accept-types).
 */
export function readMsrpMedia(sdp: SessionDescription, index: number): MsrpMedia | ParseError | undefined {
  const m = sdp.media[index];
  if (m === undefined || m.media !== 'message' || !PROTOS.includes(m.proto) || m.port === 0) return undefined;
  try {
    const a = m.attributes;
    const path = sdpAttribute(a, 'path')?.trim().split(/ +/) ?? [];
    if (path.length === 0) throw new ParseError(`m= line ${index + 1}: a=path is missing`);
    for (const uri of path) parseMsrpUri(uri);
    const types = sdpAttribute(a, 'accept-types')?.trim().split(/ +/) ?? [];
    if (types.length === 0 || types[0] === '')
      throw new ParseError(`m= line ${index + 1}: a=accept-types is missing`);
    const size = sdpAttribute(a, 'max-size');
    if (size !== undefined && !/^\d{1,15}$/.test(size)) throw new ParseError(`bad a=max-size "${size}"`);
    const setup = sdpAttribute(a, 'setup');
    if (setup !== undefined && !['active', 'passive', 'actpass', 'holdconn'].includes(setup))
      throw new ParseError(`bad a=setup "${setup}"`);
    return {
      index,
      port: m.port,
      proto: m.proto as MsrpProto,
      path,
      acceptTypes: types,
      acceptWrappedTypes: sdpAttribute(a, 'accept-wrapped-types')?.trim().split(/ +/) ?? [],
      maxSize: size === undefined ? undefined : Number(size),
      setup: setup as MsrpSetup | undefined,
      // RFC 3264 §5.1: sendrecv when no direction attribute is present
      direction: DIRECTIONS.find((d) => hasSdpAttribute(a, d)) ?? 'sendrecv',
      file: readFileAttributes(a),
    };
  } catch (e) {
    return e instanceof ParseError ? e : new ParseError(String(e));
  }
}

/**
 * The types both lists allow, the more specific of each matching pair (RFC 4975 §8.6): ours `text/*` and theirs
 * `text/plain` give `text/plain`; `*` on either side gives the other side's list.
 */
export function intersectTypes(ours: readonly string[], theirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of ours)
    for (const b of theirs) {
      const pick = mediaTypeMatches(a, b) ? b : mediaTypeMatches(b, a) ? a : undefined;
      if (pick !== undefined && !out.includes(pick)) out.push(pick);
    }
  return out;
}

const OPPOSITE: Readonly<Record<MediaDirection, MediaDirection>> = {
  sendrecv: 'sendrecv',
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
};

// ---- answer ---------------------------------------------------------------------------------------------------

/**
 * Answer an offer (RFC 3264 §6). Every m-line is kept; MSRP lines we take are answered with our path, the
 * accept-types both sides allow, our max-size, a setup and the matching direction; every other line is declined
 * with port 0. Never throws at what the offer says: nothing acceptable is `{ ok: false, reason }`.
 */
export function answerMsrpOffer(offer: SessionDescription, options: MsrpAnswerOptions): MsrpAnswerResult {
  const media: SdpMedia[] = [];
  const accepted: NegotiatedMsrp[] = [];
  const reasons: string[] = [];
  let address: { address: string; addrType: string } | undefined;
  offer.media.forEach((m, index) => {
    const offered = readMsrpMedia(offer, index);
    const local =
      offered === undefined || offered instanceof ParseError
        ? undefined
        : typeof options.local === 'function'
          ? options.local(offered)
          : accepted.length === 0
            ? options.local
            : undefined;
    if (offered instanceof ParseError) reasons.push(offered.reason);
    const decline = (why?: string): void => {
      if (why !== undefined) reasons.push(why);
      // RFC 3264 §6: a declined stream keeps its line, with port 0 and the offered formats.
      media.push({ ...m, port: 0, portCount: undefined, connection: undefined, attributes: [], lines: [] });
    };
    if (offered === undefined || offered instanceof ParseError || local === undefined) return decline();
    // RFC 4975 §8.6: only types both sides allow; none in common is no stream.
    const types = intersectTypes(local.acceptTypes, offered.acceptTypes);
    if (types.length === 0) return decline(`m= line ${index + 1}: no accept-types in common`);
    // RFC 6135 §4.2: an offer without a=setup behaves as `active` (RFC 4975: the offerer connects); the answer
    // takes the other role, or its own preference (passive by default) when the offer said actpass.
    const theirs = offered.setup ?? 'active';
    if (theirs === 'holdconn') return decline(`m= line ${index + 1}: a=setup:holdconn`);
    const setup =
      theirs === 'actpass'
        ? local.setup === 'active'
          ? 'active'
          : 'passive'
        : theirs === 'active'
          ? 'passive'
          : 'active';
    const direction = OPPOSITE[offered.direction];
    const file = local.file ?? offered.file;
    const wrapped =
      offered.acceptWrappedTypes.length > 0 && local.acceptWrappedTypes !== undefined
        ? intersectTypes(local.acceptWrappedTypes, offered.acceptWrappedTypes)
        : undefined;
    let line: SdpMedia;
    try {
      line = mediaLine({ ...local, acceptTypes: types, acceptWrappedTypes: wrapped, file }, setup, direction);
      address ??= addressOf(options.address, local.path);
    } catch (e) {
      return decline(`m= line ${index + 1}: ${(e as Error).message}`);
    }
    media.push(line);
    accepted.push({
      index,
      remotePath: offered.path,
      localPath: local.path,
      remoteAcceptTypes: offered.acceptTypes,
      remoteAcceptWrappedTypes: offered.acceptWrappedTypes,
      remoteMaxSize: offered.maxSize,
      active: setup === 'active',
      direction,
      file: offered.file,
    });
  });
  if (accepted.length === 0 || address === undefined)
    return { ok: false, status: 488, reason: reasons[0] ?? 'no MSRP media line to accept' };
  const { address: host, addrType } = address;
  const answer: SessionDescription = {
    origin: {
      username: '-',
      sessionId: options.sessionId,
      sessionVersion: options.sessionVersion ?? options.sessionId,
      netType: 'IN',
      addrType,
      address: host,
    },
    name: '-',
    connection: `IN ${addrType} ${host}`,
    attributes: [],
    lines: [['t', '0 0']],
    media,
  };
  return { ok: true, answer, accepted };
}

/**
 * The offerer's view of the answer (RFC 3264 §7): per MSRP line both kept, the peer's path and capabilities and
 * who connects (RFC 6135 §4.2: the offerer unless the answer says `active`). An answer that does not match the
 * offer (another number of m-lines, an answered line we did not offer as MSRP, a broken attribute) is an error
 * value, never a throw.
 */
export function readMsrpAnswer(
  offer: SessionDescription,
  answer: SessionDescription,
):
  | { readonly ok: true; readonly media: readonly NegotiatedMsrp[] }
  | { readonly ok: false; readonly reason: string } {
  if (offer.media.length !== answer.media.length)
    return {
      ok: false,
      reason: `the answer has ${answer.media.length} m= lines, the offer ${offer.media.length}`,
    };
  const out: NegotiatedMsrp[] = [];
  for (let index = 0; index < offer.media.length; index++) {
    const ours = readMsrpMedia(offer, index);
    const theirs = readMsrpMedia(answer, index);
    if (theirs instanceof ParseError) return { ok: false, reason: theirs.reason };
    if (theirs === undefined) continue;
    if (ours === undefined || ours instanceof ParseError)
      return { ok: false, reason: `m= line ${index + 1} was answered but not offered as MSRP` };
    out.push({
      index,
      remotePath: theirs.path,
      localPath: ours.path,
      remoteAcceptTypes: theirs.acceptTypes,
      remoteAcceptWrappedTypes: theirs.acceptWrappedTypes,
      remoteMaxSize: theirs.maxSize,
      active: theirs.setup !== 'active',
      direction: OPPOSITE[theirs.direction],
      file: theirs.file,
    });
  }
  if (out.length === 0) return { ok: false, reason: 'every MSRP line was declined' };
  return { ok: true, media: out };
}
