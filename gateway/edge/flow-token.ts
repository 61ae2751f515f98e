/**
 * Flow tokens (RFC 5626 §5.2): the name of one WebSocket connection, carried in the Path, Record-Route and Via
 * values the gateway adds, so that a request or response coming back from the PBX finds the connection it is for.
 *
 *   token = base64url( payload | MAC )
 *   payload = worker (1 byte) | boot id (4 bytes) | connection counter (4 bytes, big-endian)
 *   MAC     = HMAC-SHA256(flow secret, payload), first 12 bytes
 *
 * The MAC makes a token impossible to forge without the secret (a forged one is answered 403). The boot id is
 * random per process start: with a fixed `--flow-secret` a token minted before a restart still verifies, but it
 * names a connection of the previous process, so it is reported `stale` (430 Flow Failed) rather than mapped
 * onto an unrelated new connection that happens to have the same counter. The worker byte names the node:cluster
 * worker that holds the connection (gateway/cluster.ts; 0 for one process); another worker's token is stale.
 *
 * base64url uses only URI-unreserved characters, so a token is valid as a SIP URI user part and inside a Via
 * branch (RFC 3261 §25.1 token).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PAYLOAD_BYTES = 9;
const MAC_BYTES = 12;
const TOKEN_BYTES = PAYLOAD_BYTES + MAC_BYTES;
/** base64url length of TOKEN_BYTES (21 bytes → 28 characters, no padding). */
export const FLOW_TOKEN_LENGTH = Math.ceil((TOKEN_BYTES * 4) / 3);

export type FlowTokenCheck =
  | { readonly status: 'ok'; readonly connectionId: number }
  /** well-formed and authentic, but minted by an earlier run of the gateway (or another worker) */
  | { readonly status: 'stale'; readonly connectionId: number }
  /** not a token of ours: wrong shape or wrong MAC */
  | { readonly status: 'forged' };

export interface FlowTokensOptions {
  /** The HMAC key. Default: 32 random bytes (every token dies with the process). */
  readonly secret?: Uint8Array | string | undefined;
  /** Random per process start; injectable for tests. Default: 4 random bytes. */
  readonly bootId?: number | undefined;
  /** The node:cluster worker id (0 for a single process). */
  readonly worker?: number | undefined;
}

export class FlowTokens {
  readonly #secret: Buffer;
  readonly #bootId: number;
  readonly #worker: number;

  constructor(options: FlowTokensOptions = {}) {
    const secret = options.secret;
    this.#secret =
      secret === undefined
        ? randomBytes(32)
        : typeof secret === 'string'
          ? Buffer.from(secret)
          : Buffer.from(secret);
    if (this.#secret.length < 16) throw new TypeError('the flow secret must be at least 16 bytes');
    this.#bootId = (options.bootId ?? randomBytes(4).readUInt32BE(0)) >>> 0;
    this.#worker = options.worker ?? 0;
    if (!Number.isInteger(this.#worker) || this.#worker < 0 || this.#worker > 255)
      throw new TypeError('worker must be 0–255');
  }

  /** The token for connection number `connectionId` (an integer 0 … 2³²−1). */
  mint(connectionId: number): string {
    if (!Number.isInteger(connectionId) || connectionId < 0 || connectionId > 0xffffffff)
      throw new TypeError(`bad connection id ${connectionId}`);
    const token = Buffer.alloc(TOKEN_BYTES);
    token.writeUInt8(this.#worker, 0);
    token.writeUInt32BE(this.#bootId, 1);
    token.writeUInt32BE(connectionId, 5);
    this.#mac(token.subarray(0, PAYLOAD_BYTES)).copy(token, PAYLOAD_BYTES);
    return token.toString('base64url');
  }

  /** Checks a token's shape and MAC in constant time with respect to the MAC. */
  verify(token: string): FlowTokenCheck {
    if (token.length !== FLOW_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return { status: 'forged' };
    const bytes = Buffer.from(token, 'base64url');
    if (bytes.length !== TOKEN_BYTES) return { status: 'forged' };
    const payload = bytes.subarray(0, PAYLOAD_BYTES);
    const expected = this.#mac(payload);
    if (!timingSafeEqual(expected, bytes.subarray(PAYLOAD_BYTES))) return { status: 'forged' };
    // base64url has several spellings of the last character's unused bits: accept only the canonical one.
    if (bytes.toString('base64url') !== token) return { status: 'forged' };
    const connectionId = payload.readUInt32BE(5);
    const mine = payload.readUInt8(0) === this.#worker && payload.readUInt32BE(1) === this.#bootId;
    return { status: mine ? 'ok' : 'stale', connectionId };
  }

  #mac(payload: Uint8Array): Buffer {
    return createHmac('sha256', this.#secret).update(payload).digest().subarray(0, MAC_BYTES);
  }
}
