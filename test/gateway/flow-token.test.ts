import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { FLOW_TOKEN_LENGTH, FlowTokens } from '../../gateway/edge/flow-token.ts';

const SECRET = 'a-test-secret-of-32-characters!!';

describe('flow tokens (RFC 5626 §5.2)', () => {
  it('round-trips every connection id', () => {
    const tokens = new FlowTokens({ secret: SECRET, bootId: 7 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (id) => {
        const token = tokens.mint(id);
        expect(token).toHaveLength(FLOW_TOKEN_LENGTH);
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(tokens.verify(token)).toEqual({ status: 'ok', connectionId: id });
      }),
    );
  });

  it('is a valid SIP URI user part and branch token (base64url only)', () => {
    const token = new FlowTokens().mint(1);
    expect(token).toMatch(/^[A-Za-z0-9_-]{28}$/);
  });

  it('rejects any single-character change (forgery)', () => {
    const tokens = new FlowTokens({ secret: SECRET, bootId: 7 });
    const token = tokens.mint(42);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < token.length; i++) {
      for (const c of alphabet) {
        if (c === token[i]) continue;
        const forged = token.slice(0, i) + c + token.slice(i + 1);
        expect(tokens.verify(forged).status, `position ${i} → ${c}`).toBe('forged');
      }
    }
  });

  it('rejects tokens of the wrong shape or made with another secret', () => {
    const tokens = new FlowTokens({ secret: SECRET });
    const other = new FlowTokens({ secret: 'another-secret-of-enough-length' });
    expect(tokens.verify(other.mint(1)).status).toBe('forged');
    for (const bad of ['', 'x', 'A'.repeat(28), 'A'.repeat(29), `${tokens.mint(1)}A`, '!'.repeat(28)])
      expect(tokens.verify(bad).status).toBe('forged');
  });

  it('reports a token of a previous run (same secret, other boot id) as stale, not as this run’s connection', () => {
    const before = new FlowTokens({ secret: SECRET, bootId: 1 });
    const after = new FlowTokens({ secret: SECRET, bootId: 2 });
    expect(after.verify(before.mint(5))).toEqual({ status: 'stale', connectionId: 5 });
  });

  it('with a random secret, a restart invalidates every token', () => {
    expect(new FlowTokens().verify(new FlowTokens().mint(1)).status).toBe('forged');
  });

  it('refuses short secrets and bad ids', () => {
    expect(() => new FlowTokens({ secret: 'short' })).toThrow(TypeError);
    expect(() => new FlowTokens().mint(-1)).toThrow(TypeError);
    expect(() => new FlowTokens().mint(2 ** 32)).toThrow(TypeError);
  });
});
