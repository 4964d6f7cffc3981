// The incremental, sans-I/O HTTP/1.1 request parser (RFC 9112).
//
// Strategy: feed() takes any slice of bytes and returns the events it completes: a request head,
// body data, the end of a message (with its trailers), or one ProtocolError after which the parser
// is dead and never resynchronises (RFC 9112 §2.2, §11.2: a server must not guess where a broken
// message ends). Bytes that do not complete anything yet are kept in a growable buffer; a prefix of
// a valid request never produces an error. Each state is one small reader that consumes from the
// buffer and returns true (made progress) or false (needs more bytes).
//
// The head is read line by line: every LF must follow a CR (no bare LF), lines may not contain a
// CR (no bare CR), and the head is bounded by maxHeadSize before its end is even found.
// Body data events are views of the bytes passed to feed() when possible, or copies when they came
// out of the parser's own buffer; either way the caller may keep them.

import { ProtocolError } from "./errors.ts";
import { parseChunkSizeLine } from "./chunked.ts";
import {
  ABSOLUTE_FORM_RE,
  COLON,
  CR,
  FIELD_VALUE_CHAR,
  HTAB,
  LF,
  SP,
  TARGET_CHAR,
  TCHAR,
  isValidHost,
  splitList,
  trimOWS,
} from "./grammar.ts";

export interface ParserLimits {
  /** Request line plus header section, and separately the trailer section (-> 431). */
  maxHeadSize: number;
  /** request-target length (-> 414). */
  maxTargetLength: number;
  /** Body bytes, declared or received (-> 413). */
  maxBodySize: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxHeadSize: 256 * 1024,
  maxTargetLength: 8 * 1024,
  maxBodySize: 1024 * 1024 * 1024,
};

/** RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line; bounded. */
export const MAX_LEADING_EMPTY_LINES = 8;
/** A chunk-size line with its extensions (RFC 9112 §7.1.1 lets a server bound them). */
export const MAX_CHUNK_LINE = 4096;
/** How far checkUnfinishedTarget looks for the end of the method. */
const MAX_METHOD_SCAN = 256;
/** Past 2^53 a JS number loses precision; 15 decimal digits is always exact (RFC 9112 §6.3). */
const MAX_LENGTH_DIGITS = 15;

export interface RequestHead {
  method: string;
  target: string;
  /** Path and query in origin-form: the target itself, the path of an absolute-form target, or "*". */
  path: string;
  versionMinor: number;
  /** Flat [name, value, ...], latin-1, original case and order. */
  headers: string[];
  /** Absolute-form authority if any, else the Host value; null when HTTP/1.0 sent no Host. */
  authority: string | null;
  contentLength: number | null;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
}

export type ParserEvent =
  | { type: "head"; head: RequestHead }
  | { type: "data"; data: Uint8Array }
  | { type: "end"; trailers: string[] }
  | { type: "error"; error: ProtocolError };

const enum State {
  Head,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  /** A message with "Connection: close" ended: later bytes are not requests (RFC 9112 §9.6). */
  Closed,
  Dead,
}

/** Buffer, for its native latin1Slice (Bun and Node have it; the types do not declare it). */
type Bytes = Buffer & { latin1Slice(start: number, end: number): string };

function asBuffer(chunk: Uint8Array): Bytes {
  return (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)) as Bytes;
}

export class RequestParser {
  private readonly limits: ParserLimits;
  private state = State.Head;
  private events: ParserEvent[] = [];

  // Unconsumed bytes: either the caller's chunk (pending === null) or our own growable buffer.
  private input: Bytes = Buffer.alloc(0) as Bytes;
  private pos = 0;
  private end = 0;
  private own: Bytes | null = null;

  // Head/trailer reading: where the section started and how far LFs have been checked.
  private scan = 0;
  private emptyLines = 0;

  // Body framing of the current message.
  private remaining = 0;
  private received = 0;
  private keepAlive = true;

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  get dead(): boolean {
    return this.state === State.Dead;
  }

