/**
 * SipChatClient: the ChatClient port (chat-client.ts) over the real SIP engine — PresenceClient (RFC 3856 watching,
 * RFC 3903 publishing) stacked on Conversations (one API choosing pager or session mode) over ChatSessions (RFC 4975 MSRP sessions set up by INVITE, through the gateway's relay,
 * RFC 4976/7977) over the pager (RFC 3428 MESSAGE, CPIM, IMDN, is-composing, RFC 5365 groups) over a UserAgent,
 * driven by a SipDriver over a WebSocketTransport (SIP over WebSocket, RFC 7118, as an RFC 5626 flow); the MSRP
 * connections are WebSockets of their own (MsrpWebSockets, subprotocol `msrp` on the same gateway URL).
 *
 *   app ── signIn · send · sendGroup · retry · markDisplayed · setComposing · setPresence · signOut ──┐
 *    ▲                                                                                                 ▼
 *    │ ChatEvent (plain data)          ┌──────────── one session per sign-in ───────────────────────┐
 *    └──── map ◄── PresenceEvent |  ───│ SipDriver ─ PresenceClient ─ Conversations ─ ChatSessions   │
 *                  ConversationsEvent  │                              ─ Pager ─ UserAgent            │
 *          connection ◄── transport state + registration snapshot        WebSocketTransport ──► gateway
 *                                      │                      MsrpWebSockets (one per session) ──► relay│
 *                                      └────────────────────────────────────────────────────────────┘
 *
 * The connection the banner shows is derived, after every transport state change and registration event, from
 * the two of them (see `connectionOf`):
 *
 *   transport connecting ─────────────────────────────────────────────► connecting
 *   transport reconnecting (at = its next attempt) ────────────────────► reconnecting (countdown to `at`)
 *   transport online ─┬─ registration Registered ─────────────────────► online (since it first registered)
 *                     ├─ registration Failed, retry at T (503, 408 …) ─► reconnecting (countdown to T)
 *                     └─ otherwise (registering) ──────────────────────► connecting
 *   REGISTER refused 401/403/407 after the challenge round ────────────► auth-rejected (I/O stopped: a new
 *   REGISTER refused 404 ──────────────────────────────────────────────► offline, with the reason   password
 *   signed out / never signed in ──────────────────────────────────────► offline                    or sign-out)
 *
 * How the port is bridged to the core:
 * - `send` goes through Conversations, which picks the mode: a MESSAGE for a short text, an MSRP session for a
 *   text over 1300 bytes (RFC 3428 §8) or a busy conversation; `sendGroup` is the pager's (RFC 5365, page mode).
 *   The app's id is the message id and CPIM imdn.Message-ID. Session mode needs an MSRP ident (4–32 characters),
 *   so an app id that is not one (a 36-character UUID from before) is sent as its 32 hex digits and mapped back
 *   in every event; an id still on its way is not sent twice.
 * - `retry` returns false for an id the core does not hold, or holds still on its way (the app then calls send
 *   with the same id, which is a no-op for one in flight); it retries only failed or expired pager messages
 *   (a failed session-mode text is sent afresh by the app's send).
 * - A failure is `local` when the pager made it up (timeout, no connection), a flow failed on the way (430), or a
 *   session-mode text failed without a status from the peer (the MSRP connection broke, or a made-up 408).
 * - Incoming: `sentAt` (absent without CPIM DateTime or Date) falls back to the arrival time; a group's
 *   `recipients` become `participants` (as AORs), `displayRequested` becomes `wantsDisplayed`. A message whose
 *   Expires had passed when it arrived (`message-expired`) was accepted but is not shown (RFC 3428 §7).
 * - What was learned about peers is handed in at sign-in (`capabilities`, from the app's storage) as the
 *   pager's capability store; every change comes back as a `capability` event, which the app persists.
 * - Nothing is reported as `outgoing`: pager mode has no copy of what this account sends from elsewhere.
 * - Incoming chat sessions are accepted automatically (Conversations); file offers are the app's (RFC 5547):
 *   `file` events in state `offered`, answered with acceptFile (200) or declineFile (603).
 * - Files: `sendFile` reads the Blob a MiB at a time and hashes it (SHA-1, the hash RFC 5547 §5 names; the core's
 *   FileHasher is synchronous and incremental, which Web Crypto is not: sha1-hasher.ts), then hands the bytes
 *   to Conversations.sendFile (an INVITE with a=file-selector in a session of its own). A received file is put
 *   together from the core's `file-data` events as Blob parts (file-assembler.ts) and handed over whole in the
 *   `file` event that completes it; the core checks its SHA-1 on the way (a mismatch fails the transfer).
 *   Group states come from the pager's own events, which Conversations does not pass on (it keeps only its own
 *   texts): a ChatSessions subclass taps them on their way up.
 * - Presence: the driver's core is the PresenceClient, stacked on Conversations (it takes the NOTIFYs and the
 *   answers to its PUBLISH/SUBSCRIBE, and passes every other event of Conversations on unchanged). What the app
 *   asks (the status to publish, the addresses to watch) is kept in the session and applied when the registration
 *   first succeeds; after a reconnection the PresenceClient refreshes both by itself (RFC 5626 §4.5 flows). A
 *   watched address's `presence` becomes a `presence` event; a watch that ended for good (403, 404, rejected …)
 *   shows that address offline; our publication's moves become a `presence` event for our own address. Sign-out
 *   removes the publication (RFC 3903 §4.5) and ends the subscriptions before the unregister, and waits (bounded)
 *   for the removal too, so that watchers see us offline at once rather than when the publication expires.
 */
