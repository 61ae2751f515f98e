/**
 * PIDF (RFC 3863) with the part of RPID (RFC 4480) and the data model (RFC 4479) the app shows: open/closed,
 * what the person is doing (activities) and a note. Parsed into a compact snapshot; built from one for PUBLISH.
 *
 *   <presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:ann@example.org"
 *             xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid">
 *     <tuple id="t1"><status><basic>open</basic></status><contact priority="0.5">sip:ann@…</contact></tuple>
 *     <dm:person id="p1"><rpid:activities><rpid:meeting/></rpid:activities><dm:note>Back at 3</dm:note></dm:person>
 *   </presence>
 *
 * Elements this module does not know (devices, moods, other extensions) are skipped, never an error; what it
 * reads is checked (an entity, tuple ids, open|closed, priorities, RFC 3339 timestamps).
 */
import { ParseError } from '../errors.ts';
import { parseUri } from '../message/index.ts';
import { formatDateTime, parseDateTime } from './cpim.ts';
import {
  XML_NS,
  attrOf,
  childElements,
  el,
  only,
  parseRoot,
  serializeXml,
  textOf,
  type XmlElement,
} from './xml.ts';

export const PIDF_NS = 'urn:ietf:params:xml:ns:pidf';
export const DATA_MODEL_NS = 'urn:ietf:params:xml:ns:pidf:data-model';
export const RPID_NS = 'urn:ietf:params:xml:ns:pidf:rpid';
export const PIDF_CONTENT_TYPE = 'application/pidf+xml';

// RFC 4480, <activities>: the values RPID names; anything else travels as <rpid:other>text</rpid:other>.
export const RPID_ACTIVITIES = [
  'appointment', 'away', 'breakfast', 'busy', 'dinner', 'holiday', 'in-transit', 'looking-for-work', 'meal',
  'meeting', 'on-the-phone', 'performance', 'permanent-absence', 'playing', 'presentation', 'shopping',
  'sleeping', 'spectator', 'steering', 'travel', 'tv', 'unknown', 'vacation', 'working', 'worship',
]; // prettier-ignore

export type Basic = 'open' | 'closed';

export interface PresenceNote {
  text: string;
  lang?: string | undefined;
}

export interface PresenceTuple {
  id: string;
  basic?: Basic | undefined;
  contact?: string | undefined;
  /** 0–1 (RFC 3863, <contact priority>) */
  priority?: number | undefined;
  notes: PresenceNote[];
  /** epoch ms */
  timestamp?: number | undefined;
}

export interface Presence {
  entity: string;
  /** open when some tuple is open, closed when the tuples say closed, undefined when none says */
  basic: Basic | undefined;
  /** RPID activity names (away, busy, on-the-phone, unknown …); an <rpid:other> activity gives its text */
  activities: string[];
  /** the note to show: the person's, else the document's, else a tuple's */
  note?: string | undefined;
  /** the document-level notes */
  notes: PresenceNote[];
  tuples: PresenceTuple[];
}

/** What `buildPidf` takes; a parsed Presence is one. */
export interface PresenceInput {
  entity: string;
  /** used for a single tuple (`tupleId`, default "t1") when `tuples` is empty or absent */
  basic?: Basic | undefined;
  activities?: string[] | undefined;
  note?: string | undefined;
  notes?: PresenceNote[] | undefined;
  tuples?: (Pick<PresenceTuple, 'id'> & Partial<PresenceTuple>)[] | undefined;
  tupleId?: string | undefined;
  /** the dm:person id (default "p1") */
  personId?: string | undefined;
}

const notesOf = (e: XmlElement, ns: string): PresenceNote[] =>
  childElements(e, ns, 'note').map((n) => {
    const lang = attrOf(n, 'lang', XML_NS);
    return lang === undefined ? { text: textOf(n) } : { text: textOf(n), lang };
  });

