/**
 * RFC 4475 torture messages at a user agent server: the `uas` column of EXPECTED.tsv.
 *
 * Each file is fed as one UDP datagram to a fresh UserAgent that takes requests for any user (`acceptsRequestUri`
 * returns true) and that plays a tiny registrar role for REGISTER (REGISTER is added to its Allow, and the test's
 * application challenges every REGISTER with 401 Digest, as a registrar that requires authentication does).
 * The application answers what reaches it: INVITE 486 (this test application takes no calls), REGISTER 401 with
 * a challenge, everything else 200. OPTIONS is answered by the core itself.
 *
 * The outcome of each case is written out below (DECISIONS) and checked twice: against what the core did, and
 * against the EXPECTED.tsv column (a named status must be the status; "-" means processed: the request reached
 * the application or was answered by the core's normal processing; `drop (response)` and responses fed in mean
 * nothing is sent; an `either` row may end in a ParseError whose statusHint is the status).
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CAPABILITIES,
  UserAgent,
  createChallenge,
  parseMessage,
  type FlowInfo,
  type SipResponse,
  type UserAgentEvent,
} from '../../../web/src/sip/server.ts';
import { loadTortureCases, type TortureCase } from '../../support/conformance.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const cases = loadTortureCases();
const UDP: FlowInfo = { transport: 'UDP', reliable: false, remote: '192.0.2.99:5060' };

interface Outcome {
  /** the final status sent, or undefined when nothing was sent */
  status: number | undefined;
  /** the request reached the application (an incoming-request event) */
  reachedApp: boolean;
  /** the core reported a ParseError: its status hint, and whether it could answer */
  malformed: { statusHint: number; answered: boolean } | undefined;
  response: SipResponse | undefined;
  events: UserAgentEvent[];
}

function feed(c: TortureCase, seed: number): Outcome {
  const ua = new UserAgent({
    aor: 'sip:user@example.com',
    transport: 'UDP',
    contactHost: 'uas.example.com',
    random: seededRandom(seed),
    acceptsRequestUri: () => true,
    capabilities: { allow: [...DEFAULT_CAPABILITIES.allow, 'REGISTER'] },
  });
  ua.receive(c.bytes, 1_000, UDP);
  const events = ua.takeEvents();
  let reachedApp = false;
  for (const e of events) {
    if (e.type !== 'incoming-request') continue;
    reachedApp = true;
    const incoming = e.incoming;
    switch (incoming.method) {
      case 'INVITE':
        incoming.reject(486);
        break;
      case 'REGISTER':
        incoming.reject(401, undefined, {
          'WWW-Authenticate': createChallenge({ realm: 'example.com', nonce: 'n0nce', algorithm: 'MD5' }),
        });
        break;
      default:
        incoming.accept();
    }
  }
  // The message objects, not the bytes re-parsed: a 400 to a malformed request echoes its malformed headers
  // verbatim (§8.2.6.2), which this strict parser would refuse in turn.
  const sent = ua.takeTransmissions().map((t) => t.message ?? parseMessage(t.data));
  const response = sent.find((m): m is SipResponse => m.kind === 'response' && m.status >= 200);
  const bad = events.find((e) => e.type === 'malformed');
  return {
    status: response?.status,
    reachedApp,
    malformed: bad === undefined ? undefined : { statusHint: bad.statusHint, answered: bad.answered },
    response,
    events,
  };
}