import {
  ChatSessions,
  Conversations,
  InvalidStateError,
  PresenceClient,
  type PresenceEvent,
  type PublicationSnapshot,
  type ChatSessionSnapshot,
  type FileHasher,
  type FileTransferSnapshot,
  Pager,
  isMsrpIdent,
  parseUri,
  peerKey,
  type ChatSessionsEvent,
  type ConversationsEvent,
  type IncomingMessage,
  type PagerOptions,
  type PeerCapabilities,
  type PeerCapabilityStore,
  type RegistrationSnapshot,
  type SendOptions as PagerSendOptions,
  type SendResult,
  type MessageState,
  type UserAgentEvent,
  type UserAgentOptions,
  UserAgent,
} from '../sip/index.ts';
import { readBlobSource } from './blob-body-source.ts';
import type {
  CapabilityNote,
  ChatClient,
  ChatConnectionState,
  ChatEvent,
  ChatFailure,
  ChatFileTransfer,
  ChatListener,
  FileTransferState,
  IncomingChatMessage,
  OutgoingFile,
  PresenceChoice,
  PresenceStatus,
  PublicationStatus,
  SendFileOptions,
  SendOptions,
  SignInOptions,
} from './chat-client.ts';
import { PRESENCE_STATUSES } from './chat-client.ts';
import { FileAssembler } from './file-assembler.ts';
import { sha1Hasher } from './sha1-hasher.ts';
import type { Clock } from './clock.ts';
import { Emitter } from './emitter.ts';
import { describeError, silentLogger, type Logger } from './logger.ts';
import { MsrpWebSockets } from './msrp-websockets.ts';
import { SipDriver } from './sip-driver.ts';
import type { ConnectionState } from './transport.ts';
import {
  WebSocketTransport,
  type WebSocketConstructor,
  type WebSocketTransportOptions,
} from './websocket-transport.ts';

export interface SipChatClientOptions {
  /** `WebSocket` in the browser (`ws` in Node tests, or an in-memory fake) */
  readonly WebSocketImpl: WebSocketConstructor;
  /** epoch ms: SIP Date, CPIM DateTime and the banner's countdown are wall-clock times */
  readonly clock: Clock;
  /** uniform in [0, 1): tags, branches, Call-IDs, cnonces, message ids, back-off jitter */
  readonly random: () => number;
  /** this browser's RFC 5626 `+sip.instance` (`urn:uuid:…`, see instance-id.ts), read at each sign-in */
  readonly instanceId: () => string;
  readonly logger?: Logger | undefined;
  /** the User-Agent header */
  readonly userAgent?: string | undefined;
  /** registration interval asked for, seconds (default 600) */
  readonly registerExpires?: number | undefined;
  /** how long signOut waits for the unregister's answer, ms (default 3000) */
  readonly signOutTimeout?: number | undefined;
  /** the transport's timing (keep-alive, reconnection back-off …) */
  readonly transport?:
    | Partial<
        Pick<
          WebSocketTransportOptions,
          'keepAliveInterval' | 'pongTimeout' | 'connectTimeout' | 'minDelay' | 'maxDelay' | 'stableAfter'
        >
      >
    | undefined;
  /** session mode's policy (Conversations: pager-mode limit, busy rule, idle timeout) */
  readonly modePolicy?: ConstructorParameters<typeof Conversations>[0]['policy'];
  /** the pager's limits and timing */
  readonly pager?:
    | Partial<Pick<PagerOptions, 'maxSendBytes' | 'maxReceiveBytes' | 'composing' | 'uriListService'>>
    | undefined;
  /** transaction timers (T1, T2, T4), for tests */
  readonly timers?: UserAgentOptions['timers'];
  /** told when an app listener throws (default: the logger's `error`) */
  readonly onListenerError?: ((error: unknown) => void) | undefined;
  /** hashes files sent and checks files received (RFC 5547 §5; default SHA-1) */
  readonly hasher?: FileHasher | undefined;
  /** the largest file sendFile takes, bytes (default 100 MiB: the sender holds it in memory while it goes) */
  readonly maxFileSize?: number | undefined;
}

/**
 * What this client really handles (RFC 3261 §11: OPTIONS answers say so): pager-mode IM, chat sessions (INVITE
 * with an MSRP offer, RFC 4975 §8; PRACK for reliable provisionals, RFC 3262; UPDATE, RFC 3311), and the NOTIFYs
 * of its presence subscriptions (RFC 6665 §8.2.2: the `presence` package, PIDF bodies, RFC 3856 §6).
 */
const CAPABILITIES = {
  allow: ['INVITE', 'ACK', 'CANCEL', 'BYE', 'PRACK', 'UPDATE', 'OPTIONS', 'MESSAGE', 'NOTIFY'],
  accept: [
    'text/plain',
    'message/cpim',
    'application/im-iscomposing+xml',
    'message/imdn+xml',
    'application/sdp',
    'multipart/mixed',
    'application/pidf+xml',
  ],
  allowEvents: ['presence'],
} as const;

/** RFC 3261 §21.4.2/§21.4.4, RFC 3261 §22.3: refusals a new password may fix. */
const AUTH_REJECTED = new Set([401, 403, 407]);
const DEFAULT_EXPIRES = 600;
const DEFAULT_SIGN_OUT_TIMEOUT = 3_000;
const DEFAULT_MAX_FILE_SIZE = 100 << 20;

/** A file transfer as this client tracks it (the app's view, plus the core session it rides on). */
interface FileRecord {
  readonly id: string;
  readonly direction: 'send' | 'receive';
  readonly peer: string;
  readonly name: string;
  readonly type: string;
  readonly size: number;
  /** the core's session id, once the offer is out (sending) or from the start (receiving) */
  sessionId: string | undefined;
  state: FileTransferState;
  bytes: number;
  reason: string | undefined;
  /** the last whole percent reported: progress events are coalesced to one per percent */
  percent: number;
  /** receiving: the bytes so far */
  assembler: FileAssembler | undefined;
}

type Core = PresenceClient<ConversationsEvent>;

