import { describe, expect, it } from 'vitest';
import {
  ParseError,
  answerMsrpOffer,
  createMsrpOffer,
  fileAttributes,
  formatFileSelector,
  parseFileSelector,
  parseSdp,
  readFileAttributes,
  readMsrpMedia,
  serializeSdp,
  type SessionDescription,
} from '../../../web/src/sip/index.ts';

const parsed = (text: string): SessionDescription => {
  const r = parseSdp(text);
  if (!r.ok) throw new Error(r.reason);
  return r.sdp;
};

// RFC 5547 §9.1-style push, in our own words: Romeo offers a photo of the orchard wall.
const HASH = '3F:9A:11:C2:08:7E:5D:AB:90:14:66:E1:2B:7C:C5:D3:48:0F:A2:9B';
const pushOffer = [
  'v=0',
  'o=romeo 2890844526 2890844526 IN IP4 montague.example.net',
  's=-',
  'c=IN IP4 montague.example.net',
  't=0 0',
  'm=message 7654 TCP/MSRP *',
  'i=The orchard wall, by moonlight',
  'a=sendonly',
  'a=accept-types:message/cpim',
  'a=accept-wrapped-types:*',
  'a=path:msrp://montague.example.net:7654/oRch4rd;tcp',
  `a=file-selector:name:"Orchard wall %22moonlight%22.jpg" type:image/jpeg size:48211 hash:sha-1:${HASH}`,
  'a=file-transfer-id:Qa8Hx20vZk3mMb5pFw7Ty1Ls',
  'a=file-disposition:attachment',
  'a=file-date:creation:"Thu, 14 Jul 1594 23:10:00 +0100" modification:"Fri, 15 Jul 1594 06:00:00 +0100"',
  'a=file-icon:cid:icon1@montague.example.net',
  'a=file-range:1-48211',
  '',
].join('\r\n');

describe('file transfer attributes (RFC 5547)', () => {
  it('reads a push offer: selector with name, type, size and hash; id, disposition, dates, icon, range', () => {
    const m = readMsrpMedia(parsed(pushOffer), 0);
    expect(m).toMatchObject({ direction: 'sendonly', acceptWrappedTypes: ['*'] });
    expect(m instanceof ParseError || m?.file).toEqual({
      selector: {
        name: 'Orchard wall "moonlight".jpg',
        type: 'image/jpeg',
        size: 48211,
        hash: { algorithm: 'sha-1', value: HASH },
      },
      transferId: 'Qa8Hx20vZk3mMb5pFw7Ty1Ls',
      disposition: 'attachment',
      dates: { creation: 'Thu, 14 Jul 1594 23:10:00 +0100', modification: 'Fri, 15 Jul 1594 06:00:00 +0100' },
      icon: 'cid:icon1@montague.example.net',
      range: { start: 1, stop: 48211 },
    });
  });

  it('writes the same attributes back from what it read', () => {
    const m = readMsrpMedia(parsed(pushOffer), 0);
    if (m === undefined || m instanceof ParseError) throw new Error('no media');
    const lines = fileAttributes(m.file!).map((a) => `a=${a.name}:${a.value}`);
    expect(lines).toEqual(pushOffer.split('\r\n').filter((l) => l.startsWith('a=file-')));
  });

  it('answers a push as the receiver: recvonly, echoing the selector and transfer id', () => {
    const result = answerMsrpOffer(parsed(pushOffer), {
      sessionId: '77',
      local: {
        path: ['msrp://capulet.example.org:8888/jUl13t;tcp'],
        acceptTypes: ['message/cpim'],
        acceptWrappedTypes: ['*'],
      },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const answer = serializeSdp(result.answer);
    expect(answer).toContain('a=recvonly\r\n');
    expect(answer).toContain(
      `a=file-selector:name:"Orchard wall %22moonlight%22.jpg" type:image/jpeg size:48211 hash:sha-1:${HASH}\r\n`,
    );
    expect(answer).toContain('a=file-transfer-id:Qa8Hx20vZk3mMb5pFw7Ty1Ls\r\n');
    expect(result.accepted[0]).toMatchObject({ direction: 'recvonly', file: { selector: { size: 48211 } } });
  });

  it('offers the rest of a broken transfer with a=file-range (resume), same transfer id', () => {
    const file = {
      selector: { name: 'play.pdf', type: 'application/pdf', size: 1_000_000 },
      transferId: 'aaaaBBBBcccc',
      range: { start: 600_001, stop: 1_000_000 },
    };
    const offer = createMsrpOffer({
      sessionId: '1',
      path: ['msrp://a.example:2855/s1;tcp'],
      acceptTypes: ['*'],
      direction: 'sendonly',
      file,
    });
    const text = serializeSdp(offer);
    expect(text).toContain('a=file-selector:name:"play.pdf" type:application/pdf size:1000000\r\n');
    expect(text).toContain('a=file-range:600001-1000000\r\n');
    const m = readMsrpMedia(parsed(text), 0);
    expect(m instanceof ParseError || m?.file?.range).toEqual({ start: 600_001, stop: 1_000_000 });
  });

  it('parses selectors in any order and type parameters; refuses malformed ones', () => {
    expect(parseFileSelector('size:10 type:text/html;charset="ISO-8859-4" name:"a b.html"')).toEqual({
      size: 10,
      type: 'text/html;charset="ISO-8859-4"',
      name: 'a b.html',
    });
    expect(formatFileSelector({ name: 'x%y\r\n.txt', hash: { algorithm: 'sha-1', value: 'ab:cd' } })).toBe(
      'name:"x%25y%0D%0A.txt" hash:sha-1:AB:CD',
    );
    for (const bad of [
      'name:unquoted',
      'size:-1',
      'hash:sha-1:zz:11',
      'size:1 size:2',
      'colour:red',
      'name:"bad %ZZ"',
    ])
      expect(() => parseFileSelector(bad), bad).toThrow(ParseError);
    const attrs = (range: string) => [
      { name: 'file-selector', value: 'size:5' },
      { name: 'file-range', value: range },
    ];
    expect(readFileAttributes(attrs('1-*'))?.range).toEqual({ start: 1, stop: undefined });
    for (const bad of ['0-5', '5-4', 'a-b', '1-'])
      expect(() => readFileAttributes(attrs(bad)), bad).toThrow(ParseError);
    expect(() =>
      readFileAttributes([
        { name: 'file-selector', value: 'size:1' },
        { name: 'file-date', value: 'born:"x"' },
      ]),
    ).toThrow(ParseError);
    expect(readFileAttributes([{ name: 'accept-types', value: '*' }])).toBeUndefined();
  });

  it('turns a malformed file attribute in an offer into a 488 reason, not a throw', () => {
    const bad = pushOffer.replace('size:48211', 'size:big');
    const result = answerMsrpOffer(parsed(bad), {
      sessionId: '1',
      local: { path: ['msrp://capulet.example.org:8888/jUl13t;tcp'], acceptTypes: ['*'] },
    });
    expect(result).toMatchObject({ ok: false, status: 488 });
  });
});
