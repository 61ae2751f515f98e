/**
 * FakeChatClient: an in-memory ChatClient the store and component tests drive. It records what the app asked
 * (sign-ins, sends, display notifications, typing) and lets the test play the network: connection changes,
 * message states, incoming messages, remote typing, capability notes. It keeps the ChatClient contract the
 * real adapter must keep: an id in flight is not sent twice, states are the test's to choose, and listeners
 * are called through the safe emitter.
 */
import { Emitter } from '../../../web/src/drivers/emitter.ts';
import { InvalidStateError } from '../../../web/src/sip/index.ts';
import type {
  CapabilityNote,
  ChatClient,
  ChatConnectionState,
  ChatEvent,
  ChatFailure,
  ChatFileTransfer,
  ChatListener,
  IncomingChatMessage,
  MessageState,
  OutgoingFile,
  PresenceStatus,
  PublicationStatus,
  SendFileOptions,
  SendOptions,
  SignInOptions,
} from '../../../web/src/drivers/index.ts';

export interface FakeFileSend {
  readonly id: string;
  readonly to: string;
  readonly file: OutgoingFile;
}

export interface FakeSend {
  readonly id: string;
  readonly to: readonly string[];
  readonly group: boolean;
  readonly text: string;
  readonly retry: boolean;
}