/** Parse a PIDF document (RFC 3863 §4). Throws ParseError. */
export function parsePidf(body: string | Uint8Array): Presence {
  const root = parseRoot(body, PIDF_NS, 'presence');
  const entity = attrOf(root, 'entity');
  if (!entity) throw new ParseError('PIDF: <presence> without entity');
  parseUri(entity);
  const tuples = childElements(root, PIDF_NS, 'tuple').map((t): PresenceTuple => {
    const id = attrOf(t, 'id');
    if (!id) throw new ParseError('PIDF: <tuple> without id');
    const tuple: PresenceTuple = { id, notes: notesOf(t, PIDF_NS) };
    const status = only(t, PIDF_NS, 'status');
    const basic = status && only(status, PIDF_NS, 'basic');
    if (basic) {
      const b = textOf(basic).trim();
      if (b !== 'open' && b !== 'closed') throw new ParseError(`PIDF: <basic> is "${b}"`);
      tuple.basic = b;
    }
    const contact = only(t, PIDF_NS, 'contact');
    if (contact) {
      tuple.contact = textOf(contact).trim();
      const p = attrOf(contact, 'priority');
      // RFC 3863, <contact>: priority is a qvalue, 0 to 1 with at most three decimals
      if (p !== undefined && !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(p))
        throw new ParseError('PIDF: bad priority');
      if (p !== undefined) tuple.priority = Number(p);
    }
    const ts = only(t, PIDF_NS, 'timestamp');
    if (ts) tuple.timestamp = parseDateTime(textOf(ts).trim());
    return tuple;
  });
  // RFC 4479 (person) and RFC 4480 (activities): what the person is doing, in <dm:person><rpid:activities>.
  const activities: string[] = [];
  let personNote: string | undefined;
  for (const person of childElements(root, DATA_MODEL_NS, 'person')) {
    for (const list of childElements(person, RPID_NS, 'activities'))
      for (const a of childElements(list, RPID_NS))
        if (a.local !== 'note') activities.push(a.local === 'other' ? textOf(a).trim() || 'other' : a.local);
    personNote ??= notesOf(person, DATA_MODEL_NS)[0]?.text;
  }
  const notes = notesOf(root, PIDF_NS);
  const basics = tuples.map((t) => t.basic);
  const presence: Presence = {
    entity,
    basic: basics.includes('open') ? 'open' : basics.includes('closed') ? 'closed' : undefined,
    activities,
    notes,
    tuples,
  };
  const note = personNote ?? notes[0]?.text ?? tuples.find((t) => t.notes.length)?.notes[0]?.text;
  if (note !== undefined) presence.note = note;
  return presence;
}

/** A PIDF document for PUBLISH (RFC 3903): the tuples, the document notes, and a dm:person for activities and note. */
export function buildPidf(p: PresenceInput): string {
  const P = PIDF_NS;
  const note = (n: PresenceNote, ns = P): XmlElement =>
    el(ns, ns === P ? 'note' : 'dm:note', { 'xml:lang': n.lang }, n.text);
  const tuples = p.tuples?.length ? p.tuples : p.basic ? [{ id: p.tupleId ?? 't1', basic: p.basic }] : [];
  const activities = p.activities ?? [];
  return serializeXml(
    el(
      P,
      'presence',
      { entity: p.entity },
      tuples.map((t) =>
        el(
          P,
          'tuple',
          { id: t.id },
          el(P, 'status', null, t.basic && el(P, 'basic', null, t.basic)),
          t.contact !== undefined && el(P, 'contact', { priority: t.priority }, t.contact),
          (t.notes ?? []).map((n) => note(n)),
          t.timestamp !== undefined && el(P, 'timestamp', null, formatDateTime(t.timestamp)),
        ),
      ),
      (p.notes ?? []).map((n) => note(n)),
      (activities.length > 0 || p.note !== undefined) &&
        el(
          DATA_MODEL_NS,
          'dm:person',
          { id: p.personId ?? 'p1' },
          activities.length > 0 &&
            el(
              RPID_NS,
              'rpid:activities',
              null,
              activities.map((a) =>
                RPID_ACTIVITIES.includes(a) ? el(RPID_NS, `rpid:${a}`) : el(RPID_NS, 'rpid:other', null, a),
              ),
            ),
          p.note !== undefined && note({ text: p.note }, DATA_MODEL_NS),
        ),
    ),
  );
}

// ---- the product's five statuses (SPEC §8) over PIDF/RPID ---------------------------------------------------

/** What the app shows and lets the user pick. */
export type PresenceStatus = 'available' | 'away' | 'busy' | 'dnd' | 'offline';

export const PRESENCE_STATUSES: readonly PresenceStatus[] = ['available', 'away', 'busy', 'dnd', 'offline'];

