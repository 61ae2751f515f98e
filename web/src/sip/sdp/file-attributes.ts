/**
 * The SDP attributes of file transfer over MSRP (RFC 5547 §6):
 *
 *   a=file-selector:name:"My cool picture.jpg" type:image/jpeg size:32349 hash:sha-1:72:24:5F:…:2E
 *   a=file-transfer-id:vBnG916bdberum2fFEABR1FR3ExZMUrd
 *   a=file-disposition:attachment
 *   a=file-date:creation:"Mon, 15 May 2006 15:01:31 +0300"
 *   a=file-icon:cid:id2@alicepc.example.com
 *   a=file-range:1-32349
 *
 * Reading is strict (ParseError naming the attribute); writing percent-encodes what a quoted name cannot hold.
 */
import { ParseError } from '../errors.ts';
import { sdpAttribute, type SdpAttribute } from './sdp.ts';

export interface FileSelector {
  /** the file name, decoded */
  readonly name?: string | undefined;
  /** a MIME type, possibly with parameters */
  readonly type?: string | undefined;
  readonly size?: number | undefined;
  /** e.g. { algorithm: 'sha-1', value: '72:24:5F:…' } (upper-case hex pairs joined by colons) */
  readonly hash?: { readonly algorithm: string; readonly value: string } | undefined;
}

export interface FileTransferAttributes {
  readonly selector: FileSelector;
  /** RFC 5547 §6: identifies this transfer; a new one for a new transfer, the same one when re-offering it */
  readonly transferId?: string | undefined;
  /** `render` or `attachment` (RFC 2183 dispositions) */
  readonly disposition?: string | undefined;
  /** RFC 5322 dates, as written */
  readonly dates?:
    { readonly creation?: string; readonly modification?: string; readonly read?: string } | undefined;
  /** a `cid:` URL of an icon sent as a body part of the SIP message */
  readonly icon?: string | undefined;
  /** the bytes offered, counting from 1; `stop` undefined for `*` (RFC 5547 §8: resuming a transfer) */
  readonly range?: { readonly start: number; readonly stop: number | undefined } | undefined;
}

const SELECTOR =
  /^(?:name:"([^"]*)"|type:((?:[^\s"]|"[^"]*")+)|size:(\d{1,15})|hash:([\w-]+):((?:[\dA-F]{2}:)*[\dA-F]{2}))(?: |$)/;

/** RFC 5547 §6: selector *(SP selector), each of name, type, size and hash at most once. */
export function parseFileSelector(value: string): FileSelector {
  const out: { name?: string; type?: string; size?: number; hash?: { algorithm: string; value: string } } =
    {};
  let rest = value.trim();
  while (rest !== '') {
    const m = SELECTOR.exec(rest);
    if (m === null) throw new ParseError(`bad file-selector at "${rest.slice(0, 40)}"`);
    const key =
      m[1] !== undefined ? 'name' : m[2] !== undefined ? 'type' : m[3] !== undefined ? 'size' : 'hash';
    if (key in out) throw new ParseError(`file-selector with two ${key} selectors`);
    if (m[1] !== undefined) out.name = decodeName(m[1]);
    else if (m[2] !== undefined) out.type = m[2];
    else if (m[3] !== undefined) out.size = Number(m[3]);
    else out.hash = { algorithm: m[4]!.toLowerCase(), value: m[5]! };
    rest = rest.slice(m[0].length);
  }
  return out;
}

export function formatFileSelector(selector: FileSelector): string {
  const parts: string[] = [];
  if (selector.name !== undefined) parts.push(`name:"${encodeName(selector.name)}"`);
  if (selector.type !== undefined) parts.push(`type:${selector.type}`);
  if (selector.size !== undefined) parts.push(`size:${selector.size}`);
  if (selector.hash !== undefined)
    parts.push(`hash:${selector.hash.algorithm}:${selector.hash.value.toUpperCase()}`);
  return parts.join(' ');
}

// RFC 5547 §6: in the quoted name, '"', '%', CR, LF and other controls are percent-encoded.
function encodeName(name: string): string {
  return name.replace(
    /[\x00-\x1f\x7f"%]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'),
  );
}

function decodeName(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ParseError(`bad percent-encoding in file name "${text.slice(0, 40)}"`);
  }
}

/** The file attributes of one media section, or undefined when it has no a=file-selector. Throws ParseError. */
export function readFileAttributes(attributes: readonly SdpAttribute[]): FileTransferAttributes | undefined {
  const selector = sdpAttribute(attributes, 'file-selector');
  if (selector === undefined) return undefined;
  const range = sdpAttribute(attributes, 'file-range');
  const r = range === undefined ? undefined : /^(\d{1,15})-(\d{1,15}|\*)$/.exec(range);
  if (
    range !== undefined &&
    (r === null || r === undefined || Number(r[1]) < 1 || Number(r[2]) < Number(r[1]))
  )
    throw new ParseError(`bad file-range "${range}"`);
  const date = sdpAttribute(attributes, 'file-date');
  const dates: Record<string, string> = {};
  if (date !== undefined) {
    const re = /(creation|modification|read):"([^"]*)"(?: |$)/gy;
    let end = 0;
    for (let m = re.exec(date); m !== null; m = re.exec(date)) {
      dates[m[1]!] = m[2]!;
      end = re.lastIndex;
    }
    if (end !== date.length) throw new ParseError(`bad file-date "${date.slice(0, 40)}"`);
  }
  return {
    selector: parseFileSelector(selector),
    transferId: sdpAttribute(attributes, 'file-transfer-id'),
    disposition: sdpAttribute(attributes, 'file-disposition'),
    dates: date === undefined ? undefined : dates,
    icon: sdpAttribute(attributes, 'file-icon'),
    range: r == null ? undefined : { start: Number(r[1]), stop: r[2] === '*' ? undefined : Number(r[2]) },
  };
}

/** The a= lines for a file transfer, in RFC 5547's order. */
export function fileAttributes(file: FileTransferAttributes): SdpAttribute[] {
  const out: SdpAttribute[] = [{ name: 'file-selector', value: formatFileSelector(file.selector) }];
  const add = (name: string, value: string | undefined): void => {
    if (value !== undefined) out.push({ name, value });
  };
  add('file-transfer-id', file.transferId);
  add('file-disposition', file.disposition);
  if (file.dates !== undefined)
    add(
      'file-date',
      Object.entries(file.dates)
        .map(([k, v]) => `${k}:"${v}"`)
        .join(' ') || undefined,
    );
  add('file-icon', file.icon);
  if (file.range !== undefined) add('file-range', `${file.range.start}-${file.range.stop ?? '*'}`);
  return out;
}
