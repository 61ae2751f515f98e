/**
 * The dialogs one INVITE creates (RFC 3261 §12.1.2, §13.2.2.4): a forking proxy may let several UASs answer,
 * each with its own To tag, so one INVITE can make several early dialogs and more than one confirmed dialog.
 * They share Call-ID and local tag; together they are the dialog set.
 *
 *                  1xx with a new To tag: a new early dialog; with a known one: that dialog's update
 *                 ┌──┐
 *                 │  ▼
 *              Pending ──first 2xx──▶ Accepted     the 2xx's dialog is confirmed, the other early ones end;
 *                 │                     │ ▲        a 2xx from another fork later: ACK it, then BYE it
 *                 │                     └─┘
 *                 └──non-2xx final, terminate()──▶ Failed     every early dialog ends
 *
 * How it works. The caller makes one set per INVITE client transaction (a retry with credentials after a 401
 * is a new INVITE, so a new set) and passes it every response the transaction delivers. A response is matched
 * to its dialog by To tag. The first 2xx decides the call: its dialog is confirmed (created on the spot if no
 * provisional response had made it early) and the early dialogs of the other forks are ended, since the proxy
 * cancels their branches and no final response will come for them. Any later 2xx from another fork still
 * creates a dialog (§13.2.2.4) that this user agent does not want: the set returns the ACK it must send and the
 * BYE that ends it (§15). A non-2xx final ends every early dialog (§12.3). The set never sends anything and
 * has no timers; when the transaction ends without a final response, the caller calls `terminate()`.
 */
import { InvalidStateError, ParseError } from '../errors.ts';
import type { SipRequest, SipResponse } from '../message/index.ts';
import {
  Dialog,
  checkDialogFields,
  type DialogOptions,
  type DialogRequestOptions,
  type DialogResponseResult,
  type ReliableProvisional,
} from './dialog.ts';
import { dialogSetKey } from './dialog-id.ts';

export type DialogSetState = 'Pending' | 'Accepted' | 'Failed';

const TRANSITIONS: Readonly<Record<DialogSetState, readonly DialogSetState[]>> = {
  Pending: ['Accepted', 'Failed'],
  Accepted: [],
  Failed: [],
};

/** What a response to the INVITE meant for the dialog set. */
export type DialogSetResult =
  | {
      /** a 1xx: `dialog` is the early dialog it created or updated, undefined for a 1xx without To tag */
      type: 'provisional';
      dialog: Dialog | undefined;
      created: boolean;
      /** RFC 3262: PRACK it (`dialog.createPrack(response)`) when 'in-order'; undefined for an unreliable 1xx */
      reliable: ReliableProvisional | undefined;
    }
  | {
      /** the 2xx that established the call: ACK it (`createAck`); `ended` are the other forks' early dialogs */
      type: 'accepted';
      dialog: Dialog;
      created: boolean;
      /** the same 2xx again: ACK it again, nothing else changed */
      retransmission: boolean;
      ended: Dialog[];
    }
  | {
      /** a 2xx from another fork after the call was decided: send `ack`, then `bye` (undefined if sent already) */
      type: 'redundant';
      dialog: Dialog;
      ack: SipRequest;
      bye: SipRequest | undefined;
      /** the 2xx carried an offer the INVITE did not answer: the ACK must carry an answer (§13.2.2.4) */
      answerNeeded: boolean;
    }
  | { type: 'rejected'; status: number; ended: Dialog[] }
  | { type: 'ignored'; reason: string };

export class DialogSet {
  readonly invite: SipRequest;
  readonly callId: string;
  readonly localTag: string;
  /** `dialogSetKey(callId, localTag)` */
  readonly key: string;

  #state: DialogSetState = 'Pending';
  readonly #options: DialogOptions;
  readonly #inviteSeq: number;
  /** by remote (To) tag */
  readonly #dialogs = new Map<string, Dialog>();
  #accepted: Dialog | undefined;
  /** remote tags of redundant dialogs whose BYE was already handed out */
  readonly #byed = new Set<string>();

