/**
 * The route set of a dialog (RFC 3261 §12.1.1, §12.1.2) and where an in-dialog request goes (§12.2.1.1).
 *
 *   UAC ── P1 ── P2 ── UAS          the INVITE collects   Record-Route: <P2;lr>, <P1;lr>   (each proxy on top)
 *
 *   UAS route set = [P2, P1]        taken in order: the first hop from the UAS is the proxy nearest to it
 *   UAC route set = [P1, P2]        reversed: the first hop from the UAC is the proxy nearest to it
 *
 *   loose (first route has lr)      R-URI = remote target      Route: P1, P2
 *   strict (first route lacks lr)   R-URI = P1 (cleaned)       Route: P2, remote target
 *
 * How it works. A route set is the list of URIs of the Record-Route header, with every URI parameter kept;
 * the header parameters of Record-Route values are not part of it. It is computed once, when the dialog is
 * made, and never changes afterwards (§12.2: only the remote target is refreshed). To address a request, the
 * first route tells which routing its proxy does: a loose router (`lr`, RFC 3261) leaves the Request-URI
 * alone, so it carries the remote target and the route set travels in Route; a strict router (RFC 2543)
 * expects to be the Request-URI, so it goes there and the remote target becomes the last Route value.
 */
import type { SipMessage, SipRequest, SipResponse, Uri } from '../message/index.ts';

export type RouteSet = readonly Uri[];

/** Where an in-dialog request is addressed. */
export interface RequestTarget {
  requestUri: Uri;
  /** the Route header values, in order (empty: no Route header) */
  route: Uri[];
  /** where the transport sends it (§8.1.2): the first Route for a loose route set, else the Request-URI */
  nextHop: Uri;
}

/**
 * The route set a dialog takes from the Record-Route of the request (UAS) or of the response (UAC).
 * Throws ParseError for a malformed Record-Route.
 */
export function routeSetFrom(msg: SipMessage, role: 'uac' | 'uas'): Uri[] {
  const uris = msg.recordRoute.map((rr) => rr.uri);
  // RFC 3261 §12.1.1: the UAS keeps the Record-Route URIs in order, parameters and all.
  if (role === 'uas') return uris;
  // RFC 3261 §12.1.2: the UAC takes them in reverse order.
  return uris.reverse();
}

// RFC 3261 §12.1.1: a UAS copies every Record-Route value of a dialog-creating request into its response,
// URIs and parameters of all kinds untouched and in the same order (`createResponse` does not: most responses
// need no Record-Route).
/** Copy the request's Record-Route fields, verbatim and in order, into a dialog-creating response. */
export function copyRecordRoute(request: SipRequest, response: SipResponse): void {
  const values = request.headers.getAll('Record-Route');
  if (values.length === 0) response.headers.delete('Record-Route');
  else response.headers.set('Record-Route', values);
}

/** A route whose URI carries `lr` belongs to a loose router (RFC 3261 §19.1.1). */
export function isLooseRoute(uri: Uri): boolean {
  return uri.param('lr') !== undefined;
}

// RFC 3261 §19.1.1 (table 1): `method` and URI headers are not allowed in a Request-URI.
/** A URI made fit for the Request-URI: without the `method` parameter and without URI headers. */
export function asRequestUri(uri: Uri): Uri {
  if (!uri.isSip) return uri;
  if (uri.param('method') === undefined && uri.headers.size === 0) return uri;
  const params = new Map(uri.params);
  params.delete('method');
  return uri.with({ params, headers: new Map() });
}

/** Request-URI, Route values and next hop of a request sent within a dialog. */
export function requestTarget(routeSet: RouteSet, remoteTarget: Uri): RequestTarget {
  const first = routeSet[0];
  // RFC 3261 §12.2.1.1: with no route set, the remote target is the Request-URI and there is no Route.
  if (first === undefined) {
    const requestUri = asRequestUri(remoteTarget);
    return { requestUri, route: [], nextHop: requestUri };
  }
  // RFC 3261 §12.2.1.1: a loose first route: the remote target is the Request-URI, the route set is Route.
  if (isLooseRoute(first)) {
    return { requestUri: asRequestUri(remoteTarget), route: [...routeSet], nextHop: first };
  }
  // RFC 3261 §12.2.1.1: a strict first route becomes the Request-URI (minus what a Request-URI may not
  // hold); Route carries the rest of the set, parameters intact, and then the remote target.
  const requestUri = asRequestUri(first);
  return { requestUri, route: [...routeSet.slice(1), remoteTarget], nextHop: requestUri };
}

/** A Route header value: the URI always in angle brackets, since it may carry parameters (§20.34). */
export function formatRoute(uri: Uri): string {
  return `<${uri.toString()}>`;
}