  feed(chunk: Uint8Array): ParserEvent[] {
    if (this.state === State.Dead || this.state === State.Closed || chunk.byteLength === 0) return [];
    this.append(asBuffer(chunk));
    this.events = [];
    try {
      while (this.step());
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.events.push({ type: "error", error: e });
      this.state = State.Dead;
      this.own = null;
      this.input = Buffer.alloc(0) as Bytes;
      this.pos = this.end = this.scan = 0;
      return this.events;
    }
    this.keepRest();
    return this.events;
  }

  // --- buffer management -------------------------------------------------------------------

  private append(chunk: Bytes): void {
    if (this.pos === this.end) {
      // Nothing pending: parse straight out of the caller's bytes (the common case).
      this.scan = 0;
      this.input = chunk;
      this.pos = 0;
      this.end = chunk.byteLength;
      this.own = null;
      return;
    }
    // Pending bytes are always in our own buffer here (keepRest put them there).
    let own = this.own!;
    const pending = this.end - this.pos;
    const need = pending + chunk.byteLength;
    if (this.pos > 0) {
      own.copyWithin(0, this.pos, this.end);
      this.scan -= this.pos;
      this.pos = 0;
      this.end = pending;
    }
    if (need > own.byteLength) {
      const grown = Buffer.allocUnsafe(Math.max(need, own.byteLength * 2)) as Bytes;
      own.copy(grown, 0, 0, this.end);
      own = grown;
    }
    chunk.copy(own, this.end);
    this.end += chunk.byteLength;
    this.own = own;
    this.input = own;
  }

  /** After a feed: whatever was not consumed moves into our own buffer (bounded by the limits). */
  private keepRest(): void {
    const pending = this.end - this.pos;
    if (pending === 0) {
      this.scan = 0;
      this.pos = this.end = 0;
      this.input = Buffer.alloc(0) as Bytes;
      return;
    }
    if (this.own === this.input) return;
    const own = Buffer.allocUnsafe(Math.max(pending * 2, 1024)) as Bytes;
    this.input.copy(own, 0, this.pos, this.end);
    this.scan -= this.pos;
    this.pos = 0;
    this.end = pending;
    this.own = own;
    this.input = own;
  }

  /** Body bytes [from, to) as something the caller may keep. */
  private take(from: number, to: number): Uint8Array {
    const view = this.input.subarray(from, to);
    return this.input === this.own ? Uint8Array.prototype.slice.call(view) : view;
  }

  // --- the state machine -------------------------------------------------------------------

  private step(): boolean {
    switch (this.state) {
      case State.Head:
        return this.readHead();
      case State.BodyLength:
        return this.readBodyLength();
      case State.ChunkSize:
        return this.readChunkSize();
      case State.ChunkData:
        return this.readChunkData();
      case State.ChunkDataEnd:
        return this.readChunkDataEnd();
      case State.Trailers:
        return this.readTrailers();
      default:
        return false;
    }
  }

  /**
   * Finds the end of a field section starting at this.pos (an empty line), checking every LF
   * on the way. Returns the offset just past the final CRLF, or -1 when more bytes are needed.
   */
  private findSectionEnd(limit: number, tooLarge: string): number {
    const buf = this.input;
    const start = this.pos;
    let i = Math.max(this.scan, start);
    for (;;) {
      const lf = buf.indexOf(LF, i);
      if (lf === -1 || lf >= this.end) {
        if (this.end - start > limit) throw new ProtocolError(431, tooLarge);
        this.scan = this.end;
        return -1;
      }
      if (lf + 1 - start > limit) throw new ProtocolError(431, tooLarge);
      // RFC 9112 §2.2: no bare LF as a line terminator (tray is stricter than the MAY there).
      if (lf === start || buf[lf - 1] !== CR) throw new ProtocolError(400, "Bare LF in request head");
      // An empty line (CRLF right after the previous LF, or at the start) ends the section.
      if (lf - 1 === start || (lf - 2 >= start && buf[lf - 2] === LF)) {
        this.scan = 0;
        return lf + 1;
      }
      i = lf + 1;
    }
  }

