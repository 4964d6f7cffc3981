// The chunk-size line of the chunked transfer coding (RFC 9112 §7.1).
// Strategy: the parser finds the line (bounded, CRLF-terminated) and hands its bytes here; this
// checks them against the grammar and returns the size. Extensions are validated, then ignored
// (RFC 9112 §7.1.1: a recipient MUST ignore unrecognized chunk extensions).
//
//   chunk-size = 1*HEXDIG
//   chunk-ext  = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-name = token ; chunk-ext-val = token / quoted-string

import { ProtocolError } from "./errors.ts";
import { HEXDIG, HTAB, QDTEXT, QUOTED_PAIR_CHAR, SP, TCHAR } from "./grammar.ts";

/** 16 hex digits reach 2^64; anything longer is an attack, not a body (the size limit catches the rest). */
export const MAX_CHUNK_SIZE_DIGITS = 16;

function bad(): never {
  throw new ProtocolError(400, "Malformed chunk size line");
}

/** Parses bytes [start, end) of a chunk-size line (without its CRLF) and returns the chunk size. */
export function parseChunkSizeLine(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let size = 0;
  while (i < end && HEXDIG[buf[i]] === 1) {
    if (i - start >= MAX_CHUNK_SIZE_DIGITS) throw new ProtocolError(400, "Chunk size too long");
    const c = buf[i];
    // Past 2^53 the sum loses precision, but such a size is far over any body limit anyway.
    size = size * 16 + (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
    i++;
  }
  if (i === start) bad();
  while (i < end) {
    // BWS ";" BWS
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    if (i === end || buf[i] !== 0x3b) bad();
    i++;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    const nameStart = i;
    while (i < end && TCHAR[buf[i]] === 1) i++;
    if (i === nameStart) bad();
    let j = i;
    while (j < end && (buf[j] === SP || buf[j] === HTAB)) j++;
    if (j < end && buf[j] === 0x3d) {
      i = j + 1;
      while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
      if (i < end && buf[i] === 0x22) {
        i = skipQuotedString(buf, i, end);
      } else {
        const valueStart = i;
        while (i < end && TCHAR[buf[i]] === 1) i++;
        if (i === valueStart) bad();
      }
    }
  }
  return size;
}

/** RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE. Returns the index after it. */
function skipQuotedString(buf: Uint8Array, start: number, end: number): number {
  let i = start + 1;
  while (i < end) {
    const c = buf[i];
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      if (i + 1 >= end || QUOTED_PAIR_CHAR[buf[i + 1]] !== 1) bad();
      i += 2;
    } else if (QDTEXT[c] === 1) {
      i++;
    } else {
      bad();
    }
  }
  bad();
}
