/**
 * The browser's I/O drivers for the sans-IO SIP core: a scheduler (one timer at the core's next deadline), SIP
 * over WebSocket as an RFC 5626 flow, and the driver that glues a core to both; and the app's ports: the ChatClient
 * interface, its SIP adapter (SipChatClient, with MSRP WebSockets for session mode), the browser's RFC 5626
 * instance id, IndexedDB storage, the tab leader relay, page attention, preferences.
 */
export {
  Emitter,
  type EmitterOptions,
  type EventMap,
  type Listener,
  type ReadonlyEmitter,
} from './emitter.ts';
export { systemClock, MAX_TIMER_DELAY, type Clock } from './clock.ts';
export { silentLogger, describeError, type Logger } from './logger.ts';
export type { CoreEvent, CoreTransmission, SansIoCore } from './sans-io-core.ts';
export { Scheduler, STUCK_DELAY, STUCK_LIMIT, type SchedulerOptions } from './scheduler.ts';
export {
  SipTransportError,
  type ConnectionState,
  type ConnectionStatus,
  type SipTransport,
  type TransportErrorCode,
  type TransportEvents,
  type TransportSink,
} from './transport.ts';
export {
  backoffCeiling,
  backoffDelay,
  DEFAULT_MAX_DELAY,
  DEFAULT_MIN_DELAY,
  type BackoffOptions,
} from './backoff.ts';
export {
  WebSocketTransport,
  SIP_SUBPROTOCOL,
  utf8Text,
  type WebSocketConstructor,
  type WebSocketLike,
  type WebSocketTransportOptions,
} from './websocket-transport.ts';
export { SipDriver, type SipDriverEvents, type SipDriverOptions } from './sip-driver.ts';
export {
  MESSAGE_STATES,
  FILE_TRANSFER_STATES,
  type ChatFileTransfer,
  type FileTransferState,
  type OutgoingFile,
  type SendFileOptions,
  type CapabilityNote,
  type ChatClient,
  type ChatConnectionState,
  type ChatConnectionStatus,
  type ChatEvent,
  type ChatEventType,
  type ChatFailure,
  type ChatListener,
  type IncomingChatMessage,
  type MessageState,
  type OutgoingChatMessage,
  type PeerCapability,
  PRESENCE_STATUSES,
  type ChatPresence,
  type PresenceChoice,
  type PresenceStatus,
  type PublicationStatus,
  type SendOptions,
  type SignInOptions,
} from './chat-client.ts';
export { SipChatClient, type SipChatClientOptions } from './sip-chat-client.ts';
export { sha1Hasher } from './sha1-hasher.ts';
export { FileAssembler } from './file-assembler.ts';
export { readBlobSource, type BlobSource } from './blob-body-source.ts';
export { MsrpWebSockets, type MsrpConnectionCore, type MsrpWebSocketsOptions } from './msrp-websockets.ts';
export { browserInstanceId, uuidFromBytes, INSTANCE_ID_KEY } from './instance-id.ts';
export {
  IndexedDbChatStorage,
  chatDatabaseName,
  openChatStorage,
  type ChatMessage,
  type ChatStorage,
  type Contact,
  type ConversationSummary,
  type OutboxEntry,
  type RecipientStatus,
} from './chat-storage.ts';
export {
  TabRelayClient,
  type ChannelLike,
  type LockManagerLike,
  type TabRelayOptions,
  type TabRole,
} from './tab-relay.ts';
export {
  pageAttention,
  type Attention,
  type AttentionNotice,
  type NotificationConstructorLike,
  type NotificationPermissionState,
  type PageAttentionOptions,
} from './page-attention.ts';
export {
  defaultGatewayUrl,
  webPreferences,
  type KeyValueStorage,
  type LastSignIn,
  type Preferences,
  type SessionCredentials,
  type ThemeChoice,
} from './preferences.ts';
