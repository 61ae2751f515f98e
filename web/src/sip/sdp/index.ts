// SDP (RFC 4566) with MSRP offer/answer (RFC 3264, RFC 4975 §8, RFC 6135) and file transfer (RFC 5547).
export {
  hasSdpAttribute,
  parseSdp,
  sdpAttribute,
  serializeSdp,
  type SdpAttribute,
  type SdpLine,
  type SdpMedia,
  type SdpOrigin,
  type SdpParseResult,
  type SessionDescription,
} from './sdp.ts';
export {
  answerMsrpOffer,
  createMsrpOffer,
  intersectTypes,
  readMsrpAnswer,
  readMsrpMedia,
  type MediaDirection,
  type MsrpAnswerOptions,
  type MsrpAnswerResult,
  type MsrpMedia,
  type MsrpMediaInit,
  type MsrpOfferInit,
  type MsrpProto,
  type MsrpSetup,
  type NegotiatedMsrp,
} from './msrp-sdp.ts';
export {
  fileAttributes,
  formatFileSelector,
  parseFileSelector,
  readFileAttributes,
  type FileSelector,
  type FileTransferAttributes,
} from './file-attributes.ts';