interface Session {
  readonly address: string;
  readonly ua: UserAgent;
  readonly pager: Pager;
  readonly conversations: Conversations;
  readonly presence: Core;
  readonly driver: SipDriver<Core>;
  /** what the app wants published (applied once registered) */
  wanted: PresenceChoice;
  /** the addresses the app watches (applied once registered) */
  readonly watched: Set<string>;
  /** the registration succeeded once: presence commands now go straight to the PresenceClient */
  presenceStarted: boolean;
  /** why the last PUBLISH failed, for the next publication event */
  publishFailure: string | undefined;
  readonly msrp: MsrpWebSockets;
  /** core message id → the app's, and back, for app ids that are not MSRP idents */
  readonly appIds: Map<string, string>;
  readonly coreIds: Map<string, string>;
  /** pager ids → whether the pager made the failure up (`local`), read when Conversations reports it */
  readonly pagerLocal: Map<string, boolean>;
  /** group message ids (their states come from the pager tap) */
  readonly groups: Set<string>;
  /** the pager's group events, tapped on their way up, delivered after the flush */
  tapped: Extract<ChatSessionsEvent, { type: 'message-state' }>[];
  /** the transport's latest state */
  transport: ConnectionState;
  /** when the registration last became Registered after not being so */
  onlineSince: number | undefined;
  /** a registrar's refusal more attempts cannot fix: the I/O is stopped, this is what the banner shows */
  terminal: ChatConnectionState | undefined;
  /** set by signOut: events of this session no longer reach the app */
  closing: boolean;
  /** told after each event of the core (signOut waits for the unregister and the unpublish with it) */
  onSettle: (() => void) | undefined;
  readonly unsubscribe: (() => void)[];
  /** file transfers by id, and the core session each rides on → its id */
  readonly files: Map<string, FileRecord>;
  readonly fileSessions: Map<string, string>;
  /** the file being offered inside driver.run (its first events come before the session id is returned) */
  offering: FileRecord | undefined;
}

export class SipChatClient implements ChatClient {
  readonly #o: SipChatClientOptions;
  readonly #log: Logger;
  readonly #emitter: Emitter<{ event: Parameters<ChatListener> }>;
  #session: Session | undefined;
  #connection: ChatConnectionState = { status: 'offline' };

