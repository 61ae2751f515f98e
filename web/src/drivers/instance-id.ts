/**
 * The browser's RFC 5626 instance id: one `urn:uuid:…` per browser profile, kept in localStorage so that every
 * tab, every reload and every sign-in registers as the same instance. The registrar then replaces the binding
 * of a closed tab or a dropped connection (same `+sip.instance` and `reg-id`) instead of piling up dead ones.
 *
 * RFC 5626 §4.1: the instance id is a URN that stays the same across restarts of the user agent; a UUID URN
 * (RFC 4122) is the usual choice. Storage that throws or holds something else gets a fresh id (kept for this
 * page when it cannot be written).
 */
import type { KeyValueStorage } from './preferences.ts';

export const INSTANCE_ID_KEY = 'simple-chat.instance-id';

const UUID_URN = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** RFC 4122 §4.4: a version-4 UUID from 16 random bytes. */
export function uuidFromBytes(bytes: Uint8Array): string {
  if (bytes.length < 16) throw new TypeError('a UUID needs 16 random bytes');
  const b = Array.from(bytes.subarray(0, 16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A function returning this browser's instance id (`urn:uuid:…`): the stored one, or a new one that is stored.
 * `newUuid` makes the UUID (crypto.randomUUID in the browser).
 */
export function browserInstanceId(storage: KeyValueStorage | undefined, newUuid: () => string): () => string {
  let fallback: string | undefined;
  return () => {
    try {
      const stored = storage?.getItem(INSTANCE_ID_KEY);
      if (stored && UUID_URN.test(stored)) return stored;
    } catch {
      // unreadable storage: a page-lifetime id below
    }
    if (fallback !== undefined) return fallback;
    const id = `urn:uuid:${newUuid().toLowerCase()}`;
    if (!UUID_URN.test(id)) throw new TypeError(`not a UUID: ${id}`);
    fallback = id;
    try {
      storage?.setItem(INSTANCE_ID_KEY, id);
    } catch {
      // full or disabled storage: the id lasts for this page
    }
    return id;
  };
}
