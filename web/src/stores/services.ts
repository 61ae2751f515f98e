/**
 * What the stores need from the outside world, injected per Pinia instance (STYLE.md: inject, don't reach):
 * main.ts wires the browser's drivers, tests wire fakes. A store reads them during its setup with
 * `useServices()`; `useSession()` holds what belongs to the signed-in account (its storage, its address),
 * kept out of reactive state on purpose (STYLE.md §10: live handles never become reactive).
 */
import { getActivePinia, type Pinia } from 'pinia';
import type { Attention, ChatClient, ChatStorage, Preferences } from '../drivers/index.ts';

export interface ChatServices {
  readonly client: ChatClient;
  /** opens the IndexedDB database of one account */
  readonly openStorage: (address: string) => Promise<ChatStorage>;
  /** epoch ms */
  readonly now: () => number;
  /** a fresh, unique message id */
  readonly newId: () => string;
  readonly preferences: Preferences;
  /** the title count and desktop notifications (absent: neither) */
  readonly attention?: Attention | undefined;
  /** the gateway URL the sign-in form offers when there is no last sign-in (the embedded mode: this host) */
  readonly defaultGatewayUrl?: string | undefined;
  /** told about failures nobody else can act on (a storage write that failed); composition roots log them */
  readonly onError?: ((error: unknown, context: string) => void) | undefined;
}

export interface SessionContext {
  storage: ChatStorage | undefined;
  /** our AOR while signed in */
  self: string | undefined;
}

interface Entry {
  readonly services: ChatServices;
  readonly session: SessionContext;
}

const registry = new WeakMap<Pinia, Entry>();

/** Gives a Pinia instance its services (before any store of it is used). */
export function provideServices(pinia: Pinia, services: ChatServices): void {
  registry.set(pinia, { services, session: { storage: undefined, self: undefined } });
}

function entry(): Entry {
  const pinia = getActivePinia();
  const found = pinia && registry.get(pinia);
  if (!found) throw new TypeError('provideServices(pinia, services) must run before the stores are used');
  return found;
}

export function useServices(): ChatServices {
  return entry().services;
}

/**
 * The Pinia instance a store belongs to, read during its setup. Stores that call each other later (in actions,
 * after awaits, in event handlers) pass it explicitly, `useMessagesStore(pinia)`, rather than rely on whichever
 * instance happens to be active then.
 */
export function usePinia(): Pinia {
  const pinia = getActivePinia();
  if (!pinia) throw new TypeError('no active Pinia');
  return pinia;
}

export function useSession(): SessionContext {
  return entry().session;
}

/**
 * Runs a storage operation for the signed-in account, if any, and reports its failure instead of leaving an
 * unhandled rejection. Returns the operation's promise (resolved with undefined when there is no storage).
 */
export function persist<T>(
  services: ChatServices,
  session: SessionContext,
  context: string,
  operation: (storage: ChatStorage) => Promise<T>,
): Promise<T | undefined> {
  const storage = session.storage;
  if (!storage) return Promise.resolve(undefined);
  return operation(storage).catch((error: unknown) => {
    services.onError?.(error, context);
    return undefined;
  });
}