/**
 * RPID has no do-not-disturb activity (RFC 4480 §3.2 lists none): it travels as <rpid:busy/> (what a plain RPID
 * reader understands) plus <rpid:other>do-not-disturb</rpid:other> (what tells it apart from busy).
 */
export const DND_ACTIVITY = 'do-not-disturb';

/** RFC 4480 §3.2 activities published for each status. */
const STATUS_ACTIVITIES: Readonly<Record<PresenceStatus, readonly string[]>> = {
  available: [],
  away: ['away'],
  busy: ['busy'],
  dnd: ['busy', DND_ACTIVITY],
  offline: [],
};

/** RFC 4480 activities read as "busy" and as "away"; any other activity (or none) of an open presence is "available". */
const BUSY_ACTIVITIES = new Set('busy on-the-phone meeting presentation performance steering'.split(' '));
const AWAY_ACTIVITIES = new Set(
  'away appointment breakfast dinner holiday in-transit meal permanent-absence shopping sleeping travel vacation'.split(
    ' ',
  ),
);

/**
 * A parsed document as one of the five statuses: closed (or no tuple saying open, and no activity) is offline;
 * otherwise the activities decide, do-not-disturb before busy before away.
 */
export function presenceStatus(p: Pick<Presence, 'basic' | 'activities'>): PresenceStatus {
  // RFC 3863 §4.1.4: <basic> closed means the contact cannot take messages.
  if (p.basic === 'closed') return 'offline';
  if (p.basic === undefined && p.activities.length === 0) return 'offline';
  const has = (set: ReadonlySet<string>): boolean => p.activities.some((a) => set.has(a.toLowerCase()));
  if (p.activities.some((a) => a.toLowerCase() === DND_ACTIVITY || a.toLowerCase() === 'dnd')) return 'dnd';
  if (has(BUSY_ACTIVITIES)) return 'busy';
  if (has(AWAY_ACTIVITIES)) return 'away';
  return 'available';
}

export interface StatusDocumentOptions {
  /** the tuple id (unique per device, so a presence agent can merge several devices' documents); "t1" by default */
  tupleId?: string | undefined;
  /** the tuple's <contact> (RFC 3863 §4.1.5), e.g. the AOR */
  contact?: string | undefined;
}

/**
 * The PIDF a presentity publishes for a status: one tuple (open, or closed for offline) and a dm:person with the
 * RPID activities and the note (RFC 4479 §3.3: the person carries what the person does). The note also goes in
 * the tuple (RFC 3863 §4.1.6), so it survives a presence agent that merges tuples only.
 */
export function statusPresence(
  entity: string,
  status: PresenceStatus,
  note?: string,
  options: StatusDocumentOptions = {},
): PresenceInput {
  if (!PRESENCE_STATUSES.includes(status)) throw new TypeError(`unknown presence status ${String(status)}`);
  const tuple = {
    id: options.tupleId ?? 't1',
    basic: status === 'offline' ? ('closed' as const) : ('open' as const),
    contact: options.contact,
    notes: note === undefined ? [] : [{ text: note }],
  };
  const input: PresenceInput = { entity, tuples: [tuple], activities: [...STATUS_ACTIVITIES[status]] };
  if (note !== undefined) input.note = note;
  return input;
}

/**
 * Composition (RFC 3903 §2, RFC 4479 §5 — the thin slice): several publications of one presentity as one document,
 * entity = the AOR: every tuple of each (a repeated id gets a suffix), the union of the activities, the first note.
 * No publication: one closed tuple (offline).
 */
export function composePresence(entity: string, documents: readonly Presence[]): PresenceInput {
  if (documents.length === 0) return { entity, tuples: [{ id: 'offline', basic: 'closed' }] };
  const tuples: PresenceTuple[] = [];
  const ids = new Set<string>();
  const activities: string[] = [];
  let note: string | undefined;
  for (const doc of documents) {
    for (const t of doc.tuples) {
      let id = t.id;
      for (let n = 2; ids.has(id); n++) id = `${t.id}-${String(n)}`;
      ids.add(id);
      tuples.push({ ...t, id });
    }
    for (const a of doc.activities) if (!activities.includes(a)) activities.push(a);
    note ??= doc.note;
  }
  const input: PresenceInput = { entity, tuples, activities };
  if (note !== undefined) input.note = note;
  return input;
}