  constructor(options: SipChatClientOptions) {
    if (typeof options.WebSocketImpl !== 'function')
      throw new TypeError('WebSocketImpl must be a constructor');
    if (typeof options.random !== 'function') throw new TypeError('random must be a function');
    if (typeof options.instanceId !== 'function') throw new TypeError('instanceId must be a function');
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
    const log = this.#log;
    this.#emitter = new Emitter({
      onListenerError: (error) => {
        if (options.onListenerError) options.onListenerError(error);
        else log.error(`sip-chat-client: a listener threw: ${describeError(error)}`);
      },
    });
  }

  get connection(): ChatConnectionState {
    return this.#connection;
  }

  get address(): string | undefined {
    return this.#session?.address;
  }

  subscribe(listener: ChatListener): () => void {
    return this.#emitter.on('event', listener);
  }

  // ---- sign in / out ------------------------------------------------------------------------------------------

  signIn(options: SignInOptions): void {
    if (this.#session !== undefined)
      throw new InvalidStateError(`already signed in as ${this.#session.address}`);
    if (typeof options.password !== 'string') throw new TypeError('a password is needed');
    const aor = parseUri(options.address);
    if (!aor.isSip || aor.user === undefined) throw new TypeError(`not a SIP address: ${options.address}`);
    const address = aor.aor;
    const clock = this.#o.clock;
    const random = this.#o.random;
    const url = options.gatewayUrl;
    // Everything is built before anything changes, so a bad URL or address leaves the client signed out.
    const ua = new UserAgent({
      aor: address,
      displayName: options.displayName,
      transport: url.startsWith('wss:') ? 'WSS' : 'WS',
      // RFC 5626 §4.1: the same instance id for every registration this browser makes.
      instanceId: this.#o.instanceId(),
      credentials: { username: decodeURIComponent(aor.user), password: options.password },
      random,
      userAgent: this.#o.userAgent,
      capabilities: CAPABILITIES,
      registration: { expires: this.#o.registerExpires ?? DEFAULT_EXPIRES },
      timers: this.#o.timers,
      log: (line) => {
        this.#log.debug(`sip: ${line}`);
      },
      now: clock.now(),
    });
    const pager = new Pager({
      ua,
      random,
      displayName: options.displayName,
      capabilityStore: capabilityStore(options.capabilities ?? []),
      ...this.#o.pager,
    });
    const tap: { session?: Session } = {};
    const sessions = new TappedChatSessions(
      {
        ua,
        pager,
        random,
        displayName: options.displayName,
        // RFC 4976: AUTH to the gateway's relay (same host and port as the SIP WebSocket) with the SIP credentials.
        msrp: {
          relay: relayUriOf(url),
          credentials: { username: decodeURIComponent(aor.user), password: options.password },
        },
        // RFC 5547 §5: received files are checked against the sender's a=file-selector hash.
        hasher: this.#o.hasher ?? sha1Hasher,
      },
      (event) => {
        const tapped = tap.session;
        if (tapped === undefined) return;
        tapped.tapped.push(event);
        // Conversations reports nothing for a group's states: they go out after this flush, by themselves.
        if (tapped.tapped.length === 1)
          queueMicrotask(() => {
            this.#deliverTapped(tapped);
          });
      },
    );
    const conversations = new Conversations({ sessions, policy: this.#o.modePolicy });
    // RFC 3903 §4.1: the publication lasts as long as the registration asks for, so a tab closed without signing
    // out stops showing this user as online after that, not after the agent's default hour.
    const presence = new PresenceClient<ConversationsEvent>({
      ua,
      random,
      inner: conversations,
      publishExpires: this.#o.registerExpires ?? DEFAULT_EXPIRES,
    });
    const wanted = presenceChoice(options.presence);
    const watched = new Set((options.watch ?? []).map((address) => watchKey(address)));
    const transport = new WebSocketTransport({
      url,
      WebSocketImpl: this.#o.WebSocketImpl,
      clock,
      random,
      logger: this.#o.logger,
      ...this.#o.transport,
    });
    const driver = new SipDriver<Core>({
      core: presence,
      transport,
      clock,
      logger: this.#o.logger,
    });
    const msrp = new MsrpWebSockets({
      url,
      WebSocketImpl: this.#o.WebSocketImpl,
      clock,
      logger: this.#o.logger,
      run: (input) => {
        driver.run((_core, now) => {
          input(conversations.sessions, now);
        });
      },
    });
    msrp.attach(sessions);
    const session: Session = {
      address,
      ua,
      pager,
      conversations,
      presence,
      driver,
      wanted,
      watched,
      presenceStarted: false,
      publishFailure: undefined,
      msrp,
      appIds: new Map(),
      coreIds: new Map(),
      pagerLocal: new Map(),
      groups: new Set(),
      tapped: [],
      transport: transport.state,
      onlineSince: undefined,
      terminal: undefined,
      closing: false,
      onSettle: undefined,
      unsubscribe: [],
      files: new Map(),
      fileSessions: new Map(),
      offering: undefined,
    };
    session.unsubscribe.push(
      driver.events.on('event', (event) => {
        this.#onEvent(session, event);
        session.onSettle?.();
      }),
      driver.events.on('state', (state) => {
        session.transport = state;
        this.#update(session);
      }),
      driver.events.on('error', (error) => {
        this.#log.warn(`sip-chat-client: ${describeError(error)}`);
      }),
    );
    tap.session = session;
    this.#session = session;
    // RFC 3261 §10.2 / RFC 5626 §4.2: register over the flow as soon as it is up.
    driver.run((_core, now) => {
      ua.register(now);
    });
    try {
      driver.start();
    } catch (error) {
      this.#close(session);
      this.#session = undefined;
      throw error;
    }
    this.#update(session);
  }

  async signOut(): Promise<void> {
    const session = this.#session;
    if (session === undefined) return;
    this.#session = undefined;
    session.closing = true;
    this.#set({ status: 'offline' });
    try {
      await this.#unregister(session);
    } finally {
      this.#close(session);
    }
  }

  /**
   * RFC 3903 §4.5: remove our publication (Expires: 0) so that watchers see us offline now; RFC 6665 §4.1.2.3: end
   * our subscriptions; RFC 3261 §10.2.2: remove our binding (expires=0). Waits a bounded time for the removal
   * and the unregister to be answered.
   */
  #unregister(session: Session): Promise<void> {
    const { ua, driver, presence } = session;
    if (ua.registration.state !== 'Registered' || !ua.connected || session.terminal !== undefined)
      return Promise.resolve();
    const clock = this.#o.clock;
    return new Promise<void>((resolve) => {
      const finish = { timer: undefined as unknown, done: false };
      const done = (): void => {
        if (finish.done) return;
        finish.done = true;
        session.onSettle = undefined;
        clock.clearTimer(finish.timer);
        resolve();
      };
      const check = (): void => {
        const registration = ua.registration.state;
        const publication = presence.publication.state;
        if (
          (registration === 'Unregistered' || registration === 'Failed') &&
          (publication === 'Unpublished' || publication === 'Failed')
        )
          done();
      };
      finish.timer = clock.setTimer(done, this.#o.signOutTimeout ?? DEFAULT_SIGN_OUT_TIMEOUT);
      session.onSettle = check;
      try {
        driver.run((_core, now) => {
          presence.unpublish(now);
          for (const watch of presence.watching) presence.unwatch(watch.uri, now);
          ua.unregister(now);
        });
      } catch (error) {
        this.#log.warn(`sip-chat-client: unregister: ${describeError(error)}`);
        done();
      }
      check();
    });
  }

  #close(session: Session): void {
    for (const unsubscribe of session.unsubscribe) unsubscribe();
    session.unsubscribe.length = 0;
    session.msrp.stop();
    session.driver.stop();
  }

  // ---- messages -----------------------------------------------------------------------------------------------

  send(to: string, text: string, options: SendOptions = {}): string {
    const session = this.#signedIn();
    if (typeof to !== 'string') throw new TypeError('send needs an address');
    const id = options.id ?? this.#newId();
    const coreId = this.#coreId(session, id);
    const held = session.conversations.message(coreId);
    if (held !== undefined && !isOver(held.state)) return id; // still on its way: not sent twice
    // RFC 3428 §8 / RFC 4975: Conversations picks the mode (a MESSAGE, or an MSRP session for a long text).
    session.driver.run((_core, now) =>
      session.conversations.send(to, text, pagerOptions(coreId, options), now),
    );
    session.msrp.flush();
    return id;
  }

  sendGroup(recipients: readonly string[], text: string, options: SendOptions = {}): string {
    const session = this.#signedIn();
    if (!Array.isArray(recipients) || recipients.length === 0)
      throw new TypeError('a group message needs at least one recipient');
    const id = options.id ?? this.#newId();
    const coreId = id; // page mode: any id will do (RFC 5438 imdn.Message-ID)
    session.groups.add(coreId);
    // RFC 5365: one MESSAGE to the URI-list service (sip:uri-list@<domain>), which sends each recipient a copy.
    const result = session.driver.run((_core, now) =>
      session.pager.sendGroup(recipients, text, pagerOptions(coreId, options), now),
    );
    this.#checkSent(id, result);
    this.#deliverTapped(session);
    return id;
  }

  retry(id: string): boolean {
    const session = this.#session;
    if (session === undefined || session.closing) return false;
    const coreId = session.coreIds.get(id) ?? id;
    const conversation = session.conversations.message(coreId);
    if (conversation !== undefined && conversation.mode === 'session') return false;
    const held = session.pager.message(coreId);
    if (held === undefined || (held.state !== 'failed' && held.state !== 'expired')) return false;
    const result = session.driver.run((_core, now) => session.pager.retry(coreId, now));
    this.#checkSent(id, result);
    this.#deliverTapped(session);
    return true;
  }

  markDisplayed(ids: readonly string[]): void {
    const session = this.#session;
    if (session === undefined || ids.length === 0) return;
    // RFC 5438 §7.2.1.2: display notifications go to the senders that asked, once each.
    const coreIds = ids.map((id) => session.coreIds.get(id) ?? id);
    session.driver.run((_core, now) => {
      session.conversations.markDisplayed(coreIds, now);
    });
    session.msrp.flush();
  }

  setComposing(peer: string, active: boolean): void {
    const session = this.#session;
    if (session === undefined) return;
    // RFC 3994: the pager sends is-composing only to peers that take it, refreshing and idling by itself.
    session.driver.run((_core, now) => {
      session.conversations.setComposing(peer, active, now);
    });
    session.msrp.flush();
  }

  // ---- presence (RFC 3856, RFC 3903) ------------------------------------------------------------------------------

  setPresence(status: PresenceStatus, note?: string): void {
    if (!PRESENCE_STATUSES.includes(status)) throw new TypeError(`unknown presence status ${String(status)}`);
    if (note !== undefined && typeof note !== 'string') throw new TypeError('a presence note is a string');
    const session = this.#session;
    if (session === undefined || session.closing) return;
    session.wanted = presenceChoice({ status, note });
    if (!session.presenceStarted) return; // published once registered
    this.#publish(session);
  }

  watchPresence(addresses: readonly string[]): void {
    const keys = addresses.map((address) => watchKey(address));
    const session = this.#session;
    if (session === undefined || session.closing) return;
    const fresh = keys.filter((key) => !session.watched.has(key));
    for (const key of fresh) session.watched.add(key);
    if (!session.presenceStarted || fresh.length === 0) return;
    // RFC 3856 §6: a SUBSCRIBE for the presence package to each new address.
    session.driver.run((_core, now) => {
      for (const key of fresh) session.presence.watch(key, now);
    });
  }

  unwatchPresence(addresses: readonly string[]): void {
    const keys = addresses.map((address) => watchKey(address));
    const session = this.#session;
    if (session === undefined || session.closing) return;
    const gone = keys.filter((key) => session.watched.delete(key));
    if (!session.presenceStarted || gone.length === 0) return;
    // RFC 6665 §4.1.2.3: the subscription ends with an Expires: 0 SUBSCRIBE.
    session.driver.run((_core, now) => {
      for (const key of gone) session.presence.unwatch(key, now);
    });
  }

  /** The registration succeeded for the first time: publish what the app wants and watch what it asked for. */
  #startPresence(session: Session): void {
    if (session.presenceStarted || session.closing) return;
    session.presenceStarted = true;
    this.#publish(session);
    if (session.watched.size === 0) return;
    session.driver.run((_core, now) => {
      for (const key of session.watched) session.presence.watch(key, now);
    });
  }

  #publish(session: Session): void {
    const wanted = session.wanted;
    const current = session.presence.publication;
    // Nothing published and nothing wanted: no PUBLISH, but the app hears where it stands.
    if (wanted.status === 'offline' && current.state === 'Unpublished') {
      this.#emitPublication(session, current);
      return;
    }
    // RFC 3903 §4.2/§4.4: an initial publication or a modification; offline removes it (§4.5).
    session.driver.run((_core, now) => {
      session.presence.publish({ status: wanted.status, note: wanted.note }, now);
    });
  }

  #emitPublication(session: Session, publication: PublicationSnapshot): void {
    const state = PUBLICATION_STATUS[publication.state];
    if (state === 'published') session.publishFailure = undefined;
    this.#emit({
      type: 'presence',
      address: session.address,
      status: publication.status,
      note: publication.note,
      at: this.#o.clock.now(),
      publication: state,
      reason: state === 'failed' || state === 'retrying' ? session.publishFailure : undefined,
    });
  }

  // ---- files (RFC 5547) ---------------------------------------------------------------------------------------

  sendFile(to: string, file: OutgoingFile, options: SendFileOptions = {}): string {
    const session = this.#signedIn();
    if (typeof to !== 'string') throw new TypeError('sendFile needs an address');
    if (typeof file.name !== 'string' || file.name === '') throw new TypeError('a file needs a name');
    if (!isBlob(file.data)) throw new TypeError('a file needs its data as a Blob');
    const id = options.id ?? this.#newId();
    const held = session.files.get(id);
    if (held !== undefined && !isFileOver(held.state)) return id; // still on its way: not sent twice
    const record: FileRecord = {
      id,
      direction: 'send',
      peer: peerKey(to),
      name: file.name,
      type: typeof file.type === 'string' && file.type !== '' ? file.type : 'application/octet-stream',
      size: file.data.size,
      sessionId: undefined,
      state: 'preparing',
      bytes: 0,
      reason: undefined,
      percent: 0,
      assembler: undefined,
    };
    session.files.set(id, record);
    this.#emitFile(record);
    const limit = this.#o.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
    if (record.size > limit) {
      this.#endFile(record, 'failed', `larger than ${String(limit)} bytes, the most this app sends`);
      return id;
    }
    void this.#offerFile(session, record, to, file.data);
    return id;
  }

  /** Reads and hashes the file, then offers it (RFC 5547 §8: an INVITE whose SDP carries a=file-selector). */
  async #offerFile(session: Session, record: FileRecord, to: string, data: Blob): Promise<void> {
    const hasher = this.#o.hasher ?? sha1Hasher;
    const gone = (): boolean => record.state !== 'preparing' || session.closing || this.#session !== session;
    let read: Awaited<ReturnType<typeof readBlobSource>>;
    try {
      read = await readBlobSource(data, hasher, gone);
    } catch (error) {
      if (!gone()) this.#endFile(record, 'failed', `cannot read the file: ${describeError(error)}`);
      return;
    }
    if (read === undefined || gone()) return;
    const offer = { name: record.name, type: record.type, source: read.source, hash: read.hash };
    session.offering = record;
    try {
      const sessionId = session.driver.run((_core, now) => session.conversations.sendFile(to, offer, now));
      this.#bindFile(session, record, sessionId);
    } catch (error) {
      this.#endFile(record, 'failed', describeError(error));
    } finally {
      session.offering = undefined;
    }
    session.msrp.flush();
  }

  acceptFile(id: string): void {
    const offer = this.#openOffer(id);
    if (offer === undefined) return;
    const { session, sessionId } = offer;
    // RFC 5547 §8: the receiver answers the push with a recvonly m-line; the bytes follow over MSRP.
    session.driver.run((_core, now) => {
      session.conversations.sessions.accept(sessionId, now);
    });
    session.msrp.flush();
  }

  declineFile(id: string): void {
    const offer = this.#openOffer(id);
    if (offer === undefined) return;
    const { session, record, sessionId } = offer;
    this.#endFile(record, 'cancelled', 'declined');
    // RFC 3261 §21.6.2: 603 Decline, the user does not want it.
    const sessions = session.conversations.sessions;
    session.driver.run((_core, now) => {
      if (sessions.session(sessionId)?.state !== 'Terminated') sessions.reject(sessionId, 603, now);
    });
    session.msrp.flush();
  }

  cancelFile(id: string): void {
    const session = this.#session;
    const record = session?.files.get(id);
    if (session === undefined || session.closing || record === undefined || isFileOver(record.state)) return;
    const sessionId = record.sessionId;
    this.#endFile(record, 'cancelled', 'cancelled');
    if (sessionId === undefined) return; // still reading the file: nothing went out
    // RFC 3261 §9 / §15: CANCEL an offer not answered yet, BYE once established (a half-sent chunk ends with `#`).
    session.driver.run((_core, now) => {
      session.conversations.sessions.end(sessionId, now);
    });
    session.msrp.flush();
  }

  #bindFile(session: Session, record: FileRecord, sessionId: string): void {
    record.sessionId = sessionId;
    session.fileSessions.set(sessionId, record.id);
  }

  #fileOf(session: Session, sessionId: string): FileRecord | undefined {
    const id = session.fileSessions.get(sessionId);
    if (id !== undefined) return session.files.get(id);
    const offering = session.offering;
    if (offering === undefined || offering.sessionId !== undefined) return undefined;
    this.#bindFile(session, offering, sessionId);
    return offering;
  }

  /** RFC 5547 §8: a file pushed to us: the app decides (acceptFile / declineFile). */
  #fileOffered(session: Session, snapshot: ChatSessionSnapshot): void {
    const file = snapshot.file;
    if (file === undefined) return;
    const record: FileRecord = {
      id: this.#newId(),
      direction: 'receive',
      peer: snapshot.peer,
      name: file.name ?? 'file',
      type: file.type ?? 'application/octet-stream',
      size: file.size,
      sessionId: undefined,
      state: 'offered',
      bytes: 0,
      reason: undefined,
      percent: 0,
      assembler: new FileAssembler(),
    };
    session.files.set(record.id, record);
    this.#bindFile(session, record, snapshot.id);
    this.#emitFile(record);
  }

  /** The core's view of a transfer moved: state changes go out at once, progress once per percent. */
  #fileMoved(session: Session, sessionId: string, transfer: FileTransferSnapshot): void {
    const record = this.#fileOf(session, sessionId);
    if (record === undefined || isFileOver(record.state)) return;
    record.bytes = transfer.bytes;
    if (transfer.state === record.state) {
      const percent = record.size === 0 ? 100 : Math.floor((transfer.bytes * 100) / record.size);
      if (percent === record.percent) return;
      record.percent = percent;
      this.#emitFile(record);
      return;
    }
    if (isFileOver(transfer.state)) {
      this.#endFile(record, transfer.state, transfer.reason);
      return;
    }
    record.state = transfer.state;
    record.reason = transfer.reason;
    this.#emitFile(record);
  }

  /** An incoming file offer still waiting for the user's answer, with its session; undefined otherwise. */
  #openOffer(id: string): { session: Session; record: FileRecord; sessionId: string } | undefined {
    const session = this.#session;
    const record = session?.files.get(id);
    if (session === undefined || session.closing || record === undefined) return undefined;
    if (record.direction !== 'receive' || record.state !== 'offered' || record.sessionId === undefined)
      return undefined;
    return { session, record, sessionId: record.sessionId };
  }

  #endFile(record: FileRecord, state: FileTransferState, reason: string | undefined): void {
    const data =
      state === 'complete' && record.direction === 'receive'
        ? record.assembler?.blob(record.type)
        : undefined;
    record.state = state;
    record.reason = state === 'complete' ? undefined : reason;
    if (state === 'complete') record.bytes = record.size;
    record.assembler = undefined;
    this.#emitFile(record, data);
  }

  #emitFile(record: FileRecord, data?: Blob): void {
    const transfer: ChatFileTransfer = {
      id: record.id,
      direction: record.direction,
      peer: record.peer,
      name: record.name,
      type: record.type,
      size: record.size,
      bytes: record.bytes,
      state: record.state,
      reason: record.reason,
      at: this.#o.clock.now(),
      data,
    };
    this.#emit({ type: 'file', transfer });
  }

  #signedIn(): Session {
    const session = this.#session;
    if (session === undefined) throw new InvalidStateError('signed out');
    return session;
  }

  /** The core's id for an app id: itself when it is an MSRP ident, else its hex digits (a UUID's 32), mapped. */
  #coreId(session: Session, id: string): string {
    if (isMsrpIdent(id) && id.length >= 4 && id.length <= 32) return id;
    const known = session.coreIds.get(id);
    if (known !== undefined) return known;
    let core = id.replace(/[^0-9A-Za-z]/g, '');
    if (core.length < 4 || core.length > 32 || session.appIds.has(core)) core = this.#newId();
    session.appIds.set(core, id);
    session.coreIds.set(id, core);
    return core;
  }

  #appId(session: Session, coreId: string): string {
    return session.appIds.get(coreId) ?? coreId;
  }

  #newId(): string {
    const alphabet = '0123456789abcdef';
    let id = '';
    for (let i = 0; i < 32; i++) id += alphabet[Math.floor(this.#o.random() * 16) % 16];
    return id;
  }

  /** RFC 3428 §8: over the pager-mode limit: the app already shows the message, so it fails with the reason. */
  #checkSent(id: string, result: SendResult): void {
    if (result.ok) return;
    const reason =
      `Too long for a pager-mode message (${String(result.bytes)} bytes, at most ${String(result.limit)}); ` +
      'send it in shorter parts';
    this.#emit({
      type: 'message-state',
      id,
      state: 'failed',
      at: this.#o.clock.now(),
      failure: { code: 0, reason, local: false },
    });
  }

  // ---- events -------------------------------------------------------------------------------------------------

  #onEvent(session: Session, event: PresenceEvent | ConversationsEvent): void {
    if (event.type === 'ua') {
      this.#onUaEvent(session, event.event);
      return;
    }
    this.#deliverTapped(session);
    if (session.closing) return;
    switch (event.type) {
      case 'presence':
        this.#emit({
          type: 'presence',
          address: peerKey(event.uri),
          status: event.status,
          note: event.note,
          at: event.at,
        });
        return;
      case 'watch-state':
        // RFC 6665 §4.1.3: a watch that ended for good (refused, no such user) leaves nothing to show but offline.
        if (event.state === 'terminated' && event.reason !== 'unwatched')
          this.#emit({
            type: 'presence',
            address: peerKey(event.uri),
            status: 'offline',
            at: this.#o.clock.now(),
          });
        return;
      case 'publication':
        this.#emitPublication(session, event.publication);
        return;
      case 'publish-failed':
        session.publishFailure = `${String(event.status)} ${event.reason}`.trim();
        this.#log.info(`sip-chat-client: PUBLISH failed: ${session.publishFailure}`);
        return;
      case 'presence-error':
        this.#log.warn(`sip-chat-client: presence of ${event.uri}: ${event.reason}`);
        return;
      case 'message-state': {
        if ('id' in event) return; // the pager's and ChatSessions' own (Conversations reports them once, below)
        const m = event.message;
        const local = session.pagerLocal.get(m.id);
        if (isOver(m.state)) session.pagerLocal.delete(m.id);
        this.#emit({
          type: 'message-state',
          id: this.#appId(session, m.id),
          state: m.state,
          at: m.at,
          failure:
            m.state === 'failed'
              ? failureOf(
                  m.status,
                  m.reason,
                  local ?? (m.mode === 'session' && (m.status === undefined || m.status === 408)),
                )
              : undefined,
        });
        return;
      }
      case 'message':
        this.#emit({ type: 'message', message: incomingOf(event.message) });
        return;
      case 'message-expired':
        // RFC 3428 §7: accepted, but its Expires had passed: not shown as new.
        this.#log.info(
          `sip-chat-client: message ${event.message.id} from ${event.message.from} arrived expired`,
        );
        return;
      case 'composing':
        this.#emit({ type: 'composing', peer: event.peer, active: event.state === 'active', at: event.at });
        return;
      case 'capability':
        this.#emit({
          type: 'capability',
          note: {
            peer: event.peer,
            capability: event.kind,
            supported: event.support === 'yes',
            reason: event.reason,
            at: event.capabilities.at ?? this.#o.clock.now(),
          },
        });
        return;
      case 'msrp-connect':
        session.msrp.connect(event.connection);
        return;
      case 'msrp-close':
        session.msrp.close(event.connection);
        return;
      case 'incoming-session':
        // Chat sessions are accepted by Conversations; a file offer is the user's to answer (RFC 5547 §8).
        if (event.session.kind === 'file') this.#fileOffered(session, event.session);
        return;
      case 'mode':
        this.#log.info(`sip-chat-client: ${event.peer} now in ${event.mode} mode (${event.reason})`);
        return;
      case 'session':
        this.#log.debug(
          `sip-chat-client: session ${event.session.id} ${event.session.state} ${event.session.reason ?? ''}`,
        );
        // A file session's snapshots carry the transfer too (its offer is out before any `file` event).
        if (event.session.file !== undefined) this.#fileMoved(session, event.session.id, event.session.file);
        session.msrp.flush();
        return;
      case 'file':
        this.#fileMoved(session, event.sessionId, event.transfer);
        return;
      case 'file-data':
        this.#fileOf(session, event.sessionId)?.assembler?.add(event.offset, event.bytes);
        return;
    }
  }

  /** The pager's events tapped on their way up: group states, and whether a 1:1 failure was made up here. */
  #deliverTapped(session: Session): void {
    if (session.tapped.length === 0) return;
    const events = session.tapped;
    session.tapped = [];
    if (session.closing) return;
    for (const event of events) {
      if ('sessionId' in event) continue;
      if (!session.groups.has(event.id)) {
        if (event.state === 'failed') session.pagerLocal.set(event.id, event.local);
        continue;
      }
      if (event.recipient === undefined && isOver(event.state)) session.groups.delete(event.id);
      this.#emit({
        type: 'message-state',
        id: this.#appId(session, event.id),
        state: event.state,
        at: event.at,
        failure: event.state === 'failed' ? failureOf(event.status, event.reason, event.local) : undefined,
        recipient: event.recipient === undefined ? undefined : peerKey(event.recipient),
      });
    }
  }

  #onUaEvent(session: Session, event: UserAgentEvent): void {
    switch (event.type) {
      case 'registration':
        this.#onRegistration(session, event.registration);
        if (event.registration.state === 'Registered') this.#startPresence(session);
        return;
      case 'incoming-request':
        // Only MESSAGE, OPTIONS and the NOTIFYs of our watches are allowed (the core refuses other methods with
        // 405, and the PresenceClient takes its NOTIFYs); anything else that gets here is not implemented here.
        session.driver.run((_core, now) => {
          event.incoming.reject(501, 'Not Implemented', undefined, now);
        });
        return;
      case 'malformed':
        this.#log.warn(`sip-chat-client: malformed message from the gateway: ${event.reason}`);
        return;
      case 'dropped':
        this.#log.debug(`sip-chat-client: dropped: ${event.reason}`);
        return;
      case 'final':
      case 'progress':
      case 'incoming-cancelled':
      case 'ack':
      case 'prack':
      case 'auto-response':
      case 'dialog':
      case 'keepalive':
        return;
    }
  }

  #onRegistration(session: Session, snapshot: RegistrationSnapshot): void {
    if (snapshot.state === 'Registered') session.onlineSince ??= this.#o.clock.now();
    else session.onlineSince = undefined;
    const status = snapshot.status;
    // RFC 3261 §10.2: the registrar refused after the challenge round (or forbids the AOR): no point retrying.
    if (snapshot.state === 'Failed' && snapshot.retryAt === undefined && status !== undefined) {
      const reason = snapshot.reason ?? 'Refused';
      if (AUTH_REJECTED.has(status)) session.terminal = { status: 'auth-rejected', code: status, reason };
      else if (status === 404)
        session.terminal = { status: 'offline', reason: `No such account (${String(status)} ${reason})` };
      if (session.terminal !== undefined) {
        // Stop the I/O outside the driver's dispatch: the app re-prompts (signOut + signIn) or signs out.
        this.#o.clock.setTimer(() => {
          if (this.#session === session) session.driver.stop();
        }, 0);
      }
    }
    this.#update(session);
  }

  /** Derives the connection state from the transport and the registration; emits it when it changed. */
  #update(session: Session): void {
    if (session !== this.#session || session.closing) return;
    this.#set(connectionOf(session));
  }

  #set(state: ChatConnectionState): void {
    if (sameConnection(this.#connection, state)) return;
    this.#connection = state;
    this.#emit({ type: 'connection', state });
  }

  #emit(event: ChatEvent): void {
    this.#emitter.emit('event', event);
  }
}

