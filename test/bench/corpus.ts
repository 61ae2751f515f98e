/**
 * The benchmark corpus: the seven messages a SIP chat product handles most, as they arrive at the gateway
 * (CRLF line ends, RFC 3261 valid, 300–1500 bytes each). Content-Length is computed from the body's bytes, so a
 * message cannot drift out of sync when someone edits it.
 *
 * Every message is pure ASCII on purpose: the adapters of the string-based parsers receive
 * `bytes.toString('latin1')`, and for ASCII that string is identical to the UTF-8 reading, so no parser is
 * favoured by the choice of decoding.
 */

/** What a correct routing-mode read of the message yields; the harness checks every adapter against it. */
export interface RoutingExpectation {
  readonly method?: string;
  readonly status?: number;
  readonly viaBranch: string;
  readonly fromTag: string;
  readonly toTag?: string;
  readonly callId: string;
  readonly cseq: number;
  readonly cseqMethod: string;
  readonly maxForwards?: number;
  readonly routeCount: number;
  readonly contentLength: number;
}

export interface CorpusMessage {
  readonly name: string;
  /** The message as the string-based parsers receive it (latin1 = one char per byte; ASCII here). */
  readonly text: string;
  readonly bytes: Buffer;
  readonly expect: RoutingExpectation;
}

const CRLF = '\r\n';

function build(
  name: string,
  startLine: string,
  headers: readonly string[],
  body: readonly string[],
  expect: Omit<RoutingExpectation, 'contentLength'>,
): CorpusMessage {
  const bodyText = body.length === 0 ? '' : body.join(CRLF) + CRLF;
  const contentLength = Buffer.byteLength(bodyText, 'latin1');
  const text = [startLine, ...headers, `Content-Length: ${contentLength}`, '', bodyText].join(CRLF);
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7e) throw new Error(`corpus ${name}: non-ASCII character at ${i}`);
  }
  return { name, text, bytes: Buffer.from(text, 'latin1'), expect: { ...expect, contentLength } };
}

const ALICE_WS = 'df7jal23ls0d.invalid';
const GATEWAY = 'gw1.chat.example.com';

const messageText = build(
  'MESSAGE text/plain',
  'MESSAGE sip:bob@chat.example.com SIP/2.0',
  [
    `Via: SIP/2.0/TCP ${GATEWAY}:5060;branch=z9hG4bK-gw-7f3a91c2`,
    `Via: SIP/2.0/WSS ${ALICE_WS};received=198.51.100.23;rport=53214;branch=z9hG4bK6734021`,
    'Max-Forwards: 69',
    'To: <sip:bob@chat.example.com>',
    'From: "Alice" <sip:alice@chat.example.com>;tag=lq9v1kp3sm',
    'Call-ID: 8h2k1q7a0d3f5r9tjm4w',
    'CSeq: 1 MESSAGE',
    'Content-Type: text/plain',
  ],
  ['Are we still on for lunch at 12:30? I booked the table by the window, see you there! Carol joins.'],
  {
    method: 'MESSAGE',
    viaBranch: 'z9hG4bK-gw-7f3a91c2',
    fromTag: 'lq9v1kp3sm',
    callId: '8h2k1q7a0d3f5r9tjm4w',
    cseq: 1,
    cseqMethod: 'MESSAGE',
    maxForwards: 69,
    routeCount: 0,
  },
);

const messageCpim = build(
  'MESSAGE message/cpim + IMDN',
  'MESSAGE sip:bob@chat.example.com SIP/2.0',
  [
    `Via: SIP/2.0/WSS ${ALICE_WS};branch=z9hG4bK2287540`,
    'Max-Forwards: 70',
    `Route: <sip:${GATEWAY};transport=ws;lr>`,
    'To: "Bob" <sip:bob@chat.example.com>',
    'From: "Alice" <sip:alice@chat.example.com>;tag=r4t2bnm0xa',
    'Call-ID: c2pq8w1n5ev7s3l6k0zd',
    'CSeq: 7 MESSAGE',
    'Content-Type: message/cpim',
    'User-Agent: simple-chat/0.1.0',
  ],
  [
    'From: <sip:alice@chat.example.com>',
    'To: <sip:bob@chat.example.com>',
    'DateTime: 2025-11-22T09:17:03.512Z',
    'NS: imdn <urn:ietf:params:imdn>',
    'imdn.Message-ID: 6Xc8sPk2Tq4w',
    'imdn.Disposition-Notification: positive-delivery, display',
    '',
    'Content-Type: text/plain;charset=utf-8',
    '',
    'The slides are in the shared folder now.',
  ],
  {
    method: 'MESSAGE',
    viaBranch: 'z9hG4bK2287540',
    fromTag: 'r4t2bnm0xa',
    callId: 'c2pq8w1n5ev7s3l6k0zd',
    cseq: 7,
    cseqMethod: 'MESSAGE',
    maxForwards: 70,
    routeCount: 1,
  },
);

