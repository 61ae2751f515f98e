import { describe, expect, it } from 'vitest';

import {
  featureSet,
  parseQ,
  preference,
  requestDisposition,
  targetGroups,
} from '../../../gateway/core/caller-prefs.ts';
import { ParamMap, parseContactPreferenceList, parseNameAddr } from '../../../web/src/sip/index.ts';

const contact = (name: string, text: string) => {
  const na = parseNameAddr(text);
  return { name, q: parseQ(na.params.get('q')), features: featureSet(na.params) };
};
const prefs = (value: string) => parseContactPreferenceList(value).map((p) => preference(p.params));
const names = (groups: { name: string }[][]) => groups.map((g) => g.map((t) => t.name));
const NONE = requestDisposition([]);

describe('caller preferences (RFC 3840/3841)', () => {
  const juliet = [
    contact('balcony', '<sip:j@balcony>;q=1.0;+sip.text'),
    contact('chamber', '<sip:j@chamber>;+sip.text;video'),
    contact('pda', '<sip:j@pda>;q=0.4;audio'),
    contact('nurse', '<sip:j@nurse>;q=0.1'),
  ];

  it('groups by q: equal q in parallel, groups in descending q', () => {
    expect(names(targetGroups(juliet, [], [], NONE))).toEqual([['balcony', 'chamber'], ['pda'], ['nurse']]);
  });

  it('Request-Disposition: sequential, parallel, no-fork, no-cancel', () => {
    expect(names(targetGroups(juliet, [], [], requestDisposition(['sequential'])))).toEqual([
      ['balcony'],
      ['chamber'],
      ['pda'],
      ['nurse'],
    ]);
    expect(names(targetGroups(juliet, [], [], requestDisposition(['parallel'])))).toEqual([
      ['balcony', 'chamber', 'pda', 'nurse'],
    ]);
    expect(names(targetGroups(juliet, [], [], requestDisposition(['no-fork'])))).toEqual([['balcony']]);
    expect(requestDisposition(['no-cancel', 'sequential'])).toEqual({
      fork: true,
      cancel: false,
      mode: 'sequential',
    });
  });

  it('Accept-Contact require;explicit keeps only contacts that have the feature', () => {
    const groups = targetGroups(juliet, prefs('*;+sip.text;require;explicit'), [], NONE);
    expect(names(groups)).toEqual([['balcony', 'chamber']]);
  });

  it('Accept-Contact require without explicit drops only contradicting contacts', () => {
    const groups = targetGroups(juliet, prefs('*;video="FALSE";require'), [], NONE);
    expect(names(groups).flat()).toEqual(['balcony', 'pda', 'nurse']);
  });

  it('Accept-Contact without require only reorders equal q', () => {
    const groups = targetGroups(juliet, prefs('*;video'), [], NONE);
    expect(names(groups)).toEqual([['chamber', 'balcony'], ['pda'], ['nurse']]);
  });

  it('Reject-Contact excludes explicit matches', () => {
    expect(names(targetGroups(juliet, [], prefs('*;+sip.text'), NONE)).flat()).toEqual(['pda', 'nurse']);
    expect(names(targetGroups(juliet, [], prefs('*;+sip.text;video'), NONE)).flat()).toEqual([
      'balcony',
      'pda',
      'nurse',
    ]);
  });

  it('compares token lists and quoted strings', () => {
    const c = [
      contact('a', '<sip:a@x>;methods="INVITE,MESSAGE"'),
      contact('b', '<sip:b@x>;methods="INVITE"'),
      contact('c', '<sip:c@x>;+sip.app="<urn:x>"'),
    ];
    expect(names(targetGroups(c, prefs('*;methods="MESSAGE";require;explicit'), [], NONE)).flat()).toEqual([
      'a',
    ]);
    expect(names(targetGroups(c, prefs('*;+sip.app="<urn:x>";require;explicit'), [], NONE)).flat()).toEqual([
      'c',
    ]);
    expect(names(targetGroups(c, prefs('*;methods="!INVITE";require;explicit'), [], NONE)).flat()).toEqual([
      'a',
    ]);
  });

  it('feature tags exclude the instance, q, expires and reg-id', () => {
    const params = parseNameAddr(
      '<sip:x@y>;q=0.5;expires=60;reg-id=1;+sip.instance="<urn:uuid:1>";+sip.text;audio',
    ).params;
    expect([...featureSet(params).keys()]).toEqual(['+sip.text', 'audio']);
    expect(featureSet(new ParamMap([])).size).toBe(0);
  });

  it('parses q-values, a bad one counting as 1.0', () => {
    expect(parseQ('0.4')).toBe(0.4);
    expect(parseQ('1')).toBe(1);
    expect(parseQ(undefined)).toBe(1);
    expect(parseQ('2')).toBe(1);
    expect(parseQ('0.1234')).toBe(1);
  });
});
