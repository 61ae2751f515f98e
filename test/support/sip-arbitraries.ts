import fc from 'fast-check';

/** fast-check generators of valid SIP messages (text) built from the RFC 3261 grammar's pieces. */
const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const tokenChars = alnum + "-.!%*_+`'~";
const chars = (set: string, min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...set.split('')), { minLength: min, maxLength: max }).map((a) => a.join(''));

export const token = chars(tokenChars, 1, 12);
const label = chars('abcdefghijklmnopqrstuvwxyz0123456789', 1, 8);
export const host = fc.oneof(
  fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.') + '.example'),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.')),
  fc.constant('[2001:db8::1]'),
);
const user = chars(alnum + "-_.!~*'()&=+$,;?/", 1, 12);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
const uriParam = fc.tuple(chars(alnum, 1, 6), fc.option(chars(alnum + '-.', 1, 8), { nil: undefined }));

export const sipUri = fc
  .record({
    scheme: fc.constantFrom('sip', 'sips'),
    user: fc.option(user, { nil: undefined }),
    host,
    port,
    params: fc.array(uriParam, { maxLength: 3 }),
  })
  .map((u) => {
    let s = `${u.scheme}:${u.user !== undefined ? u.user + '@' : ''}${u.host}${u.port !== undefined ? ':' + String(u.port) : ''}`;
    for (const [k, v] of u.params) s += v === undefined ? `;${k}` : `;${k}=${v}`;
    return s;
  });

const quotedText = fc
  .string({ maxLength: 16 })
  .map((s) => '"' + s.replace(/[\x00-\x1f\x7f"\\]/g, '').replace(/\s+/g, ' ') + '"');
const nameAddr = fc
  .tuple(
    fc.option(quotedText, { nil: undefined }),
    sipUri,
    fc.array(fc.tuple(token, token), { maxLength: 2 }),
  )
  .map(
    ([dn, uri, params]) =>
      `${dn !== undefined ? dn + ' ' : ''}<${uri}>${params.map(([k, v]) => `;${k}=${v}`).join('')}`,
  );
const via = fc
  .tuple(fc.constantFrom('UDP', 'TCP', 'TLS', 'WS', 'WSS'), host, port, token)
  .map(([t, h, p, b]) => `SIP/2.0/${t} ${h}${p !== undefined ? ':' + String(p) : ''};branch=z9hG4bK${b}`);
const extension = fc.tuple(
  token.filter(
    (t) =>
      !/^(via|v|from|f|to|t|call-id|i|cseq|max-forwards|route|record-route|content-length|l|content-type|c|contact|m|expires|date|event|o|[a-z])$/i.test(
        t,
      ),
  ),
  chars(alnum + ' -_.:;/=@<>"', 0, 30).map((s) => s.trim()),
);

export interface GeneratedMessage {
  text: string;
  body: Uint8Array;
}

export const sipMessage: fc.Arbitrary<GeneratedMessage> = fc
  .record({
    request: fc.boolean(),
    method: fc.constantFrom(
      'MESSAGE',
      'INVITE',
      'OPTIONS',
      'REGISTER',
      'SUBSCRIBE',
      'NOTIFY',
      'BYE',
      'X-CUSTOM',
    ),
    status: fc.integer({ min: 100, max: 699 }),
    reason: chars(alnum + ' ', 0, 20),
    ruri: sipUri,
    vias: fc.array(via, { minLength: 1, maxLength: 3 }),
    from: nameAddr,
    to: nameAddr,
    callId: chars(alnum + '-.!%*_+`\'~()<>:\\"/[]?{}', 1, 20),
    cseq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxForwards: fc.integer({ min: 0, max: 255 }),
    route: fc.array(nameAddr, { maxLength: 2 }),
    extensions: fc.array(extension, { maxLength: 4 }),
    body: fc.uint8Array({ maxLength: 64 }),
  })
  .map((m) => {
    const lines = [m.request ? `${m.method} ${m.ruri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason}`];
    for (const v of m.vias) lines.push(`Via: ${v}`);
    lines.push(
      `From: ${m.from}`,
      `To: ${m.to}`,
      `Call-ID: ${m.callId}`,
      `CSeq: ${m.cseq} ${m.method}`,
      `Max-Forwards: ${m.maxForwards}`,
    );
    for (const r of m.route) lines.push(`Route: ${r}`);
    for (const [k, v] of m.extensions) lines.push(`${k}: ${v}`);
    if (m.body.length > 0) lines.push('Content-Type: application/octet-stream');
    lines.push(`Content-Length: ${m.body.length}`, '', '');
    return { text: lines.join('\r\n'), body: m.body };
  });

export function toBytes(m: GeneratedMessage): Uint8Array {
  const head = new TextEncoder().encode(m.text);
  const out = new Uint8Array(head.length + m.body.length);
  out.set(head);
  out.set(m.body, head.length);
  return out;
}