  /** Throws TypeError unless `invite` is an INVITE with a From tag (one we are about to send). */
  constructor(invite: SipRequest, options: DialogOptions) {
    if (invite.method !== 'INVITE')
      throw new TypeError(`a dialog set follows an INVITE, not ${invite.method}`);
    const localTag = invite.fromTag;
    if (localTag === undefined || localTag === '') throw new TypeError('the INVITE has no From tag');
    this.invite = invite;
    this.callId = invite.callId;
    this.localTag = localTag;
    this.key = dialogSetKey(this.callId, localTag);
    this.#inviteSeq = invite.cseq.seq;
    this.#options = options;
  }

  get state(): DialogSetState {
    return this.#state;
  }
  /** every dialog of the set, in creation order, terminated ones included */
  get dialogs(): Dialog[] {
    return [...this.#dialogs.values()];
  }
  /** the dialog of the first 2xx */
  get accepted(): Dialog | undefined {
    return this.#accepted;
  }
  dialog(remoteTag: string): Dialog | undefined {
    return this.#dialogs.get(remoteTag);
  }

  /** A response the INVITE client transaction delivered. Never throws at the peer's mistakes. */
  receiveResponse(response: SipResponse): DialogSetResult {
    let toTag: string | undefined;
    try {
      const cseq = response.cseq;
      toTag = response.toTag;
      if (response.callId !== this.callId || response.fromTag !== this.localTag)
        return { type: 'ignored', reason: 'the response belongs to another dialog set' };
      if (cseq.method !== 'INVITE' || cseq.seq !== this.#inviteSeq)
        return { type: 'ignored', reason: 'the response answers another request' };
    } catch (e) {
      if (e instanceof ParseError) return { type: 'ignored', reason: `malformed response: ${e.reason}` };
      throw e;
    }
    const status = response.status;
    if (status < 200) return this.#provisional(response, toTag);
    if (status < 300) return this.#success(response, toTag);
    return this.#failure(status);
  }

  /**
   * The ACK of a 2xx to the INVITE (§13.2.2.4), with the credentials the INVITE carried (Authorization,
   * Proxy-Authorization) unless `options.headers` brings its own. Throws TypeError if no dialog of the set
   * has the 2xx's To tag (pass it to `receiveResponse` first).
   */
  createAck(response: SipResponse, options: DialogRequestOptions = {}): SipRequest {
    const dialog = this.#dialogs.get(response.toTag ?? '');
    if (dialog === undefined) throw new TypeError('no dialog of this set has that To tag');
    const headers: Record<string, string | readonly string[]> = {};
    for (const name of ['Authorization', 'Proxy-Authorization']) {
      const values = this.invite.headers.getAll(name);
      if (values.length > 0) headers[name] = values;
    }
    return dialog.createAck(response, { ...options, headers: { ...headers, ...options.headers } });
  }

  /**
   * The INVITE transaction ended without (another) final response: end every early dialog still waiting.
   * Returns the dialogs ended. Idempotent.
   */
  terminate(): Dialog[] {
    const ended = this.#endEarly();
    if (this.#state === 'Pending') this.#transition('Failed');
    return ended;
  }

  #provisional(response: SipResponse, toTag: string | undefined): DialogSetResult {
    if (this.#state !== 'Pending')
      return {
        type: 'ignored',
        reason: `a provisional response after the set was ${this.#state.toLowerCase()}`,
      };
    // RFC 3261 §12.1: only a 101–199 with a To tag makes an (early) dialog; a 100 or an untagged 1xx does not.
    if (toTag === undefined || toTag === '' || response.status === 100)
      return { type: 'provisional', dialog: undefined, created: false, reliable: undefined };
    const known = this.#dialogs.get(toTag);
    if (known !== undefined) {
      // An early dialog the caller ended (an RFC 6228 199, say) stays ended.
      if (known.state === 'Terminated') return { type: 'ignored', reason: 'that early dialog was ended' };
      const result = known.receiveResponse(response);
      if (result.type !== 'provisional')
        return { type: 'ignored', reason: `not applied: ${describe(result)}` };
      return { type: 'provisional', dialog: known, created: false, reliable: result.reliable };
    }
    const problem = checkDialogFields(response);
    if (problem !== undefined) return { type: 'ignored', reason: problem };
    // RFC 3261 §12.1.2, §13.2.2.4: a provisional response with a new To tag creates another early dialog.
    const dialog = Dialog.uac(this.invite, response, this.#options);
    this.#dialogs.set(toTag, dialog);
    const reliable = dialog.remoteRSeq === undefined ? undefined : 'in-order';
    return { type: 'provisional', dialog, created: true, reliable };
  }

  #success(response: SipResponse, toTag: string | undefined): DialogSetResult {
    if (toTag === undefined || toTag === '')
      return { type: 'ignored', reason: 'a 2xx without To tag (RFC 2543) makes no dialog here' };
    const problem = checkDialogFields(response);
    if (problem !== undefined) return { type: 'ignored', reason: problem };
    const accepted = this.#accepted;
    // The same 2xx again (RFC 6026: the transaction hands 2xx retransmissions up): ACK it again.
    if (accepted !== undefined && accepted.id.remoteTag === toTag) {
      accepted.receiveResponse(response);
      return { type: 'accepted', dialog: accepted, created: false, retransmission: true, ended: [] };
    }
    let dialog = this.#dialogs.get(toTag);
    let created = false;
    if (dialog === undefined || dialog.state === 'Terminated') {
      // RFC 3261 §13.2.2.4: a 2xx matching no live dialog constructs a confirmed one (§12.1.2).
      dialog = Dialog.uac(this.invite, response, this.#options);
      this.#dialogs.set(toTag, dialog);
      created = true;
    } else {
      // RFC 3261 §13.2.2.4: a 2xx matching an early dialog confirms it and recomputes its route set.
      dialog.receiveResponse(response);
    }
    if (this.#state !== 'Pending') return this.#redundant(dialog, response, toTag);
    this.#accepted = dialog;
    this.#transition('Accepted');
    // The forking proxy cancels the other branches once it forwards a 2xx; no final response will come for
    // their early dialogs, so they end now (a late 2xx from one of them is handled as redundant).
    return { type: 'accepted', dialog, created, retransmission: false, ended: this.#endEarly() };
  }

  // RFC 3261 §13.2.2.4: every 2xx must be ACKed; a dialog the UAC does not want is then ended with a BYE (§15).
  #redundant(dialog: Dialog, response: SipResponse, toTag: string): DialogSetResult {
    const ack = this.createAck(response);
    const answerNeeded = this.invite.body.length === 0 && response.body.length > 0;
    if (this.#byed.has(toTag) || dialog.state !== 'Confirmed')
      return { type: 'redundant', dialog, ack, bye: undefined, answerNeeded };
    this.#byed.add(toTag);
    return { type: 'redundant', dialog, ack, bye: dialog.createRequest('BYE'), answerNeeded };
  }

  #failure(status: number): DialogSetResult {
    if (this.#state !== 'Pending')
      return {
        type: 'ignored',
        reason: `a final ${String(status)} after the set was ${this.#state.toLowerCase()}`,
      };
    // RFC 3261 §12.3: a non-2xx final response to the INVITE ends every early dialog it created.
    const ended = this.#endEarly();
    this.#transition('Failed');
    return { type: 'rejected', status, ended };
  }

  #endEarly(): Dialog[] {
    const ended: Dialog[] = [];
    for (const dialog of this.#dialogs.values()) {
      if (dialog.state !== 'Early') continue;
      dialog.terminate();
      ended.push(dialog);
    }
    return ended;
  }

  #transition(to: DialogSetState): void {
    if (!TRANSITIONS[this.#state].includes(to))
      throw new InvalidStateError(`dialog set ${this.key}: no transition from ${this.#state} to ${to}`);
    this.#state = to;
  }
}

function describe(result: DialogResponseResult): string {
  switch (result.type) {
    case 'ignored':
      return result.reason;
    case 'provisional':
      return 'provisional';
    case 'final':
      return `final ${String(result.status)}`;
  }
}
