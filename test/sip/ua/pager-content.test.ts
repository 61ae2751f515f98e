/**
 * What a peer may put in a MESSAGE body never throws out of the pager's reader: it is text, notifications, a
 * typing status, or a refusal with the status to answer (400 or 415).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePagerBody, parseMediaType } from '../../../web/src/sip/index.ts';

const TYPES = [
  'text/plain',
  'message/cpim',
  'message/imdn+xml',
  'application/im-iscomposing+xml',
  'multipart/mixed;boundary=b',
  'multipart/mixed',
  'application/json',
];

/** Bodies that look like what a peer would send, cut and spliced at random. */
const SEEDS = [
  'From: <sip:a@b>\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: x\r\n\r\nContent-Type: text/plain\r\n\r\nhi',
  'From: <sip:a@b>\r\n\r\nContent-Type: multipart/mixed;boundary=q\r\n\r\n--q\r\nContent-Type: message/imdn+xml\r\n\r\n<imdn/>\r\n--q--\r\n',
  '--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/resource-lists+xml\r\n\r\n<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list><entry uri="sip:x@y"/></list></resource-lists>\r\n--b--\r\n',
  '<?xml version="1.0"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state></isComposing>',
];

const body = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .tuple(fc.constantFrom(...SEEDS), fc.nat(400), fc.nat(400), fc.string({ maxLength: 20 }))
    .map(([seed, a, b, junk]) => new TextEncoder().encode(seed.slice(0, a) + junk + seed.slice(b))),
);

describe('decodePagerBody', () => {
  it('never throws: a body it cannot read is refused with 400 or 415', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TYPES), body, (type, bytes) => {
        const content = decodePagerBody(parseMediaType(type), bytes);
        if (content.kind === 'refused') expect([400, 415]).toContain(content.status);
      }),
      { numRuns: 2_000 },
    );
  });

  it('reads a body without Content-Type as text/plain, and refuses types it does not take with 415', () => {
    expect(decodePagerBody(undefined, new TextEncoder().encode('plain'))).toMatchObject({
      kind: 'text',
      text: 'plain',
    });
    expect(decodePagerBody(parseMediaType('image/png'), new Uint8Array([1]))).toMatchObject({
      kind: 'refused',
      status: 415,
    });
    // a multipart with no message part
    const onlyList = new TextEncoder().encode(
      '--b\r\nContent-Type: application/resource-lists+xml\r\n\r\n<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"/>\r\n--b--\r\n',
    );
    expect(decodePagerBody(parseMediaType('multipart/mixed;boundary=b'), onlyList)).toMatchObject({
      kind: 'refused',
      status: 415,
    });
  });
});
