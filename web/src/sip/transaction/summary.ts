/**
 * What a client transaction keeps of its request once a final response has arrived (RFC 3261 §17.1: from then on
 * it only absorbs retransmitted responses, matched by the layer's key, and for INVITE re-sends an ACK it has
 * already built). Keeping the whole request for Timer K / D / M would hold its body, every other header, the
 * parse caches and the message text for seconds; the summary keeps the request line and the fields a response is
 * built and matched by (Via, From, To, Call-ID, CSeq), and makes a small stand-in request only if asked.
 */
import { SipHeaders, SipRequest, Uri, type HeaderField } from '../message/index.ts';

const KEPT = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

export class RequestSummary {
  readonly method: string;
  readonly #uri: string;
  readonly #fields: HeaderField[] = [];
  #request: SipRequest | undefined;

  constructor(request: SipRequest) {
    this.method = request.method;
    this.#uri = request.uri.toString();
    for (const field of request.headers.fields) if (KEPT.has(field.key)) this.#fields.push(field);
  }

  /** A stand-in for the request: its request line and its Via, From, To, Call-ID and CSeq fields; no body. */
  get request(): SipRequest {
    return (this.#request ??= new SipRequest(
      this.method,
      Uri.lazy(this.#uri),
      new SipHeaders(this.#fields.slice()),
    ));
  }
}
