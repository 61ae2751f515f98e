/**
 * RFC 3261 §16.7 step 6: which final response a forking proxy sends when no branch answered 2xx.
 *
 *  - A 6xx wins (it ended the search, §16.7 step 5).
 *  - Otherwise the lowest class wins (3xx before 4xx before 5xx); within 4xx, 401, 407, 415, 420 and 484 are
 *    preferred (they tell the caller how to succeed), then the first received.
 *  - 401/407 (§16.7 step 7): every WWW-Authenticate and Proxy-Authenticate of every 401/407 is merged into the
 *    one forwarded.
 *  - §16.7 step 6: a chosen 503 is sent as 500 (a 503 would make the caller think this proxy is overloaded).
 *  - No response at all: 408 (every branch timed out).
 */
import { SipResponse, reasonPhrase } from '../../web/src/sip/server.ts';

const PREFERRED_4XX = [401, 407, 415, 420, 484];

/** The index of the best response (responses in order of arrival), or -1 for none. */
export function bestResponseIndex(statuses: readonly number[]): number {
  let best = -1;
  const rank = (s: number): number => {
    if (s >= 600) return 0;
    const cls = Math.floor(s / 100);
    // Lower is better: 6xx, then 3xx, 4xx preferred, other 4xx, 5xx.
    if (cls === 3) return 1;
    if (cls === 4) return PREFERRED_4XX.includes(s) ? 2 : 3;
    return 4;
  };
  statuses.forEach((s, i) => {
    if (s < 300) return;
    if (best === -1 || rank(s) < rank(statuses[best]!)) best = i;
  });
  return best;
}

/** The response to forward, built from the branches' final responses (each already without our Via). */
export function chooseBestResponse(responses: readonly SipResponse[]): SipResponse | undefined {
  const index = bestResponseIndex(responses.map((r) => r.status));
  const chosen = responses[index];
  if (chosen === undefined) return undefined;
  let out = chosen;
  if (chosen.status === 401 || chosen.status === 407) {
    out = chosen.clone();
    for (const name of ['WWW-Authenticate', 'Proxy-Authenticate']) {
      const all: string[] = [];
      for (const r of responses) {
        if (r.status !== 401 && r.status !== 407) continue;
        for (const v of r.headers.getAll(name)) if (!all.includes(v)) all.push(v);
      }
      if (all.length > 0) out.headers.set(name, all);
    }
  }
  if (chosen.status === 503) {
    out = new SipResponse(500, reasonPhrase(500), chosen.headers.clone(), chosen.body);
    out.headers.delete('Retry-After');
  }
  return out;
}
