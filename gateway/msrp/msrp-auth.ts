/**
 * Who may AUTH to the MSRP relay (RFC 4976 §5.1, §6.1): the relay's side of the digest exchange, or none.
 *
 *  - `digestAuth(guard)`: HTTP digest as the SIP registrar does it (gateway/core/digest-guard.ts: stateless nonces,
 *    replay refusal, per-source failure limits), against a users file (HA1s only). RFC 4976 §5.1: the digest
 *    `uri` is the relay's URI and the method is AUTH; any user of the file may AUTH (the relay route is not tied to
 *    an address of record).
 *  - `openAuth()`: every AUTH is granted. Beside a PBX without a users file the relay cannot check passwords (the
 *    PBX holds them); the gateway then restricts where the relay may connect (docs/gateway.md, "MSRP relay"), so
 *    that granting a route without credentials does not make it an open relay.
 */
import { parseAuthorization } from '../../web/src/sip/server.ts';
import type { DigestGuard } from '../core/digest-guard.ts';

export type MsrpAuthOutcome =
  | { readonly kind: 'ok'; readonly user: string | undefined }
  /** send a 401 with these WWW-Authenticate values */
  | { readonly kind: 'challenge'; readonly challenges: readonly string[] }
  | { readonly kind: 'forbidden'; readonly reason: string };

export interface MsrpAuthPolicy {
  /** whether AUTH needs credentials */
  readonly authenticates: boolean;
  /**
   * Checks the Authorization values of an AUTH. `source` names the client connection (failure limits per
   * connection), `ip` its address (the coarser per-address limit); `now` in ms.
   */
  check(authorizations: readonly string[], source: string, ip: string, now: number): MsrpAuthOutcome;
}

export function openAuth(): MsrpAuthPolicy {
  return { authenticates: false, check: () => ({ kind: 'ok', user: undefined }) };
}

export function digestAuth(guard: DigestGuard): MsrpAuthPolicy {
  return {
    authenticates: true,
    check(authorizations, source, ip, now) {
      // The guard checks credentials for a given user; for AUTH any user of the file will do: the one named in
      // the credentials of our realm.
      let user = '';
      for (const value of authorizations) {
        try {
          const parsed = parseAuthorization(value);
          if (parsed.realm === guard.realm) user = parsed.username;
        } catch {
          // RFC 3261 §22.4 (as RFC 4976 §5.1 uses it): credentials we cannot read are as good as none.
        }
      }
      const outcome = guard.check(authorizations, 'AUTH', user, source, ip, now);
      switch (outcome.kind) {
        case 'ok':
          return { kind: 'ok', user: outcome.user };
        case 'forbidden':
          return { kind: 'forbidden', reason: outcome.reason };
        case 'challenge':
          return { kind: 'challenge', challenges: guard.challenges(now, outcome.stale) };
        case 'failed':
          return { kind: 'challenge', challenges: guard.challenges(now, false) };
      }
    },
  };
}
