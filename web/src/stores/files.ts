/**
 * Files: file transfers (RFC 5547) as messages of their conversation. A transfer is a ChatMessage with a `file`
 * record (name, type, size, state, reason) kept in history like any message; its progress and the received
 * bytes live in this tab's memory only.
 *
 *   send(conversation, File) ──► file message (history) ──► client.sendFile
 *   client `file` events ──► live (state, bytes: progress bars) ──state changed──► file message (history)
 *                        └─► blobs (a received file's Blob, memory only: IndexedDB keeps no bytes)
 *   accept / decline / cancel ──► client
 *
 * Decisions. Every offer waits for the user's Accept or Decline (no auto-accept: a file is the user's to take).
 * After a reload, a received file that was not saved is "no longer available" (the bytes were never stored), and a
 * transfer that was under way when the page went away shows as interrupted. Files go to one person only (an
 * RFC 5547 push is a session with one peer), so group conversations have no attach button.
 */
import { defineStore } from 'pinia';
import { shallowReactive } from 'vue';
import type { ChatFileTransfer, ChatMessage, FileTransferState, MessageState } from '../drivers/index.ts';
import { useContactsStore } from './contacts.ts';
import { useConversationsStore } from './conversations.ts';
import { useMessagesStore } from './messages.ts';
import { usePinia, useServices, useSession } from './services.ts';

/** What history keeps of a file transfer. */
export interface FileInfo {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  readonly state: FileTransferState;
  readonly reason?: string | undefined;
}

/** A message that is a file transfer (stored as a ChatMessage with one more field). */
export interface FileMessage extends ChatMessage {
  readonly file: FileInfo;
}

/** What a file bubble shows. */
export interface FileView {
  readonly state: FileTransferState;
  readonly reason: string | undefined;
  readonly bytes: number;
  /** 0–100 */
  readonly percent: number;
  /** received and in this tab's memory */
  readonly data: Blob | undefined;
  /** received earlier, but the bytes are gone (a reload): nothing to download */
  readonly unavailable: boolean;
}

export const INTERRUPTED = 'interrupted: the page was closed or reloaded during the transfer';

export function fileOf(message: ChatMessage): FileInfo | undefined {
  return (message as Partial<FileMessage>).file;
}

export function isFileOver(state: FileTransferState): boolean {
  return state === 'complete' || state === 'failed' || state === 'cancelled';
}

/** The text a file message carries: the conversation's preview and search find it by name. */
export function fileText(name: string): string {
  return `File: ${name}`;
}

/** A file picked or dropped (a File, or any Blob with a name). */
export type PickedFile = Blob & { readonly name: string };

