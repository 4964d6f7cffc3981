// The PROXY protocol header parser (src/http/proxy-protocol.ts) on raw bytes: every input is fed
// whole, split in two at every offset, and one byte at a time, and must give the same answer.

import { describe, expect, test } from "bun:test";
import { PROXY_V1_MAX_LENGTH, PROXY_V2_MAX_LENGTH, ProxyHeaderParser, canonicalIpv6, startsLikeProxyHeader } from "../../src/http/proxy-protocol.ts";
import type { ProxyHeaderResult } from "../../src/http/proxy-protocol.ts";
import { bytes, concat, latin1 } from "./harness.ts";

type Answer = { kind: "more" } | { kind: "done"; source: unknown; rest: string } | { kind: "error" };

function normalise(r: ProxyHeaderResult): Answer {
  if (r.kind === "done") return { kind: "done", source: r.source, rest: latin1(r.rest) };
  return r.kind === "error" ? { kind: "error" } : r;
}

/** Feeds chunks until an answer; chunks after a "done" belong to the stream after the header. */
function feedAll(chunks: Uint8Array[]): Answer {
  const p = new ProxyHeaderParser();
  let last: Answer = { kind: "more" };
  for (const c of chunks) {
    if (last.kind === "done") last.rest += latin1(c);
    else if (last.kind === "more") last = normalise(p.feed(c));
  }
  return last;
}

/** The answer for `input`, checked to be the same however the bytes are split. */
function parse(input: Uint8Array): Answer {
  const whole = feedAll([input]);
  for (let i = 0; i <= input.length; i++) {
    expect(feedAll([input.subarray(0, i), input.subarray(i)])).toEqual(whole);
  }
  const single: Uint8Array[] = [];
  for (let i = 0; i < input.length; i++) single.push(input.subarray(i, i + 1));
  expect(feedAll(single)).toEqual(whole);
  return whole;
}

const SIG = "\r\n\r\n\0\r\nQUIT\n";

function v2(verCmd: number, famProto: number, body: number[] | Uint8Array): Uint8Array {
  const b = body instanceof Uint8Array ? body : Uint8Array.from(body);
  return concat([bytes(SIG), Uint8Array.from([verCmd, famProto, b.length >> 8, b.length & 0xff]), b]);
}

const HTTP = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

