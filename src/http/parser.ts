// The incremental, sans-I/O HTTP/1.1 request parser (RFC 9112).
//
// Strategy: feed() takes any slice of bytes and returns the events it completes: a request head,
// body data, the end of a message (with its trailers), or one ProtocolError after which the parser
// is dead and never resynchronises (RFC 9112 §11.2: a server must not guess where a broken message
// ends). Bytes that do not complete anything yet are kept in a growable buffer (pending-bytes.ts).
//
// Heads and trailer sections are scanned byte by byte, left to right, exactly once: each byte is
// checked against the grammar of the part it is in (method, target, version, field name, value)
// the moment it arrives, and each line's meaning is applied the moment its CRLF arrives. So an
// error is reported as soon as the bytes show it, a prefix of a valid request never produces one,
// and the error reported is the first one in byte order, however TCP split the bytes.
// Body data events are views of the bytes passed to feed() when possible, or copies when they came
// out of the parser's own buffer; either way the caller may keep them.

import { ProtocolError } from "./errors.ts";
import { parseChunkSizeLine } from "./chunked.ts";
import { COLON, CR, FIELD_VALUE_CHAR, HTAB, LF, SP, TARGET_CHAR, TCHAR } from "./grammar.ts";
import { FramingField, HeadFields } from "./head-fields.ts";
import type { Bytes, PendingBytes } from "./pending-bytes.ts";
import { EMPTY, appendChunk, dropPending, keepRest, takeBytes } from "./pending-bytes.ts";
import { parseRequestTarget } from "./request-target.ts";
import type { Authority } from "./authority.ts";

export interface ParserLimits {
  /** Request line plus header section, and separately the trailer section (-> 431). */
  maxHeadSize: number;
  /** request-target length (-> 414). */
  maxTargetLength: number;
  /** Body bytes, declared or received (-> 413). */
  maxBodySize: number;
  /** Field lines in the header section, and separately in the trailer section (-> 431). */
  maxFields: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxHeadSize: 256 * 1024,
  maxTargetLength: 8 * 1024,
  maxBodySize: 1024 * 1024 * 1024,
  maxFields: 100,
};

/** RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line; bounded. */
export const MAX_LEADING_EMPTY_LINES = 8;
/** A chunk-size line with its extensions (RFC 9112 §7.1.1 lets a server bound them). */
export const MAX_CHUNK_LINE = 4096;

export interface RequestHead {
  method: string;
  target: string;
  /** Path and query in origin-form: the target itself, the path of an absolute-form target, or "*". */
  path: string;
  versionMinor: number;
  /** Flat [name, value, ...], latin-1, original case and order. */
  headers: string[];
  /** Absolute-form authority if any, else the Host value; null when HTTP/1.0 sent no Host. */
  authority: Authority | null;
  /** An absolute-form target's scheme, lower-cased; null for the other forms. */
  scheme: string | null;
  contentLength: number | null;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
  /** RFC 9110 §7.8: an Upgrade field: the parser stops after this message (see takeRest/resume). */
  upgrade: boolean;
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
  /** A message with an Upgrade field ended (RFC 9110 §7.8): later bytes may be another protocol's,
   *  so they are kept unparsed until the caller says which: takeRest() or resume(). */
  Switching,
  Dead,
}

/** Where the scanner is inside the current line of a head or trailer section. */
const enum Part {
  Method,
  Target,
  Version,
  FieldStart,
  FieldName,
  FieldValue,
}

const u8IndexOf = Uint8Array.prototype.indexOf;

/** The first LF in buf[from, end), or -1 (TypedArray indexOf: cheaper than Buffer's). */
function indexOfLF(buf: Uint8Array, from: number, end: number): number {
  const i = u8IndexOf.call(buf, LF, from);
  return i === -1 || i >= end ? -1 : i;
}

/** "HTTP/" as bytes, for the version scan (RFC 9112 §2.3: case-sensitive). */
const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f];

export class RequestParser implements PendingBytes {
  private readonly limits: ParserLimits;
  private state = State.Head;
  private events: ParserEvent[] = [];