  private readHead(): boolean {
    const buf = this.input;
    // RFC 9112 §2.2: skip a bounded number of empty lines before the request-line.
    while (this.end - this.pos >= 1 && (buf[this.pos] === CR || buf[this.pos] === LF)) {
      if (buf[this.pos] === LF) throw new ProtocolError(400, "Bare LF in request head");
      if (this.end - this.pos < 2) return false;
      if (buf[this.pos + 1] !== LF) throw new ProtocolError(400, "Bare CR in request head");
      if (++this.emptyLines > MAX_LEADING_EMPTY_LINES) throw new ProtocolError(400, "Too many empty lines before the request line");
      this.pos += 2;
      this.scan = this.pos;
    }
    if (this.pos === this.end) return false;
    const headEnd = this.findSectionEnd(this.limits.maxHeadSize, "Request header fields too large");
    if (headEnd === -1) {
      this.checkUnfinishedTarget();
      return false;
    }
    const head = this.parseHead(this.pos, headEnd);
    this.pos = headEnd;
    this.emptyLines = 0;
    // RFC 9110 §8.6: refuse a declared length over the limit before reading any of it.
    if (head.contentLength !== null && head.contentLength > this.limits.maxBodySize) {
      throw new ProtocolError(413, "Request body too large");
    }
    this.events.push({ type: "head", head });
    this.keepAlive = head.keepAlive;
    this.received = 0;
    if (head.chunked) {
      this.state = State.ChunkSize;
    } else if (head.contentLength !== null && head.contentLength > 0) {
      this.remaining = head.contentLength;
      this.state = State.BodyLength;
    } else {
      // RFC 9112 §6.3 item 7: a request with neither has no body.
      this.endMessage([]);
    }
    return true;
  }

  /**
   * A request line still without its LF: once its target alone is past maxTargetLength, answer
   * 414 now instead of buffering up to the head limit. Scans exactly as parseRequestLine does, so
   * the verdict is the same however the bytes were split.
   */
  private checkUnfinishedTarget(): void {
    const buf = this.input;
    if (buf.indexOf(LF, this.pos) !== -1 && buf.indexOf(LF, this.pos) < this.end) return;
    let i = this.pos;
    // Bounded, so slow bytes of an endless token cost O(1) each; the head limit ends those.
    const methodStop = Math.min(this.end, this.pos + MAX_METHOD_SCAN);
    while (i < methodStop && TCHAR[buf[i]] === 1) i++;
    if (i === this.pos || i === methodStop || buf[i] !== SP) return;
    const targetStart = ++i;
    const stop = Math.min(this.end, targetStart + this.limits.maxTargetLength + 1);
    while (i < stop && TARGET_CHAR[buf[i]] === 1) i++;
    if (i - targetStart > this.limits.maxTargetLength) throw new ProtocolError(414, "Request-target too long");
  }

  private endMessage(trailers: string[]): void {
    this.events.push({ type: "end", trailers });
    this.state = this.keepAlive ? State.Head : State.Closed;
    if (this.state === State.Closed) this.pos = this.end;
  }

  private readBodyLength(): boolean {
    const available = this.end - this.pos;
    if (available === 0) return false;
    const n = Math.min(available, this.remaining);
    this.events.push({ type: "data", data: this.take(this.pos, this.pos + n) });
    this.pos += n;
    this.remaining -= n;
    if (this.remaining === 0) this.endMessage([]);
    return true;
  }