// ---- mapping ----------------------------------------------------------------------------------------------------

const PUBLICATION_STATUS: Readonly<Record<PublicationSnapshot['state'], PublicationStatus>> = {
  Unpublished: 'unpublished',
  Publishing: 'publishing',
  Unpublishing: 'publishing',
  Published: 'published',
  Retrying: 'retrying',
  Failed: 'failed',
};

/** What to publish at sign-in: available unless the app says otherwise (SPEC §8). */
function presenceChoice(choice: PresenceChoice | undefined): PresenceChoice {
  if (choice === undefined) return { status: 'available' };
  if (!PRESENCE_STATUSES.includes(choice.status))
    throw new TypeError(`unknown presence status ${String(choice.status)}`);
  const note = typeof choice.note === 'string' ? choice.note.trim() : '';
  return { status: choice.status, note: note === '' ? undefined : note };
}

/** The AOR to watch for an address; TypeError for one that is not a SIP address. */
function watchKey(address: string): string {
  if (typeof address !== 'string') throw new TypeError('an address to watch is a string');
  let uri: ReturnType<typeof parseUri>;
  try {
    uri = parseUri(address);
  } catch {
    throw new TypeError(`not a SIP address: ${address}`);
  }
  if (!uri.isSip || uri.user === undefined) throw new TypeError(`not a SIP address: ${address}`);
  return uri.aor;
}