const notifyPidf = build(
  'NOTIFY presence (PIDF)',
  `NOTIFY sip:k3l4m5n6@${ALICE_WS};transport=ws;ob SIP/2.0`,
  [
    `Via: SIP/2.0/TCP ${GATEWAY}:5060;branch=z9hG4bK-pa-30c1d8e4`,
    'Max-Forwards: 70',
    `Route: <sip:GZ2Fm6cHFsb3cx@${GATEWAY}:5060;transport=tcp;lr>`,
    `Route: <sip:GZ2Fm6cHFsb3cx@${GATEWAY}:443;transport=ws;lr>`,
    'To: <sip:alice@chat.example.com>;tag=v83kd0wq1z',
    'From: <sip:bob@chat.example.com>;tag=pa-5f0e2b',
    'Call-ID: p7r3e5s1n9c2e4x6y8a0',
    'CSeq: 12 NOTIFY',
    'Contact: <sip:presence.chat.example.com:5060;transport=tcp>',
    'Event: presence',
    'Subscription-State: active;expires=3512',
    'Content-Type: application/pidf+xml',
  ],
  [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"',
    '    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:bob@chat.example.com">',
    '  <tuple id="t8e2b1"><status><basic>open</basic></status>',
    '    <contact priority="0.8">sip:bob@chat.example.com</contact></tuple>',
    '  <dm:person id="p1"><rpid:activities><rpid:away/></rpid:activities>',
    '    <dm:note>Back in 10 minutes</dm:note></dm:person>',
    '</presence>',
  ],
  {
    method: 'NOTIFY',
    viaBranch: 'z9hG4bK-pa-30c1d8e4',
    fromTag: 'pa-5f0e2b',
    toTag: 'v83kd0wq1z',
    callId: 'p7r3e5s1n9c2e4x6y8a0',
    cseq: 12,
    cseqMethod: 'NOTIFY',
    maxForwards: 70,
    routeCount: 2,
  },
);

const inviteMsrp = build(
  'INVITE MSRP offer',
  'INVITE sip:bob@chat.example.com SIP/2.0',
  [
    `Via: SIP/2.0/WSS ${ALICE_WS};branch=z9hG4bK5530897`,
    'Max-Forwards: 70',
    `Route: <sip:${GATEWAY};transport=ws;lr>`,
    'To: <sip:bob@chat.example.com>',
    'From: "Alice" <sip:alice@chat.example.com>;tag=0ph6c2r1ka',
    'Call-ID: 3mv9q2x7l1b4n8k5s0df',
    'CSeq: 3931 INVITE',
    `Contact: <sip:k3l4m5n6@${ALICE_WS};transport=ws;ob>`,
    'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,NOTIFY,PRACK',
    'Supported: 100rel,replaces,outbound,timer',
    'Session-Expires: 1800',
    'Accept: application/sdp, message/cpim, message/imdn+xml',
    'Content-Type: application/sdp',
    'User-Agent: simple-chat/0.1.0',
  ],
  [
    'v=0',
    `o=- 3923442651 3923442651 IN IP4 ${ALICE_WS}`,
    's=-',
    `c=IN IP4 ${ALICE_WS}`,
    't=0 0',
    'm=message 9 TCP/MSRP *',
    'a=accept-types:message/cpim text/plain application/im-iscomposing+xml',
    'a=accept-wrapped-types:text/plain message/imdn+xml',
    `a=path:msrp://${ALICE_WS}:2855/kjd93hfz2a;tcp`,
    'a=max-size:1048576',
    'a=setup:active',
    'a=sendrecv',
  ],
  {
    method: 'INVITE',
    viaBranch: 'z9hG4bK5530897',
    fromTag: '0ph6c2r1ka',
    callId: '3mv9q2x7l1b4n8k5s0df',
    cseq: 3931,
    cseqMethod: 'INVITE',
    maxForwards: 70,
    routeCount: 1,
  },
);

