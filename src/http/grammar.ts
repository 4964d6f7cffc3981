// The RFC 9110 / 9112 / 3986 productions tray checks, as byte tables and small predicates.
// Strategy: every production that classifies single bytes is a 256-entry table built once, so
// the parser's inner loops are one array load per byte. Names follow the RFCs.

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

const isAlpha = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

export const SP = 0x20;
export const HTAB = 0x09;
export const CR = 0x0d;
export const LF = 0x0a;
export const COLON = 0x3a;

/** RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
export const TCHAR = table((c) => isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

/** RFC 9110 §5.5: field-vchar = VCHAR / obs-text, plus SP and HTAB inside a field-value. */
export const FIELD_VALUE_CHAR = table((c) => c === SP || c === HTAB || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/** RFC 5234 HEXDIG, with lowercase as RFC 9112 §7.1 chunk-size is case-insensitive. */
export const HEXDIG = table((c) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

/** RFC 9110 §5.6.4: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
export const QDTEXT = table((c) => c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80);

/** RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
export const QUOTED_PAIR_CHAR = table((c) => c === HTAB || c === SP || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/** Request-target bytes (RFC 3986 §2 characters, all VCHAR): no CTLs, no SP, no obs-text.
 *  Characters RFC 3986 excludes but clients send unescaped ({ } | ^ ` \ " < >) are VCHARs; the
 *  app decides what they mean, the framing is unaffected. */
export const TARGET_CHAR = table((c) => c >= 0x21 && c <= 0x7e);

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/** RFC 9110 §5.6.3: OWS = *( SP / HTAB ) */
export function trimOWS(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++;
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** RFC 9110 §5.6.1: #element lists; empty elements are allowed and ignored. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(",")) {
    const item = trimOWS(part);
    if (item !== "") out.push(item);
  }
  return out;
}

/** RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://" authority. */
export const ABSOLUTE_FORM_RE = /^([A-Za-z][A-Za-z0-9+.\-]*):\/\/([^/?#]*)(.*)$/;