/** ChatSessions that hands the pager's message states to `tap` as they pass (Conversations keeps only its own). */
class TappedChatSessions extends ChatSessions {
  readonly #tap: (event: Extract<ChatSessionsEvent, { type: 'message-state' }>) => void;

  constructor(
    options: ConstructorParameters<typeof ChatSessions>[0],
    tap: (event: Extract<ChatSessionsEvent, { type: 'message-state' }>) => void,
  ) {
    super(options);
    this.#tap = tap;
  }

  override takeEvents(): ChatSessionsEvent[] {
    const events = super.takeEvents();
    for (const event of events)
      if (event.type === 'message-state' && !('sessionId' in event)) this.#tap(event);
    return events;
  }
}

/** RFC 7977 §4: the relay's MSRP URI is the gateway's host and port, transport `ws` (RFC 4976 AUTH goes there). */
function relayUriOf(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === 'wss:' ? '443' : '80');
  return `${parsed.protocol === 'wss:' ? 'msrps' : 'msrp'}://${parsed.hostname}:${port};ws`;
}

function isFileOver(state: FileTransferState): boolean {
  return state === 'complete' || state === 'failed' || state === 'cancelled';
}

function isBlob(value: unknown): value is Blob {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Blob).slice === 'function' &&
    typeof (value as Blob).size === 'number'
  );
}

