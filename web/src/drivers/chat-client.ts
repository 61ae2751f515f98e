/**
 * ChatClient: the port between the app (stores) and the SIP side (UserAgent + pager + SipDriver +
 * WebSocketTransport). The app sees plain data only: ids, states, addresses, timestamps.
 *
 *   stores ── signIn · send · sendGroup · retry · markDisplayed · setComposing · signOut ──► ChatClient
 *          ── sendFile · acceptFile · declineFile · cancelFile ────────────────────────────►     │
 *          ── setPresence · watchPresence · unwatchPresence ───────────────────────────────►     │
 *     ▲                                                                                        │
 *     └──────── subscribe(listener): connection · message-state · message · outgoing · composing · capability
 *                                    · file · presence
 *
 * Contract, for the adapter that implements it and for the stores that use it:
 * - Addresses are AORs as `sip:user@host` (no display name, no parameters, host in lower case).
 * - `send`/`sendGroup` take the app's id (`options.id`) and every event about that message carries it. Sending
 *   an id that is already in flight is a no-op, so the app's outbox may safely hand the same message over again
 *   (after a reconnection, or from another tab); the adapter should use the id as the CPIM imdn.Message-ID, so a
 *   recipient that gets a message twice (a resend after a reload) shows it once.
 * - Message states only move forward (sending → sent → stored → delivered → displayed), or end in failed /
 *   expired; a late or duplicate state is harmless (the app ignores it too).
 * - Listeners cannot disturb the client: the adapter emits through a safe emitter (drivers/emitter.ts).
 * - API misuse (sending while signed out, a bad address) throws InvalidStateError / TypeError; anything a peer
 *   or the network does becomes an event. A text the client cannot send at all (e.g. a session for a long text
 *   that the peer refused) is reported as a `failed` state with a reason, not thrown: the app already shows and
 *   stores the message. The client picks pager or session mode by itself; the app never sees the difference.
 * - A failure the client made up because nothing answered (timeout, no flow) carries `local: true`: the app
 *   keeps such a message in its outbox and sends it again when the connection is back.
 * - Files (RFC 5547, each in an MSRP session of its own): `sendFile` takes the app's id like `send`, and every
 *   `file` event about the transfer carries it. An incoming offer is a `file` event in state `offered` with an id
 *   the client chose; the app answers it with `acceptFile` or `declineFile`; either side may `cancelFile`. States:
 *   preparing (sender: reading and hashing the file) → offered → transferring (with `bytes`) → complete, or
 *   failed (with a reason: refused, declined, hash mismatch, connection lost …) / cancelled. The received file
 *   comes as a Blob in the event that completes it (Blobs survive a BroadcastChannel's structured clone, so every
 *   tab gets it). Progress events are coalesced (about one per percent). Answering an id the client does not
 *   hold, or no longer in a state that takes the answer, does nothing: the offer may have ended meanwhile.
 * - Presence (RFC 3856 watching, RFC 3903 publishing; SPEC §8): `signIn` takes the status to publish once
 *   registered (`presence`, default available; `offline` publishes nothing); `setPresence` changes it (`offline`
 *   = appear offline: the publication is removed, watchers see us offline); `signOut` removes it. Watching is by
 *   address and additive, so that several tabs with their own views of the contacts never undo each other:
 *   `watchPresence(addresses)` starts watching (already watched: nothing), `unwatchPresence(addresses)` stops.
 *   Both are remembered while signed in and applied once registered. A watched address's presence comes as a
 *   `presence` event when it changes (offline when its watch ended for good); our own publication comes as a
 *   `presence` event for our own address with `publication` set. While signed out the three do nothing.
 */

/** What the connection to the gateway is doing, for the banner. Times are epoch ms. */
export type ChatConnectionState =
  /** Not signed in, signed out, or no way to connect (`reason` says why when it is not the user's choice). */
  | { readonly status: 'offline'; readonly reason?: string | undefined }
  /** Opening the WebSocket or registering; `attempt` counts failures before this one. */
  | { readonly status: 'connecting'; readonly attempt: number }
  /** Registered: messages flow. */
  | { readonly status: 'online'; readonly since: number }
  /** The flow failed; the next attempt is at `at` (a countdown for the banner). */
  | {
      readonly status: 'reconnecting';
      readonly attempt: number;
      readonly at: number;
      readonly reason: string;
    }
  /** The registrar refused the credentials (401/403 after a challenge round): ask for the password again. */
  | { readonly status: 'auth-rejected'; readonly code: number; readonly reason: string };

export type ChatConnectionStatus = ChatConnectionState['status'];

/**
 * A message's state (RFC 3428 + RFC 5438): sending (queued or in flight) → sent (on the wire) → stored (202,
 * or an IMDN "stored") → delivered (200 from a device, or an IMDN "delivered") → displayed (IMDN "displayed");
 * or failed (with the SIP status and reason, or an IMDN failure) / expired.
 */