export const useFilesStore = defineStore('files', () => {
  const services = useServices();
  const session = useSession();
  const pinia = usePinia();
  /** transfers seen in this tab, by id: state and progress */
  const live = shallowReactive(new Map<string, ChatFileTransfer>());
  /** received files' bytes, by id (this tab's memory only) */
  const blobs = shallowReactive(new Map<string, Blob>());
  let chain: Promise<void> = Promise.resolve();
  let generation = 0;

  /** Sends a file to the one peer of a direct conversation; returns its message. */
  function send(conversationId: string, file: PickedFile): FileMessage {
    const conversations = useConversationsStore(pinia);
    const conversation = conversations.get(conversationId);
    const peer = conversation?.peers[0];
    if (!conversation || peer === undefined) throw new TypeError(`No conversation ${conversationId}`);
    if (conversation.kind !== 'direct') throw new TypeError('Files go to one person at a time');
    const now = services.now();
    const type = file.type || 'application/octet-stream';
    const message: FileMessage = {
      id: services.newId(),
      conversationId,
      direction: 'out',
      from: session.self ?? '',
      to: conversation.peers,
      group: false,
      text: fileText(file.name),
      at: now,
      state: 'sending',
      stateAt: now,
      file: { name: file.name, type, size: file.size, state: 'preparing' },
    };
    live.set(message.id, {
      id: message.id,
      direction: 'send',
      peer,
      name: file.name,
      type,
      size: file.size,
      bytes: 0,
      state: 'preparing',
      at: now,
    });
    useMessagesStore(pinia).upsert(message, true);
    try {
      services.client.sendFile(
        peer,
        { name: file.name, type, size: file.size, data: file },
        { id: message.id },
      );
    } catch (error) {
      onTransfer({
        ...(live.get(message.id) as ChatFileTransfer),
        state: 'failed',
        reason: error instanceof Error ? error.message : String(error),
        at: services.now(),
      });
    }
    return message;
  }

  function accept(id: string): void {
    if (services.client.address !== undefined) services.client.acceptFile(id);
  }

  function decline(id: string): void {
    if (services.client.address !== undefined) services.client.declineFile(id);
  }

  function cancel(id: string): void {
    if (services.client.address !== undefined) services.client.cancelFile(id);
  }

  /** A client event: progress goes to `live`; a new state also to the file's message (and history). */
  function onTransfer(transfer: ChatFileTransfer): void {
    const before = live.get(transfer.id);
    const { data, ...plain } = transfer;
    live.set(transfer.id, plain);
    if (data !== undefined) blobs.set(transfer.id, data);
    if (before?.state === transfer.state && before.reason === transfer.reason) return;
    const started = generation;
    chain = chain
      .then(() => (started === generation ? record(transfer) : undefined))
      .catch((error: unknown) => services.onError?.(error, 'file'));
  }

  /** Writes a transfer's state into its message, creating the message for an offer (or a tab that missed it). */
  async function record(transfer: ChatFileTransfer): Promise<void> {
    const self = session.self;
    if (!self) return;
    const messages = useMessagesStore(pinia);
    const conversations = useConversationsStore(pinia);
    let message = messages.find(transfer.id);
    if (!message) {
      const conversation = conversations.ensure([transfer.peer]);
      const started = generation;
      await messages.load(conversation.id);
      if (started !== generation) return;
      message = messages.find(transfer.id);
      if (!message) {
        create(transfer, conversation.id, self);
        return;
      }
    }
    const info = fileOf(message);
    if (!info) return;
    if (info.state === transfer.state && info.reason === transfer.reason) return;
    const next: FileMessage = {
      ...message,
      state: messageState(message, transfer.state),
      stateAt: transfer.at,
      failure:
        message.direction === 'out' && (transfer.state === 'failed' || transfer.state === 'cancelled')
          ? { code: 0, reason: transfer.reason ?? transfer.state }
          : undefined,
      file: { ...info, state: transfer.state, reason: transfer.reason },
    };
    messages.upsert(next, false);
  }

  function create(transfer: ChatFileTransfer, conversationId: string, self: string): void {
    const incoming = transfer.direction === 'receive';
    const message: FileMessage = {
      id: transfer.id,
      conversationId,
      direction: incoming ? 'in' : 'out',
      from: incoming ? transfer.peer : self,
      to: incoming ? [self] : [transfer.peer],
      group: false,
      text: fileText(transfer.name),
      at: transfer.at,
      state: incoming ? 'delivered' : 'sending',
      stateAt: transfer.at,
      wantsDisplayed: incoming ? false : undefined,
      file: {
        name: transfer.name,
        type: transfer.type,
        size: transfer.size,
        state: transfer.state,
        reason: transfer.reason,
      },
    };
    useMessagesStore(pinia).upsert(message, true);
    const conversations = useConversationsStore(pinia);
    if (incoming && !conversations.pageVisible) {
      services.attention?.notify({
        title: useContactsStore(pinia).nameOf(transfer.peer),
        body: `Sends you ${transfer.name}`,
        tag: conversationId,
        onClick: () => {
          void conversations.open(conversationId);
        },
      });
    }
  }

  /** What a file bubble shows, from its message and what this tab knows live. */
  function view(message: FileMessage): FileView {
    const transfer = live.get(message.id);
    const info = message.file;
    let state = transfer?.state ?? info.state;
    let reason = transfer?.reason ?? info.reason;
    // Nothing live in this tab and not over: the transfer died with the page that ran it.
    if (transfer === undefined && !isFileOver(state)) {
      state = 'failed';
      reason = INTERRUPTED;
    }
    const bytes = state === 'complete' ? info.size : (transfer?.bytes ?? 0);
    const data = blobs.get(message.id);
    return {
      state,
      reason,
      bytes,
      percent: info.size === 0 ? (state === 'complete' ? 100 : 0) : Math.floor((bytes * 100) / info.size),
      data,
      unavailable: message.direction === 'in' && state === 'complete' && data === undefined,
    };
  }

  /** Forgets a received file's bytes (nothing else holds them). */
  function forget(id: string): void {
    blobs.delete(id);
  }

  function reset(): void {
    generation++;
    chain = Promise.resolve();
    live.clear();
    blobs.clear();
  }

  /** Waits for the history writes of the events so far (tests). */
  function settled(): Promise<void> {
    return chain;
  }

  return { live, blobs, send, accept, decline, cancel, onTransfer, view, forget, reset, settled };
});

function messageState(message: ChatMessage, state: FileTransferState): MessageState {
  if (message.direction === 'in') return message.state === 'displayed' ? 'displayed' : 'delivered';
  switch (state) {
    case 'preparing':
      return 'sending';
    case 'offered':
    case 'transferring':
      return 'sent';
    case 'complete':
      return 'delivered';
    case 'failed':
    case 'cancelled':
      return 'failed';
  }
}
