// RFC 9110 §7.8: after a request with an Upgrade field the parser stops; the bytes after it are
// the new protocol's (takeRest) unless the server does not switch (resume). Split at every offset.
import { describe, expect, test } from "bun:test";
import { RequestParser, type ParserEvent } from "../../src/http/parser.ts";

const enc = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));
const UPGRADE = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
const FRAME = "\x81\x85\x01\x02\x03\x04ig";
const NEXT = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

function feedSplit(parser: RequestParser, bytes: Uint8Array, at: number): ParserEvent[] {
  return [...parser.feed(bytes.subarray(0, at)), ...parser.feed(bytes.subarray(at))];
}

describe("a request with an Upgrade field", () => {
  test("is marked upgrade; one without is not", () => {
    const p = new RequestParser();
    const [head] = p.feed(enc(UPGRADE));
    expect(head.type === "head" && head.head.upgrade).toBe(true);
    const q = new RequestParser();
    const [plain] = q.feed(enc(NEXT));
    expect(plain.type === "head" && plain.head.upgrade).toBe(false);
  });

  test("stops the parser after it: the following bytes come back whole from takeRest(), at every split", () => {
    const bytes = enc(UPGRADE + FRAME + NEXT);
    for (let at = 0; at <= bytes.length; at++) {
      const p = new RequestParser();
      const events = feedSplit(p, bytes, at);
      expect(events.map((e) => e.type)).toEqual(["head", "end"]);
      expect(Buffer.from(p.takeRest()).toString("latin1")).toBe(FRAME + NEXT);
      expect(p.feed(enc(NEXT))).toEqual([]);
    }
  });

  test("resume() parses the kept bytes as HTTP when the server does not switch, at every split", () => {
    const bytes = enc(UPGRADE + NEXT);
    for (let at = 0; at <= bytes.length; at++) {
      const p = new RequestParser();
      expect(feedSplit(p, bytes, at).map((e) => e.type)).toEqual(["head", "end"]);
      const resumed = p.resume();
      expect(resumed.map((e) => e.type)).toEqual(["head", "end"]);
      expect(resumed[0].type === "head" && resumed[0].head.target).toBe("/next");
    }
  });
});
