// The response head serializer and the chunked encoder (RFC 9112 §4, §6, §7.1; RFC 9110 §6.6).
// Which framing a response gets is the writer's (response-writer.test.ts); here, only the bytes.
// A response head is checked as raw bytes: the status line exactly, the field lines as a list.
// Header names and values from the app that could split the response are refused.
import { describe, expect, test } from "bun:test";
import { ResponseHeaderError, serializeResponseHead } from "../../src/http/response.ts";
import { CRLF, LAST_CHUNK, chunkHeader } from "../../src/http/response-writer.ts";
import type { ResponseHeadInit } from "../../src/http/response.ts";
import { bytes, concat, latin1, parse } from "./harness.ts";

const DATE = "Tue, 24 Nov 2026 20:30:00 GMT";

function head(init: Partial<ResponseHeadInit>): string {
  const full: ResponseHeadInit = {
    status: 200,
    headers: [],
    date: DATE,
    server: "tray",
    contentLength: 0,
    chunked: false,
    keepAlive: true,
    versionMinor: 1,
    ...init,
  };
  const out = serializeResponseHead(full);
  expect(out).toBeInstanceOf(Uint8Array);
  return latin1(out);
}

/** Splits a serialized head into its status line and field lines, checking CRLF framing. */
function lines(raw: string): { statusLine: string; fields: string[] } {
  expect(raw.endsWith("\r\n\r\n")).toBe(true);
  const all = raw.slice(0, -4).split("\r\n");
  for (const l of all) {
    expect(l.includes("\r")).toBe(false);
    expect(l.includes("\n")).toBe(false);
  }
  return { statusLine: all[0], fields: all.slice(1) };
}

function fieldsNamed(raw: string, name: string): string[] {
  return lines(raw)
    .fields.filter((l) => l.slice(0, l.indexOf(":")).toLowerCase() === name.toLowerCase())
    .map((l) => l.slice(l.indexOf(":") + 1).trim());
}

describe("status line (RFC 9112 §4: HTTP-version SP status-code SP [ reason-phrase ])", () => {
  test("200 OK on HTTP/1.1", () => {
    expect(lines(head({ status: 200 })).statusLine).toBe("HTTP/1.1 200 OK");
  });
  test("the standard reason for a known status", () => {
    expect(lines(head({ status: 404 })).statusLine).toBe("HTTP/1.1 404 Not Found");
    expect(lines(head({ status: 413 })).statusLine).toBe("HTTP/1.1 413 Content Too Large");
  });
  test("the app's own reason phrase", () => {
    expect(lines(head({ status: 200, statusText: "Fine Thanks" })).statusLine).toBe("HTTP/1.1 200 Fine Thanks");
  });
  test("an unknown status keeps the SP before an empty reason", () => {
    expect(lines(head({ status: 299 })).statusLine).toMatch(/^HTTP\/1\.1 299 [^\r\n]*$/);
  });
  test("an HTTP/1.0 request gets a 1.x status line", () => {
    expect(lines(head({ versionMinor: 0, keepAlive: false })).statusLine).toMatch(/^HTTP\/1\.[01] 200 OK$/);
  });
  test("a reason phrase with CR LF is refused", () => {
    expect(() => head({ status: 200, statusText: "OK\r\nSet-Cookie: a=b" })).toThrow(ResponseHeaderError);
  });
});

describe("Date and Server (RFC 9110 §6.6.1, §10.2.4)", () => {
  test("Date is sent as given", () => {
    expect(fieldsNamed(head({}), "Date")).toEqual([DATE]);
  });
  test("Server is sent as given", () => {
    expect(fieldsNamed(head({ server: "tray" }), "Server")).toEqual(["tray"]);
  });
  test('server "" sends no Server field', () => {
    expect(fieldsNamed(head({ server: "" }), "Server")).toEqual([]);
  });
  test("the app's own Date and Server do not duplicate tray's", () => {
    const raw = head({ headers: ["Date", "yesterday", "Server", "evil"], server: "tray" });
    expect(fieldsNamed(raw, "Date")).toEqual([DATE]);
    expect(fieldsNamed(raw, "Server")).toEqual(["tray"]);
  });
});

describe("framing fields as the writer decided them (RFC 9112 §6.1-§6.3)", () => {
  test("a length: Content-Length and no Transfer-Encoding", () => {
    const raw = head({ contentLength: 1234 });
    expect(fieldsNamed(raw, "Content-Length")).toEqual(["1234"]);
    expect(fieldsNamed(raw, "Transfer-Encoding")).toEqual([]);
  });
  test("chunked: Transfer-Encoding: chunked and no Content-Length", () => {
    const raw = head({ contentLength: null, chunked: true });
    expect(fieldsNamed(raw, "Transfer-Encoding")).toEqual(["chunked"]);
    expect(fieldsNamed(raw, "Content-Length")).toEqual([]);
  });
  test("neither", () => {
    const raw = head({ contentLength: null, chunked: false, keepAlive: false });
    expect(fieldsNamed(raw, "Content-Length")).toEqual([]);
    expect(fieldsNamed(raw, "Transfer-Encoding")).toEqual([]);
    expect(fieldsNamed(raw, "Connection")).toEqual(["close"]);
  });
  test("the app's Content-Length, Transfer-Encoding and Connection cannot contradict tray's framing", () => {
    const raw = head({
      contentLength: 5,
      headers: ["Content-Length", "999", "Transfer-Encoding", "chunked", "Connection", "keep-alive"],
      keepAlive: false,
    });
    expect(fieldsNamed(raw, "Content-Length")).toEqual(["5"]);
    expect(fieldsNamed(raw, "Transfer-Encoding")).toEqual([]);
    expect(fieldsNamed(raw, "Connection")).toEqual(["close"]);
  });
});

