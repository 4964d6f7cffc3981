// The response writer (src/http/response-writer.ts): every framing rule, checked on bytes.
// Table-driven over status class x method x version x declared length x body shape; the oracle is
// RFC 9112 §6.3 and RFC 9110 §6.4.1, §8.6, §9.3.2 written out as plainly as possible.
import { describe, expect, test } from "bun:test";
import {
  CONTINUE,
  ResponseFramingError,
  ResponseWriter,
  bodyAllowed,
  bodyLengthError,
  continueWanted,
  responseFraming,
  wholeResponse,
} from "../../src/http/response-writer.ts";
import type { Framing } from "../../src/http/response-writer.ts";
import { latin1 } from "./harness.ts";

const DATE = "Tue, 24 Nov 2026 20:30:00 GMT";
const STATUSES = [100, 101, 103, 200, 201, 204, 206, 301, 304, 404, 500];
const METHODS = ["GET", "HEAD", "POST", "OPTIONS"];
const DECLARED: (number | null)[] = [null, 0, 5];

function writer(method: string, versionMinor: number, status: number, declaredLength: number | null, keepAlive = true): ResponseWriter {
  return new ResponseWriter({ method, versionMinor, keepAlive, status, headers: ["X-App", "1"], declaredLength, date: DATE, server: "tray" });
}

function fields(head: Uint8Array): Map<string, string[]> {
  const text = latin1(head);
  expect(text.endsWith("\r\n\r\n")).toBe(true);
  const map = new Map<string, string[]>();
  for (const line of text.slice(0, -4).split("\r\n").slice(1)) {
    const name = line.slice(0, line.indexOf(":")).toLowerCase();
    map.set(name, [...(map.get(name) ?? []), line.slice(line.indexOf(":") + 1).trim()]);
  }
  return map;
}

/** The oracle: what the RFCs say a response's framing is. */
function expectedFraming(method: string, versionMinor: number, status: number, declared: number | null): Framing {
  const noContent = method === "HEAD" || (status >= 100 && status < 200) || status === 204 || status === 304; // RFC 9110 §6.4.1
  if (noContent) return "none";
  if (declared !== null) return "length"; // RFC 9112 §6.3 item 6
  return versionMinor === 1 ? "chunked" : "close"; // RFC 9112 §6.3 item 7; §7.1 is HTTP/1.1 only
}

describe("framing: every status class x method x version x declared length", () => {
  for (const status of STATUSES) {
    for (const method of METHODS) {
      for (const versionMinor of [0, 1]) {
        for (const declared of DECLARED) {
          const name = `${method} HTTP/1.${versionMinor} -> ${status}, declared ${declared}`;
          test(name, () => {
            const w = writer(method, versionMinor, status, declared);
            const framing = expectedFraming(method, versionMinor, status, declared);
            expect(w.framing).toBe(framing);
            expect(responseFraming(method, versionMinor, status, declared)).toBe(framing);
            const f = fields(w.head());
            // RFC 9110 §8.6: never a Content-Length on 1xx or 204; a 304 and a HEAD only the real one.
            const cl = f.get("content-length") ?? [];
            if (status < 200 || status === 204 || status === 304 || declared === null) expect(cl).toEqual([]);
            else expect(cl).toEqual([String(declared)]);
            expect(f.get("transfer-encoding") ?? []).toEqual(framing === "chunked" ? ["chunked"] : []);
            // RFC 9112 §9.6 / §6.3 item 8: a close-delimited body says so.
            if (framing === "close") expect(f.get("connection")).toEqual(["close"]);
            expect(w.keepAlive).toBe(framing !== "close");
          });
        }
      }
    }
  }
});