  // Unconsumed bytes: the caller's chunk, or our own growable buffer when bytes were left over.
  // The parser is its own PendingBytes: these four fields are public only so pending-bytes.ts
  // can keep and move them (nothing else may touch them). Kept here rather than in an object of
  // their own, the state machine reads them with no extra load and every call there sees one shape.
  input: Bytes = EMPTY;
  pos = 0;
  end = 0;
  own: Bytes | null = null;

  // The section scanner (head or trailers). All offsets are into this.input.
  private sectionStart = 0;
  private lineStart = 0;
  private scan = 0;
  private part = Part.Method;
  private mark = 0; // end of the method, or the colon of a field line
  private targetEnd = 0;
  private emptyLines = 0;
  private head: RequestHead | null = null;
  private fields: HeadFields | null = null;
  private trailers: string[] = [];
  /** [nameStart, nameEnd, valueStart, valueEnd] of each header field line so far. */
  private fieldOffsets: number[] = [];
  /** Field lines in the current section (header or trailer). */
  private fieldCount = 0;

  // Body framing of the current message.
  private remaining = 0;
  private received = 0;
  private keepAlive = true;
  /** The current message has an Upgrade field: stop after it (State.Switching). */
  private switching = false;

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  get dead(): boolean {
    return this.state === State.Dead;
  }

  /** Part of a request head has arrived and the rest has not (its deadline is running). */
  get inHead(): boolean {
    return this.state === State.Head && this.end > this.pos;
  }

  feed(chunk: Uint8Array): ParserEvent[] {
    if (this.state === State.Dead || this.state === State.Closed || chunk.byteLength === 0) return [];
    const moved = appendChunk(this, chunk);
    if (moved !== 0) this.rebase(moved);
    if (this.state === State.Switching) {
      // Kept for takeRest()/resume(); the caller stops reading meanwhile, which bounds them.
      const kept = keepRest(this);
      if (kept !== 0) this.rebase(kept);
      return [];
    }
    return this.run();
  }

  /** After an upgrade request: the protocol switched (RFC 9110 §15.2.2), so every byte kept since
   *  that request ended belongs to the new protocol. The parser reads nothing more. */
  takeRest(): Uint8Array {
    const rest = Uint8Array.prototype.slice.call(this.input.subarray(this.pos, this.end));
    dropPending(this);
    this.state = State.Closed;
    return rest;
  }

  /** After an upgrade request the server did not switch: the kept bytes are HTTP after all. */
  resume(): ParserEvent[] {
    if (this.state !== State.Switching) return [];
    if (this.keepAlive) this.beginSection(State.Head);
    else {
      this.state = State.Closed;
      dropPending(this);
      return [];
    }
    return this.run();
  }

  private run(): ParserEvent[] {
    this.events = [];
    try {
      while (this.step());
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.events.push({ type: "error", error: e });
      this.state = State.Dead;
      dropPending(this);
      return this.events;
    }
    const kept = keepRest(this);
    if (kept !== 0) this.rebase(kept);
    return this.events;
  }

  // --- buffer management (the bytes themselves: pending-bytes.ts) ----------------------------

  /** Pending bytes moved down by `by`: the scanner's offsets into them move too. */
  private rebase(by: number): void {
    this.sectionStart -= by;
    this.lineStart -= by;
    this.scan -= by;
    this.mark -= by;
    this.targetEnd -= by;
    const offsets = this.fieldOffsets;
    for (let k = 0; k < offsets.length; k++) offsets[k] -= by;
  }

  // --- the state machine -------------------------------------------------------------------

  private step(): boolean {
    switch (this.state) {
      case State.Head:
      case State.Trailers:
        return this.scanSection();
      case State.BodyLength:
        return this.readBodyLength();
      case State.ChunkSize:
        return this.readChunkSize();
      case State.ChunkData:
        return this.readChunkData();
      case State.ChunkDataEnd:
        return this.readChunkDataEnd();
      default:
        return false;
    }
  }

