/**
 * The account and its connection: sign in, sign out, the password asked again when the registrar refuses it,
 * and the one place where the client's events are dispatched to the stores.
 *
 *   signed-out ──signIn()──► signing-in ──storage opened, history loaded, client.signIn──► signed-in
 *       ▲                       │ failure (bad address, another account in another tab)     │
 *       └───────────────────────┴──────────────────── signOut() / signed out in another tab ◄┘
 *
 * How it works. Signing in opens the account's IndexedDB database and loads contacts, conversation summaries,
 * the outbox and what was learned about peers before the client connects, so the first events find their
 * stores ready (events that come during loading wait and are replayed). The client's connection state is
 * mirrored as is (the banner reads it). A tab that follows another (drivers/tab-relay.ts) learns of a sign-in
 * or sign-out made elsewhere through `client.address`, read on every connection event, and adopts it. The
 * password is kept in the tab's sessionStorage only (drivers/preferences.ts), for a reload to sign in again.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import { InvalidStateError } from '../sip/index.ts';
import type { ChatConnectionState, ChatEvent, SignInOptions } from '../drivers/index.ts';
import { normalizeAddress } from './address.ts';
import { useContactsStore } from './contacts.ts';
import { useConversationsStore } from './conversations.ts';
import { useFilesStore } from './files.ts';
import { useMessagesStore } from './messages.ts';
import { useOutboxStore } from './outbox.ts';
import { usePresenceStore } from './presence.ts';
import { useSearchStore } from './search.ts';
import { usePinia, useServices, useSession } from './services.ts';

export type AccountPhase = 'signed-out' | 'signing-in' | 'signed-in';

export interface SignInForm {
  readonly address: string;
  readonly password: string;
  readonly gatewayUrl: string;
  readonly displayName?: string | undefined;
}

/** Checks a gateway URL; throws TypeError with a message for the form. */
export function checkGatewayUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new TypeError('The gateway URL must look like ws://host:port/ or wss://host/');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
    throw new TypeError('The gateway URL must start with ws:// or wss://');
  return url.href;
}