  private readChunkSize(): boolean {
    const buf = this.input;
    const lf = buf.indexOf(LF, this.pos);
    if (lf === -1 || lf >= this.end) {
      if (this.end - this.pos > MAX_CHUNK_LINE) throw new ProtocolError(400, "Chunk size line too long");
      return false;
    }
    if (lf + 1 - this.pos > MAX_CHUNK_LINE) throw new ProtocolError(400, "Chunk size line too long");
    if (lf === this.pos || buf[lf - 1] !== CR) throw new ProtocolError(400, "Bare LF in chunked body");
    const size = parseChunkSizeLine(buf, this.pos, lf - 1);
    this.pos = lf + 1;
    if (size === 0) {
      this.state = State.Trailers;
      return true;
    }
    if (this.received + size > this.limits.maxBodySize) throw new ProtocolError(413, "Request body too large");
    this.received += size;
    this.remaining = size;
    this.state = State.ChunkData;
    return true;
  }

  private readChunkData(): boolean {
    const available = this.end - this.pos;
    if (available === 0) return false;
    const n = Math.min(available, this.remaining);
    this.events.push({ type: "data", data: this.take(this.pos, this.pos + n) });
    this.pos += n;
    this.remaining -= n;
    if (this.remaining === 0) this.state = State.ChunkDataEnd;
    return true;
  }

  /** RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF — exactly CRLF. */
  private readChunkDataEnd(): boolean {
    const buf = this.input;
    if (this.end - this.pos < 1) return false;
    if (buf[this.pos] !== CR) throw new ProtocolError(400, "Chunk data not followed by CRLF");
    if (this.end - this.pos < 2) return false;
    if (buf[this.pos + 1] !== LF) throw new ProtocolError(400, "Chunk data not followed by CRLF");
    this.pos += 2;
    this.state = State.ChunkSize;
    return true;
  }

  /** RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), then CRLF. Kept apart from the headers. */
  private readTrailers(): boolean {
    const sectionEnd = this.findSectionEnd(this.limits.maxHeadSize, "Request trailer fields too large");
    if (sectionEnd === -1) return false;
    const trailers: string[] = [];
    let line = this.pos;
    while (line < sectionEnd - 2) {
      const lf = this.input.indexOf(LF, line);
      this.parseFieldLine(line, lf - 1, trailers);
      line = lf + 1;
    }
    this.pos = sectionEnd;
    this.endMessage(trailers);
    return true;
  }

  // --- the head ------------------------------------------------------------------------------

  /** Parses request-line and field lines in [start, end), which ends with CRLF CRLF. */
  private parseHead(start: number, end: number): RequestHead {
    const buf = this.input;
    const lineEnd = buf.indexOf(LF, start) - 1; // the CR of the request line
    const head = this.parseRequestLine(start, lineEnd);
    const headers = head.headers;
    let line = lineEnd + 2;
    while (line < end - 2) {
      const lf = buf.indexOf(LF, line);
      this.parseFieldLine(line, lf - 1, headers);
      line = lf + 1;
    }
    applyFieldSemantics(head);
    return head;
  }

