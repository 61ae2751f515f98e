/**
 * The server's surface of the SIP core: everything index.ts exports, plus the parts only a server uses, kept out
 * of the browser's entry so the app does not download them. The gateway (and tests of these parts) import from
 * here; the app imports index.ts only.
 *
 *   StreamFramer                      Content-Length framing of a byte stream (SIP over TCP/TLS, RFC 3261 §18.3)
 *   createChallenge, verifyCredentials, formatChallenge   digest, server side (RFC 3261 §22.4, RFC 7616 §3.3)
 *   readMsrpHead, rewritePaths, rechunk                    MSRP relay helpers (RFC 4976)
 */
export * from './index.ts';
export { StreamFramer, type FrameEvent, type StreamFramerOptions } from './message/framer.ts';
export { formatChallenge, type DigestChallengeInit } from './auth/challenge.ts';
export {
  createChallenge,
  verifyCredentials,
  type CreateChallengeOptions,
  type VerifyCredentialsOptions,
} from './auth/digest.ts';
export { readMsrpHead, rechunk, rewritePaths } from './msrp/msrp-relaying.ts';
