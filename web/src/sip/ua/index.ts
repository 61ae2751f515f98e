// The user agent core (RFC 3261 §8, §10, §13, RFC 3262, RFC 5626 client side): the public surface of web/src/sip/ua/.
export { UserAgent, type UaRequestOptions, type UaTransport, type UserAgentOptions } from './user-agent.ts';
export {
  IncomingRequest,
  OutgoingRequest,
  type AcceptOptions,
  type IncomingRequestState,
  type OutgoingRequestState,
  type ProgressOptions,
  type ResponseOptions,
} from './handles.ts';
export type { UserAgentEvent, UserAgentEventType, UserAgentTransmission } from './events.ts';
export {
  Registration,
  type RegistrationOptions,
  type RegistrationSnapshot,
  type RegistrationState,
} from './registration.ts';
export {
  DEFAULT_CAPABILITIES,
  KNOWN_METHODS,
  capabilitiesWith,
  capabilityHeaders,
  type UserAgentCapabilities,
} from './capabilities.ts';
export { inspectRequest, type InspectContext, type Rejection } from './uas-checks.ts';
export { answerMalformed, type MalformedRequest } from './malformed.ts';
// Pager-mode IM (RFC 3428, CPIM, IMDN, is-composing, RFC 5365 groups) on top of the user agent.
export {
  Pager,
  peerKey,
  type IncomingMessage,
  type OutgoingMessage,
  type PagerEvent,
  type PagerOptions,
  type RecipientStatus,
  type SendOptions,
  type SendResult,
} from './pager.ts';
export {
  MESSAGE_TRANSITIONS,
  aggregate as aggregateMessageState,
  isFinalState as isFinalMessageState,
  transition as messageTransition,
  type MessageState,
} from './message-state.ts';
export { decodePagerBody, type PagerContent } from './pager-content.ts';
export {
  PeerCapabilityTable,
  type CapabilityKind,
  type PeerCapabilities,
  type PeerCapabilityStore,
  type Support,
} from './peer-capabilities.ts';
// Session-mode IM (RFC 4975 via INVITE/SDP, RFC 5547 files) and the one conversation API over pager and sessions.
export {
  ChatSessions,
  type ChatMsrpOptions,
  type ChatSessionEvent,
  type ChatSessionsEvent,
  type ChatSessionsOptions,
  type SessionSendOptions,
} from './chat-sessions.ts';
export {
  CHAT_SESSION_TRANSITIONS,
  type ChatSessionKind,
  type ChatSessionSnapshot,
  type ChatSessionState,
  type MsrpLinkState,
  type SessionMessage,
} from './chat-session.ts';
export {
  FileTransfer,
  formatHash,
  hashSource,
  type FileHasher,
  type FileOffer,
  type FileTransferSnapshot,
  type FileTransferState,
} from './file-transfer.ts';
export {
  Conversations,
  DEFAULT_MODE_POLICY,
  type ConversationEvent,
  type ConversationMessage,
  type ConversationMode,
  type ConversationSendOptions,
  type ConversationSnapshot,
  type ConversationsEvent,
  type ConversationsOptions,
  type ModePolicy,
} from './conversations.ts';
// Presence (RFC 3856, RFC 3903 PUBLISH, RFC 6665 SUBSCRIBE/NOTIFY) on top of the user agent.
export {
  PUBLICATION_TRANSITIONS,
  PresenceClient,
  WATCH_TRANSITIONS,
  type BuddyPresence,
  type PresenceEvent,
  type PresenceOptions,
  type PresenceUpdate,
  type PublicationSnapshot,
  type PublicationState,
  type WatchState,
} from './presence.ts';
