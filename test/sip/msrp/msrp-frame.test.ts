import { describe, expect, it } from 'vitest';
import {
  ParseError,
  framePath,
  msrpHeader,
  msrpReport,
  msrpRequest,
  msrpResponse,
  parseByteRange,
  parseMsrpFrame,
  parseMsrpStatus,
  serializeMsrpFrame,
  enumHeader,
  integerHeader,
} from '../../../web/src/sip/index.ts';
import { bytesOf, text } from '../../support/msrp-pair.ts';

const crlf = (...lines: string[]): string => lines.join('\r\n');

// RFC 4975 §4 / §7.1.1, in our own words: Juliet asks Romeo a question in one chunk, and Romeo's endpoint says 200.
const send = crlf(
  'MSRP t8dk2mQz SEND',
  'To-Path: msrp://romeo.example.net:12763/kjhd37s2s20w2a;tcp',
  'From-Path: msrp://juliet.example.org:7654/jshA7weztas;tcp',
  'Message-ID: m77fa01',
  'Byte-Range: 1-19/19',
  'Content-Type: text/plain',
  '',
  'Art thou there yet?',
  '-------t8dk2mQz$',
  '',
);
const ok = crlf(
  'MSRP t8dk2mQz 200 OK',
  'To-Path: msrp://juliet.example.org:7654/jshA7weztas;tcp',
  'From-Path: msrp://romeo.example.net:12763/kjhd37s2s20w2a;tcp',
  '-------t8dk2mQz$',
  '',
);