describe("body shapes, by framing", () => {
  const shapes: [string, string[]][] = [
    ["no body", []],
    ["exact", ["hello"]],
    ["exact in pieces", ["he", "l", "lo"]],
    ["shorter", ["hel"]],
    ["longer", ["hello!"]],
    ["longer in pieces", ["hel", "lo!!"]],
  ];
  for (const [shape, pieces] of shapes) {
    test(`Content-Length 5, ${shape}`, () => {
      const w = writer("GET", 1, 200, 5);
      const out: Uint8Array[] = [];
      const total = pieces.join("").length;
      let error: unknown = null;
      try {
        for (const p of pieces) w.data(Buffer.from(p), out);
        w.end(out);
      } catch (e) {
        error = e;
      }
      const wire = out.map(latin1).join("");
      if (total === 5) {
        expect(error).toBeNull();
        expect(wire).toBe("hello");
        expect(w.keepAlive).toBe(true);
      } else {
        // h11's ContentLengthWriter: "Too much data" / "Too little data"; never more than promised.
        expect(error).toBeInstanceOf(ResponseFramingError);
        expect(wire).toBe(pieces.join("").slice(0, 5));
        expect(w.keepAlive).toBe(false);
      }
    });
    test(`chunked, ${shape}`, () => {
      const w = writer("GET", 1, 200, null);
      const out: Uint8Array[] = [];
      for (const p of pieces) w.data(Buffer.from(p), out);
      w.end(out);
      const expected = pieces.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join("") + "0\r\n\r\n";
      expect(out.map(latin1).join("")).toBe(expected);
    });
    test(`close-delimited (HTTP/1.0), ${shape}`, () => {
      const w = writer("GET", 0, 200, null);
      const out: Uint8Array[] = [];
      for (const p of pieces) w.data(Buffer.from(p), out);
      w.end(out);
      expect(out.map(latin1).join("")).toBe(pieces.join(""));
      expect(w.keepAlive).toBe(false);
    });
    for (const [method, status] of [["HEAD", 200], ["GET", 204], ["GET", 304]] as const) {
      test(`${method} -> ${status}, ${shape}: no body bytes reach the wire (RFC 9110 §6.4.1)`, () => {
        const w = writer(method, 1, status, null);
        const out: Uint8Array[] = [];
        for (const p of pieces) w.data(Buffer.from(p), out);
        w.end(out);
        expect(out).toEqual([]);
      });
    }
  }
  test("an empty chunk is not the last chunk", () => {
    const w = writer("GET", 1, 200, null);
    const out: Uint8Array[] = [];
    w.data(new Uint8Array(0), out);
    expect(out).toEqual([]);
  });
});

describe("HEAD (RFC 9110 §9.3.2, §8.6)", () => {
  test("with the app's length: the Content-Length its GET would have", () => {
    expect(fields(writer("HEAD", 1, 200, 42).head()).get("content-length")).toEqual(["42"]);
  });
  test("without one: no Content-Length at all, never a false 0", () => {
    expect(fields(writer("HEAD", 1, 200, null).head()).get("content-length")).toBeUndefined();
  });
  test("a HEAD response keeps the connection open", () => {
    expect(writer("HEAD", 1, 200, null).keepAlive).toBe(true);
  });
});

describe("persistence", () => {
  test("HTTP/1.1 closing: Connection: close", () => {
    expect(fields(writer("GET", 1, 200, 5, false).head()).get("connection")).toEqual(["close"]);
  });
  test("HTTP/1.0 persisting: Connection: keep-alive", () => {
    expect(fields(writer("GET", 0, 200, 5, true).head()).get("connection")).toEqual(["keep-alive"]);
  });
});

describe("the shared rules the Worker imports", () => {
  test("bodyAllowed", () => {
    expect(bodyAllowed("GET", 200)).toBe(true);
    expect(bodyAllowed("HEAD", 200)).toBe(false);
    expect(bodyAllowed("GET", 199)).toBe(false);
    expect(bodyAllowed("GET", 204)).toBe(false);
    expect(bodyAllowed("GET", 304)).toBe(false);
    expect(bodyAllowed("GET", 205)).toBe(true);
  });
  test("bodyLengthError: longer at once, shorter only at the end", () => {
    expect(bodyLengthError(5, 5, true)).toBeNull();
    expect(bodyLengthError(5, 3, false)).toBeNull();
    expect(bodyLengthError(5, 3, true)).toContain("3 of the 5");
    expect(bodyLengthError(5, 6, false)).toContain("more body");
  });
  test("100-continue: asked for, with a body, never to HTTP/1.0 (RFC 9110 §15.2)", () => {
    expect(continueWanted(1, true, true)).toBe(true);
    expect(continueWanted(1, true, false)).toBe(false);
    expect(continueWanted(0, true, true)).toBe(false);
    expect(continueWanted(1, false, true)).toBe(false);
    expect(latin1(CONTINUE)).toBe("HTTP/1.1 100 Continue\r\n\r\n");
  });
});

describe("wholeResponse (tray's own answers)", () => {
  test("GET: head and body with its length", () => {
    const text = latin1(wholeResponse({ method: "GET", versionMinor: 1, keepAlive: false, status: 400, headers: [], date: DATE, server: "" }, Buffer.from("bad\n")));
    expect(text).toBe(`HTTP/1.1 400 Bad Request\r\nDate: ${DATE}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbad\n`);
  });
  test("HEAD: the head only, with the length a GET would get", () => {
    const text = latin1(wholeResponse({ method: "HEAD", versionMinor: 1, keepAlive: true, status: 503, headers: [], date: DATE, server: "" }, Buffer.from("busy\n")));
    expect(text).toBe(`HTTP/1.1 503 Service Unavailable\r\nDate: ${DATE}\r\nContent-Length: 5\r\n\r\n`);
  });
});