export const useAccountStore = defineStore('account', () => {
  const services = useServices();
  const session = useSession();
  const pinia = usePinia();
  const client = services.client;
  const phase = ref<AccountPhase>('signed-out');
  const address = ref<string | undefined>();
  const displayName = ref<string | undefined>();
  const gatewayUrl = ref<string | undefined>();
  const connection = shallowRef<ChatConnectionState>(client.connection);
  /** why the last sign-in did not happen, for the form */
  const error = ref<string | undefined>();
  const signedIn = computed(() => phase.value === 'signed-in');
  const passwordRejected = computed(() => signedIn.value && connection.value.status === 'auth-rejected');
  let unsubscribe: (() => void) | undefined;
  /** events that came while the stores were loading */
  let held: ChatEvent[] | undefined;
  /** true while the account changes the client's session itself (no "signed out elsewhere") */
  let switching = false;

  /** Subscribes to the client and restores a session: this tab's (a reload) or another tab's. Idempotent. */
  async function start(): Promise<void> {
    if (unsubscribe) return;
    listen();
    if (client.address !== undefined) return adopt(client.address);
    const saved = services.preferences.session();
    if (saved) await signIn(saved).catch(() => undefined);
  }

  function listen(): void {
    unsubscribe ??= client.subscribe(dispatch);
  }

  function stop(): void {
    unsubscribe?.();
    unsubscribe = undefined;
  }

  async function signIn(form: SignInForm): Promise<void> {
    if (phase.value !== 'signed-out') throw new InvalidStateError(`cannot sign in while ${phase.value}`);
    listen();
    error.value = undefined;
    let options: SignInOptions;
    try {
      if (!form.password) throw new TypeError('Enter your password');
      options = {
        address: normalizeAddress(form.address),
        password: form.password,
        gatewayUrl: checkGatewayUrl(form.gatewayUrl),
        displayName: form.displayName?.trim() || undefined,
      };
    } catch (failure) {
      error.value = failure instanceof Error ? failure.message : String(failure);
      throw failure;
    }
    const capabilities = await open(options.address);
    try {
      switching = true;
      // SPEC §8: publish the status this account chose last (available the first time) once registered.
      const presence = usePresenceStore(pinia).choiceOf(options.address);
      client.signIn({ ...options, capabilities, presence });
    } catch (failure) {
      error.value = failure instanceof Error ? failure.message : String(failure);
      close();
      throw failure;
    } finally {
      switching = false;
    }
    displayName.value = options.displayName;
    gatewayUrl.value = options.gatewayUrl;
    services.preferences.setLastSignIn(options);
    services.preferences.setSession({
      address: options.address,
      gatewayUrl: options.gatewayUrl,
      displayName: options.displayName,
      password: options.password,
    });
    ready();
  }

  /** Another tab signed in: show the same account here, without a second registration. */
  async function adopt(account: string): Promise<void> {
    if (phase.value !== 'signed-out') return;
    // The sign-in was made in another tab of this browser: it left its gateway in the shared preferences.
    const last = services.preferences.lastSignIn();
    if (last?.address === account) {
      gatewayUrl.value = last.gatewayUrl;
      displayName.value = last.displayName;
    }
    await open(account);
    ready();
  }

  /** Opens the account's storage and loads the stores; returns what was learned about peers. */
  async function open(account: string): Promise<SignInOptions['capabilities']> {
    phase.value = 'signing-in';
    held = [];
    address.value = account;
    session.self = account;
    try {
      session.storage = await services.openStorage(account);
    } catch (failure) {
      // History cannot be kept (storage blocked): chat still works, from memory.
      services.onError?.(failure, 'open storage');
      session.storage = undefined;
    }
    const storage = session.storage;
    if (!storage) return [];
    const [contacts, conversations, outbox, capabilities] = await Promise.all([
      storage.loadContacts(),
      storage.loadConversations(),
      storage.loadOutbox(),
      storage.loadCapabilities(),
    ]).catch((failure: unknown) => {
      services.onError?.(failure, 'load account');
      return [[], [], [], []] as const;
    });
    useContactsStore(pinia).load(contacts);
    useConversationsStore(pinia).load(conversations, capabilities);
    useOutboxStore(pinia).load(outbox);
    return capabilities;
  }

  function ready(): void {
    phase.value = 'signed-in';
    connection.value = client.connection;
    const replay = held ?? [];
    held = undefined;
    usePresenceStore(pinia).start();
    for (const event of replay) dispatch(event);
    useOutboxStore(pinia).flush();
  }

  /** Forgets the account in this tab: stores emptied, storage closed. */
  function close(): void {
    phase.value = 'signed-out';
    held = undefined;
    useSearchStore(pinia).reset();
    usePresenceStore(pinia).reset();
    useFilesStore(pinia).reset();
    useOutboxStore(pinia).reset();
    useMessagesStore(pinia).reset();
    useConversationsStore(pinia).reset();
    useContactsStore(pinia).reset();
    session.storage?.close();
    session.storage = undefined;
    session.self = undefined;
    address.value = undefined;
  }

  async function signOut(): Promise<void> {
    if (phase.value === 'signed-out') return;
    services.preferences.setSession(undefined);
    close();
    switching = true;
    try {
      await client.signOut();
    } catch (failure) {
      services.onError?.(failure, 'sign out');
    } finally {
      switching = false;
    }
    connection.value = client.connection;
  }

  /** The registrar refused the password: try again with another one, same account. */
  async function retryPassword(password: string): Promise<void> {
    const account = address.value;
    if (!signedIn.value || account === undefined || gatewayUrl.value === undefined)
      throw new InvalidStateError('not signed in');
    if (!password) throw new TypeError('Enter your password');
    switching = true;
    try {
      await client.signOut();
      const learned = (await session.storage?.loadCapabilities().catch(() => undefined)) ?? [];
      client.signIn({
        address: account,
        password,
        gatewayUrl: gatewayUrl.value,
        displayName: displayName.value,
        capabilities: learned,
        presence: usePresenceStore(pinia).choiceOf(account),
      });
      // A new client session watches nothing yet: every contact again.
      usePresenceStore(pinia).start();
    } finally {
      switching = false;
    }
    services.preferences.setSession({
      address: account,
      gatewayUrl: gatewayUrl.value,
      displayName: displayName.value,
      password,
    });
    connection.value = client.connection;
  }

  /** Every client event goes through here, to the store it concerns. */
  function dispatch(event: ChatEvent): void {
    if (held) {
      held.push(event);
      return;
    }
    switch (event.type) {
      case 'connection':
        connection.value = event.state;
        followClient();
        if (phase.value === 'signed-in') useOutboxStore(pinia).onConnection(event.state);
        return;
      case 'message-state':
        if (phase.value !== 'signed-in') return;
        if (useOutboxStore(pinia).onState(event)) useMessagesStore(pinia).requeue(event.id);
        else useMessagesStore(pinia).applyState(event);
        return;
      case 'message':
        if (phase.value === 'signed-in') void useMessagesStore(pinia).receive(event.message);
        return;
      case 'outgoing':
        if (phase.value === 'signed-in') void useMessagesStore(pinia).echo(event.message);
        return;
      case 'composing':
        useConversationsStore(pinia).setTyping(event.peer, event.active);
        return;
      case 'capability':
        if (phase.value === 'signed-in') useConversationsStore(pinia).learn(event.note);
        return;
      case 'file':
        if (phase.value === 'signed-in') useFilesStore(pinia).onTransfer(event.transfer);
        return;
      case 'presence':
        if (phase.value === 'signed-in') usePresenceStore(pinia).onPresence(event);
        return;
    }
  }

  /** Follows a sign-in or sign-out made in another tab (the client's address changed under us). */
  function followClient(): void {
    if (switching) return;
    const current = client.address;
    if (current !== undefined && phase.value === 'signed-out') void adopt(current);
    else if (current === undefined && phase.value === 'signed-in') {
      // Signed out elsewhere: this tab forgets its session too.
      services.preferences.setSession(undefined);
      close();
    }
  }

  return {
    phase,
    address,
    displayName,
    gatewayUrl,
    connection,
    error,
    signedIn,
    passwordRejected,
    start,
    stop,
    signIn,
    signOut,
    retryPassword,
  };
});