describe("persistence (RFC 9112 §9.3, §9.6)", () => {
  test("HTTP/1.1 keep-alive needs no Connection field", () => {
    expect(fieldsNamed(head({ keepAlive: true, versionMinor: 1 }), "Connection")).toEqual([]);
  });
  test("HTTP/1.1 closing says Connection: close", () => {
    expect(fieldsNamed(head({ keepAlive: false, versionMinor: 1 }), "Connection")).toEqual(["close"]);
  });
  test("HTTP/1.0 keep-alive says Connection: keep-alive", () => {
    expect(fieldsNamed(head({ keepAlive: true, versionMinor: 0 }), "Connection")).toEqual(["keep-alive"]);
  });
  test("HTTP/1.0 closing never says keep-alive", () => {
    expect(fieldsNamed(head({ keepAlive: false, versionMinor: 0 }), "Connection").map((v) => v.toLowerCase())).not.toContain("keep-alive");
  });
});

describe("the app's fields", () => {
  test("kept in order, with their case, repeats included", () => {
    const raw = head({ headers: ["X-B", "1", "set-cookie", "a=1", "Set-Cookie", "b=2", "x-a", "2"] });
    const app = lines(raw).fields.filter((l) => /^(x-|set-cookie)/i.test(l));
    expect(app).toEqual(["X-B: 1", "set-cookie: a=1", "Set-Cookie: b=2", "x-a: 2"]);
  });
  test("an obs-text value goes out as single bytes", () => {
    const out = serializeResponseHead({ status: 200, headers: ["X", "caf\xe9"], date: DATE, server: "", contentLength: null, chunked: false, keepAlive: true, versionMinor: 1 });
    expect(latin1(out)).toContain("X: caf\xe9\r\n");
    expect(out.length).toBe(latin1(out).length);
  });
  test("an empty value", () => {
    expect(lines(head({ headers: ["X-Empty", ""] })).fields).toContain("X-Empty: ");
  });
});

describe("response splitting is refused (RFC 9110 §5.1, §5.5)", () => {
  const badNames: [string, string][] = [
    ["CR LF in a name", "X-A\r\nSet-Cookie"],
    ["LF in a name", "X-A\nB"],
    ["a space in a name", "Bad Name"],
    ["a colon in a name", "X:Y"],
    ["NUL in a name", "X\x00"],
    ["an empty name", ""],
    ["a non-token char in a name", "X(Y)"],
  ];
  for (const [what, name] of badNames) {
    test(what, () => {
      expect(() => head({ headers: [name, "v"] })).toThrow(ResponseHeaderError);
    });
  }
  const badValues: [string, string][] = [
    ["CR LF in a value", "a\r\nSet-Cookie: evil=1"],
    ["CR LF CR LF in a value (a whole second response)", "a\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"],
    ["LF in a value", "a\nb"],
    ["CR in a value", "a\rb"],
    ["NUL in a value", "a\x00b"],
    ["another CTL in a value", "a\x01b"],
    ["a char above U+00FF, which is not one byte", "\u20ac"],
  ];
  for (const [what, value] of badValues) {
    test(what, () => {
      expect(() => head({ headers: ["X-Custom", value] })).toThrow(ResponseHeaderError);
    });
  }
  test("HTAB inside a value is allowed", () => {
    expect(lines(head({ headers: ["X", "a\tb"] })).fields).toContain("X: a\tb");
  });
});

describe("chunked encoder (RFC 9112 §7.1)", () => {
  test("chunk-size in hex then CRLF", () => {
    expect(latin1(chunkHeader(1))).toBe("1\r\n");
    expect(latin1(chunkHeader(10)).toLowerCase()).toBe("a\r\n");
    expect(latin1(chunkHeader(255)).toLowerCase()).toBe("ff\r\n");
    expect(latin1(chunkHeader(4096))).toBe("1000\r\n");
    expect(latin1(chunkHeader(2 ** 40)).toLowerCase()).toBe("10000000000\r\n");
  });
  test("CRLF and the last chunk", () => {
    expect(latin1(CRLF)).toBe("\r\n");
    expect(latin1(LAST_CHUNK)).toBe("0\r\n\r\n");
  });
  test("what it encodes, the request parser decodes byte-exact", () => {
    const pieces = ["hello", "", "\r\n0\r\n\r\n", "\x00\xff".repeat(300)];
    const parts: Uint8Array[] = [bytes("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")];
    for (const p of pieces) {
      if (p.length === 0) continue; // a zero-size chunk would be the last chunk
      parts.push(chunkHeader(p.length), bytes(p), CRLF);
    }
    parts.push(LAST_CHUNK);
    const o = parse(concat(parts), undefined, 50);
    expect(o.error).toBeNull();
    expect(o.messages.length).toBe(1);
    expect(o.messages[0].body).toBe(pieces.join(""));
    expect(o.messages[0].trailers).toEqual([]);
  });
});
