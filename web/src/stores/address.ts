/**
 * Addresses as the user types them, and conversation ids. An address becomes an AOR, `sip:user@host`
 * (RFC 3261 §10.3: scheme, user and host, host in lower case), so that "Bob@Example.com", "sip:bob@example.com"
 * and "<sip:bob@example.com;transport=ws>" are one contact and one conversation.
 */
import { ParseError, parseUri } from '../sip/index.ts';

/**
 * Turns user input into an AOR: `bob` (our own domain), `bob@host`, `sip:bob@host`, `"Bob" <sip:bob@host>`.
 * Throws TypeError with a message for the form when it is not a SIP address of a user.
 */
export function normalizeAddress(input: string, defaultDomain?: string): string {
  let text = input.trim();
  const angle = /<([^>]*)>/.exec(text);
  if (angle?.[1] !== undefined) text = angle[1].trim();
  if (!text) throw new TypeError('Enter an address, like bob@example.com');
  if (!/^sips?:/i.test(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(text) && !text.includes('@'))
      throw new TypeError('Only sip: addresses are supported');
    if (!text.includes('@')) {
      if (!defaultDomain) throw new TypeError('Add the domain: bob@example.com');
      text = `${text}@${defaultDomain}`;
    }
    text = `sip:${text}`;
  }
  try {
    const uri = parseUri(text);
    if (!uri.isSip || !uri.user) throw new TypeError('A user address needs a name before the @');
    return uri.aor;
  } catch (error) {
    if (error instanceof ParseError)
      throw new TypeError(`Not a valid address: ${input.trim()}`, { cause: error });
    throw error;
  }
}

/** The host of an AOR (`sip:bob@example.com` → `example.com`). */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

/** A short label for an address without a contact name: the user part. */
export function shortName(address: string): string {
  const at = address.lastIndexOf('@');
  const start = address.indexOf(':') + 1;
  return at > start ? address.slice(start, at) : address.slice(start);
}

const GROUP_PREFIX = 'group:';

/** The conversation with one peer is keyed by its AOR; a group by its members but ourselves. */
export function conversationIdFor(peers: readonly string[]): string {
  const unique = [...new Set(peers)].sort();
  if (unique.length === 1 && unique[0] !== undefined) return unique[0];
  return GROUP_PREFIX + unique.join(' ');
}

export function isGroupId(id: string): boolean {
  return id.startsWith(GROUP_PREFIX);
}

/** Everyone in a group message but ourselves: the listed participants and the sender. */
export function groupPeers(
  self: string | undefined,
  from: string,
  participants: readonly string[],
): string[] {
  return [...new Set([from, ...participants])].filter((address) => address !== self).sort();
}
