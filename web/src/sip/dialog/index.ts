// Dialogs (RFC 3261 §12, with what RFC 3262 and RFC 6665 need): the public surface of web/src/sip/dialog/.
export {
  dialogKey,
  dialogSetKey,
  sameDialogId,
  uacDialogId,
  uasDialogId,
  type DialogId,
} from './dialog-id.ts';
export {
  asRequestUri,
  copyRecordRoute,
  formatRoute,
  isLooseRoute,
  requestTarget,
  routeSetFrom,
  type RequestTarget,
  type RouteSet,
} from './route-set.ts';
export {
  Dialog,
  TARGET_REFRESH_METHODS,
  checkDialogFields,
  createsDialog,
  reliableRSeq,
  type DialogOptions,
  type DialogRequestOptions,
  type DialogRequestResult,
  type DialogResponseResult,
  type DialogRole,
  type DialogSnapshot,
  type DialogState,
  type ReliableProvisional,
} from './dialog.ts';
export { DialogSet, type DialogSetResult, type DialogSetState } from './dialog-set.ts';