  /** Starts a head or trailer section at this.pos. */
  private beginSection(state: State.Head | State.Trailers): void {
    this.state = state;
    this.sectionStart = this.lineStart = this.scan = this.pos;
    this.part = state === State.Head ? Part.Method : Part.FieldStart;
    this.trailers = [];
    this.fieldCount = 0;
  }

  /**
   * Scans the current section from where it stopped. Returns true when the section ended (its
   * events pushed, state moved on), false when every available byte was checked and more are needed.
   */
  private scanSection(): boolean {
    const buf = this.input;
    const end = this.end;
    const limit = this.limits.maxHeadSize;
    let i = this.scan;
    while (i < end) {
      if (i - this.sectionStart >= limit) {
        throw new ProtocolError(431, this.state === State.Head ? "Request header fields too large" : "Request trailer fields too large");
      }
      const c = buf[i];
      if (c === CR) {
        if (i + 1 >= end) break; // the LF may come in the next feed
        // RFC 9112 §2.2: CR only as part of CRLF; a bare CR is an error, never whitespace.
        if (buf[i + 1] !== LF) throw new ProtocolError(400, "Bare CR in request head");
        if (i + 1 - this.sectionStart >= limit) {
          throw new ProtocolError(431, this.state === State.Head ? "Request header fields too large" : "Request trailer fields too large");
        }
        if (this.endLine(i)) return true;
        i += 2;
        continue;
      }
      // RFC 9112 §2.2: no bare LF as a line terminator (stricter than the MAY there).
      if (c === LF) throw new ProtocolError(400, "Bare LF in request head");
      // Bytes past the limit are never looked at: the check at the top of the loop answers 431.
      i = this.scanPart(buf, i, Math.min(end, this.sectionStart + limit));
    }
    this.scan = i;
    return false;
  }

  /** Checks bytes of the current part from i (which is not CR or LF); returns where it stopped. */
  private scanPart(buf: Bytes, i: number, end: number): number {
    switch (this.part) {
      case Part.Method: {
        const start = i;
        while (i < end && TCHAR[buf[i]] === 1) i++;
        if (i === end) return i;
        if (buf[i] === CR || buf[i] === LF) return i; // the line ends inside the method: endLine decides
        if (buf[i] !== SP || i === this.lineStart || (start === i && i === this.lineStart)) {
          throw new ProtocolError(400, "Malformed request line");
        }
        this.mark = i; // end of method
        this.part = Part.Target;
        return i + 1;
      }
      case Part.Target: {
        const targetStart = this.mark + 1;
        const stop = Math.min(end, targetStart + this.limits.maxTargetLength + 1);
        while (i < stop && TARGET_CHAR[buf[i]] === 1) i++;
        if (i - targetStart > this.limits.maxTargetLength) throw new ProtocolError(414, "Request-target too long");
        if (i === end) return i;
        if (buf[i] === CR || buf[i] === LF) return i;
        if (buf[i] !== SP || i === targetStart) throw new ProtocolError(400, "Malformed request line");
        this.targetEnd = i;
        this.part = Part.Version;
        return i + 1;
      }
      case Part.Version: {
        // RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, checked byte by byte.
        const k = i - this.targetEnd - 1;
        const c = buf[i];
        const ok = k < 5 ? c === HTTP_SLASH[k] : k === 5 || k === 7 ? c >= 0x30 && c <= 0x39 : k === 6 ? c === 0x2e : false;
        if (!ok) throw new ProtocolError(400, "Malformed HTTP version");
        // RFC 9110 §15.6.6: a well-formed version whose major is not 1 (0.x or 2+) is refused as
        // a version, not as malformed (Go's net/http answers "GET / HTTP/0.9" the same way).
        if (k === 5 && c !== 0x31) throw new ProtocolError(505, "HTTP version not supported");
        return i + 1;
      }
      case Part.FieldStart: {
        const c = buf[i];
        // RFC 9112 §5.2: obs-fold (a line starting with whitespace) is rejected, as is
        // whitespace between the request line and the first field (RFC 9112 §2.2).
        if (c === SP || c === HTAB) throw new ProtocolError(400, "Obsolete line folding in header");
        if (TCHAR[c] !== 1) throw new ProtocolError(400, "Malformed header field");
        this.part = Part.FieldName;
        return i + 1;
      }
      case Part.FieldName: {
        while (i < end && TCHAR[buf[i]] === 1) i++;
        if (i === end) return i;
        if (buf[i] === CR || buf[i] === LF) return i;
        // RFC 9112 §5.1: no whitespace between field-name and colon.
        if (buf[i] !== COLON) throw new ProtocolError(400, "Malformed header field");
        this.mark = i;
        this.part = Part.FieldValue;
        return i + 1;
      }
      case Part.FieldValue: {
        while (i < end && FIELD_VALUE_CHAR[buf[i]] === 1) i++;
        if (i === end) return i;
        if (buf[i] === CR || buf[i] === LF) return i;
        // RFC 9110 §5.5: NUL and other CTLs are invalid in a field value.
        throw new ProtocolError(400, "Invalid character in header value");
      }
    }
  }

