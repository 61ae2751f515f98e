// MSRP (RFC 4975, RFC 4976 relays, RFC 7977 over WebSocket): the public surface of web/src/sip/msrp/.
export {
  MSRP_DEFAULT_PORT,
  formatMsrpUri,
  msrpUriEquals,
  parseMsrpUri,
  tryMsrpUri,
  type MsrpUri,
} from './msrp-uri.ts';
export {
  MSRP_REASONS,
  checkMsrpFrame,
  concatBytes,
  enumHeader,
  formatByteRange,
  framePath,
  integerHeader,
  isMsrpIdent,
  msrpEndLine,
  msrpFrameParts,
  msrpHeader,
  msrpHeaders,
  msrpIdent,
  msrpReport,
  msrpRequest,
  msrpResponse,
  parseByteRange,
  parseMsrpFrame,
  parseMsrpPath,
  parseMsrpStatus,
  serializeMsrpFrame,
  serializeMsrpHead,
  type ByteRange,
  type MsrpFlag,
  type MsrpFrame,
  type MsrpHeader,
  type MsrpStatus,
} from './msrp-frame.ts';
export { MsrpFramer, type MsrpFramerEvent, type MsrpFramerOptions } from './msrp-framer.ts';
export { readMsrpHead, rechunk, rewritePaths } from './msrp-relaying.ts';
export { acceptsContent, acceptsType, bareType, cpimInnerType, mediaTypeMatches } from './content-types.ts';
export {
  MsrpSession,
  type MsrpAuthState,
  type MsrpBodySource,
  type MsrpContent,
  type MsrpFlow,
  type MsrpSendOptions,
  type MsrpSessionEvent,
  type MsrpSessionOptions,
  type MsrpTransmission,
  type OutgoingMessageState,
} from './msrp-session.ts';