  /** RFC 9112 §3: request-line = method SP request-target SP HTTP-version, each separated by one SP. */
  private parseRequestLine(start: number, end: number): RequestHead {
    const buf = this.input;
    let i = start;
    while (i < end && TCHAR[buf[i]] === 1) i++;
    if (i === start || i === end || buf[i] !== SP) throw new ProtocolError(400, "Malformed request line");
    const method = buf.latin1Slice(start, i);
    const targetStart = ++i;
    const stop = Math.min(end, targetStart + this.limits.maxTargetLength + 1);
    while (i < stop && TARGET_CHAR[buf[i]] === 1) i++;
    if (i - targetStart > this.limits.maxTargetLength) throw new ProtocolError(414, "Request-target too long");
    if (i === targetStart || i === end || buf[i] !== SP) throw new ProtocolError(400, "Malformed request line");
    const target = buf.latin1Slice(targetStart, i);
    const versionMinor = parseVersion(buf, i + 1, end);

    let path: string;
    let authority: string | null = null;
    if (method === "CONNECT") {
      // Authority-form is for tunnels (RFC 9110 §9.3.6); tray does not tunnel.
      throw new ProtocolError(501, "CONNECT is not supported");
    }
    if (target.charCodeAt(0) === 0x2f) {
      path = target; // origin-form (RFC 9112 §3.2.1)
    } else if (target === "*") {
      if (method !== "OPTIONS") throw new ProtocolError(400, "Asterisk-form is only for OPTIONS");
      path = "*"; // asterisk-form (RFC 9112 §3.2.4)
    } else {
      const m = ABSOLUTE_FORM_RE.exec(target); // absolute-form (RFC 9112 §3.2.2)
      if (m === null) throw new ProtocolError(400, "Malformed request-target");
      authority = m[1];
      // RFC 9110 §4.2.4: userinfo in an http(s) URI is an error, not a credential.
      if (authority.includes("@") || !isValidHost(authority) || authority === "") {
        throw new ProtocolError(400, "Malformed request-target authority");
      }
      const rest = m[2];
      path = rest === "" ? "/" : rest.charCodeAt(0) === 0x3f ? "/" + rest : rest;
    }
    if (path.includes("#")) throw new ProtocolError(400, "Fragment in request-target");
    return {
      method,
      target,
      path,
      versionMinor,
      headers: [],
      authority,
      contentLength: null,
      chunked: false,
      keepAlive: versionMinor >= 1,
      expectContinue: false,
    };
  }

  /** RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. */
  private parseFieldLine(start: number, end: number, out: string[]): void {
    const buf = this.input;
    // RFC 9112 §5.2: obs-fold is rejected (a line starting with whitespace).
    if (buf[start] === SP || buf[start] === HTAB) throw new ProtocolError(400, "Obsolete line folding in header");
    let i = start;
    while (i < end && TCHAR[buf[i]] === 1) i++;
    // RFC 9112 §5.1: no whitespace between field-name and colon.
    if (i === start || i === end || buf[i] !== COLON) throw new ProtocolError(400, "Malformed header field");
    const name = buf.latin1Slice(start, i);
    let a = i + 1;
    let b = end;
    while (a < b && (buf[a] === SP || buf[a] === HTAB)) a++;
    while (b > a && (buf[b - 1] === SP || buf[b - 1] === HTAB)) b--;
    for (let j = a; j < b; j++) {
      // RFC 9110 §5.5: CR, LF, NUL and other CTLs are invalid in a field value.
      if (FIELD_VALUE_CHAR[buf[j]] !== 1) throw new ProtocolError(400, "Invalid character in header value");
    }
    out.push(name, buf.latin1Slice(a, b));
  }
}

/** RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT — case-sensitive, exactly 8 bytes. */
function parseVersion(buf: Bytes, start: number, end: number): number {
  if (
    end - start !== 8 ||
    buf[start] !== 0x48 ||
    buf[start + 1] !== 0x54 ||
    buf[start + 2] !== 0x54 ||
    buf[start + 3] !== 0x50 ||
    buf[start + 4] !== 0x2f ||
    buf[start + 6] !== 0x2e
  ) {
    throw new ProtocolError(400, "Malformed HTTP version");
  }
  const major = buf[start + 5] - 0x30;
  const minor = buf[start + 7] - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) throw new ProtocolError(400, "Malformed HTTP version");
  if (major === 0) throw new ProtocolError(400, "HTTP/0.x is not supported");
  if (major >= 2) throw new ProtocolError(505, "HTTP version not supported");
  return minor;
}