export type MessageState = 'sending' | 'sent' | 'stored' | 'delivered' | 'displayed' | 'failed' | 'expired';

export const MESSAGE_STATES: readonly MessageState[] = [
  'sending',
  'sent',
  'stored',
  'delivered',
  'displayed',
  'failed',
  'expired',
];

/** Why a message failed: a SIP status and reason phrase (e.g. 404 Not Found), or an IMDN failure (code 0). */
export interface ChatFailure {
  readonly code: number;
  readonly reason: string;
  /** true when no peer answered: the client made the status up (timeout 408, no flow 503/430) */
  readonly local?: boolean | undefined;
}

/** The kinds of content a peer may refuse (415/488; the pager's CapabilityKind), after which it stops sending them. */
export type PeerCapability = 'cpim' | 'imdn' | 'composing';

/** What the client learned about a peer: e.g. "bob refused message/cpim (415), now sending text/plain". */
export interface CapabilityNote {
  readonly peer: string;
  readonly capability: PeerCapability;
  readonly supported: boolean;
  /** in words, e.g. "415 Unsupported Media Type for message/cpim" */
  readonly reason: string;
  readonly at: number;
}

/** A message that arrived (deduplicated by the client). */
export interface IncomingChatMessage {
  /** the sender's id for it (imdn.Message-ID, or one the client derived); stable across duplicates */
  readonly id: string;
  readonly from: string;
  readonly fromName?: string | undefined;
  readonly text: string;
  /** when the sender sent it (CPIM DateTime, SIP Date), else when it arrived; epoch ms */
  readonly at: number;
  readonly receivedAt: number;
  /** page-mode group (RFC 5365): every to/cc recipient the server listed, ourselves included */
  readonly participants?: readonly string[] | undefined;
  readonly subject?: string | undefined;
  /** the sender asked for a display notification (the app calls markDisplayed when the user sees it) */
  readonly wantsDisplayed: boolean;
}

/** A message this account sent: from this tab (echoed), another tab, or another device. */
export interface OutgoingChatMessage {
  readonly id: string;
  readonly to: readonly string[];
  /** sent as one page-mode group message through the URI-list service */
  readonly group: boolean;
  readonly text: string;
  readonly at: number;
}

export type ChatEvent =
  | { readonly type: 'connection'; readonly state: ChatConnectionState }
  /**
   * A message's state changed. `recipient` is set for one recipient of a group message; without it the event
   * is about the whole message (for a group: the aggregate).
   */
  | {
      readonly type: 'message-state';
      readonly id: string;
      readonly state: MessageState;
      readonly at: number;
      readonly failure?: ChatFailure | undefined;
      readonly recipient?: string | undefined;
    }
  | { readonly type: 'message'; readonly message: IncomingChatMessage }
  | { readonly type: 'outgoing'; readonly message: OutgoingChatMessage }
  /** The peer is typing (RFC 3994 "active") or stopped (idle, its refresh lapsed, or its message arrived). */
  | { readonly type: 'composing'; readonly peer: string; readonly active: boolean; readonly at: number }
  | { readonly type: 'capability'; readonly note: CapabilityNote }
  /** A file transfer was offered (either way), moved on, or ended. */
  | { readonly type: 'file'; readonly transfer: ChatFileTransfer }
  /**
   * A watched address's presence changed, or (with `publication`) our own publication moved: `address` is then
   * our own AOR, `status`/`note` what we asked to publish, and `reason` why a PUBLISH failed.
   */
  | ({ readonly type: 'presence' } & ChatPresence);

export type ChatEventType = ChatEvent['type'];

/** RFC 3863 + RFC 4480 as the app shows it: available, away, busy, do not disturb, offline. */
export type PresenceStatus = 'available' | 'away' | 'busy' | 'dnd' | 'offline';

export const PRESENCE_STATUSES: readonly PresenceStatus[] = ['available', 'away', 'busy', 'dnd', 'offline'];

/** Where our own publication is (RFC 3903): on its way, held by the presence agent, waiting to retry, refused. */
export type PublicationStatus = 'publishing' | 'published' | 'retrying' | 'failed' | 'unpublished';

/** Someone's presence (a watched contact's, or our own publication's). */
export interface ChatPresence {
  /** an AOR */
  readonly address: string;
  readonly status: PresenceStatus;
  /** the free-text note (a PIDF `<note>`, RFC 3863), e.g. "In a meeting" */
  readonly note?: string | undefined;
  /** epoch ms */
  readonly at: number;
  /** set on our own presence only */
  readonly publication?: PublicationStatus | undefined;
  /** our own presence: why the last PUBLISH failed */
  readonly reason?: string | undefined;
}

/** The status to publish: one of the five (offline: publish nothing), and an optional note. */
export interface PresenceChoice {
  readonly status: PresenceStatus;
  readonly note?: string | undefined;
}

