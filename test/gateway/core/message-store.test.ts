import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { MessageStore } from '../../../gateway/core/message-store.ts';

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'store-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const bytes = (s: string) => new TextEncoder().encode(s);

describe('message store (RFC 3428 §7 store-and-forward)', () => {
  it('keeps messages in order per AOR, across a reopen, and deletes only what is removed', () => {
    const d = dir();
    const store = new MessageStore(d);
    expect(store.add('a@x', 'k1', bytes('one'), 0, null)).toBe('stored');
    expect(store.add('a@x', 'k2', bytes('two'), 0, null)).toBe('stored');
    expect(store.add('b@x', 'k3', bytes('other'), 0, null)).toBe('stored');
    store.close();
    const again = new MessageStore(d);
    const first = again.next('a@x', 1);
    expect(new TextDecoder().decode(first?.request)).toBe('one');
    expect(again.next('a@x', 1)?.id).toBe(first?.id);
    again.remove(first!.id, 'delivered');
    expect(new TextDecoder().decode(again.next('a@x', 1)?.request)).toBe('two');
    expect(again.countFor('a@x')).toBe(1);
    expect(again.size).toBe(2);
    expect(again.counter('delivered')).toBe(1);
    again.close();
  });

  it('recognises a message stored before by its key', () => {
    const store = new MessageStore(dir());
    expect(store.add('a@x', 'same', bytes('one'), 0, null)).toBe('stored');
    expect(store.add('a@x', 'same', bytes('one'), 5, null)).toBe('duplicate');
    expect(store.countFor('a@x')).toBe(1);
    store.close();
  });

  it('drops and counts expired messages when it meets them', () => {
    const store = new MessageStore(dir());
    store.add('a@x', 'k1', bytes('old'), 0, 1000);
    store.add('a@x', 'k2', bytes('new'), 0, 5000);
    store.add('a@x', 'k3', bytes('forever'), 0, null);
    expect(new TextDecoder().decode(store.next('a@x', 2000)?.request)).toBe('new');
    expect(store.counter('expired')).toBe(1);
    expect(new TextDecoder().decode(store.next('a@x', 6000)?.request)).toBe('forever');
    expect(store.counter('expired')).toBe(2);
    store.close();
  });
});