describe('MSRP frames (RFC 4975 §7, §9)', () => {
  it('parses a SEND: start line, headers in order, body bytes, flag', () => {
    const f = parseMsrpFrame(send);
    expect(f).toMatchObject({ transactionId: 't8dk2mQz', method: 'SEND', status: undefined, flag: '$' });
    expect(f.headers.map(([n]) => n)).toEqual([
      'To-Path',
      'From-Path',
      'Message-ID',
      'Byte-Range',
      'Content-Type',
    ]);
    expect(text(f.body!)).toBe('Art thou there yet?');
    expect(msrpHeader(f, 'message-id')).toBe('m77fa01');
    expect(parseByteRange(msrpHeader(f, 'Byte-Range')!)).toEqual({ start: 1, end: 19, total: 19 });
    expect(text(serializeMsrpFrame(f))).toBe(send);
  });

  it('builds the 200 a SEND gets: back to the previous hop only, from the responder (§7.2)', () => {
    const response = msrpResponse(parseMsrpFrame(send), 200);
    expect(text(serializeMsrpFrame(response))).toBe(ok);
    expect(parseMsrpFrame(ok)).toMatchObject({ status: 200, comment: 'OK', body: undefined });
  });

  it('answers a SEND that came through relays to the last relay, a non-SEND to the reversed From-Path (§7.2)', () => {
    const relayed = parseMsrpFrame(
      send.replace(
        'From-Path: msrp://juliet.example.org:7654/jshA7weztas;tcp',
        'From-Path: msrps://relay2.example.net;tcp msrps://relay1.example.org/a1;tcp msrp://juliet.example.org:7654/jshA7weztas;tcp',
      ),
    );
    expect(msrpHeader(msrpResponse(relayed, 200), 'To-Path')).toBe('msrps://relay2.example.net;tcp');
    const other = { ...relayed, method: 'NOTE' };
    expect(msrpHeader(msrpResponse(other, 501), 'To-Path')).toBe(
      'msrp://juliet.example.org:7654/jshA7weztas;tcp msrps://relay1.example.org/a1;tcp msrps://relay2.example.net;tcp',
    );
    expect(msrpResponse(other, 501).comment).toBe('Not Implemented');
  });

  it('builds the success REPORT of §7.1.2: to the whole From-Path, with Message-ID, Byte-Range and Status', () => {
    const report = msrpReport(parseMsrpFrame(send), 200, {
      transactionId: 'r9vv2kq1',
      self: 'msrp://romeo.example.net:12763/kjhd37s2s20w2a;tcp',
      byteRange: { start: 1, end: 19, total: 19 },
    });
    expect(text(serializeMsrpFrame(report))).toBe(
      crlf(
        'MSRP r9vv2kq1 REPORT',
        'To-Path: msrp://juliet.example.org:7654/jshA7weztas;tcp',
        'From-Path: msrp://romeo.example.net:12763/kjhd37s2s20w2a;tcp',
        'Message-ID: m77fa01',
        'Byte-Range: 1-19/19',
        'Status: 000 200 OK',
        '-------r9vv2kq1$',
        '',
      ),
    );
    expect(parseMsrpStatus(msrpHeader(report, 'Status')!)).toEqual({ code: 200, comment: 'OK' });
  });

  it('keeps a body with a look-alike end-line, an empty body, and a chunk that continues (+) or aborts (#)', () => {
    const tricky = 'x\r\n-------t8dk2mQy$\r\n--------t8dk2mQz$\r\n-------t8dk2mQz!\r\nend';
    const f = parseMsrpFrame(send.replace('Art thou there yet?', tricky).replace('1-19/19', '1-*/*'));
    expect(text(f.body!)).toBe(tricky);
    // §9: content-stuff ends with data CRLF, so an empty body is a blank line then CRLF then the end-line.
    const empty = parseMsrpFrame(send.replace('Art thou there yet?', '').replace('1-19/19', '1-0/0'));
    expect(empty.body).toEqual(new Uint8Array(0));
    expect(parseMsrpFrame(send.replace('-------t8dk2mQz$', '-------t8dk2mQz+')).flag).toBe('+');
    expect(parseMsrpFrame(send.replace('-------t8dk2mQz$', '-------t8dk2mQz#')).flag).toBe('#');
  });

  it('writes what it parses, byte for byte, with binary bodies', () => {
    const body = Uint8Array.from({ length: 256 }, (_, i) => i);
    const frame = msrpRequest({
      method: 'SEND',
      transactionId: 'abcd1234',
      toPath: ['msrp://b.example/s2;tcp'],
      fromPath: ['msrp://a.example/s1;tcp'],
      headers: [
        ['Message-ID', 'm1'.padEnd(4, 'x')],
        ['Byte-Range', '1-256/256'],
      ],
      body,
      contentType: 'application/octet-stream',
    });
    const again = parseMsrpFrame(serializeMsrpFrame(frame));
    expect(again).toEqual(frame);
    expect(msrpHeader(again, 'Content-Type')).toBe('application/octet-stream');
  });

  it.each([
    ['no end-line', send.replace('-------t8dk2mQz$\r\n', '')],
    ['the wrong id in the end-line', send.replace('-------t8dk2mQz$', '-------t8dk2mQq$')],
    ['a bad flag', send.replace('-------t8dk2mQz$', '-------t8dk2mQz%')],
    ['bytes after the end-line', send + 'MSRP'],
    ['a lower-case method', send.replace('SEND', 'send')],
    ['a too short transaction id', send.replace(/t8dk2mQz/g, 'abc')],
    ['a header without a colon', send.replace('Message-ID: m77fa01', 'Message-ID m77fa01')],
    ['a control character in a value', send.replace('m77fa01', 'm77\x01fa01')],
    ['a missing To-Path', send.replace(/To-Path: [^\r]*\r\n/, '')],
    [
      'a bad To-Path URI',
      send.replace('msrp://romeo.example.net:12763/kjhd37s2s20w2a;tcp', 'sip:romeo@example.net'),
    ],
    ['a body without Content-Type', send.replace('Content-Type: text/plain\r\n', '')],
    ['not MSRP at all', 'INVITE sip:x SIP/2.0\r\n\r\n'],
  ])('refuses a frame with %s (ParseError)', (_, bad) => {
    expect(() => parseMsrpFrame(bad)).toThrow(ParseError);
  });

  it('checks Byte-Range values (§9): start from 1, end at least start-1, within the total; * for unknown', () => {
    expect(parseByteRange('1-*/*')).toEqual({ start: 1, end: undefined, total: undefined });
    expect(parseByteRange('33-*/140')).toEqual({ start: 33, end: undefined, total: 140 });
    expect(parseByteRange('1-0/0')).toEqual({ start: 1, end: 0, total: 0 });
    for (const bad of ['0-10/10', '5-3/10', '1-11/10', '1-10', 'a-b/c', '1 - 10/10', '-1-5/5', '1-2/3/4'])
      expect(() => parseByteRange(bad), bad).toThrow(ParseError);
  });

  it('reads the typed headers strictly: paths, Status, reports, integers', () => {
    const f = parseMsrpFrame(
      send.replace('Byte-Range: 1-19/19', 'Byte-Range: 1-19/19\r\nFailure-Report: partial\r\nExpires: 900'),
    );
    expect(framePath(f, 'To-Path').map((u) => u.sessionId)).toEqual(['kjhd37s2s20w2a']);
    expect(enumHeader(f, 'Failure-Report', ['yes', 'no', 'partial'], 'yes')).toBe('partial');
    expect(enumHeader(f, 'Success-Report', ['yes', 'no'], 'no')).toBe('no');
    expect(integerHeader(f, 'Expires')).toBe(900);
    const bad = parseMsrpFrame(
      send.replace('Byte-Range: 1-19/19', 'Byte-Range: 1-19/19\r\nFailure-Report: maybe\r\nExpires: soon'),
    );
    expect(() => enumHeader(bad, 'Failure-Report', ['yes', 'no', 'partial'], 'yes')).toThrow(ParseError);
    expect(() => integerHeader(bad, 'Expires')).toThrow(ParseError);
    expect(() => parseMsrpStatus('200 OK')).toThrow(ParseError);
  });

  it('refuses to build what cannot be written (TypeError)', () => {
    const base = {
      method: 'SEND',
      transactionId: 'abcd1234',
      toPath: ['msrp://b.example/s;tcp'],
      fromPath: ['msrp://a.example/s;tcp'],
    };
    expect(() => msrpRequest({ ...base, method: 'send' })).toThrow(TypeError);
    expect(() => msrpRequest({ ...base, transactionId: 'a b' })).toThrow(TypeError);
    expect(() => msrpRequest({ ...base, body: bytesOf('x') })).toThrow(TypeError);
    expect(() => msrpRequest({ ...base, headers: [['X-Evil', 'a\r\nTo-Path: x']] })).toThrow(TypeError);
  });
});
