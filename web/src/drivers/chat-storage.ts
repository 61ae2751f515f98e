/**
 * ChatStorage: the app's durable state in IndexedDB, one database per account: history, conversation summaries,
 * the outbox, contacts and what was learned about peers.
 *
 *   stores ── save… / enqueue / dequeue ──► pending writes ──(next microtask, or before any read)──► ONE
 *          ◄── load… / search ──────────── readonly transaction ◄── ordered after those writes    readwrite tx
 *
 * How it works. Writes are coalesced: every write issued in the same task joins one readwrite transaction over
 * the stores it touches (500 incoming messages a second become a few transactions, not 500; several writes of
 * one record in a batch become the last of them), and its promise
 * settles when that transaction commits, which is when the data is durable. A read first commits whatever is
 * pending, and IndexedDB runs transactions with overlapping scopes in creation order, so a read always sees
 * the writes issued before it. `enqueue` writes the message and its outbox entry in the same transaction: a
 * message the user sent is never in the history without being in the outbox, or the reverse.
 *
 * Records are the stores' plain snapshots (no Vue proxies: IndexedDB's structured clone refuses those).
 */
import type { CapabilityNote, ChatFailure, MessageState } from './chat-client.ts';

export interface RecipientStatus {
  readonly address: string;
  readonly state: MessageState;
  readonly at: number;
  readonly failure?: ChatFailure | undefined;
}

export interface ChatMessage {
  readonly id: string;
  readonly conversationId: string;
  readonly direction: 'in' | 'out';
  readonly from: string;
  readonly fromName?: string | undefined;
  /** outgoing: the recipients; incoming: the participants of a group message, else [ourselves] */
  readonly to: readonly string[];
  readonly group: boolean;
  readonly text: string;
  /** when it was written (outgoing) or sent by the peer (incoming), epoch ms */
  readonly at: number;
  /**
   * outgoing: its delivery state; incoming: 'delivered' until the user has seen it, then 'displayed'
   */
  readonly state: MessageState;
  readonly stateAt: number;
  readonly failure?: ChatFailure | undefined;
  /** outgoing group message: each recipient's state */
  readonly recipients?: readonly RecipientStatus[] | undefined;
  /** incoming: the sender asked for a display notification */
  readonly wantsDisplayed?: boolean | undefined;
}

export interface ConversationSummary {
  /** the peer's AOR for a direct conversation; `group:` + the sorted peers for a group */
  readonly id: string;
  readonly kind: 'direct' | 'group';
  /** everyone in it but ourselves */
  readonly peers: readonly string[];
  readonly lastActivity: number;
  readonly preview: string;
  readonly previewFromSelf: boolean;
  readonly unread: number;
}

export interface OutboxEntry {
  readonly id: string;
  readonly conversationId: string;
  readonly to: readonly string[];
  readonly group: boolean;
  readonly text: string;
  readonly queuedAt: number;
  /** ties on queuedAt are sent in seq order */
  readonly seq: number;
}

export interface Contact {
  readonly address: string;
  readonly name: string;
  readonly addedAt: number;
}

export interface ChatStorage {
  loadContacts(): Promise<Contact[]>;
  saveContact(contact: Contact): Promise<void>;
  deleteContact(address: string): Promise<void>;
  loadConversations(): Promise<ConversationSummary[]>;
  saveConversation(conversation: ConversationSummary): Promise<void>;
  /** A conversation's messages, oldest first. */
  loadMessages(conversationId: string): Promise<ChatMessage[]>;
  getMessage(id: string): Promise<ChatMessage | undefined>;
  saveMessage(message: ChatMessage): Promise<void>;
  /** Messages whose text contains `query` (case-insensitive), newest first, at most `limit`. */
  searchMessages(query: string, limit: number): Promise<ChatMessage[]>;
  /** The outbox in send order. */
  loadOutbox(): Promise<OutboxEntry[]>;
  /** Saves the message and its outbox entry in one transaction. */
  enqueue(message: ChatMessage, entry: OutboxEntry): Promise<void>;
  dequeue(id: string): Promise<void>;
  loadCapabilities(): Promise<CapabilityNote[]>;
  saveCapability(note: CapabilityNote): Promise<void>;
  close(): void;
}

type StoreName = 'messages' | 'conversations' | 'outbox' | 'contacts' | 'capabilities';

const SCHEMA: Readonly<Record<StoreName, string | string[]>> = {
  messages: 'id',
  conversations: 'id',
  outbox: 'id',
  contacts: 'address',
  capabilities: ['peer', 'capability'],
};

const VERSION = 1;
/** how long writes are collected into one readwrite transaction, ms (about a frame) */
const WRITE_BATCH_MS = 16;

/** The database of one account. */
export function chatDatabaseName(address: string): string {
  return `simple-chat:${address}`;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => {
      resolve(req.result);
    };
    req.onerror = () => {
      reject(req.error ?? new Error('IndexedDB request failed'));
    };
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => {
      resolve();
    };
    tx.onabort = tx.onerror = () => {
      reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    };
  });
}

