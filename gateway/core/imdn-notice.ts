/**
 * The IMDNs (RFC 5438) the embedded core sends itself, as an intermediary: a processing notification "stored"
 * when the message store keeps a MESSAGE whose CPIM body asks for `processing`, and a delivery notification
 * "failed" when the URI-list service could not deliver a copy whose CPIM body asks for `negative-delivery`.
 *
 * The notice is a MESSAGE to the IM's sender (the SIP From of the request, an authenticated or at least local
 * user) carrying a CPIM-wrapped message/imdn+xml document built by the core's codec (`buildImdnMessage`): the
 * IM's imdn.Message-ID and DateTime so the sender can match it, `recipient-uri` naming the recipient it is
 * about and `original-recipient-uri` the address the sender used (the IM's imdn.Original-To when it has one).
 */
import {
  IMDN_HEADER_NS,
  buildImdnMessage,
  parseCpim,
  parseCpimAddress,
  parseMediaType,
  wantsNotification,
  type CpimMessage,
  type DispositionRequest,
  type ImdnNotification,
  type SipRequest,
  type Uri,
} from '../../web/src/sip/server.ts';
import { coreMessage } from './uri-list.ts';

/** The request's body as CPIM when its Content-Type is message/cpim and it parses; otherwise undefined. */
export function cpimOf(request: SipRequest): CpimMessage | undefined {
  const type = request.headers.get('content-type');
  if (type === undefined) return undefined;
  try {
    const m = parseMediaType(type);
    if (m.type !== 'message' || m.subtype !== 'cpim') return undefined;
    return parseCpim(request.body);
  } catch {
    return undefined;
  }
}

/** The CPIM of a request when it asks for this notification (RFC 5438 §6.2 Disposition-Notification). */
export function requestedNotification(
  request: SipRequest,
  what: DispositionRequest,
): CpimMessage | undefined {
  const im = cpimOf(request);
  return im !== undefined && wantsNotification(im, what) ? im : undefined;
}

/** RFC 5438 §6.4: imdn.Original-To, the address the IM was first sent to, when an intermediary added one. */
export function originalToOf(im: CpimMessage): string | undefined {
  const header = im.headers.find((h) => h.ns === IMDN_HEADER_NS && h.name === 'Original-To');
  if (header === undefined) return undefined;
  try {
    return parseCpimAddress(header.value).uri;
  } catch {
    return undefined;
  }
}

export interface ImdnNoticeOptions {
  readonly im: CpimMessage;
  readonly notification: ImdnNotification;
  /** who sends the notice: its SIP From and CPIM From */
  readonly notifier: string;
  /** the IM's sender (SIP From of the IM): Request-URI and To of the notice */
  readonly sender: Uri;
  /** the recipient the notice is about */
  readonly recipientUri: string;
  /** the address the sender used for that recipient */
  readonly originalRecipientUri: string;
  /** wall-clock epoch ms: the notice's DateTime */
  readonly now: number;
  readonly ids: {
    readonly messageId: string;
    readonly callId: string;
    readonly fromTag: string;
    readonly via: string;
  };
}

/** The MESSAGE carrying the notice (Content-Type message/cpim, RFC 5438 §7.2.1 shape). */
export function imdnNotice(o: ImdnNoticeOptions): SipRequest {
  const { body } = buildImdnMessage({
    im: o.im,
    from: { uri: o.notifier },
    notification: o.notification,
    messageId: o.ids.messageId,
    now: o.now,
    recipientUri: o.recipientUri,
    originalRecipientUri: o.originalRecipientUri,
  });
  return coreMessage({
    target: o.sender,
    from: `<${o.notifier}>`,
    to: `<${o.sender.toString()}>`,
    fromTag: o.ids.fromTag,
    callId: o.ids.callId,
    via: o.ids.via,
    contentType: 'message/cpim',
    body,
  });
}
