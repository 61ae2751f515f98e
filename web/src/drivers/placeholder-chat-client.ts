/**
 * PlaceholderChatClient: what main.ts wires until the real ChatClient adapter (UserAgent + pager + SipDriver +
 * WebSocketTransport) exists. It never pretends to work: signing in keeps the app usable offline (history,
 * contacts, an outbox that holds what is written) and the banner says plainly that nothing is connected.
 */
import { InvalidStateError } from '../sip/index.ts';
import type { ChatClient, ChatConnectionState, ChatListener, SignInOptions } from './chat-client.ts';
import { Emitter } from './emitter.ts';

export const PLACEHOLDER_REASON = 'Not connected: this build has no SIP chat client yet';

export class PlaceholderChatClient implements ChatClient {
  readonly #emitter = new Emitter<{ event: Parameters<ChatListener> }>();
  #connection: ChatConnectionState = { status: 'offline' };
  #address: string | undefined;

  get connection(): ChatConnectionState {
    return this.#connection;
  }

  get address(): string | undefined {
    return this.#address;
  }

  subscribe(listener: ChatListener): () => void {
    return this.#emitter.on('event', listener);
  }

  signIn(options: SignInOptions): void {
    if (this.#address !== undefined) throw new InvalidStateError('already signed in');
    this.#address = options.address;
    this.#set({ status: 'offline', reason: PLACEHOLDER_REASON });
  }

  signOut(): Promise<void> {
    this.#address = undefined;
    this.#set({ status: 'offline' });
    return Promise.resolve();
  }

  send(_to: string, _text: string): string {
    throw new InvalidStateError(PLACEHOLDER_REASON);
  }

  sendGroup(_recipients: readonly string[], _text: string): string {
    throw new InvalidStateError(PLACEHOLDER_REASON);
  }

  retry(_id: string): boolean {
    return false;
  }

  markDisplayed(_ids: readonly string[]): void {}

  setComposing(_peer: string, _active: boolean): void {}

  #set(state: ChatConnectionState): void {
    this.#connection = state;
    this.#emitter.emit('event', { type: 'connection', state });
  }
}