export class FakeChatClient implements ChatClient {
  readonly #emitter = new Emitter<{ event: Parameters<ChatListener> }>({
    onListenerError: (error) => {
      this.listenerErrors.push(error);
    },
  });
  #connection: ChatConnectionState = { status: 'offline' };
  #address: string | undefined;
  #nextId = 1;
  /** ids handed over and not finished (a second send of one is ignored, as the contract says) */
  readonly #inFlight = new Set<string>();
  readonly #known = new Map<string, FakeSend>();

  now = 1_700_000_000_000;
  readonly signIns: SignInOptions[] = [];
  signOuts = 0;
  readonly sent: FakeSend[] = [];
  readonly displayed: string[][] = [];
  readonly composing: { peer: string; active: boolean }[] = [];
  readonly filesSent: FakeFileSend[] = [];
  /** acceptFile / declineFile / cancelFile calls, in order */
  readonly fileAnswers: { op: 'accept' | 'decline' | 'cancel'; id: string }[] = [];
  readonly listenerErrors: unknown[] = [];
  /** setPresence calls, in order */
  readonly presenceSet: { status: PresenceStatus; note: string | undefined }[] = [];
  /** the addresses watched now (watchPresence adds, unwatchPresence removes) and every call, in order */
  readonly watching = new Set<string>();
  readonly watchCalls: { op: 'watch' | 'unwatch'; addresses: string[] }[] = [];
  /** what signIn does: 'connecting' (the test then calls goOnline), or throw */
  signInError: Error | undefined;

  get connection(): ChatConnectionState {
    return this.#connection;
  }

  get address(): string | undefined {
    return this.#address;
  }

  get listeners(): number {
    return this.#emitter.listenerCount('event');
  }

  subscribe(listener: ChatListener): () => void {
    return this.#emitter.on('event', listener);
  }

  signIn(options: SignInOptions): void {
    if (this.#address !== undefined) throw new InvalidStateError('already signed in');
    if (this.signInError) throw this.signInError;
    this.signIns.push(options);
    this.#address = options.address;
    this.watching.clear();
    for (const address of options.watch ?? []) this.watching.add(address);
    this.setConnection({ status: 'connecting', attempt: 0 });
  }

  signOut(): Promise<void> {
    this.signOuts++;
    this.#address = undefined;
    this.#inFlight.clear();
    this.setConnection({ status: 'offline' });
    return Promise.resolve();
  }

  send(to: string, text: string, options: SendOptions = {}): string {
    return this.#send([to], false, text, options);
  }

  sendGroup(recipients: readonly string[], text: string, options: SendOptions = {}): string {
    return this.#send(recipients, true, text, options);
  }

  retry(id: string): boolean {
    const known = this.#known.get(id);
    if (!known || this.#inFlight.has(id)) return false;
    this.#inFlight.add(id);
    this.sent.push({ ...known, retry: true });
    return true;
  }

  markDisplayed(ids: readonly string[]): void {
    this.displayed.push([...ids]);
  }

  setComposing(peer: string, active: boolean): void {
    this.composing.push({ peer, active });
  }

  sendFile(to: string, file: OutgoingFile, options: SendFileOptions = {}): string {
    if (this.#address === undefined) throw new InvalidStateError('signed out');
    const id = options.id ?? `fake-file-${this.#nextId++}`;
    if (this.#inFlight.has(id)) return id;
    this.#inFlight.add(id);
    this.filesSent.push({ id, to, file });
    return id;
  }

  acceptFile(id: string): void {
    this.fileAnswers.push({ op: 'accept', id });
  }

  declineFile(id: string): void {
    this.fileAnswers.push({ op: 'decline', id });
  }

  cancelFile(id: string): void {
    this.fileAnswers.push({ op: 'cancel', id });
  }

  setPresence(status: PresenceStatus, note?: string): void {
    if (this.#address === undefined) return;
    this.presenceSet.push({ status, note });
  }

  watchPresence(addresses: readonly string[]): void {
    if (this.#address === undefined) return;
    this.watchCalls.push({ op: 'watch', addresses: [...addresses] });
    for (const address of addresses) this.watching.add(address);
  }

  unwatchPresence(addresses: readonly string[]): void {
    if (this.#address === undefined) return;
    this.watchCalls.push({ op: 'unwatch', addresses: [...addresses] });
    for (const address of addresses) this.watching.delete(address);
  }

  #send(to: readonly string[], group: boolean, text: string, options: SendOptions): string {
    if (this.#address === undefined) throw new InvalidStateError('signed out');
    const id = options.id ?? `fake-${this.#nextId++}`;
    if (this.#inFlight.has(id)) return id;
    this.#inFlight.add(id);
    const record = { id, to: [...to], group, text, retry: false };
    this.#known.set(id, record);
    this.sent.push(record);
    return id;
  }

  // ── the test plays the network ──

  emit(event: ChatEvent): void {
    this.#emitter.emit('event', event);
  }

  setConnection(state: ChatConnectionState): void {
    this.#connection = state;
    this.emit({ type: 'connection', state });
  }

  goOnline(): void {
    this.setConnection({ status: 'online', since: this.now });
  }

  /** The flow failed: every message in flight fails locally (503, as the core reports a lost flow). */
  dropConnection(at: number, attempt = 1): void {
    this.setConnection({ status: 'reconnecting', attempt, at, reason: 'connection closed' });
    for (const id of [...this.#inFlight])
      this.state(id, 'failed', { code: 503, reason: 'Service Unavailable', local: true });
  }

  rejectAuth(): void {
    this.setConnection({ status: 'auth-rejected', code: 401, reason: 'Unauthorized' });
  }

  state(id: string, state: MessageState, failure?: ChatFailure, recipient?: string): void {
    if (
      recipient === undefined &&
      (state === 'failed' ||
        state === 'expired' ||
        state === 'stored' ||
        state === 'delivered' ||
        state === 'displayed')
    )
      this.#inFlight.delete(id);
    this.emit({ type: 'message-state', id, state, at: this.now, failure, recipient });
  }

  receive(message: Partial<IncomingChatMessage> & { from: string; text: string }): IncomingChatMessage {
    const full: IncomingChatMessage = {
      id: message.id ?? `in-${this.#nextId++}`,
      at: message.at ?? this.now,
      receivedAt: message.receivedAt ?? this.now,
      wantsDisplayed: message.wantsDisplayed ?? true,
      ...message,
    };
    this.emit({ type: 'message', message: full });
    return full;
  }

  remoteComposing(peer: string, active: boolean): void {
    this.emit({ type: 'composing', peer, active, at: this.now });
  }

  learn(note: Omit<CapabilityNote, 'at'> & { at?: number }): void {
    this.emit({ type: 'capability', note: { at: this.now, ...note } });
  }

  /** A file transfer moved (the test plays both the peer and the core). */
  file(transfer: Partial<ChatFileTransfer> & Pick<ChatFileTransfer, 'id' | 'state'>): ChatFileTransfer {
    const full: ChatFileTransfer = {
      direction: 'send',
      peer: 'sip:bob@example.com',
      name: 'file.bin',
      type: 'application/octet-stream',
      size: 0,
      bytes: 0,
      at: this.now,
      ...transfer,
    };
    if (full.state === 'complete' || full.state === 'failed' || full.state === 'cancelled')
      this.#inFlight.delete(full.id);
    this.emit({ type: 'file', transfer: full });
    return full;
  }

  /** A watched address's presence changed (the test plays the presence agent's NOTIFY). */
  presence(address: string, status: PresenceStatus, note?: string): void {
    this.emit({ type: 'presence', address, status, note, at: this.now });
  }

  /** Our own publication moved. */
  publication(status: PresenceStatus, publication: PublicationStatus, note?: string, reason?: string): void {
    const address = this.#address ?? 'sip:nobody@example.com';
    this.emit({ type: 'presence', address, status, note, at: this.now, publication, reason });
  }

  /** Whether an id is in flight (handed over, not finished). */
  inFlight(id: string): boolean {
    return this.#inFlight.has(id);
  }
}
