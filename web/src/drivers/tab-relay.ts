/**
 * TabRelayClient: one registration per browser, however many tabs are open. Each tab gets a TabRelayClient;
 * the one that holds a Web Lock is the leader and runs the real ChatClient; the others are followers that relay
 * their commands to it over a BroadcastChannel and hear its events there.
 *
 *   pending ──lock free──► leader  (creates the real client, signs in with the shared session, broadcasts
 *      │                     ▲      every event and its state; runs the followers' commands)
 *      │ lock held           │ the leader tab closed: the lock passes to the longest-waiting follower
 *      └───────────────► follower (commands → channel → leader; events ← channel ← leader)
 *
 * How it works. At start the tab asks for the lock with `ifAvailable`: granted, it leads; refused, it follows,
 * says hello (the leader answers with its state: connection, address, and the session, i.e. the sign-in options,
 * so that any follower can take over), and queues a waiting request for the lock. A leader keeps the lock until
 * its tab goes away (or `close()`), and the browser then grants it to a follower, which creates its own client
 * and signs in with the session it was given. The new registration carries the same `+sip.instance` and
 * `reg-id` (RFC 5626 §4.2: kept per browser by the adapter), so the registrar replaces the dead tab's binding
 * rather than adding one. Commands issued before the role is known are held and replayed once it is.
 *
 * Same-origin tabs share everything anyway (IndexedDB, storage), so the session travelling over the channel
 * exposes nothing new. Without Web Locks (very old browsers) every tab leads on its own.
 *
 * Files: a follower's sendFile carries its Blob in the command, and a received file's Blob rides in the `file`
 * event; both cross the BroadcastChannel by structured clone, which copies a Blob by reference to the same data
 * (no bytes are read), so any tab may send a file and every tab can offer the download. The file transfer
 * itself runs in the leader, like everything else.
 *
 * Presence: the leader keeps what its followers asked (the status to publish, the addresses to watch) in the
 * session it shares, so a tab that takes over signs in publishing the same status and watching the same people;
 * it also keeps the latest `presence` event of each address and replays them to a follower that says hello, so a
 * tab opened later shows the contacts' presence at once rather than when it next changes.
 */
import { InvalidStateError } from '../sip/index.ts';
import type {
  ChatClient,
  ChatConnectionState,
  ChatEvent,
  ChatListener,
  OutgoingFile,
  PresenceStatus,
  SendFileOptions,
  SendOptions,
  SignInOptions,
} from './chat-client.ts';
import { Emitter } from './emitter.ts';

/** The part of the Web Locks API (navigator.locks) used here. */
export interface LockManagerLike {
  request(
    name: string,
    options: { readonly ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown>;
}

type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of a BroadcastChannel used here. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  onmessage: Handler<{ readonly data: unknown }> | null;
  close(): void;
}

export type TabRole = 'pending' | 'leader' | 'follower';

type Command =
  | { readonly op: 'signIn'; readonly options: SignInOptions }
  | { readonly op: 'signOut' }
  | { readonly op: 'send'; readonly to: string; readonly text: string; readonly options: SendOptions }
  | {
      readonly op: 'sendGroup';
      readonly recipients: readonly string[];
      readonly text: string;
      readonly options: SendOptions;
    }
  | { readonly op: 'markDisplayed'; readonly ids: readonly string[] }
  | { readonly op: 'setComposing'; readonly peer: string; readonly active: boolean }
  | {
      readonly op: 'sendFile';
      readonly to: string;
      readonly file: OutgoingFile;
      readonly options: SendFileOptions;
    }
  | { readonly op: 'acceptFile' | 'declineFile' | 'cancelFile'; readonly id: string }
  | { readonly op: 'setPresence'; readonly status: PresenceStatus; readonly note: string | undefined }
  | { readonly op: 'watchPresence' | 'unwatchPresence'; readonly addresses: readonly string[] };

type Wire =
  | { readonly kind: 'event'; readonly event: ChatEvent }
  | {
      readonly kind: 'state';
      readonly connection: ChatConnectionState;
      readonly address: string | undefined;
      readonly session: SignInOptions | undefined;
    }
  | { readonly kind: 'hello' }
  | { readonly kind: 'command'; readonly command: Command };

export interface TabRelayOptions {
  readonly locks: LockManagerLike | undefined;
  readonly channel: ChannelLike;
  /** makes the real client, when this tab becomes the leader */
  readonly createClient: () => ChatClient;
  /** a fresh message id (for a follower's send without one) */
  readonly newId: () => string;
  /** lock name; one per app */
  readonly lockName?: string | undefined;
  /** told about a failed relayed command, for logs */
  readonly onError?: ((error: unknown) => void) | undefined;
}

export class TabRelayClient implements ChatClient {
  readonly #o: TabRelayOptions;
  readonly #emitter = new Emitter<{ event: Parameters<ChatListener> }>();
  #role: TabRole = 'pending';
  #client: ChatClient | undefined;
  #connection: ChatConnectionState = { status: 'offline' };
  #address: string | undefined;
  #session: SignInOptions | undefined;
  #held: Command[] = [];
  #release: (() => void) | undefined;
  #closed = false;
  /** true while running a command that came over the channel */
  #relaying = false;
  /** leader: the latest presence event of each address, replayed to a follower that says hello */
  readonly #presence = new Map<string, Extract<ChatEvent, { type: 'presence' }>>();

