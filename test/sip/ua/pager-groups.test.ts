/**
 * Page-mode groups (RFC 5365) through the URI-list service double of pager-net.ts: one MESSAGE out, a copy per
 * recipient that names the others, per-recipient ticks from each recipient's notifications and the service's
 * failure reports, and reply-to-all.
 */
import { describe, expect, it } from 'vitest';
import {
  parseCpim,
  parseMultipart,
  parseResourceLists,
  type SipRequest,
} from '../../../web/src/sip/index.ts';
import { isRequest } from '../../support/linked-pair.ts';
import { PagerNet } from '../../support/pager-net.ts';

const ALICE = 'sip:alice@example.com';
const BOB = 'sip:bob@example.com';
const CAROL = 'sip:carol@example.com';
const DAVE = 'sip:dave@example.com';
const GHOST = 'sip:ghost@example.com';

function net(options: Partial<ConstructorParameters<typeof PagerNet>[0]> = {}): PagerNet {
  return new PagerNet({ pagers: ['alice', 'bob', 'carol', 'dave'], ...options });
}

function send(n: PagerNet, to: string[], text: string, imdn = true): string {
  const r = n.pager('alice').sendGroup(to, text, { imdn });
  if (!r.ok) throw new Error('refused');
  return r.id;
}

describe('sending a page-mode group message (RFC 5365 §4)', () => {
  it('one MESSAGE to the URI-list service: Require, multipart with the list (copyControl "to") and the CPIM', () => {
    const n = net();
    const id = send(n, [BOB, CAROL, DAVE], 'hi all');
    n.settle();
    const wire = n.sent('alice', 'MESSAGE') as SipRequest[];
    expect(wire).toHaveLength(1);
    const request = wire[0]!;
    expect(request.uri.toString()).toBe('sip:uri-list@example.com');
    expect(request.require).toEqual(['recipient-list']);
    expect(request.headers.has('contact')).toBe(false);
    const type = request.contentType!;
    expect(`${type.type}/${type.subtype}`).toBe('multipart/mixed');
    const parts = parseMultipart(request.body, type.params.get('boundary')!.replace(/"/g, ''));
    const list = parts.find((p) => p.headers.get('content-type') === 'application/resource-lists+xml')!;
    expect(list.headers.get('content-disposition')).toBe('recipient-list');
    expect(parseResourceLists(list.body).entries).toEqual([
      { uri: BOB, copyControl: 'to', anonymize: false },
      { uri: CAROL, copyControl: 'to', anonymize: false },
      { uri: DAVE, copyControl: 'to', anonymize: false },
    ]);
    const message = parts.find((p) => p.headers.get('content-type') === 'message/cpim')!;
    const cpim = parseCpim(message.body);
    expect(cpim.messageId).toBe(id);
    expect(cpim.to.map((a) => a.uri)).toEqual([BOB, CAROL, DAVE]);
    expect(n.registrar.listRequests).toHaveLength(1);
  });

  it('each recipient sees the message once, as a group message listing everyone it went to', () => {
    const n = net();
    send(n, [BOB, CAROL, DAVE], 'hi all');
    n.settle();
    for (const name of ['bob', 'carol', 'dave']) {
      const shown = n.events(name, 'message');
      expect(shown).toHaveLength(1);
      expect(shown[0]!.message).toMatchObject({
        from: ALICE,
        text: 'hi all',
        group: { recipients: [BOB, CAROL, DAVE] },
      });
    }
  });

  it('per-recipient ticks: each delivery and display notification moves that recipient; the aggregate is the least advanced', () => {
    const n = net();
    const alice = n.pager('alice');
    const id = send(n, [BOB, CAROL, DAVE], 'ticks');
    n.settle();
    // 202 from the service means nothing for the recipients; their delivery notifications do.
    expect(alice.message(id)?.recipients.map((r) => r.state)).toEqual([
      'delivered',
      'delivered',
      'delivered',
    ]);
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered']);
    n.pager('bob').markDisplayed([id]);
    n.settle();
    expect(alice.message(id)?.recipients.map((r) => r.state)).toEqual([
      'displayed',
      'delivered',
      'delivered',
    ]);
    expect(alice.message(id)?.state).toBe('delivered');
    n.pager('carol').markDisplayed([id]);
    n.pager('dave').markDisplayed([id]);
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered', 'displayed']);
    expect(n.recipientStates('alice', id).filter((s) => s.startsWith(BOB))).toEqual([
      `${BOB}:sent`,
      `${BOB}:delivered`,
      `${BOB}:displayed`,
    ]);
  });

  it('a recipient the service cannot reach fails on its own; one offline is stored, then delivered', () => {
    const n = net({ offline: ['dave'] });
    const alice = n.pager('alice');
    const id = send(n, [BOB, GHOST, DAVE], 'who is there');
    n.settle();
    const byUri = (): Record<string, string> =>
      Object.fromEntries(alice.message(id)!.recipients.map((r) => [r.uri, r.state]));
    expect(byUri()).toEqual({ [BOB]: 'delivered', [GHOST]: 'failed', [DAVE]: 'stored' });
    expect(alice.message(id)!.recipients.find((r) => r.uri === GHOST)?.reason).toBe('delivery failed (IMDN)');
    // the aggregate: the least advanced of those still reachable
    expect(alice.message(id)?.state).toBe('stored');
    n.signIn('dave');
    n.settle();
    expect(byUri()).toEqual({ [BOB]: 'delivered', [GHOST]: 'failed', [DAVE]: 'delivered' });
    expect(alice.message(id)?.state).toBe('delivered');
    expect(n.texts('dave')).toEqual(['who is there']);
  });

  it('the service refusing the request fails every recipient with its status', () => {
    const n = net();
    n.registrar.storeAndForward = false;
    const alice = n.pager('alice');
    // a service that does not know the extension answers 420 in real life; here the list is refused outright
    n.net.link('alice', 'up').drop(isRequest('MESSAGE'));
    const id = send(n, [BOB, CAROL], 'lost', false);
    n.advanceBy(40_000);
    expect(alice.message(id)).toMatchObject({ state: 'failed', status: 408 });
    expect(alice.message(id)?.recipients.map((r) => r.state)).toEqual(['failed', 'failed']);
  });

  it('without notifications the recipients stay "sent": the service’s 202 is no delivery', () => {
    const n = net();
    const id = send(n, [BOB, CAROL], 'fire and forget', false);
    n.settle();
    expect(n.texts('bob')).toEqual(['fire and forget']);
    expect(
      n
        .pager('alice')
        .message(id)
        ?.recipients.map((r) => r.state),
    ).toEqual(['sent', 'sent']);
    expect(n.pager('alice').message(id)?.format).toBe('text/plain');
  });
});

describe('replying to a group (RFC 5365 §5)', () => {
  it('reply-to-all goes to the same list minus yourself plus the sender', () => {
    const n = net();
    send(n, [BOB, CAROL, DAVE], 'lunch?');
    n.settle();
    const received = n.events('bob', 'message')[0]!.message;
    const reply = n.pager('bob').replyAll(received, 'yes!', { imdn: true });
    expect(reply.ok).toBe(true);
    n.settle();
    const list = n.registrar.listRequests[1]!;
    const parts = parseMultipart(list.body, list.contentType!.params.get('boundary')!.replace(/"/g, ''));
    const entries = parseResourceLists(
      parts.find((p) => p.headers.get('content-disposition') === 'recipient-list')!.body,
    );
    expect(entries.entries.map((e) => e.uri)).toEqual([CAROL, DAVE, ALICE]);
    expect(n.texts('alice')).toEqual(['yes!']);
    expect(n.events('alice', 'message')[0]!.message.group?.recipients).toEqual([CAROL, DAVE, ALICE]);
  });

  it('a reply-all with one other person left is a plain one-to-one message', () => {
    const n = net();
    send(n, [BOB], 'just you');
    n.settle();
    const received = n.events('bob', 'message')[0]!.message;
    n.pager('bob').replyAll(received, 'just me');
    n.settle();
    expect((n.sent('bob', 'MESSAGE')[0] as SipRequest | undefined)?.uri.user).not.toBe('uri-list');
    expect(n.texts('alice')).toContain('just me');
    expect(
      n.events('alice', 'message').find((e) => e.message.text === 'just me')?.message.group,
    ).toBeUndefined();
  });
});
