/**
 * Pagers (web/src/sip/ua/pager.ts) on the in-memory network of mini-registrar.ts, with the two services of the
 * embedded core that pager mode leans on, as test doubles:
 *
 *   alice ─┐                 ┌─ store-and-forward (RFC 3428 §7): a MESSAGE for a known user with no binding is
 *   bob   ─┼─ ServiceRegistrar┤   kept and answered 202, delivered when the user registers, dropped once its
 *   carol ─┘   (example.com) │   Expires (from Date) has passed; an IMDN "stored" goes back when it was asked for
 *                            └─ URI-list server (RFC 5365) at sip:uri-list@example.com: Require recipient-list,
 *                                multipart/mixed with the list → 202, then one copy per recipient (From the
 *                                sender, the message part plus a recipient-list-history of the to/cc entries);
 *                                a recipient that does not exist gets an IMDN "failed" back to the sender when
 *                                negative delivery notifications were asked for
 *
 * Both follow the contract the embedded core (gateway/core) implements; they are small and stateless enough to
 * keep the unit tests about the pager. Time, loss and reordering are the MiniNetwork's (links per endpoint).
 */
import type { UserAgent } from '../../web/src/sip/index.ts';
import {
  Pager,
  SipRequest,
  buildImdnMessage,
  buildResourceLists,
  createResponse,
  formatDate,
  parseCpim,
  parseMultipart,
  parseResourceLists,
  parseUri,
  serializeMultipart,
  wantsNotification,
  type CpimMessage,
  type PagerEvent,
  type PagerOptions,
  type SipMessage,
  type UserAgentEvent,
  type UserAgentOptions,
} from '../../web/src/sip/index.ts';
import { MiniNetwork, MiniRegistrar, type Delivery, type MiniRegistrarOptions } from './mini-registrar.ts';
import { seededRandom } from './seeded-random.ts';
import { DOMAIN, PASSWORDS, makeUa } from './ua-builders.ts';

export const USERS: Readonly<Record<string, string>> = {
  ...PASSWORDS,
  dave: 'dave-secret',
  erin: 'erin-secret',
};

export class ServiceRegistrar extends MiniRegistrar {
  /** AOR → MESSAGEs waiting for a binding */
  readonly stored = new Map<string, SipRequest[]>();
  /** every MESSAGE the URI-list service took */
  readonly listRequests: SipRequest[] = [];
  /** store MESSAGEs for users without a binding (else 480, as a registrar without a store) */
  storeAndForward = true;
  readonly #users: Readonly<Record<string, string>>;
  #counter = 0;

  constructor(options: MiniRegistrarOptions) {
    super(options);
    this.#users = options.users;
  }

  override handle(message: SipMessage, from: string, now: number): Delivery[] {
    if (message.kind === 'request' && message.method === 'MESSAGE' && message.uri.user === 'uri-list')
      return this.#explode(message, from, now);
    const out = super.handle(message, from, now);
    if (message.kind !== 'request') return out;
    if (message.method === 'REGISTER') return [...out, ...this.#flush(message.to.uri.aor, now)];
    const refused = out.length === 1 && out[0]?.message.kind === 'response' ? out[0].message.status : 0;
    const user = message.uri.user;
    if (
      message.method !== 'MESSAGE' ||
      !this.storeAndForward ||
      (refused !== 404 && refused !== 480) ||
      user === undefined ||
      this.#users[user] === undefined
    )
      return out;
    // RFC 3428 §7: a relay that keeps the message answers 202; Expires: 0 is never stored.
    if (message.expires === 0) return out;
    const aor = `sip:${user}@${this.domain}`;
    const list = this.stored.get(aor) ?? [];
    if (!list.some((m) => m.callId === message.callId && m.cseq.seq === message.cseq.seq)) list.push(message);
    this.stored.set(aor, list);
    const accepted = createResponse(message, 202, { toTag: `st${String(++this.#counter)}` });
    const notices = this.#imdn(message, 'stored', message.uri.aor, now);
    return [{ to: from, message: accepted }, ...notices];
  }

  /** The Via of a request the services make (their answers go nowhere, but must parse). */
  #via(): string {
    return `SIP/2.0/WS services.${this.domain};branch=z9hG4bKsvc${String(++this.#counter)}`;
  }

