import { describe, expect, it } from 'vitest';

import { LocationService, type BindingInput } from '../../../gateway/core/location.ts';

const input = (key: string, extra: Partial<BindingInput> = {}): BindingInput => ({
  key,
  uri: `sip:${key}@x.invalid`,
  contact: `<sip:${key}@x.invalid>`,
  q: 1,
  path: [],
  flowToken: undefined,
  instance: undefined,
  regId: undefined,
  features: new Map(),
  source: undefined,
  expires: 60,
  ...extra,
});

describe('location service', () => {
  it('keeps several contacts per AOR, newest first, and drops expired ones', () => {
    const loc = new LocationService();
    expect(loc.update('a@d', [input('one')], 'c1', 1, 0)).toEqual({ ok: true });
    expect(loc.update('a@d', [input('two', { expires: 10 })], 'c2', 1, 1000)).toEqual({ ok: true });
    expect(loc.lookup('a@d', 2000).map((b) => b.key)).toEqual(['two', 'one']);
    expect(loc.lookup('a@d', 11_500).map((b) => b.key)).toEqual(['one']);
    expect(loc.lookup('a@d', 60_000)).toEqual([]);
    expect(loc.size).toBe(0);
  });

  it('same Call-ID needs a higher CSeq (§10.3 step 7); expires 0 removes', () => {
    const loc = new LocationService();
    loc.update('a@d', [input('one')], 'c1', 5, 0);
    expect(loc.update('a@d', [input('one')], 'c1', 5, 10)).toEqual({ ok: false, reason: 'out-of-order' });
    expect(loc.update('a@d', [input('one')], 'c1', 4, 10).ok).toBe(false);
    expect(loc.update('a@d', [input('one')], 'c2', 1, 10).ok).toBe(true);
    expect(loc.update('a@d', [input('one', { expires: 0 })], 'c2', 2, 20).ok).toBe(true);
    expect(loc.lookup('a@d', 30)).toEqual([]);
  });

  it('bindings of a dead flow go', () => {
    const loc = new LocationService();
    loc.update('a@d', [input('one', { flowToken: 'T1' }), input('two', { flowToken: 'T2' })], 'c', 1, 0);
    loc.update('b@d', [input('three', { flowToken: 'T1' })], 'c', 1, 0);
    expect(loc.removeFlow('T1').sort()).toEqual(['a@d', 'b@d']);
    expect(loc.lookup('a@d', 1).map((b) => b.key)).toEqual(['two']);
    expect(loc.lookup('b@d', 1)).toEqual([]);
    loc.removeAll('a@d');
    expect(loc.size).toBe(0);
  });
});
