import { describe, expect, it } from 'vitest';
import { SipResponse, parseUri } from '../../../web/src/sip/index.ts';
import {
  asRequestUri,
  copyRecordRoute,
  isLooseRoute,
  requestTarget,
  routeSetFrom,
} from '../../../web/src/sip/dialog/index.ts';
import { outOfDialogRequest } from '../../support/dialog-builders.ts';

const uris = (...list: string[]) => list.map((u) => parseUri(u));
const TARGET = parseUri('sip:bob@192.0.2.201:5060;transport=tcp');

describe('route set from Record-Route (RFC 3261 §12.1.1, §12.1.2)', () => {
  const request = outOfDialogRequest({
    headers: {
      // one field with two values and one field with one: the order is across fields, then within them
      'Record-Route': [
        '<sip:p3.example.net;lr>, <sip:p2.example.net;lr;transport=tcp>',
        '<sip:p1.example.com;lr>;x=1',
      ],
    },
  });

  it('UAS: in order, with URI parameters kept and header parameters dropped', () => {
    expect(routeSetFrom(request, 'uas').map(String)).toEqual([
      'sip:p3.example.net;lr',
      'sip:p2.example.net;lr;transport=tcp',
      'sip:p1.example.com;lr',
    ]);
  });

  it('UAC: reversed', () => {
    expect(routeSetFrom(request, 'uac').map(String)).toEqual([
      'sip:p1.example.com;lr',
      'sip:p2.example.net;lr;transport=tcp',
      'sip:p3.example.net;lr',
    ]);
    // the message's own list is left alone
    expect(request.recordRoute[0]?.uri.toString()).toBe('sip:p3.example.net;lr');
  });

  it('copyRecordRoute puts the request values into the response verbatim and in order', () => {
    const response = new SipResponse(200, 'OK', { 'Record-Route': '<sip:stale.example.org;lr>' });
    copyRecordRoute(request, response);
    expect(response.headers.getAll('Record-Route')).toEqual(request.headers.getAll('Record-Route'));
    copyRecordRoute(outOfDialogRequest(), response);
    expect(response.headers.has('Record-Route')).toBe(false);
  });
});

describe('Request-URI and Route of an in-dialog request (RFC 3261 §12.2.1.1)', () => {
  it('no route set: the remote target, no Route', () => {
    expect(requestTarget([], TARGET)).toEqual({ requestUri: TARGET, route: [], nextHop: TARGET });
  });

  it('loose routing: R-URI = remote target, Route = route set, next hop = first route', () => {
    const set = uris('sip:p1.example.com;lr', 'sip:p2.example.net;lr');
    const t = requestTarget(set, TARGET);
    expect(t.requestUri).toBe(TARGET);
    expect(t.route.map(String)).toEqual(['sip:p1.example.com;lr', 'sip:p2.example.net;lr']);
    expect(t.nextHop.toString()).toBe('sip:p1.example.com;lr');
    expect(isLooseRoute(set[0]!)).toBe(true);
  });

  it('strict routing: R-URI = first route, Route = the rest + remote target, next hop = R-URI', () => {
    const set = uris('sip:p1.example.com;maddr=192.0.2.5;method=INVITE', 'sip:p2.example.net;lr;foo=bar');
    const t = requestTarget(set, TARGET);
    // parameters a Request-URI may not hold (method, headers) are stripped; the others stay
    expect(t.requestUri.toString()).toBe('sip:p1.example.com;maddr=192.0.2.5');
    expect(t.route.map(String)).toEqual(['sip:p2.example.net;lr;foo=bar', TARGET.toString()]);
    expect(t.nextHop).toBe(t.requestUri);
    expect(isLooseRoute(set[0]!)).toBe(false);
  });

  it('a lone strict route: R-URI = that route, Route = the remote target alone', () => {
    const t = requestTarget(uris('sip:p1.example.com'), TARGET);
    expect(t.requestUri.toString()).toBe('sip:p1.example.com');
    expect(t.route).toEqual([TARGET]);
  });

  it('asRequestUri leaves a clean URI as it is and strips headers', () => {
    const clean = parseUri('sip:bob@example.com;transport=tcp');
    expect(asRequestUri(clean)).toBe(clean);
    expect(asRequestUri(parseUri('sip:bob@example.com?Subject=hi')).toString()).toBe('sip:bob@example.com');
    const tel = parseUri('tel:+15551234567');
    expect(asRequestUri(tel)).toBe(tel);
  });
});
