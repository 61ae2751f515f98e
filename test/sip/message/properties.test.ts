import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ParseError,
  StreamFramer,
  parseMessage,
  serializeMessage,
  type FrameEvent,
} from '../../../web/src/sip/server.ts';
import { meaning } from '../../support/sip-meaning.ts';
import { sipMessage, toBytes } from '../../support/sip-arbitraries.ts';

// fast-check's seed comes from the run; a failure prints it for replay.
describe('property: generated valid messages', () => {
  it('parse → serialize → parse keeps the meaning, and serializing again is byte-identical', () => {
    fc.assert(
      fc.property(sipMessage, (m) => {
        const first = parseMessage(toBytes(m));
        const wire = serializeMessage(first);
        const second = parseMessage(wire);
        expect(meaning(second)).toEqual(meaning(first));
        expect(serializeMessage(second)).toEqual(wire);
        expect(second.body).toEqual(m.body);
      }),
      { numRuns: 400 },
    );
  });

  it('lazy and strict parsing agree on the routing headers', () => {
    fc.assert(
      fc.property(sipMessage, (m) => {
        const strict = parseMessage(toBytes(m));
        const lazy = parseMessage(toBytes(m), { lazy: true });
        expect([lazy.via, lazy.callId, lazy.cseq, lazy.fromTag, lazy.toTag, lazy.maxForwards]).toEqual([
          strict.via,
          strict.callId,
          strict.cseq,
          strict.fromTag,
          strict.toTag,
          strict.maxForwards,
        ]);
      }),
      { numRuns: 200 },
    );
  });
});

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('special' as const),
    at: fc.nat(),
    byte: fc.constantFrom(0, 9, 10, 13, 32, 34, 44, 58, 59, 60, 62, 64, 92, 0xc3, 0xff),
  }),
);

function mutate(
  bytes: Uint8Array,
  muts: fc.Arbitrary<typeof mutation extends fc.Arbitrary<infer T> ? T : never>[] extends never
    ? never
    : (typeof mutation extends fc.Arbitrary<infer T> ? T : never)[],
): Uint8Array {
  let b = Array.from(bytes);
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.kind) {
      case 'flip':
      case 'special':
        b[at] = m.byte;
        break;
      case 'insert':
        b.splice(at, 0, ...m.bytes);
        break;
      case 'delete':
        b.splice(at, m.count);
        break;
      case 'truncate':
        b = b.slice(0, at);
        break;
    }
  }
  return Uint8Array.from(b);
}

describe('property: arbitrary input', () => {
  it('random bytes and random text either parse or throw ParseError', () => {
    const check = (input: Uint8Array | string): void => {
      for (const lazy of [false, true]) {
        try {
          parseMessage(input, { lazy });
        } catch (e) {
          expect(e).toBeInstanceOf(ParseError);
          expect((e as Error).cause, 'an internal error wrapped as ParseError').toBeUndefined();
        }
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => check(b)),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 256 }), (t) => check(t)),
      { numRuns: 1000 },
    );
    // A plausible head with random junk after it reaches the deeper parsers.
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (t) =>
        check(
          `MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: ${t}\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContact: ${t}\r\nX: ${t}\r\n\r\n`,
        ),
      ),
      { numRuns: 1000 },
    );
  });
});

describe('property: mutated messages', () => {
  it('either parse or throw ParseError — never anything else, never a hang', () => {
    fc.assert(
      fc.property(sipMessage, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, muts) => {
        const bytes = mutate(toBytes(m), muts);
        try {
          const msg = parseMessage(bytes);
          // Whatever was accepted serializes and parses back.
          parseMessage(serializeMessage(msg));
        } catch (e) {
          expect(e).toBeInstanceOf(ParseError);
          expect((e as Error).cause, 'an internal error wrapped as ParseError').toBeUndefined();
        }
        try {
          parseMessage(bytes, { lazy: true });
        } catch (e) {
          expect(e).toBeInstanceOf(ParseError);
          expect((e as Error).cause, 'an internal error wrapped as ParseError').toBeUndefined();
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the framer never throws and never loops on mutated streams', () => {
    fc.assert(
      fc.property(
        fc.array(sipMessage, { minLength: 1, maxLength: 3 }),
        fc.array(mutation, { maxLength: 4 }),
        (ms, muts) => {
          const framer = new StreamFramer();
          const stream = mutate(concat(ms.map(toBytes)), muts);
          const events = framer.push(stream);
          expect(events.length).toBeLessThanOrEqual(stream.length);
        },
      ),
      { numRuns: 500 },
    );
  });
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function summary(events: FrameEvent[]): unknown[] {
  return events.map((e) => {
    switch (e.type) {
      case 'message':
        return ['message', Array.from(e.bytes)];
      case 'invalid':
        return ['invalid', Array.from(e.bytes)];
      case 'keepalive':
        return ['keepalive', e.kind];
      case 'error':
        return ['error', e.error.reason];
    }
  });
}

function feed(stream: Uint8Array, cuts: number[]): unknown[] {
  const framer = new StreamFramer();
  const events: FrameEvent[] = [];
  let last = 0;
  for (const cut of [...cuts, stream.length]) {
    events.push(...framer.push(stream.subarray(last, cut)));
    last = cut;
  }
  return summary(events);
}

describe('property: the framer gives the same messages however the bytes are split', () => {
  it('random splits of random message streams (with CRLFCRLF pings between them)', () => {
    fc.assert(
      fc.property(
        fc.array(sipMessage, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (ms, rawCuts) => {
          const ping = new Uint8Array([13, 10, 13, 10]);
          const stream = concat(ms.flatMap((m) => [toBytes(m), ping]));
          const cuts = [...new Set(rawCuts.map((c) => c % stream.length))].sort((a, b) => a - b);
          const whole = feed(stream, []);
          expect(whole.filter((e) => (e as unknown[])[0] === 'message')).toHaveLength(ms.length);
          expect(feed(stream, cuts)).toEqual(whole);
        },
      ),
      { numRuns: 300 },
    );
  });
});