  /** A CRLF at cr ends the current line. Returns true when it also ended the section. */
  private endLine(cr: number): boolean {
    const buf = this.input;
    const start = this.lineStart;
    const next = cr + 2;
    if (this.state === State.Head && this.part === Part.Method && cr === start) {
      // RFC 9112 §2.2: an empty line before the request-line is skipped (a bounded number).
      if (++this.emptyLines > MAX_LEADING_EMPTY_LINES) throw new ProtocolError(400, "Too many empty lines before the request line");
      this.sectionStart = this.lineStart = next;
      return false;
    }
    switch (this.part) {
      case Part.Method:
      case Part.Target:
        throw new ProtocolError(400, "Malformed request line");
      case Part.Version:
        if (cr - this.targetEnd - 1 !== 8) throw new ProtocolError(400, "Malformed HTTP version");
        this.head = this.requestLine(start, cr);
        this.fields = new HeadFields(this.head.versionMinor, this.limits.maxBodySize);
        this.part = Part.FieldStart;
        break;
      case Part.FieldName:
        throw new ProtocolError(400, "Malformed header field"); // no colon
      case Part.FieldValue: {
        // Each field costs the app's Headers a lookup per distinct name (quadratic in Bun), so the
        // count is bounded as well as the bytes: Apache's LimitRequestFields, Node's maxHeadersCount.
        if (++this.fieldCount > this.limits.maxFields) {
          throw new ProtocolError(431, this.state === State.Head ? "Too many request header fields" : "Too many request trailer fields");
        }
        let a = this.mark + 1;
        let b = cr;
        while (a < b && (buf[a] === SP || buf[a] === HTAB)) a++;
        while (b > a && (buf[b - 1] === SP || buf[b - 1] === HTAB)) b--;
        if (this.state === State.Head) {
          // Strings are cut from one decode of the whole head at its end (endHead): far cheaper
          // than a native call per name and value. Only the fields that frame the message or
          // steer the connection are read now, so their errors show as soon as their line ends.
          this.fieldOffsets.push(start, this.mark, a, b);
          const field = HeadFields.classify(buf, start, this.mark);
          if (field !== FramingField.None) this.fields!.add(field, buf.latin1Slice(a, b));
        } else {
          // RFC 9110 §6.5.1: trailers are kept apart, never merged into the header fields.
          this.trailers.push(buf.latin1Slice(start, this.mark), buf.latin1Slice(a, b));
        }
        this.part = Part.FieldStart;
        break;
      }
      case Part.FieldStart:
        // The empty line: the section is complete.
        this.pos = next;
        if (this.state === State.Head) this.endHead();
        else this.endMessage(this.trailers);
        return true;
    }
    this.lineStart = next;
    return false;
  }

