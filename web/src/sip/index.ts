/**
 * The public surface of the SIP core. Code outside web/src/sip/ imports from here only.
 */
export { SipError, ParseError, InvalidStateError, TransportError } from './errors.ts';
export * from './message/index.ts';
export * from './auth/index.ts';
export * from './dialog/index.ts';
export * from './transaction/index.ts';
export * from './ua/index.ts';
export * from './im/index.ts';
export * from './msrp/index.ts';
export * from './sdp/index.ts';
