// The header fields that frame a request or steer the connection (RFC 9112 §6, §9; RFC 9110
// §7.2, §10.1.1), checked one field at a time as each field line completes, so an error is
// reported as soon as the bytes show it; finish() applies the rules that need the whole head.

import { ProtocolError } from "./errors.ts";
import { isToken, splitList, trimOWS } from "./grammar.ts";
import { parseAuthority } from "./authority.ts";
import type { Authority } from "./authority.ts";

/** Past 2^53 a JS number loses precision; 15 decimal digits is always exact (RFC 9112 §6.3). */
const MAX_LENGTH_DIGITS = 15;

/** Codings tray recognises by name but does not decode (RFC 9112 §7.2-7.3). */
const KNOWN_CODINGS = new Set(["gzip", "x-gzip", "deflate", "compress", "x-compress"]);

/** The header fields that frame a request or steer the connection. */
export const enum FramingField {
  None,
  Host,
  Expect,
  Connection,
  ContentLength,
  TransferEncoding,
  Upgrade,
}

/** Lower-case name and kind, by name length (the six names have six different lengths). */
const BY_LENGTH: Record<number, [string, FramingField]> = {
  4: ["host", FramingField.Host],
  6: ["expect", FramingField.Expect],
  7: ["upgrade", FramingField.Upgrade],
  10: ["connection", FramingField.Connection],
  14: ["content-length", FramingField.ContentLength],
  17: ["transfer-encoding", FramingField.TransferEncoding],
};

export interface RequestFraming {
  authority: Authority | null;
  contentLength: number | null;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
  /** RFC 9110 §7.8: the client offers to switch protocols after this request (an Upgrade field). */
  upgrade: boolean;
}

export class HeadFields {
  private hostCount = 0;
  private host: Authority | null = null;
  private contentLength: string | null = null;
  private transferCodings: string[] | null = null;
  private close = false;
  private keepAliveToken = false;
  private expectContinue = false;
  private upgrade = false;

  constructor(
    private readonly versionMinor: number,
    private readonly maxBodySize: number,
  ) {}

  /**
   * Which of the fields add() acts on the name bytes [start, end) are, matched case-insensitively
   * without decoding them (most names are none of these, and cost one length test).
   */
  static classify(buf: Uint8Array, start: number, end: number): FramingField {
    const length = end - start;
    const entry = BY_LENGTH[length];
    if (entry === undefined) return FramingField.None;
    const name = entry[0];
    // | 0x20 lower-cases ASCII letters; the other tchars of these names ("-") already have the bit.
    for (let k = 0; k < length; k++) if ((buf[start + k] | 0x20) !== name.charCodeAt(k)) return FramingField.None;
    return entry[1];
  }

  /** One framing field line, as it completes (classify() said which). */
  add(field: FramingField, value: string): void {
    switch (field) {
      case FramingField.Host:
        // RFC 9112 §3.2: exactly one Host; RFC 9110 §4.2.1: an http URI's host is never empty.
        if (++this.hostCount > 1) throw new ProtocolError(400, "Multiple Host headers");
        // The same rule builds request.url (authority.ts): a Host it cannot carry is a 400 here,
        // never a failure in the Worker.
        this.host = parseAuthority(value);
        if (this.host === null) throw new ProtocolError(400, "Invalid Host header");
        return;
      case FramingField.Upgrade:
        this.upgrade = true;
        return;
      case FramingField.Expect:
        if (value.toLowerCase() === "100-continue") this.expectContinue = true;
        return;
      case FramingField.Connection:
        for (const option of splitList(value.toLowerCase())) {
          if (option === "close") this.close = true;
          else if (option === "keep-alive") this.keepAliveToken = true;
        }
        return;
      case FramingField.ContentLength:
        this.contentLength = mergeContentLength(this.contentLength, value, this.maxBodySize);
        if (this.transferCodings !== null) throw new ProtocolError(400, "Both Content-Length and Transfer-Encoding");
        return;
      case FramingField.TransferEncoding: {
        // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
        if (this.versionMinor === 0) throw new ProtocolError(400, "Transfer-Encoding is not allowed in HTTP/1.0");
        // RFC 9112 §6.3 item 3: with Content-Length it is a smuggling vector.
        if (this.contentLength !== null) throw new ProtocolError(400, "Both Content-Length and Transfer-Encoding");
        const codings = splitList(value.toLowerCase());
        if (codings.length === 0) throw new ProtocolError(400, "Empty Transfer-Encoding");
        for (const c of codings) if (!isToken(c)) throw new ProtocolError(c.includes(";") ? 501 : 400, "Malformed Transfer-Encoding");
        this.transferCodings = this.transferCodings === null ? codings : this.transferCodings.concat(codings);
        return;
      }
    }
  }

  /** The whole head is here: the rules about what is missing, and the framing it implies. */
  finish(authority: Authority | null): RequestFraming {
    if (this.hostCount === 0 && this.versionMinor >= 1) throw new ProtocolError(400, "Missing Host header");
    let chunked = false;
    if (this.transferCodings !== null) {
      checkTransferCodings(this.transferCodings);
      chunked = true;
    }
    const keepAlive = this.versionMinor === 0 ? this.keepAliveToken && !this.close : !this.close;
    return {
      // RFC 9112 §3.2.2: an absolute-form target's authority overrides Host.
      authority: authority ?? this.host,
      contentLength: chunked || this.contentLength === null ? null : Number(this.contentLength),
      chunked,
      keepAlive,
      // RFC 9110 §10.1.1: a server MUST NOT send 100 (Continue) to an HTTP/1.0 client.
      expectContinue: this.expectContinue && this.versionMinor >= 1,
      upgrade: this.upgrade,
    };
  }
}

/** RFC 9112 §6.3 item 5 and RFC 9110 §8.6: Content-Length = 1*DIGIT; identical repeats collapse. */
function mergeContentLength(previous: string | null, value: string, maxBodySize: number): string {
  let result = previous;
  for (const raw of value.split(",")) {
    const item = trimOWS(raw);
    if (item === "" || !/^[0-9]+$/.test(item)) throw new ProtocolError(400, "Invalid Content-Length");
    const digits = item.replace(/^0+(?=.)/, "");
    if (result !== null && result !== digits) throw new ProtocolError(400, "Conflicting Content-Length values");
    // Refuse a declared length over the limit before reading any of it.
    if (digits.length > MAX_LENGTH_DIGITS || Number(digits) > maxBodySize) throw new ProtocolError(413, "Request body too large");
    result = digits;
  }
  return result!;
}

/**
 * RFC 9112 §6.3 item 4: chunked must be the final coding of a request (else 400), and may be
 * applied only once (§6.1). Any other coding tray cannot decode: 501 (RFC 9112 §6.1).
 */
function checkTransferCodings(codings: string[]): void {
  let chunkedCount = 0;
  for (const c of codings) if (c === "chunked") chunkedCount++;
  if (codings[codings.length - 1] !== "chunked" || chunkedCount !== 1) {
    const unknown = codings.find((c) => c !== "chunked" && !KNOWN_CODINGS.has(c));
    if (unknown !== undefined && chunkedCount === 0) throw new ProtocolError(501, "Unsupported Transfer-Encoding");
    throw new ProtocolError(400, "Invalid Transfer-Encoding");
  }
  if (codings.length > 1) throw new ProtocolError(501, "Unsupported Transfer-Encoding");
}