function isOver(state: MessageState): boolean {
  return state === 'failed' || state === 'expired' || state === 'displayed';
}

/** The banner's state from the transport's and the registration's (see the file comment). */
function connectionOf(session: Session): ChatConnectionState {
  if (session.terminal !== undefined) return session.terminal;
  const transport = session.transport;
  switch (transport.status) {
    case 'offline':
      return { status: 'connecting', attempt: 0 };
    case 'connecting':
      return { status: 'connecting', attempt: transport.attempt };
    case 'reconnecting':
      return {
        status: 'reconnecting',
        attempt: transport.attempt,
        at: transport.at,
        reason: transport.reason,
      };
    case 'online': {
      const registration = session.ua.registration;
      if (registration.state === 'Registered')
        return { status: 'online', since: session.onlineSince ?? transport.since };
      // RFC 5626 §4.5: the registration is retried after a back-off (or the registrar's Retry-After).
      if (registration.state === 'Failed' && registration.retryAt !== undefined)
        return {
          status: 'reconnecting',
          attempt: registration.failures,
          at: registration.retryAt,
          reason:
            `registration failed: ${String(registration.status ?? '')} ${registration.reason ?? ''}`.trim(),
        };
      return { status: 'connecting', attempt: registration.failures };
    }
  }
}

