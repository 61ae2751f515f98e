import { describe, expect, it } from 'vitest';
import { VirtualLayout } from '../../../web/src/composables/virtual-layout.ts';
import { linkify } from '../../../web/src/composables/linkify.ts';

const keys = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('VirtualLayout', () => {
  it('places unmeasured rows at the estimate and finds the rows of a viewport', () => {
    const layout = new VirtualLayout(50);
    layout.setKeys(keys(10_000));
    expect(layout.total).toBe(500_000);
    expect(layout.offsetOf(10)).toBe(500);
    expect(layout.indexAt(499)).toBe(9);
    expect(layout.range(1_000, 400, 2)).toEqual({ start: 18, end: 31 });
    expect(layout.range(0, 400, 2)).toEqual({ start: 0, end: 11 });
    expect(layout.range(499_900, 400, 2)).toEqual({ start: 9_996, end: 10_000 });
  });

  it('measured heights move every row below, and are kept by key when rows are inserted above', () => {
    const layout = new VirtualLayout(50);
    layout.setKeys(keys(5));
    expect(layout.setHeight(1, 120)).toBe(70);
    expect(layout.setHeight(1, 120)).toBe(0);
    expect(layout.offsetOf(2)).toBe(170);
    expect(layout.total).toBe(320);
    layout.setKeys(['new', ...keys(5)]);
    expect(layout.offsetOf(3)).toBe(220);
    expect(layout.heightOf(2)).toBe(120);
  });

  it('rows appended one by one (a burst of messages) sit below the measured ones without a rebuild', () => {
    const layout = new VirtualLayout(40);
    layout.setKeys(keys(3));
    layout.setHeight(1, 100);
    expect(layout.total).toBe(180);
    layout.appendKeys(['k3']);
    layout.appendKeys(['k4', 'k5']);
    expect(layout.count).toBe(6);
    expect(layout.offsetOf(4)).toBe(220);
    expect(layout.isMeasured(1)).toBe(true);
    expect(layout.isMeasured(4)).toBe(false);
    expect(layout.setHeight(4, 60)).toBe(20);
    expect(layout.total).toBe(320);
    // A full replace afterwards still finds every key and its height.
    expect(layout.setKeys(keys(6))).toBe(6);
    expect(layout.heightOf(4)).toBe(60);
  });

  it('appending keeps what was measured; an empty list has no rows', () => {
    const layout = new VirtualLayout(40);
    layout.setKeys(keys(3));
    layout.setHeight(2, 100);
    expect(layout.setKeys(keys(4))).toBe(3);
    expect(layout.total).toBe(40 + 40 + 100 + 40);
    layout.setKeys([]);
    expect(layout.total).toBe(0);
    expect(layout.range(0, 500)).toEqual({ start: 0, end: 0 });
  });

  it('ignores a zero height (a row not laid out) and unknown rows', () => {
    const layout = new VirtualLayout(40);
    layout.setKeys(keys(2));
    expect(layout.setHeight(0, 0)).toBe(0);
    expect(layout.setHeight(7, 10)).toBe(0);
    expect(layout.total).toBe(80);
  });
});

describe('linkify', () => {
  it('turns only http(s) URLs into links and keeps every other character as text', () => {
    expect(linkify('go to https://a.example/x?y=1, then (http://b.example).')).toEqual([
      { text: 'go to ' },
      { text: 'https://a.example/x?y=1', href: 'https://a.example/x?y=1' },
      { text: ', then (' },
      { text: 'http://b.example', href: 'http://b.example' },
      { text: ').' },
    ]);
    expect(linkify('javascript:alert(1) <a href="https://x">')).toEqual([
      { text: 'javascript:alert(1) <a href="' },
      { text: 'https://x', href: 'https://x' },
      { text: '">' },
    ]);
    expect(linkify('')).toEqual([]);
  });
});
