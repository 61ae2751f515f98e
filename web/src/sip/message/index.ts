export { parseMessage, type ParseOptions } from './parser.ts';
export { serializeMessage, serializeHead } from './serializer.ts';
export {
  SipRequest,
  SipResponse,
  createResponse,
  reasonPhrase,
  REASON_PHRASES,
  type SipMessage,
  type SipBody,
} from './message.ts';
export {
  SipHeaders,
  normalizeName,
  splitTopLevelCommas,
  HEADER_TYPES,
  type HeaderField,
  type NameInfo,
} from './headers.ts';
export { Uri, parseUri, type UriParts, type UriParams } from './uri.ts';
export { ParamMap } from './param-map.ts';
export { Scanner, quote, unquote, paramValue, formatParams, type Params } from './scanner.ts';
export * from './values.ts';
export { parseMultipart, serializeMultipart, type BodyPart } from './multipart.ts';
export { escape, unescape, isToken } from './chars.ts';
