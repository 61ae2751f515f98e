import type { SipMessage } from '../../web/src/sip/index.ts';

/**
 * What a message means, independent of how it was written: start line, every header's normalised name and
 * value in order, every typed header's parsed value, and the body bytes. Two messages with equal meaning
 * are interchangeable for any SIP element.
 */
export function meaning(msg: SipMessage): unknown {
  const typed = {
    via: msg.via,
    from: [msg.from.displayName, msg.from.uri.toString(), [...msg.from.params]],
    to: [msg.to.displayName, msg.to.uri.toString(), [...msg.to.params]],
    callId: msg.callId,
    cseq: msg.cseq,
    maxForwards: msg.maxForwards,
    contacts: msg.contacts.map((c) => [c.displayName, c.uri.toString(), [...c.params]]),
    route: msg.route.map((r) => r.uri.toString()),
    contentType: msg.contentType,
  };
  return {
    start: msg.kind === 'request' ? [msg.method, msg.uri.toString()] : [msg.status, msg.reason],
    headers: msg.headers.fields
      .filter((f) => f.key !== 'content-length')
      .map((f) => [f.name.toLowerCase(), f.value]),
    typed,
    body: Array.from(msg.body),
  };
}
