/**
 * The parsers under benchmark, in the order the harness interleaves them. Each adapter module is imported only
 * when asked for, so a classification worker loads just the library it tests.
 */
import { loadOursAdapter } from './ours.ts';
import type { ParserAdapter } from './types.ts';

export const PARSER_NAMES = ['JsSIP', 'SIP.js', 'sip', 'drachtio-sip', 'ours'] as const;
export type ParserName = (typeof PARSER_NAMES)[number];

/** How each library is called, for the report. */
export const INVOCATIONS: Readonly<Record<ParserName, string>> = {
  JsSIP:
    "createRequire: require('jssip/lib/Parser.js').parseMessage(latin1String, {}) → IncomingRequest|IncomingResponse|undefined; full: msg.parseHeader(name, i) per header with a grammar rule, Grammar.parse(route, 'Record_Route')",
  'SIP.js':
    "import { Core } from 'sip.js'; Core.Parser.parseMessage(latin1String, new Core.LoggerFactory() (builtinEnabled=false).getLogger('bench')) → message|undefined; full: msg.parseHeader(name, i), Grammar.parse(route, 'Record_Route')",
  sip: "createRequire: require('sip').parse(latin1String) → message|undefined; full: require('sip').parseUri(uri) on Request-URI, To, From, Contact (Route/Record-Route already parsed)",
  'drachtio-sip':
    "createRequire: require('drachtio-sip').parser.parseSipMessage(latin1String, lazy) → message|undefined; routing: lazy=true + parser.getParser('via'|'from'|'to'|'cseq'); full: lazy=false + parser.parseUri(uri)",
  ours: "await import('web/src/sip/index.ts').parseMessage(data, { lazy }) — routing: latin1String, lazy=true; full: latin1String, lazy=false; RFC 4475: the Buffer, lazy=false",
};

export async function loadAdapter(name: ParserName): Promise<ParserAdapter> {
  switch (name) {
    case 'JsSIP':
      return (await import('./jssip.ts')).jssipAdapter;
    case 'SIP.js':
      return (await import('./sipjs.ts')).sipjsAdapter;
    case 'sip':
      return (await import('./sip.ts')).sipAdapter;
    case 'drachtio-sip':
      return (await import('./drachtio.ts')).drachtioAdapter;
    case 'ours':
      return loadOursAdapter();
  }
}
