/**
 * A Pinia with the app's services wired to fakes: FakeChatClient, IndexedDB from fake-indexeddb (a fresh
 * factory per harness, so tests never share a database unless they pass one), preferences over Maps, an
 * Attention that records, a clock the test moves, ids from a counter.
 */
import { IDBFactory } from 'fake-indexeddb';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import { createApp } from 'vue';
import {
  openChatStorage,
  webPreferences,
  type Attention,
  type AttentionNotice,
  type ChatStorage,
  type KeyValueStorage,
} from '../../../web/src/drivers/index.ts';
import { provideServices, type ChatServices } from '../../../web/src/stores/services.ts';
import { FakeChatClient } from './fake-chat-client.ts';

export class MapStorage implements KeyValueStorage {
  readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

export class RecordingAttention implements Attention {
  unread = 0;
  readonly notices: AttentionNotice[] = [];
  granted: 'granted' | 'denied' | 'default' = 'granted';
  setUnread(count: number): void {
    this.unread = count;
  }
  permission(): 'granted' | 'denied' | 'default' {
    return this.granted;
  }
  requestPermission(): Promise<'granted'> {
    this.granted = 'granted';
    return Promise.resolve('granted');
  }
  notify(notice: AttentionNotice): void {
    this.notices.push(notice);
  }
}

let harnesses = 0;

export interface HarnessOptions {
  readonly client?: FakeChatClient;
  readonly idb?: IDBFactory;
  readonly local?: MapStorage;
  readonly session?: MapStorage;
}

export interface Harness {
  readonly pinia: Pinia;
  readonly client: FakeChatClient;
  readonly idb: IDBFactory;
  readonly local: MapStorage;
  readonly sessionStore: MapStorage;
  readonly attention: RecordingAttention;
  readonly errors: { error: unknown; context: string }[];
  readonly storages: ChatStorage[];
  /** the clock the stores read; tests move it */
  clock: { now: number };
}

export function createHarness(options: HarnessOptions = {}): Harness {
  const client = options.client ?? new FakeChatClient();
  const idb = options.idb ?? new IDBFactory();
  const local = options.local ?? new MapStorage();
  const sessionStore = options.session ?? new MapStorage();
  const attention = new RecordingAttention();
  const errors: { error: unknown; context: string }[] = [];
  const storages: ChatStorage[] = [];
  const clock = { now: client.now };
  let ids = 0;
  const prefix = `h${++harnesses}-`;
  const services: ChatServices = {
    client,
    openStorage: async (address) => {
      const storage = await openChatStorage(idb, address);
      storages.push(storage);
      return storage;
    },
    now: () => clock.now,
    newId: () => `${prefix}m${++ids}`,
    preferences: webPreferences(local, sessionStore),
    attention,
    onError: (error, context) => {
      errors.push({ error, context });
    },
  };
  const pinia = createPinia();
  provideServices(pinia, services);
  // Installed in an app, as in main.ts: stores are then set up in the app's injection context.
  createApp({}).use(pinia);
  setActivePinia(pinia);
  return { pinia, client, idb, local, sessionStore, attention, errors, storages, clock };
}

/** Lets pending promises, microtasks and fake-indexeddb's callbacks (setImmediate) run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

export const ALICE = 'sip:alice@example.com';
export const BOB = 'sip:bob@example.com';
export const CAROL = 'sip:carol@example.com';
export const GATEWAY = 'ws://127.0.0.1:8080/';