/**
 * A file transfer's state (RFC 5547): preparing (the sender reads and hashes the file) → offered (the INVITE is
 * out, or an offer waits for the user) → transferring → complete, or failed / cancelled.
 */
export type FileTransferState =
  'preparing' | 'offered' | 'transferring' | 'complete' | 'failed' | 'cancelled';

export const FILE_TRANSFER_STATES: readonly FileTransferState[] = [
  'preparing',
  'offered',
  'transferring',
  'complete',
  'failed',
  'cancelled',
];

/** A file to send: what the file selector says (RFC 5547 §5) and its bytes. */
export interface OutgoingFile {
  readonly name: string;
  /** a MIME type; empty for unknown (sent as application/octet-stream) */
  readonly type: string;
  readonly size: number;
  readonly data: Blob;
}

/** A file transfer as the app shows it. */
export interface ChatFileTransfer {
  /** the app's id (sending) or the client's (receiving) */
  readonly id: string;
  readonly direction: 'send' | 'receive';
  /** the other side's AOR */
  readonly peer: string;
  readonly name: string;
  readonly type: string;
  readonly size: number;
  /** bytes sent (acknowledged by the next hop) or received without a gap */
  readonly bytes: number;
  readonly state: FileTransferState;
  /** why it failed or was cancelled */
  readonly reason?: string | undefined;
  /** when this state or progress was reached, epoch ms */
  readonly at: number;
  /** receiving, complete: the file */
  readonly data?: Blob | undefined;
}

export interface SendFileOptions {
  /** the app's id for the transfer; the client makes one up when absent */
  readonly id?: string | undefined;
}
export type ChatListener = (event: ChatEvent) => void;

export interface SignInOptions {
  /** AOR, `sip:alice@example.com` */
  readonly address: string;
  readonly password: string;
  /** ws: or wss: URL of the gateway */
  readonly gatewayUrl: string;
  readonly displayName?: string | undefined;
  /** what was learned about peers in earlier sessions (from storage), so the client does not learn it again */
  readonly capabilities?: readonly CapabilityNote[] | undefined;
  /** the status published once registered (default available; offline: nothing is published) */
  readonly presence?: PresenceChoice | undefined;
  /** addresses to watch once registered (as watchPresence) */
  readonly watch?: readonly string[] | undefined;
}

export interface SendOptions {
  /** the app's id for the message (see the contract above); the client makes one up when absent */
  readonly id?: string | undefined;
  /** ask for display notifications (read ticks); default true */
  readonly requestDisplayed?: boolean | undefined;
}

export interface ChatClient {
  readonly connection: ChatConnectionState;
  /** the signed-in AOR, undefined when signed out */
  readonly address: string | undefined;
  /** Adds a listener for every event; returns the function that removes it. */
  subscribe(listener: ChatListener): () => void;
  /** Connects and registers; progress comes as `connection` events. Throws InvalidStateError when signed in. */
  signIn(options: SignInOptions): void;
  /** Unregisters and disconnects; resolves when done (or given up). Idempotent. */
  signOut(): Promise<void>;
  /** Sends text to one peer; returns the message id. Throws InvalidStateError when signed out. */
  send(to: string, text: string, options?: SendOptions): string;
  /** Sends one page-mode message to several peers (RFC 5365); returns the message id. */
  sendGroup(recipients: readonly string[], text: string, options?: SendOptions): string;
  /**
   * Sends a failed message again under the same id. Returns false when the client does not hold that message
   * (e.g. after a reload): the caller then sends it afresh with `send(…, { id })`.
   */
  retry(id: string): boolean;
  /** The user has seen these incoming messages: display notifications go to senders that asked (RFC 5438). */
  markDisplayed(ids: readonly string[]): void;
  /** The user is typing to `peer` (true) or stopped (false): is-composing (RFC 3994), where the peer takes it. */
  setComposing(peer: string, active: boolean): void;
  /**
   * Sends a file to one peer (RFC 5547 push, a session of its own); returns the transfer id. Throws
   * InvalidStateError when signed out, TypeError on a file without a name or data. Sending an id already in
   * flight is a no-op.
   */
  sendFile(to: string, file: OutgoingFile, options?: SendFileOptions): string;
  /** Takes an offered file: the transfer starts. */
  acceptFile(id: string): void;
  /** Refuses an offered file (603 Decline). */
  declineFile(id: string): void;
  /** Stops a transfer, either way (CANCEL before the answer, BYE after; RFC 4975 `#` on a half-sent chunk). */
  cancelFile(id: string): void;
  /**
   * Publishes our status (RFC 3903); `offline` removes the publication (appear offline). Throws TypeError for an
   * unknown status; does nothing while signed out.
   */
  setPresence(status: PresenceStatus, note?: string): void;
  /** Watches these addresses' presence (RFC 3856), in addition to those watched already. */
  watchPresence(addresses: readonly string[]): void;
  /** Stops watching these addresses. */
  unwatchPresence(addresses: readonly string[]): void;
}