const okInvite = build(
  '200 OK to INVITE',
  'SIP/2.0 200 OK',
  [
    `Via: SIP/2.0/TCP ${GATEWAY}:5060;received=192.0.2.10;branch=z9hG4bK-gw-91ab20f4`,
    `Via: SIP/2.0/WSS ${ALICE_WS};received=198.51.100.23;rport=53214;branch=z9hG4bK5530897`,
    `Record-Route: <sip:GZ2Fm6cHFsb3cx@${GATEWAY}:5060;transport=tcp;lr>`,
    `Record-Route: <sip:GZ2Fm6cHFsb3cx@${GATEWAY}:443;transport=ws;lr>`,
    'To: <sip:bob@chat.example.com>;tag=8s1m5b0y3w',
    'From: "Alice" <sip:alice@chat.example.com>;tag=0ph6c2r1ka',
    'Call-ID: 3mv9q2x7l1b4n8k5s0df',
    'CSeq: 3931 INVITE',
    'Contact: <sip:bob@203.0.113.40:5062;transport=tcp>',
    'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,NOTIFY',
    'Supported: replaces,timer',
    'Session-Expires: 1800;refresher=uac',
    'Content-Type: application/sdp',
  ],
  [
    'v=0',
    'o=bob 2890844527 2890844527 IN IP4 203.0.113.40',
    's=-',
    'c=IN IP4 203.0.113.40',
    't=0 0',
    'm=message 2856 TCP/MSRP *',
    'a=accept-types:message/cpim text/plain',
    'a=accept-wrapped-types:text/plain message/imdn+xml',
    'a=path:msrp://203.0.113.40:2856/q8f2k0zl;tcp',
    'a=setup:passive',
  ],
  {
    status: 200,
    viaBranch: 'z9hG4bK-gw-91ab20f4',
    fromTag: '0ph6c2r1ka',
    toTag: '8s1m5b0y3w',
    callId: '3mv9q2x7l1b4n8k5s0df',
    cseq: 3931,
    cseqMethod: 'INVITE',
    routeCount: 0,
  },
);

const register = build(
  'REGISTER outbound',
  'REGISTER sip:chat.example.com SIP/2.0',
  [
    `Via: SIP/2.0/WSS ${ALICE_WS};branch=z9hG4bK9021374`,
    'Max-Forwards: 70',
    'To: <sip:alice@chat.example.com>',
    'From: <sip:alice@chat.example.com>;tag=d1k0s8e2vq',
    'Call-ID: r9g4t1e3q7x2m5w8b0ca',
    'CSeq: 2 REGISTER',
    `Contact: <sip:k3l4m5n6@${ALICE_WS};transport=ws;ob>;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";reg-id=1;expires=600;q=0.8`,
    'Expires: 600',
    'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,NOTIFY',
    'Supported: path,gruu,outbound',
    'User-Agent: simple-chat/0.1.0',
  ],
  [],
  {
    method: 'REGISTER',
    viaBranch: 'z9hG4bK9021374',
    fromTag: 'd1k0s8e2vq',
    callId: 'r9g4t1e3q7x2m5w8b0ca',
    cseq: 2,
    cseqMethod: 'REGISTER',
    maxForwards: 70,
    routeCount: 0,
  },
);

const unauthorized = build(
  '401 Digest SHA-256',
  'SIP/2.0 401 Unauthorized',
  [
    `Via: SIP/2.0/WSS ${ALICE_WS};received=198.51.100.23;rport=53214;branch=z9hG4bK9021374`,
    'To: <sip:alice@chat.example.com>;tag=reg-1c5b7f',
    'From: <sip:alice@chat.example.com>;tag=d1k0s8e2vq',
    'Call-ID: r9g4t1e3q7x2m5w8b0ca',
    'CSeq: 2 REGISTER',
    'WWW-Authenticate: Digest realm="chat.example.com", nonce="5fa1e2b4c7d9f0a3b6e8d1c4f7a0b3e6", opaque="b6e8d1c4", algorithm=SHA-256, qop="auth"',
    'Server: simple-chat-gateway/0.1.0',
  ],
  [],
  {
    status: 401,
    viaBranch: 'z9hG4bK9021374',
    fromTag: 'd1k0s8e2vq',
    toTag: 'reg-1c5b7f',
    callId: 'r9g4t1e3q7x2m5w8b0ca',
    cseq: 2,
    cseqMethod: 'REGISTER',
    routeCount: 0,
  },
);

export const corpus: readonly CorpusMessage[] = [
  messageText,
  messageCpim,
  notifyPidf,
  inviteMsrp,
  okInvite,
  register,
  unauthorized,
];