  /** Deliver what waits for `aor` now that it has a binding (expired messages are dropped). */
  #flush(aor: string, now: number): Delivery[] {
    const list = this.stored.get(aor);
    if (list === undefined || this.live(aor, now).length === 0) return [];
    this.stored.delete(aor);
    const out: Delivery[] = [];
    for (const request of list) {
      const expires = request.expires;
      const date = request.date;
      if (expires !== undefined && date !== undefined && date + expires * 1000 <= now) continue;
      out.push(...super.handle(request, 'store', now));
    }
    return out;
  }

  /** RFC 5365 §5: the URI-list service. */
  #explode(request: SipRequest, from: string, now: number): Delivery[] {
    const reply = (status: number): Delivery[] => [
      { to: from, message: createResponse(request, status, { toTag: `ls${String(++this.#counter)}` }) },
    ];
    if (!request.require.includes('recipient-list')) return reply(403);
    const type = request.contentType;
    const boundary = type?.params.get('boundary')?.replace(/"/g, '');
    if (type?.subtype !== 'mixed' || boundary === undefined) return reply(415);
    const parts = parseMultipart(request.body, boundary);
    const listPart = parts.find((p) => p.headers.get('content-disposition')?.startsWith('recipient-list'));
    const messagePart = parts.find((p) => p !== listPart);
    if (listPart === undefined || messagePart === undefined) return reply(400);
    this.listRequests.push(request);
    const entries = parseResourceLists(listPart.body).entries;
    const history = buildResourceLists(entries.filter((e) => e.copyControl !== 'bcc'));
    const out = reply(202);
    const boundaryOut = `hist${String(++this.#counter)}`;
    const body = serializeMultipart(
      [
        messagePart,
        {
          headers: listPart.headers.clone().set('Content-Disposition', 'recipient-list-history'),
          body: new TextEncoder().encode(history),
        },
      ],
      boundaryOut,
    );
    for (const entry of entries) {
      const n = ++this.#counter;
      const copy = new SipRequest(
        'MESSAGE',
        parseUri(entry.uri),
        [
          ['Via', this.#via()],
          ['Max-Forwards', '70'],
          ['From', `${request.headers.get('from') ?? ''}`.replace(/;tag=[^;]*/, `;tag=lc${String(n)}`)],
          ['To', `<${entry.uri}>`],
          ['Call-ID', `list-copy-${String(n)}`],
          ['CSeq', '1 MESSAGE'],
          ['Content-Type', `multipart/mixed;boundary=${boundaryOut}`],
        ],
        body,
      );
      for (const header of ['date', 'expires']) {
        const value = request.headers.get(header);
        if (value !== undefined) copy.headers.set(header, value);
      }
      const delivered = this.handle(copy, 'list', now);
      // what comes back addressed to the service itself: a 202 from the store, or a refusal (404 …)
      const answer = delivered.find((d) => d.to === 'list')?.message;
      const failed = answer?.kind === 'response' && answer.status >= 300;
      if (!failed) {
        out.push(...delivered);
        continue;
      }
      // RFC 5438 (list servers): a recipient that cannot be reached is reported to the sender.
      const cpim = cpimOf(request);
      if (cpim !== undefined) out.push(...this.#imdnFor(cpim, request, 'failed', entry.uri, now));
    }
    return out;
  }

  #imdn(request: SipRequest, status: 'stored', recipient: string, now: number): Delivery[] {
    const cpim = cpimOf(request);
    return cpim === undefined ? [] : this.#imdnFor(cpim, request, status, recipient, now);
  }

  #imdnFor(
    cpim: CpimMessage,
    request: SipRequest,
    status: 'stored' | 'failed',
    recipient: string,
    now: number,
  ): Delivery[] {
    const wanted = status === 'stored' ? 'processing' : 'negative-delivery';
    if (!wantsNotification(cpim, wanted)) return [];
    const n = ++this.#counter;
    const { body } = buildImdnMessage({
      im: cpim,
      from: { uri: `sip:uri-list@${this.domain}` },
      notification: status === 'stored' ? { kind: 'processing', status } : { kind: 'delivery', status },
      messageId: `srv${String(n)}`,
      now,
      recipientUri: recipient,
    });
    const sender = request.from.uri.aor;
    const notice = new SipRequest(
      'MESSAGE',
      parseUri(sender),
      [
        ['Via', this.#via()],
        ['Max-Forwards', '70'],
        ['From', `<sip:uri-list@${this.domain}>;tag=srv${String(n)}`],
        ['To', `<${sender}>`],
        ['Call-ID', `server-imdn-${String(n)}`],
        ['CSeq', '1 MESSAGE'],
        ['Date', formatDate(now)],
        ['Content-Type', 'message/cpim'],
      ],
      body,
    );
    return this.handle(notice, 'services', now);
  }
}

export interface PagerNetOptions {
  /** users that run a Pager */
  readonly pagers: readonly string[];
  /** users that run a bare UserAgent (the test answers for them through `onUaEvent`) */
  readonly raw?: readonly string[];
  /** users not connected or registered at the start */
  readonly offline?: readonly string[];
  readonly uaOptions?: Readonly<Record<string, Partial<UserAgentOptions>>>;
  readonly pagerOptions?: Readonly<Record<string, Partial<Omit<PagerOptions, 'ua'>>>>;
  readonly registrar?: Partial<MiniRegistrarOptions>;
  /** the network's start time, ms (default 2026-03-01T10:00:00Z, so Date and DateTime look real) */
  readonly start?: number;
}

export const START = Date.UTC(2026, 2, 1, 10, 0, 0);