describe("PROXY v1", () => {
  test("TCP4: the source address and port, and the bytes after the header", () => {
    expect(parse(bytes(`PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n${HTTP}`))).toEqual({
      kind: "done",
      source: { address: "192.0.2.7", port: 56324, family: "IPv4" },
      rest: HTTP,
    });
  });

  test("TCP6: the source address in canonical text", () => {
    expect(parse(bytes(`PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 65535 80\r\n`))).toEqual({
      kind: "done",
      source: { address: "2001:db8::1", port: 65535, family: "IPv6" },
      rest: "",
    });
  });

  test("UNKNOWN: no address, whatever follows before the CRLF is ignored", () => {
    expect(parse(bytes(`PROXY UNKNOWN\r\nX`))).toEqual({ kind: "done", source: null, rest: "X" });
    expect(parse(bytes(`PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n`))).toEqual({ kind: "done", source: null, rest: "" });
  });

  test("a prefix of a valid header needs more", () => {
    expect(parse(bytes("PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r"))).toEqual({ kind: "more" });
    expect(parse(bytes("PROX"))).toEqual({ kind: "more" });
  });

  test.each([
    ["lower-case keyword", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"],
    ["two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"],
    ["missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"],
    ["extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"],
    ["IPv6 under TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n"],
    ["IPv4 under TCP6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"],
    ["IPv4 with a leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"],
    ["octet over 255", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"],
    ["port over 65535", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"],
    ["port with a leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"],
    ["signed port", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n"],
    ["unknown protocol", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"],
    ["bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"],
    ["CR not followed by LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"],
    ["control byte", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"],
    ["IPv6 with two ::", "PROXY TCP6 1::2::3 ::1 1 2\r\n"],
    ["HTTP instead of a header", HTTP],
  ])("refused: %s", (_name, input) => {
    expect(parse(bytes(input))).toEqual({ kind: "error" });
  });

  test(`a line without CRLF in the first ${PROXY_V1_MAX_LENGTH} bytes is refused`, () => {
    const long = `PROXY UNKNOWN ${"x".repeat(PROXY_V1_MAX_LENGTH)}\r\n`;
    expect(feedAll([bytes(long)])).toEqual({ kind: "error" });
    expect(feedAll([bytes(long.slice(0, PROXY_V1_MAX_LENGTH))])).toEqual({ kind: "error" });
    expect(feedAll([bytes(long.slice(0, PROXY_V1_MAX_LENGTH - 1))])).toEqual({ kind: "more" });
    // Exactly 107 bytes with its CRLF is the longest header allowed.
    const exact = `PROXY UNKNOWN ${"x".repeat(PROXY_V1_MAX_LENGTH - 16)}\r\n`;
    expect(exact.length).toBe(PROXY_V1_MAX_LENGTH);
    expect(parse(bytes(exact))).toEqual({ kind: "done", source: null, rest: "" });
  });
});

describe("PROXY v2", () => {
  const inet = [192, 0, 2, 7, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb]; // 56324 -> 443

  test("PROXY over TCP/IPv4: the source address and port, and the bytes after the header", () => {
    expect(parse(concat([v2(0x21, 0x11, inet), bytes(HTTP)]))).toEqual({
      kind: "done",
      source: { address: "192.0.2.7", port: 56324, family: "IPv4" },
      rest: HTTP,
    });
  });

  test("PROXY over TCP/IPv6: the source in RFC 5952 text", () => {
    const src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const dst = new Array(16).fill(0);
    dst[15] = 1;
    expect(parse(v2(0x21, 0x21, [...src, ...dst, 0x00, 0x50, 0x1f, 0x90]))).toEqual({
      kind: "done",
      source: { address: "2001:db8::1", port: 80, family: "IPv6" },
      rest: "",
    });
  });

  test("TLVs after the addresses are skipped", () => {
    const tlv = [0x04, 0x00, 0x03, 0x61, 0x62, 0x63]; // PP2_TYPE_NOOP "abc"
    expect(parse(concat([v2(0x21, 0x11, [...inet, ...tlv]), bytes("Z")]))).toEqual({
      kind: "done",
      source: { address: "192.0.2.7", port: 56324, family: "IPv4" },
      rest: "Z",
    });
  });

  test("LOCAL (the proxy's own health check): no address, the address block skipped", () => {
    expect(parse(concat([v2(0x20, 0x00, []), bytes("Z")]))).toEqual({ kind: "done", source: null, rest: "Z" });
    expect(parse(v2(0x20, 0x11, inet))).toEqual({ kind: "done", source: null, rest: "" });
  });

  test("AF_UNSPEC and AF_UNIX carry no address tray can use", () => {
    expect(parse(v2(0x21, 0x00, []))).toEqual({ kind: "done", source: null, rest: "" });
    expect(parse(v2(0x21, 0x31, new Array(216).fill(0)))).toEqual({ kind: "done", source: null, rest: "" });
  });

  test("a prefix of a valid header needs more", () => {
    expect(parse(v2(0x21, 0x11, inet).subarray(0, 27))).toEqual({ kind: "more" });
  });

  test.each([
    ["version 1 in the binary form", v2(0x11, 0x11, inet)],
    ["unknown command", v2(0x22, 0x11, inet)],
    ["unknown family", v2(0x21, 0x41, inet)],
    ["datagram transport", v2(0x21, 0x12, inet)],
    ["address block shorter than IPv4's", v2(0x21, 0x11, inet.slice(0, 11))],
    ["address block shorter than IPv6's", v2(0x21, 0x21, inet)],
    ["signature with one byte wrong", concat([bytes("\r\n\r\n\0\r\nQUIT\r"), Uint8Array.from([0x21, 0x11, 0, 12]), Uint8Array.from(inet)])],
  ])("refused: %s", (_name, input) => {
    expect(parse(input)).toEqual({ kind: "error" });
  });

  test(`a length past ${PROXY_V2_MAX_LENGTH} bytes is refused from the fixed header alone`, () => {
    const head = concat([bytes(SIG), Uint8Array.from([0x21, 0x11, (PROXY_V2_MAX_LENGTH + 1) >> 8, (PROXY_V2_MAX_LENGTH + 1) & 0xff])]);
    expect(parse(head)).toEqual({ kind: "error" });
    expect(parse(v2(0x21, 0x11, [...inet, ...new Array(PROXY_V2_MAX_LENGTH - 12).fill(0)]))).toMatchObject({ kind: "done" });
  });
});

describe("startsLikeProxyHeader (for peers that may not send one)", () => {
  test("v1 and v2 beginnings are headers; HTTP is not; too few bytes cannot tell", () => {
    expect(startsLikeProxyHeader(bytes("PROXY "))).toBe(true);
    expect(startsLikeProxyHeader(bytes(SIG))).toBe(true);
    expect(startsLikeProxyHeader(bytes("GET / HTTP/1.1\r\n"))).toBe(false);
    expect(startsLikeProxyHeader(bytes("PROXYZ"))).toBe(false);
    expect(startsLikeProxyHeader(bytes("PROX"))).toBe(null);
    expect(startsLikeProxyHeader(bytes("\r\n\r\n"))).toBe(null);
    // RFC 9112 §2.2 lets a request begin with an empty line: "\r\nGET" is HTTP.
    expect(startsLikeProxyHeader(bytes("\r\nGET"))).toBe(false);
  });
});

describe("canonicalIpv6", () => {
  test.each([
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"],
  ])("%s -> %s", (input, out) => {
    expect(canonicalIpv6(input)).toBe(out);
  });

  test.each(["1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "::g", "1:2:3:4:5:6:7::8", "fe80::1%eth0", ""])("not IPv6: %s", (input) => {
    expect(canonicalIpv6(input)).toBe(null);
  });
});
