// Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760): the public surface of web/src/sip/auth/.
export { md5 } from './md5.ts';
export { sha256, sha512_256 } from './sha256.ts';
export {
  formatAuthorization,
  formatNonceCount,
  parseAuthSchemes,
  parseAuthorization,
  parseChallenge,
  parseChallenges,
  type AuthSchemeParams,
  type DigestAuthorization,
  type DigestAuthorizationInit,
  type DigestChallenge,
} from './challenge.ts';
export {
  DigestAuthenticator,
  computeDigestResponse,
  computeHa1,
  computeUserhash,
  hashOf,
  parseAlgorithm,
  type AuthorizationHeader,
  type AuthorizationHeaderName,
  type DigestAlgorithm,
  type DigestAuthenticatorOptions,
  type DigestChallengeInput,
  type DigestChallengeResult,
  type DigestCredentials,
  type DigestFailReason,
  type DigestHa1Credentials,
  type DigestHash,
  type DigestPasswordCredentials,
  type DigestQop,
  type DigestRequest,
  type DigestResponseOptions,
} from './digest.ts';