export class PagerNet {
  readonly net: MiniNetwork;
  readonly registrar: ServiceRegistrar;
  readonly pagers = new Map<string, Pager>();
  readonly raws = new Map<string, UserAgent>();
  /** the test's answer to a bare UserAgent's events */
  onUaEvent: ((name: string, event: UserAgentEvent) => void) | undefined;
  /** the test's reaction to a pager's events (acting at `net.now`) */
  onPagerEvent: ((name: string, event: PagerEvent) => void) | undefined;

  constructor(options: PagerNetOptions) {
    this.registrar = new ServiceRegistrar({
      domain: DOMAIN,
      users: USERS,
      random: seededRandom(7),
      ...options.registrar,
    });
    this.net = new MiniNetwork(this.registrar, options.start ?? START);
    let seed = 100;
    for (const name of options.pagers) {
      const ua = makeUa(name, { now: this.net.now, ...options.uaOptions?.[name], credentials: cred(name) });
      const pager = new Pager({ ua, random: seededRandom(++seed), ...options.pagerOptions?.[name] });
      this.pagers.set(name, pager);
      // The network drives any sans-IO core with the UserAgent's shape; the Pager is one.
      this.net.add(name, pager as unknown as UserAgent);
    }
    for (const name of options.raw ?? []) {
      const ua = makeUa(name, { now: this.net.now, ...options.uaOptions?.[name], credentials: cred(name) });
      this.raws.set(name, ua);
      this.net.add(name, ua);
    }
    this.net.onEvent = (name, event) => {
      if (this.raws.has(name)) this.onUaEvent?.(name, event);
      else this.onPagerEvent?.(name, event as unknown as PagerEvent);
    };
    const online = [...options.pagers, ...(options.raw ?? [])].filter((n) => !options.offline?.includes(n));
    for (const name of online) this.signIn(name);
  }

  pager(name: string): Pager {
    const p = this.pagers.get(name);
    if (p === undefined) throw new Error(`no pager ${name}`);
    return p;
  }

  ua(name: string): UserAgent {
    return this.raws.get(name) ?? this.pager(name).ua;
  }

  get now(): number {
    return this.net.now;
  }

  /** Connect and register; returns once registered. */
  signIn(name: string): void {
    this.ua(name).register(this.net.now);
    this.net.connect(name);
    this.net.settle();
    const state = this.ua(name).registration.state;
    if (state !== 'Registered') throw new Error(`${name} is ${state}`);
  }

  settle(): void {
    this.net.settle();
  }

  advanceBy(ms: number): void {
    this.net.advanceBy(ms);
  }

  /** A pager's events, optionally of one type. */
  events<T extends PagerEvent['type']>(name: string, type?: T): Extract<PagerEvent, { type: T }>[] {
    return this.net.events
      .filter((e) => e.name === name)
      .map((e) => e.event as unknown as PagerEvent)
      .filter((e): e is Extract<PagerEvent, { type: T }> => type === undefined || e.type === type);
  }

  /** The aggregate states a message went through, in order (per-recipient events left out). */
  states(name: string, id: string): string[] {
    return this.events(name, 'message-state')
      .filter((e) => e.id === id && e.recipient === undefined)
      .map((e) => e.state);
  }

  /** Per-recipient states of a group message, in order, as `uri:state`. */
  recipientStates(name: string, id: string): string[] {
    return this.events(name, 'message-state')
      .filter((e) => e.id === id && e.recipient !== undefined)
      .map((e) => `${e.recipient ?? ''}:${e.state}`);
  }

  /** Texts of the messages a pager showed. */
  texts(name: string): string[] {
    return this.events(name, 'message').map((e) => e.message.text);
  }

  /** What `name` put on the wire (requests of a method, or `200 MESSAGE` …). */
  sent(name: string, summary?: string): SipMessage[] {
    return this.net
      .sent(name, summary)
      .map((w) => w.message)
      .filter((m): m is SipMessage => m !== undefined);
  }

  /** MESSAGE requests `name` sent with this Content-Type (prefix). */
  messagesOfType(name: string, type: string): SipRequest[] {
    return this.sent(name, 'MESSAGE').filter(
      (m): m is SipRequest =>
        m.kind === 'request' && (m.headers.get('content-type') ?? '').toLowerCase().startsWith(type),
    );
  }
}

/** The CPIM of a MESSAGE: its body, or the CPIM part of a multipart body. */
function cpimOf(request: SipRequest): CpimMessage | undefined {
  const type = request.contentType;
  if (type?.subtype === 'cpim') return parseCpim(request.body);
  const boundary = type?.params.get('boundary')?.replace(/"/g, '');
  if (type?.subtype !== 'mixed' || boundary === undefined) return undefined;
  const part = parseMultipart(request.body, boundary).find((p) =>
    (p.headers.get('content-type') ?? '').toLowerCase().startsWith('message/cpim'),
  );
  return part === undefined ? undefined : parseCpim(part.body);
}

function cred(name: string): { username: string; password: string } {
  return { username: name, password: USERS[name] ?? 'secret' };
}