  private requestLine(start: number, cr: number): RequestHead {
    const buf = this.input;
    const method = buf.latin1Slice(start, this.mark);
    const target = buf.latin1Slice(this.mark + 1, this.targetEnd);
    // The major version is 1 here: scanPart answered 0.x and 2+ at their digit.
    const versionMinor = buf[cr - 1] - 0x30;
    const { path, authority, scheme } = parseRequestTarget(method, target);
    return {
      method,
      target,
      path,
      versionMinor,
      headers: [],
      authority,
      scheme,
      contentLength: null,
      chunked: false,
      keepAlive: true,
      expectContinue: false,
      upgrade: false,
    };
  }

  private endHead(): void {
    const head = this.head!;
    const offsets = this.fieldOffsets;
    if (offsets.length > 0) {
      const base = offsets[0];
      const text = this.input.latin1Slice(base, offsets[offsets.length - 1]);
      const headers = head.headers;
      for (let k = 0; k < offsets.length; k += 4) {
        headers.push(text.substring(offsets[k] - base, offsets[k + 1] - base), text.substring(offsets[k + 2] - base, offsets[k + 3] - base));
      }
      this.fieldOffsets = [];
    }
    const framing = this.fields!.finish(head.authority);
    // RFC 9112 §3.2.2: with an absolute-form target the server ignores Host and uses the
    // target's authority, so the Host the app sees says the same as request.url.
    if (head.scheme !== null) replaceHost(head.headers, framing.authority!);
    this.head = null;
    this.fields = null;
    this.emptyLines = 0;
    head.authority = framing.authority;
    head.contentLength = framing.contentLength;
    head.chunked = framing.chunked;
    head.keepAlive = framing.keepAlive;
    head.expectContinue = framing.expectContinue;
    head.upgrade = framing.upgrade;
    this.switching = framing.upgrade;
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
  }

  private endMessage(trailers: string[]): void {
    this.events.push({ type: "end", trailers });
    if (this.switching) {
      this.switching = false;
      this.state = State.Switching;
    } else if (this.keepAlive) {
      this.beginSection(State.Head);
    } else {
      this.state = State.Closed;
      this.pos = this.end;
    }
  }

  // --- bodies --------------------------------------------------------------------------------

  /** Emits up to this.remaining body bytes; false when none are available. */
  private readBodyBytes(): boolean {
    const available = this.end - this.pos;
    if (available === 0) return false;
    const n = Math.min(available, this.remaining);
    this.events.push({ type: "data", data: takeBytes(this, this.pos, this.pos + n) });
    this.pos += n;
    this.remaining -= n;
    return true;
  }

  private readBodyLength(): boolean {
    if (!this.readBodyBytes()) return false;
    if (this.remaining === 0) this.endMessage([]);
    return true;
  }

  private readChunkSize(): boolean {
    const buf = this.input;
    const lf = indexOfLF(buf, this.pos, this.end);
    if (lf === -1) {
      if (this.end - this.pos > MAX_CHUNK_LINE) throw new ProtocolError(400, "Chunk size line too long");
      return false;
    }
    if (lf + 1 - this.pos > MAX_CHUNK_LINE) throw new ProtocolError(400, "Chunk size line too long");
    if (lf === this.pos || buf[lf - 1] !== CR) throw new ProtocolError(400, "Bare LF in chunked body");
    const size = parseChunkSizeLine(buf, this.pos, lf - 1);
    this.pos = lf + 1;
    if (size === 0) {
      this.beginSection(State.Trailers);
      return true;
    }
    if (this.received + size > this.limits.maxBodySize) throw new ProtocolError(413, "Request body too large");
    this.received += size;
    this.remaining = size;
    this.state = State.ChunkData;
    return true;
  }

  private readChunkData(): boolean {
    if (!this.readBodyBytes()) return false;
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
}

/** Sets every Host field line's value to `authority` (there is at most one: head-fields.ts), or adds one. */
function replaceHost(headers: string[], authority: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === 4 && headers[i].toLowerCase() === "host") {
      headers[i + 1] = authority;
      return;
    }
  }
  headers.push("Host", authority);
}