/** Opens (creating or upgrading) an account's database. */
export async function openChatStorage(factory: IDBFactory, address: string): Promise<ChatStorage> {
  const open = factory.open(chatDatabaseName(address), VERSION);
  open.onupgradeneeded = () => {
    const db = open.result;
    for (const [name, keyPath] of Object.entries(SCHEMA)) {
      if (db.objectStoreNames.contains(name)) continue;
      const store = db.createObjectStore(name, { keyPath });
      if (name === 'messages') store.createIndex('conversation', 'conversationId');
    }
  };
  return new IndexedDbChatStorage(await request(open));
}

/** The key of a record of a store (its keyPath's value). */
function keyOf(store: StoreName, record: object): unknown {
  const path = SCHEMA[store];
  const value = record as Record<string, unknown>;
  return typeof path === 'string' ? value[path] : path.map((part) => value[part]);
}

type Write = { readonly store: StoreName } & ({ readonly put: object } | { readonly delete: IDBValidKey });

export class IndexedDbChatStorage implements ChatStorage {
  readonly #db: IDBDatabase;
  #pending = new Map<string, Write>();
  #committed: Promise<void> | undefined;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  #scheduled = false;

  constructor(db: IDBDatabase) {
    this.#db = db;
  }

  loadContacts(): Promise<Contact[]> {
    return this.#all<Contact>('contacts');
  }

  saveContact(contact: Contact): Promise<void> {
    return this.#write({ store: 'contacts', put: contact });
  }

  deleteContact(address: string): Promise<void> {
    return this.#write({ store: 'contacts', delete: address });
  }

  loadConversations(): Promise<ConversationSummary[]> {
    return this.#all<ConversationSummary>('conversations');
  }

  saveConversation(conversation: ConversationSummary): Promise<void> {
    return this.#write({ store: 'conversations', put: conversation });
  }

  async loadMessages(conversationId: string): Promise<ChatMessage[]> {
    const index = this.#read('messages').index('conversation');
    const messages = (await request(index.getAll(conversationId))) as ChatMessage[];
    return messages.sort((a, b) => a.at - b.at);
  }

  async getMessage(id: string): Promise<ChatMessage | undefined> {
    return (await request(this.#read('messages').get(id))) as ChatMessage | undefined;
  }

  saveMessage(message: ChatMessage): Promise<void> {
    return this.#write({ store: 'messages', put: message });
  }

  async searchMessages(query: string, limit: number): Promise<ChatMessage[]> {
    const needle = query.trim().toLowerCase();
    if (!needle) return [];
    const all = await this.#all<ChatMessage>('messages');
    return all
      .filter((message) => message.text.toLowerCase().includes(needle))
      .sort((a, b) => b.at - a.at)
      .slice(0, limit);
  }

  async loadOutbox(): Promise<OutboxEntry[]> {
    const entries = await this.#all<OutboxEntry>('outbox');
    return entries.sort((a, b) => a.queuedAt - b.queuedAt || a.seq - b.seq);
  }

  enqueue(message: ChatMessage, entry: OutboxEntry): Promise<void> {
    const saved = this.#write({ store: 'messages', put: message });
    const queued = this.#write({ store: 'outbox', put: entry });
    // Both joined the same pending batch, so they commit (or fail) together.
    return Promise.all([saved, queued]).then(() => undefined);
  }

  dequeue(id: string): Promise<void> {
    return this.#write({ store: 'outbox', delete: id });
  }

  loadCapabilities(): Promise<CapabilityNote[]> {
    return this.#all<CapabilityNote>('capabilities');
  }

  saveCapability(note: CapabilityNote): Promise<void> {
    return this.#write({ store: 'capabilities', put: note });
  }

  close(): void {
    this.#commit();
    this.#db.close();
  }

  async #all<T>(store: StoreName): Promise<T[]> {
    return (await request(this.#read(store).getAll())) as T[];
  }

  /** A readonly store, opened after every write issued so far (so it sees them). */
  #read(store: StoreName): IDBObjectStore {
    this.#commit();
    return this.#db.transaction(store, 'readonly').objectStore(store);
  }

  #write(write: Write): Promise<void> {
    // One write per record and batch: the last one wins (a conversation touched by 500 messages is put once).
    const id = `${write.store}\u0000${JSON.stringify('put' in write ? keyOf(write.store, write.put) : write.delete)}`;
    this.#pending.delete(id);
    this.#pending.set(id, write);
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Writes of one frame share a transaction (a burst of incoming messages is one commit per frame, not one
      // per message); a read, or close(), commits what is pending first.
      setTimeout(() => {
        this.#commit();
      }, WRITE_BATCH_MS);
    }
    return this.#batchPromise();
  }

  /** The promise of the batch being collected: settles when it commits. */
  #batchPromise(): Promise<void> {
    this.#committed ??= new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    return this.#committed;
  }

  /** Starts the readwrite transaction of everything pending (synchronously, so later reads queue behind it). */
  #commit(): void {
    this.#scheduled = false;
    const writes = [...this.#pending.values()];
    const settle = this.#settle;
    this.#pending = new Map();
    this.#committed = undefined;
    this.#settle = undefined;
    if (writes.length === 0 || !settle) return;
    try {
      const names = [...new Set(writes.map((write) => write.store))];
      const tx = this.#db.transaction(names, 'readwrite');
      for (const write of writes) {
        const store = tx.objectStore(write.store);
        if ('put' in write) store.put(write.put);
        else store.delete(write.delete);
      }
      done(tx).then(settle.resolve, settle.reject);
    } catch (error) {
      settle.reject(error);
    }
  }
}