/** What this stack does with each case, and why where the RFC leaves a choice. */
const DECISIONS: Record<string, { status: number | undefined; app?: boolean; why?: string }> = {
  'wsinv.dat': { status: 481, why: 'processed: its To tag names a dialog this UAS does not have (§12.2.2)' },
  'intmeth.dat': { status: 501 },
  'esc01.dat': { status: 486, app: true },
  'escnull.dat': { status: 401, app: true, why: 'processed by the registrar role, which challenges' },
  'esc02.dat': { status: 501 },
  'lwsdisp.dat': { status: 200 },
  'longreq.dat': { status: 486, app: true },
  'dblreq.dat': {
    status: 401,
    app: true,
    why: 'processed by the registrar role; the second request is ignored',
  },
  'semiuri.dat': { status: 200 },
  'transports.dat': { status: 200 },
  'mpart01.dat': {
    status: 200,
    app: true,
    why: 'multipart/mixed is accepted; its parts are the usage’s business',
  },
  'unreason.dat': { status: undefined, why: 'a response matching nothing: dropped' },
  'noreason.dat': { status: undefined, why: 'a response matching nothing: dropped' },
  'badinv01.dat': { status: 400 },
  'clerr.dat': { status: 400 },
  'ncl.dat': { status: 400 },
  'scalar02.dat': { status: 400 },
  'scalarlg.dat': { status: undefined },
  'quotbal.dat': { status: 400 },
  'ltgtruri.dat': { status: 400 },
  'lwsruri.dat': { status: 400 },
  'lwsstart.dat': { status: 400, why: 'the parser refuses it (either); answered with its statusHint' },
  'trws.dat': { status: 400, why: 'the parser refuses it (either)' },
  'escruri.dat': { status: 400, why: 'the parser refuses it (either)' },
  'baddate.dat': { status: 486, app: true, why: 'accepted (either): a non-GMT Date is not needed to answer' },
  'regbadct.dat': { status: 400, why: 'the parser refuses it (either)' },
  'badaspec.dat': { status: 400, why: 'the parser refuses it (either)' },
  'baddn.dat': { status: 400 },
  'badvers.dat': { status: 505 },
  'mismatch01.dat': { status: 400 },
  'mismatch02.dat': {
    status: 400,
    why: 'the parser refuses the CSeq mismatch before the method is looked at',
  },
  'bigcode.dat': { status: undefined },
  'badbranch.dat': { status: 200, why: 'processed: a bare magic cookie is matched with RFC 2543 rules' },
  'insuf.dat': { status: undefined, why: 'no Call-ID/From/To to build a response: dropped, ParseError 400' },
  'unkscm.dat': { status: 416 },
  'novelsc.dat': { status: 416, why: 'soap.beep is not a scheme this UAS serves' },
  'unksm2.dat': { status: 401, app: true, why: 'processed by the registrar role, which challenges' },
  'bext01.dat': { status: 420 },
  'invut.dat': { status: 415 },
  'regaut01.dat': { status: 401, app: true, why: 'the registrar role challenges the unknown scheme' },
  'multi01.dat': { status: 400 },
  'mcl01.dat': { status: 400 },
  'bcast.dat': { status: undefined },
  'zeromf.dat': { status: 200, why: 'Max-Forwards 0 is processed normally at a UAS' },
  'cparam01.dat': { status: 401, app: true },
  'cparam02.dat': { status: 401, app: true },
  'regescrt.dat': { status: 401, app: true },
  'sdp01.dat': { status: 406 },
  'inv2543.dat': { status: 486, app: true, why: 'processed like any INVITE (no branch cookie, no From tag)' },
};

/** Does the outcome satisfy the EXPECTED.tsv uas column? */
function satisfies(c: TortureCase, o: Outcome): boolean {
  const uas = c.uas;
  if (uas.startsWith('drop')) return o.status === undefined;
  const statuses = [...uas.matchAll(/\b([1-6]\d\d)\b/g)].map((m) => Number(m[1]));
  const processed = o.reachedApp || (o.status !== undefined && o.status !== 400 && o.malformed === undefined);
  const ok: boolean[] = [];
  if (uas === '-' || /accept|2543/.test(uas)) ok.push(processed || (o.status === undefined && isResponse(c)));
  if (statuses.length > 0) {
    ok.push(o.status !== undefined && statuses.includes(o.status));
    // an `either` row may end in a ParseError whose statusHint is the status
    if (c.parse === 'either' && o.malformed !== undefined) ok.push(statuses.includes(o.malformed.statusHint));
  }
  return ok.some(Boolean);
}

function isResponse(c: TortureCase): boolean {
  return /^SIP\//.test(new TextDecoder('latin1').decode(c.bytes.subarray(0, 8)));
}

