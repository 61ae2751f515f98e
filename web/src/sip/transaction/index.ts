/**
 * The transaction layer (RFC 3261 §17, RFC 6026): timers, the four machines, matching and the sans-IO facade.
 */
export * from './timers.ts';
export { TimerSet, type StateSpec, type StateTable, type DueTimer } from './timer-set.ts';
export { DeadlineQueue } from './deadline-queue.ts';
export type {
  FlowInfo,
  TimeoutTimer,
  Transaction,
  TransactionEvent,
  TransactionEventType,
  TransactionHandle,
  TransactionOptions,
  TransactionSink,
  Transmission,
  TransportName,
} from './transaction.ts';
export {
  MAGIC_COOKIE,
  newBranch,
  randomToken,
  isRfc3261Branch,
  clientKey,
  responseKey,
  serverKey,
  ackKey2543,
  cancelKey,
} from './matching.ts';
export { InviteClientTransaction, createAck, topViaText, type InviteClientState } from './invite-client.ts';
export { NonInviteClientTransaction, type NonInviteClientState } from './non-invite-client.ts';
export { InviteServerTransaction, type InviteServerState } from './invite-server.ts';
export { NonInviteServerTransaction, type NonInviteServerState } from './non-invite-server.ts';
export {
  TransactionLayer,
  createCancel,
  type TransactionLayerOptions,
  type SendRequestOptions,
} from './transaction-layer.ts';
