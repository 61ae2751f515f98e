import { describe, expect, it } from 'vitest';
import { PLACEHOLDER_REASON, PlaceholderChatClient, type ChatEvent } from '../../../web/src/drivers/index.ts';
import { InvalidStateError } from '../../../web/src/sip/index.ts';

describe('PlaceholderChatClient', () => {
  it('signs in without pretending to connect: offline, saying why; sending is refused', async () => {
    const client = new PlaceholderChatClient();
    const events: ChatEvent[] = [];
    client.subscribe((event) => events.push(event));
    client.signIn({ address: 'sip:alice@example.com', password: 'x', gatewayUrl: 'ws://127.0.0.1:8080/' });
    expect(client.address).toBe('sip:alice@example.com');
    expect(events).toEqual([
      { type: 'connection', state: { status: 'offline', reason: PLACEHOLDER_REASON } },
    ]);
    expect(() => client.send('sip:bob@example.com', 'hi')).toThrow(InvalidStateError);
    expect(() => client.sendGroup(['sip:bob@example.com'], 'hi')).toThrow(InvalidStateError);
    expect(client.retry('x')).toBe(false);
    await client.signOut();
    expect(client.address).toBeUndefined();
    expect(client.connection).toEqual({ status: 'offline' });
  });
});
