/**
 * Splits message text into plain runs and web links, for rendering as text nodes and <a> elements; nothing
 * is ever interpreted as HTML. Only http(s) URLs become links.
 */
export interface TextPart {
  readonly text: string;
  readonly href?: string | undefined;
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;
/** punctuation that usually ends a sentence rather than the URL */
const TRAILING = /[.,;:!?)\]}]+$/;

export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index;
    const url = match[0].replace(TRAILING, '');
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: url, href: url });
    last = start + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}