  constructor(options: TabRelayOptions) {
    this.#o = options;
    options.channel.onmessage = (event) => {
      this.#receive(event.data as Wire);
    };
    if (!options.locks) {
      this.#lead();
      return;
    }
    const name = options.lockName ?? 'simple-chat-leader';
    const hold = (lock: unknown): Promise<void> => {
      if (lock === null || this.#closed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        this.#release = resolve;
        this.#lead();
      });
    };
    void options.locks
      .request(name, { ifAvailable: true }, (lock) => {
        if (lock !== null) return hold(lock);
        this.#follow();
        void options.locks?.request(name, {}, hold).catch(this.#o.onError);
        return Promise.resolve();
      })
      .catch((error: unknown) => {
        options.onError?.(error);
        this.#lead();
      });
  }

  get role(): TabRole {
    return this.#role;
  }

  get connection(): ChatConnectionState {
    return this.#client?.connection ?? this.#connection;
  }

  get address(): string | undefined {
    return this.#client ? this.#client.address : this.#address;
  }

  subscribe(listener: ChatListener): () => void {
    return this.#emitter.on('event', listener);
  }

  signIn(options: SignInOptions): void {
    const current = this.address;
    if (current === options.address) return;
    if (current !== undefined) throw new InvalidStateError(`another tab is signed in as ${current}`);
    this.#command({ op: 'signIn', options });
  }

  signOut(): Promise<void> {
    if (this.#role === 'leader') return this.#signOutHere();
    this.#command({ op: 'signOut' });
    return Promise.resolve();
  }

  send(to: string, text: string, options: SendOptions = {}): string {
    this.#checkSignedIn();
    const id = options.id ?? this.#o.newId();
    this.#command({ op: 'send', to, text, options: { ...options, id } });
    return id;
  }

  sendGroup(recipients: readonly string[], text: string, options: SendOptions = {}): string {
    this.#checkSignedIn();
    const id = options.id ?? this.#o.newId();
    this.#command({ op: 'sendGroup', recipients: [...recipients], text, options: { ...options, id } });
    return id;
  }

  retry(id: string): boolean {
    // A follower cannot know whether the leader still holds the message: the caller sends it afresh (same id).
    return this.#role === 'leader' && this.#client !== undefined && this.#client.retry(id);
  }

  markDisplayed(ids: readonly string[]): void {
    this.#command({ op: 'markDisplayed', ids: [...ids] });
  }

  setComposing(peer: string, active: boolean): void {
    this.#command({ op: 'setComposing', peer, active });
  }

  sendFile(to: string, file: OutgoingFile, options: SendFileOptions = {}): string {
    this.#checkSignedIn();
    const id = options.id ?? this.#o.newId();
    const plain = { name: file.name, type: file.type, size: file.size, data: file.data };
    this.#command({ op: 'sendFile', to, file: plain, options: { ...options, id } });
    return id;
  }

  acceptFile(id: string): void {
    this.#command({ op: 'acceptFile', id });
  }

  declineFile(id: string): void {
    this.#command({ op: 'declineFile', id });
  }

  cancelFile(id: string): void {
    this.#command({ op: 'cancelFile', id });
  }

  setPresence(status: PresenceStatus, note?: string): void {
    this.#command({ op: 'setPresence', status, note });
  }

  watchPresence(addresses: readonly string[]): void {
    if (addresses.length > 0) this.#command({ op: 'watchPresence', addresses: [...addresses] });
  }

  unwatchPresence(addresses: readonly string[]): void {
    if (addresses.length > 0) this.#command({ op: 'unwatchPresence', addresses: [...addresses] });
  }

  /** Leaves the election (the tab is going away): the lock passes to another tab, which takes over. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release?.();
    this.#o.channel.onmessage = null;
    this.#o.channel.close();
  }

  /** Sending needs a session; while the role is unknown the command is held, as the session may exist. */
  #checkSignedIn(): void {
    if (this.#role !== 'pending' && this.address === undefined && this.#session === undefined)
      throw new InvalidStateError('signed out');
  }

  #command(command: Command): void {
    switch (this.#role) {
      case 'pending':
        this.#held.push(command);
        return;
      case 'leader':
        this.#run(command);
        return;
      case 'follower':
        this.#post({ kind: 'command', command });
        return;
    }
  }