/** Reads the fields that frame the message (RFC 9112 §6) and the connection options. */
function applyFieldSemantics(head: RequestHead): void {
  const h = head.headers;
  let host: string | null = null;
  let hostCount = 0;
  let contentLength: string | null = null;
  let transferCodings: string[] | null = null;
  let close = false;
  let keepAliveToken = false;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") {
          hostCount++;
          host = h[i + 1];
        }
        break;
      case 6:
        if (name.toLowerCase() === "expect" && h[i + 1].toLowerCase() === "100-continue") head.expectContinue = true;
        break;
      case 10:
        if (name.toLowerCase() === "connection") {
          for (const option of splitList(h[i + 1].toLowerCase())) {
            if (option === "close") close = true;
            else if (option === "keep-alive") keepAliveToken = true;
          }
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") contentLength = mergeContentLength(contentLength, h[i + 1]);
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          const codings = splitList(h[i + 1].toLowerCase());
          if (codings.length === 0) throw new ProtocolError(400, "Empty Transfer-Encoding");
          transferCodings = transferCodings === null ? codings : transferCodings.concat(codings);
        }
        break;
    }
  }

  // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host, and it must be valid.
  if (hostCount > 1) throw new ProtocolError(400, "Multiple Host headers");
  if (host !== null && !isValidHost(host)) throw new ProtocolError(400, "Invalid Host header");
  if (hostCount === 0 && head.versionMinor >= 1) throw new ProtocolError(400, "Missing Host header");
  if (head.authority === null) head.authority = host;

  if (transferCodings !== null) {
    // RFC 9112 §6.1: Transfer-Encoding on HTTP/1.0 is faulty framing; TE with CL is a smuggling vector (§6.3 item 3).
    if (head.versionMinor === 0) throw new ProtocolError(400, "Transfer-Encoding is not allowed in HTTP/1.0");
    if (contentLength !== null) throw new ProtocolError(400, "Both Content-Length and Transfer-Encoding");
    checkTransferCodings(transferCodings);
    head.chunked = true;
  } else if (contentLength !== null) {
    head.contentLength = Number(contentLength);
  }

  if (head.versionMinor === 0) head.keepAlive = keepAliveToken && !close;
  else head.keepAlive = !close;
  // RFC 9110 §10.1.1: a server MUST NOT send 100 (Continue) to an HTTP/1.0 client.
  if (head.versionMinor === 0) head.expectContinue = false;
}

/** RFC 9112 §6.3 item 5 and RFC 9110 §8.6: Content-Length = 1*DIGIT; identical repeats collapse. */
function mergeContentLength(previous: string | null, value: string): string {
  let result = previous;
  for (const raw of value.split(",")) {
    const item = trimOWS(raw);
    if (item === "" || !/^[0-9]+$/.test(item)) throw new ProtocolError(400, "Invalid Content-Length");
    const digits = item.replace(/^0+(?=.)/, "");
    if (digits.length > MAX_LENGTH_DIGITS) throw new ProtocolError(413, "Request body too large");
    if (result !== null && result !== digits) throw new ProtocolError(400, "Conflicting Content-Length values");
    result = digits;
  }
  return result!;
}

/** Codings tray recognises by name but does not decode (RFC 9112 §7.2-7.3). */
const KNOWN_CODINGS = new Set(["gzip", "x-gzip", "deflate", "compress", "x-compress"]);

/**
 * RFC 9112 §6.3 item 4: chunked must be the final coding of a request (else 400), and may be
 * applied only once (§6.1). Any other coding tray cannot decode: 501 (RFC 9112 §6.1).
 */
function checkTransferCodings(codings: string[]): void {
  let chunkedCount = 0;
  for (const coding of codings) {
    if (coding === "chunked") chunkedCount++;
    else if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(coding.split(";")[0].trim())) {
      throw new ProtocolError(400, "Malformed Transfer-Encoding");
    }
  }
  if (codings[codings.length - 1] !== "chunked" || chunkedCount !== 1) {
    const unknown = codings.find((c) => c !== "chunked" && !KNOWN_CODINGS.has(c));
    if (unknown !== undefined && chunkedCount === 0) throw new ProtocolError(501, "Unsupported Transfer-Encoding");
    throw new ProtocolError(400, "Invalid Transfer-Encoding");
  }
  if (codings.length > 1) throw new ProtocolError(501, "Unsupported Transfer-Encoding");
}