function sameConnection(a: ChatConnectionState, b: ChatConnectionState): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys)
    if ((a as unknown as Record<string, unknown>)[key] !== (b as unknown as Record<string, unknown>)[key])
      return false;
  return true;
}

/**
 * RFC 3261 §8.1.3.1: a timeout is a made-up 408, a transport failure a made-up 503 (the pager's `local`); RFC 5626
 * §5.3: a 430 says a flow failed on the way. Either way the connection, not the peer, is to blame: `local`, which
 * the app's outbox answers by sending again once the connection is back.
 */
function failureOf(status: number | undefined, reason: string | undefined, local: boolean): ChatFailure {
  const code = status ?? 0;
  return { code, reason: stripCode(code, reason ?? 'failed'), local: local || code === 430 };
}

/** The pager's reasons start with the status ("404 Not Found"); the failure carries the code apart. */
function stripCode(code: number, reason: string): string {
  const prefix = `${String(code)} `;
  return code !== 0 && reason.startsWith(prefix) ? reason.slice(prefix.length) : reason;
}

function pagerOptions(id: string, options: SendOptions): PagerSendOptions {
  // RFC 5438 §5: ask for delivery and processing ("stored") notifications, and display ones unless told not to.
  return {
    id,
    imdn:
      options.requestDisplayed === false ? ['positive-delivery', 'negative-delivery', 'processing'] : true,
  };
}

function incomingOf(message: IncomingMessage): IncomingChatMessage {
  const participants = message.group?.recipients.map((uri) => peerKey(uri));
  return {
    id: message.id,
    from: message.from,
    fromName: message.fromName,
    text: message.text,
    at: message.sentAt ?? message.receivedAt,
    receivedAt: message.receivedAt,
    participants: participants === undefined ? undefined : [...new Set(participants)],
    subject: message.subject,
    wantsDisplayed: message.displayRequested,
  };
}

/** The pager's store of peer capabilities, loaded from the notes the app kept (the app saves new ones). */
function capabilityStore(notes: readonly CapabilityNote[]): PeerCapabilityStore {
  const entries = new Map<string, PeerCapabilities>();
  for (const note of [...notes].sort((a, b) => a.at - b.at)) {
    const peer = peerKey(note.peer);
    const old = entries.get(peer) ?? { peer, cpim: 'unknown', imdn: 'unknown', composing: 'unknown' };
    entries.set(peer, {
      ...old,
      [note.capability]: note.supported ? 'yes' : 'no',
      reason: note.reason,
      at: note.at,
    });
  }
  return {
    load: () => entries.values(),
    save: () => {},
  };
}