  #lead(): void {
    if (this.#closed || this.#role === 'leader') return;
    this.#role = 'leader';
    const client = this.#o.createClient();
    this.#client = client;
    client.subscribe((event) => {
      if (event.type === 'presence') this.#presence.set(event.address, event);
      this.#emitter.emit('event', event);
      this.#post({ kind: 'event', event });
      if (event.type === 'connection') this.#announce();
    });
    // Taking over from a leader that went away: sign in again with the session it shared.
    if (this.#session && client.address === undefined) this.#run({ op: 'signIn', options: this.#session });
    this.#flushHeld();
    this.#announce();
  }

  #follow(): void {
    if (this.#closed || this.#role !== 'pending') return;
    this.#role = 'follower';
    this.#post({ kind: 'hello' });
    this.#flushHeld();
  }

  #flushHeld(): void {
    const held = this.#held;
    this.#held = [];
    for (const command of held) this.#command(command);
  }

  /** Runs a command on the real client (leader only). A command that throws is reported, never rethrown. */
  #run(command: Command): void {
    const client = this.#client;
    if (!client) return;
    try {
      switch (command.op) {
        case 'signIn':
          if (client.address === command.options.address) return;
          if (client.address !== undefined)
            throw new InvalidStateError(`already signed in as ${client.address}`);
          this.#session = command.options;
          client.signIn(command.options);
          this.#announce();
          return;
        case 'signOut':
          void this.#signOutHere();
          return;
        case 'send':
          if (client.address !== undefined) client.send(command.to, command.text, command.options);
          return;
        case 'sendGroup':
          if (client.address !== undefined)
            client.sendGroup(command.recipients, command.text, command.options);
          return;
        case 'markDisplayed':
          if (client.address !== undefined) client.markDisplayed(command.ids);
          return;
        case 'setComposing':
          if (client.address !== undefined) client.setComposing(command.peer, command.active);
          return;
        case 'sendFile':
          if (client.address !== undefined) client.sendFile(command.to, command.file, command.options);
          return;
        case 'acceptFile':
          if (client.address !== undefined) client.acceptFile(command.id);
          return;
        case 'declineFile':
          if (client.address !== undefined) client.declineFile(command.id);
          return;
        case 'cancelFile':
          if (client.address !== undefined) client.cancelFile(command.id);
          return;
        case 'setPresence':
          if (client.address === undefined) return;
          client.setPresence(command.status, command.note);
          // A tab that takes over publishes what was chosen last.
          this.#remember({ presence: { status: command.status, note: command.note } });
          return;
        case 'watchPresence':
        case 'unwatchPresence': {
          if (client.address === undefined) return;
          const watching = command.op === 'watchPresence';
          if (watching) client.watchPresence(command.addresses);
          else client.unwatchPresence(command.addresses);
          // A tab that takes over watches the same addresses.
          const watch = new Set(this.#session?.watch ?? []);
          for (const address of command.addresses)
            if (watching) watch.add(address);
            else watch.delete(address);
          this.#remember({ watch: [...watch] });
          return;
        }
      }
    } catch (error) {
      if (
        command.op === 'signIn' ||
        command.op === 'send' ||
        command.op === 'sendGroup' ||
        command.op === 'sendFile'
      ) {
        // The issuing tab relies on these: in the leader's own tab, let the caller see the misuse.
        if (this.#relaying === false) throw error;
      }
      this.#o.onError?.(error);
    }
  }

  /** Updates the session shared with the followers (for a takeover), when there is one. */
  #remember(change: Pick<SignInOptions, 'presence'> | Pick<SignInOptions, 'watch'>): void {
    if (this.#session === undefined) return;
    this.#session = { ...this.#session, ...change };
    this.#announce();
  }

  async #signOutHere(): Promise<void> {
    this.#session = undefined;
    this.#presence.clear();
    const client = this.#client;
    this.#announce();
    if (client) await client.signOut();
    this.#announce();
  }

  #announce(): void {
    if (this.#role !== 'leader') return;
    this.#post({ kind: 'state', connection: this.connection, address: this.address, session: this.#session });
  }

  #receive(message: Wire): void {
    if (this.#closed) return;
    switch (message.kind) {
      case 'event':
        if (this.#role !== 'follower') return;
        if (message.event.type === 'connection') this.#connection = message.event.state;
        this.#emitter.emit('event', message.event);
        return;
      case 'state': {
        if (this.#role === 'leader') return;
        const changed =
          message.address !== this.#address || message.connection.status !== this.#connection.status;
        this.#address = message.address;
        this.#session = message.session;
        this.#connection = message.connection;
        // A follower learns of a sign-in or sign-out made in another tab as a connection event.
        if (changed) this.#emitter.emit('event', { type: 'connection', state: message.connection });
        return;
      }
      case 'hello':
        this.#announce();
        if (this.#role === 'leader' && this.address !== undefined)
          for (const event of this.#presence.values()) this.#post({ kind: 'event', event });
        return;
      case 'command':
        if (this.#role !== 'leader') return;
        this.#relaying = true;
        try {
          this.#run(message.command);
        } finally {
          this.#relaying = false;
        }
        return;
    }
  }

  #post(message: Wire): void {
    if (this.#closed) return;
    try {
      this.#o.channel.postMessage(message);
    } catch (error) {
      this.#o.onError?.(error);
    }
  }
}