describe('RFC 4475 torture messages at a UAS: the uas column of EXPECTED.tsv', () => {
  it('has a decision for every one of the 49 cases', () => {
    expect(cases).toHaveLength(49);
    expect(Object.keys(DECISIONS).sort()).toEqual(cases.map((c) => c.file).sort());
  });

  cases.forEach((c, i) => {
    const decision = DECISIONS[c.file]!;
    it(`${c.file} (§${c.section}) uas "${c.uas}" → ${String(decision.status ?? 'no response')}`, () => {
      const o = feed(c, i + 1);
      expect(o.status, JSON.stringify(o.events.map((e) => e.type))).toBe(decision.status);
      expect(o.reachedApp).toBe(decision.app === true);
      expect(satisfies(c, o)).toBe(true);
    });
  });

  it('bext01: 420 lists both unknown Require tags in Unsupported, not the Proxy-Require ones', () => {
    const o = feed(
      cases.find((c) => c.file === 'bext01.dat')!,
      1,
    );
    expect(o.response?.unsupported).toEqual(['nothingSupportsThis', 'nothingSupportsThisEither']);
  });

  it('invut: 415 says what is accepted (Accept, Accept-Encoding)', () => {
    const o = feed(
      cases.find((c) => c.file === 'invut.dat')!,
      1,
    );
    expect(o.response?.accept.map((m) => `${m.type}/${m.subtype}`)).toEqual([...DEFAULT_CAPABILITIES.accept]);
    expect(o.response?.headers.get('accept-encoding')).toBe('identity');
  });

  it('intmeth and esc02: 501 carries Allow', () => {
    for (const file of ['intmeth.dat', 'esc02.dat']) {
      const o = feed(
        cases.find((c) => c.file === file)!,
        1,
      );
      expect(o.response?.allow).toContain('INVITE');
    }
  });

  it('badvers: the 505 copies Via, From, To (with our tag), Call-ID and CSeq', () => {
    const o = feed(
      cases.find((c) => c.file === 'badvers.dat')!,
      1,
    );
    const r = o.response!;
    expect(r.status).toBe(505);
    expect(r.callId).toBe('badvers.31417@c.example.com');
    expect(r.toTag).toBeDefined();
    expect(r.cseq.method).toBe('OPTIONS');
    expect(o.malformed).toEqual({ statusHint: 505, answered: true });
  });

  it('insuf: the ParseError is reported with statusHint 400 and nothing is sent', () => {
    const o = feed(
      cases.find((c) => c.file === 'insuf.dat')!,
      1,
    );
    expect(o.malformed).toEqual({ statusHint: 400, answered: false });
  });

  it('zeromf: the 200 to OPTIONS describes the agent', () => {
    const o = feed(
      cases.find((c) => c.file === 'zeromf.dat')!,
      1,
    );
    expect(o.response?.allow).toEqual([...DEFAULT_CAPABILITIES.allow, 'REGISTER']);
    expect(o.response?.supported).toEqual([...DEFAULT_CAPABILITIES.supported]);
    expect(o.response?.allowEvents).toEqual([...DEFAULT_CAPABILITIES.allowEvents]);
  });

  it('scalarlg, bigcode and the accepted responses send nothing and do not throw', () => {
    for (const file of ['scalarlg.dat', 'bigcode.dat', 'unreason.dat', 'noreason.dat', 'bcast.dat']) {
      const o = feed(
        cases.find((c) => c.file === file)!,
        1,
      );
      expect(o.status).toBeUndefined();
    }
  });
});

describe('robustness: whatever arrives, receive() never throws', () => {
  it('every torture message cut short at many offsets, and with bytes flipped, over UDP and WS', () => {
    const random = seededRandom(4475);
    for (const transport of ['UDP', 'WS'] as const) {
      const ua = new UserAgent({
        aor: 'sip:user@example.com',
        transport,
        random: seededRandom(1),
        acceptsRequestUri: () => true,
      });
      const flow: FlowInfo =
        transport === 'UDP' ? UDP : { transport: 'WS', reliable: true, flowId: 'ws-1', remote: 'edge' };
      if (transport === 'WS') ua.flowUp(0, flow);
      let now = 0;
      for (const c of cases) {
        for (let i = 0; i < 12; i++) {
          const bytes = c.bytes.slice(0, Math.floor(random() * (c.bytes.length + 1)));
          for (let j = 0; j < 3 && bytes.length > 0; j++)
            bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
          expect(() => ua.receive(bytes, (now += 7), flow)).not.toThrow();
          for (const e of ua.takeEvents()) if (e.type === 'incoming-request') e.incoming.reject(486);
          ua.takeTransmissions();
        }
        expect(() => ua.receive(c.bytes, (now += 7), flow)).not.toThrow();
        for (const e of ua.takeEvents()) if (e.type === 'incoming-request') e.incoming.accept();
        ua.takeTransmissions();
      }
      expect(() => ua.handleTimers(now + 600_000)).not.toThrow();
    }
  });
});
