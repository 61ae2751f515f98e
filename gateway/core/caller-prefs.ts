/**
 * Caller preferences (RFC 3840, RFC 3841) as pure functions: the feature set a Contact registered, the
 * Accept-Contact / Reject-Contact predicates of a request, and Request-Disposition, turned into the ordered
 * groups of targets the proxy forks to.
 *
 * Feature values (RFC 3840 §9) are compared as small sets: a tag without a value is TRUE; a quoted value is a
 * comma-separated list of tokens, each possibly negated with `!`; `<…>` strings compare exactly. Numeric ranges
 * (`#`) compare as plain strings (the product registers none).
 *
 * Decisions (RFC 3841 §7.2, simplified where it is silent or where the product needs no more):
 *  - Reject-Contact: a contact whose feature set matches every feature of one predicate is dropped (§7.2.3).
 *  - Accept-Contact with `require;explicit`: a contact that does not explicitly have every feature of the
 *    predicate is dropped. With `require` alone only a contact that has a feature with a non-matching value is
 *    dropped. Without `require` a predicate only orders (§7.2.4 Qa: a better match is tried first among equal q).
 *  - Targets are grouped by q (RFC 3261 §16.6, RFC 3841 §9): equal q in parallel, groups in descending q.
 *    `Request-Disposition: sequential` puts each target in its own group, `parallel` puts all in one group,
 *    `no-fork` keeps only the first target, `no-cancel` is reported to the proxy.
 */
/** Contact header parameters that are feature tags (RFC 3840 §9 base tags, and every `+` tag but the instance). */
const BASE_TAGS = new Set([
  'audio',
  'automata',
  'class',
  'duplex',
  'data',
  'control',
  'mobility',
  'description',
  'events',
  'priority',
  'methods',
  'schemes',
  'application',
  'video',
  'language',
  'type',
  'isfocus',
  'actor',
  'text',
  'extensions',
]);

/** A feature set: tag name (lowercased) → the value as written (null for a bare tag, i.e. TRUE). */
export type FeatureSet = ReadonlyMap<string, string | null>;

export function isFeatureTag(name: string): boolean {
  const lower = name.toLowerCase();
  if (lower === '+sip.instance') return false;
  return lower.startsWith('+') || BASE_TAGS.has(lower);
}

/** The feature tags among a Contact's (or a preference's) header parameters. */
export function featureSet(params: ReadonlyMap<string, string | null>): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const [name, value] of params) if (isFeatureTag(name)) out.set(name.toLowerCase(), value);
  return out;
}

interface ValueSet {
  readonly values: ReadonlySet<string>;
  readonly negated: ReadonlySet<string>;
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

function valueSet(value: string | null): ValueSet {
  if (value === null) return { values: new Set(['true']), negated: new Set() };
  const text = unquote(value).trim();
  if (text.startsWith('<') && text.endsWith('>')) return { values: new Set([text]), negated: new Set() };
  const values = new Set<string>();
  const negated = new Set<string>();
  for (const item of text.split(',')) {
    const v = item.trim().toLowerCase();
    if (v === '') continue;
    if (v.startsWith('!')) negated.add(v.slice(1));
    else values.add(v);
  }
  return { values, negated };
}

/** Does a contact's value for one tag satisfy the predicate's value for it? */
function valueMatches(contact: string | null, predicate: string | null): boolean {
  const c = valueSet(contact);
  const p = valueSet(predicate);
  // A predicate value "FALSE" asks for contacts without the feature or with it false.
  for (const v of c.values) {
    if (p.negated.size > 0 && !p.negated.has(v)) return true;
    if (p.values.has(v)) return true;
  }
  return false;
}

export interface Preference {
  readonly features: FeatureSet;
  readonly require: boolean;
  readonly explicit: boolean;
}

/** One Accept-Contact / Reject-Contact element (`*;+sip.text;require;explicit`). */
export function preference(params: ReadonlyMap<string, string | null>): Preference {
  let require = false;
  let explicit = false;
  for (const name of params.keys()) {
    const lower = name.toLowerCase();
    if (lower === 'require') require = true;
    if (lower === 'explicit') explicit = true;
  }
  return { features: featureSet(params), require, explicit };
}

type Match = 'match' | 'absent' | 'mismatch';

/** How a contact's features stand against a predicate: all present and matching, some absent, or contradicted. */
function matchPredicate(contact: FeatureSet, predicate: FeatureSet): Match {
  let absent = false;
  for (const [tag, wanted] of predicate) {
    if (!contact.has(tag)) {
      // RFC 3840 §9: a missing boolean tag counts as FALSE.
      if (wanted !== null && valueSet(wanted).values.has('false')) continue;
      absent = true;
      continue;
    }
    if (!valueMatches(contact.get(tag) ?? null, wanted)) return 'mismatch';
  }
  return absent ? 'absent' : 'match';
}

export interface RequestDisposition {
  readonly fork: boolean;
  readonly cancel: boolean;
  /** undefined: by q-value groups */
  readonly mode: 'parallel' | 'sequential' | undefined;
}

/** RFC 3841 §10: Request-Disposition directives (unknown ones ignored, later ones win). */
export function requestDisposition(directives: readonly string[]): RequestDisposition {
  let fork = true;
  let cancel = true;
  let mode: RequestDisposition['mode'];
  for (const raw of directives) {
    switch (raw.toLowerCase()) {
      case 'fork':
        fork = true;
        break;
      case 'no-fork':
        fork = false;
        break;
      case 'cancel':
        cancel = true;
        break;
      case 'no-cancel':
        cancel = false;
        break;
      case 'parallel':
        mode = 'parallel';
        break;
      case 'sequential':
        mode = 'sequential';
        break;
      default:
        break;
    }
  }
  return { fork, cancel, mode };
}

export interface Candidate {
  readonly q: number;
  readonly features: FeatureSet;
}

/**
 * The targets to try, in groups tried one after the other (each group forked in parallel). Candidates keep their
 * given order among equals (pass them newest registration first).
 */
export function targetGroups<T extends Candidate>(
  candidates: readonly T[],
  accept: readonly Preference[],
  reject: readonly Preference[],
  disposition: RequestDisposition,
): T[][] {
  const kept: { target: T; score: number; index: number }[] = [];
  candidates.forEach((target, index) => {
    // §7.2.3: Reject-Contact drops explicit matches.
    if (reject.some((p) => p.features.size > 0 && matchPredicate(target.features, p.features) === 'match'))
      return;
    let score = 0;
    for (const p of accept) {
      const m = matchPredicate(target.features, p.features);
      if (p.require && m === 'mismatch') return;
      if (p.require && p.explicit && m !== 'match') return;
      if (m === 'match') score += 1;
    }
    kept.push({ target, score, index });
  });
  kept.sort((a, b) => b.target.q - a.target.q || b.score - a.score || a.index - b.index);
  const ordered = kept.map((k) => k.target);
  if (ordered.length === 0) return [];
  if (!disposition.fork) return [[ordered[0]!]];
  if (disposition.mode === 'parallel') return [ordered];
  if (disposition.mode === 'sequential') return ordered.map((t) => [t]);
  const groups: T[][] = [];
  for (const t of ordered) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last[0]!.q === t.q) last.push(t);
    else groups.push([t]);
  }
  return groups;
}

/** RFC 3261 §20.10: q is a qvalue 0–1 with up to three decimals; a bad or absent one counts as 1.0. */
export function parseQ(value: string | null | undefined): number {
  if (value === undefined || value === null) return 1;
  if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value.trim())) return 1;
  return Number(value);
}
