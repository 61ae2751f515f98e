import { describe, expect, it } from 'vitest';
import { Emitter } from '../../../web/src/drivers/index.ts';

interface Events {
  state: [state: string];
  pair: [a: number, b: string];
  none: [];
}

function setup() {
  const reported: { error: unknown; event: string }[] = [];
  const emitter = new Emitter<Events>({ onListenerError: (error, event) => reported.push({ error, event }) });
  return { emitter, reported };
}

describe('Emitter', () => {
  it('calls listeners with typed arguments, in subscription order', () => {
    const { emitter } = setup();
    const seen: string[] = [];
    emitter.on('pair', (a, b) => seen.push(`1:${a}${b}`));
    emitter.on('pair', (a, b) => seen.push(`2:${a}${b}`));
    emitter.on('none', () => seen.push('none'));
    expect(emitter.emit('pair', 1, 'x')).toBe(true);
    expect(emitter.emit('none')).toBe(true);
    expect(emitter.emit('state', 'nobody')).toBe(false);
    expect(seen).toEqual(['1:1x', '2:1x', 'none']);
  });

  it('a listener that throws is reported; the others still run and emit() does not throw', () => {
    const { emitter, reported } = setup();
    const seen: string[] = [];
    const boom = new Error('listener bug');
    emitter.on('state', () => {
      throw boom;
    });
    emitter.on('state', (s) => seen.push(s));
    expect(() => emitter.emit('state', 'online')).not.toThrow();
    expect(seen).toEqual(['online']);
    expect(reported).toEqual([{ error: boom, event: 'state' }]);
  });

  it('a reporter that throws is swallowed too', () => {
    const emitter = new Emitter<Events>({
      onListenerError: () => {
        throw new Error('reporter bug');
      },
    });
    emitter.on('none', () => {
      throw new Error('listener bug');
    });
    expect(() => emitter.emit('none')).not.toThrow();
  });

  it('on() returns an unsubscribe function; off() removes; once() fires once', () => {
    const { emitter } = setup();
    const seen: string[] = [];
    const unsubscribe = emitter.on('state', (s) => seen.push(`on:${s}`));
    const listener = (s: string) => seen.push(`off:${s}`);
    emitter.on('state', listener);
    emitter.once('state', (s) => seen.push(`once:${s}`));
    expect(emitter.listenerCount('state')).toBe(3);
    emitter.emit('state', 'a');
    unsubscribe();
    emitter.off('state', listener);
    emitter.emit('state', 'b');
    expect(seen).toEqual(['on:a', 'off:a', 'once:a']);
    expect(emitter.listenerCount('state')).toBe(0);
  });

  it('a listener added during an emit waits for the next one; one removed during an emit is not called', () => {
    const { emitter } = setup();
    const seen: string[] = [];
    emitter.on('state', (s) => {
      seen.push(`first:${s}`);
      removeSecond();
      emitter.on('state', (t) => seen.push(`late:${t}`));
    });
    const removeSecond = emitter.on('state', (s) => seen.push(`second:${s}`));
    emitter.emit('state', 'a');
    expect(seen).toEqual(['first:a']);
    emitter.emit('state', 'b');
    expect(seen).toEqual(['first:a', 'first:b', 'late:b']);
  });

  it('once() listeners can be removed with off() before they fire', () => {
    const { emitter } = setup();
    const seen: string[] = [];
    const listener = (s: string) => seen.push(s);
    emitter.once('state', listener);
    emitter.off('state', listener);
    emitter.emit('state', 'a');
    expect(seen).toEqual([]);
  });

  it('rejects a listener that is not a function', () => {
    const { emitter } = setup();
    expect(() => emitter.on('state', 42 as unknown as () => void)).toThrow(TypeError);
  });
});
