// Limits passed in from the options (DESIGN.md §2, §4): head size -> 431 (RFC 6585 §5), target
// length -> 414 (RFC 9110 §15.5.15), body size -> 413 (RFC 9110 §15.5.14), decided from
// Content-Length before any body arrives and while chunked data arrives. Every limit must hold
// before the thing it bounds has ended: a parser that buffers until CRLF CRLF can be made to
// buffer forever.
import { describe, expect, test } from "bun:test";
import { DEFAULT_LIMITS } from "../../src/http/parser.ts";
import { accepts, check, registerRows, rejects, waits } from "./table.ts";
import type { Row } from "./table.ts";
import { parse } from "./harness.ts";

const H = "Host: example.com\r\n";

test("the defaults are DESIGN.md's: 256 KiB head, 8 KiB target, 1 GiB body, 100 field lines", () => {
  expect(DEFAULT_LIMITS).toEqual({ maxHeadSize: 256 * 1024, maxTargetLength: 8 * 1024, maxBodySize: 1024 * 1024 * 1024, maxFields: 100 });
});

describe("maxHeadSize 128 -> 431", () => {
  const limits = { maxHeadSize: 128 };
  const rows: Row[] = [
    ["a head well under the limit", `GET / HTTP/1.1\r\n${H}X: ${"a".repeat(40)}\r\n\r\n`, accepts({ method: "GET" })],
    ["a head over the limit", `GET / HTTP/1.1\r\n${H}X: ${"a".repeat(150)}\r\n\r\n`, rejects(431)],
    ["many small fields over the limit", `GET / HTTP/1.1\r\n${H}${"A: b\r\n".repeat(40)}\r\n`, rejects(431)],
    ["a head that never ends is refused once past the limit", `GET / HTTP/1.1\r\n${H}X: ${"a".repeat(1000)}`, rejects(431)],
    ["field lines that never end are refused once past the limit", `GET / HTTP/1.1\r\n${H}${"A: b\r\n".repeat(200)}`, rejects(431)],
    [
      "the limit is per message: two pipelined heads of 100 bytes each are fine",
      `GET /1 HTTP/1.1\r\n${H}X: ${"a".repeat(50)}\r\n\r\nGET /2 HTTP/1.1\r\n${H}X: ${"a".repeat(50)}\r\n\r\n`,
      { kind: "accepts", messages: [{ head: { path: "/1" }, body: "", trailers: [] }, { head: { path: "/2" }, body: "", trailers: [] }], thenStatus: null },
    ],
    [
      "a trailer section over the limit",
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX: ${"a".repeat(200)}\r\n\r\n`,
      rejects(431),
    ],
    [
      "a trailer section that never ends is refused once past the limit",
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n${"A: b\r\n".repeat(100)}`,
      rejects(431),
    ],
    [
      "a body is not head: a 1000-byte body under a 128-byte head limit",
      `POST / HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\n${"z".repeat(1000)}`,
      accepts({ contentLength: 1000 }, "z".repeat(1000)),
    ],
  ];
  registerRows(rows, limits);
});

describe("maxFields 3 -> 431 (issue 13 item 5: the count of field lines, not just their bytes)", () => {
  const limits = { maxFields: 3 };
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `F${i}: v\r\n`).join("");
  const rows: Row[] = [
    ["exactly 3 header fields, Host among them", `GET / HTTP/1.1\r\n${H}${fields(2)}\r\n`, accepts({ headers: ["Host", "example.com", "F0", "v", "F1", "v"] })],
    ["4 header fields", `GET / HTTP/1.1\r\n${H}${fields(3)}\r\n`, rejects(431)],
    ["repeats of one name count each (each is a line to store)", `GET / HTTP/1.1\r\n${H}${"A: b\r\n".repeat(3)}\r\n`, rejects(431)],
    ["refused at the 4th line's end, before the head ends", `GET / HTTP/1.1\r\n${H}${fields(3)}`, rejects(431)],
    ["3 lines so far is still a valid prefix", `GET / HTTP/1.1\r\n${H}${fields(2)}`, waits()],
    [
      "the count is per message: two pipelined heads of 3 fields each are fine",
      `GET /1 HTTP/1.1\r\n${H}${fields(2)}\r\nGET /2 HTTP/1.1\r\n${H}${fields(2)}\r\n`,
      { kind: "accepts", messages: [{ head: { path: "/1" }, body: "", trailers: [] }, { head: { path: "/2" }, body: "", trailers: [] }], thenStatus: null },
    ],
    [
      "3 trailer fields after 3 header fields are fine (counted apart)",
      `POST / HTTP/1.1\r\n${H}${fields(1)}Transfer-Encoding: chunked\r\n\r\n0\r\n${fields(3)}\r\n`,
      accepts({ chunked: true }, "", ["F0", "v", "F1", "v", "F2", "v"]),
    ],
    ["4 trailer fields", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n${fields(4)}\r\n`, rejects(431)],
  ];
  registerRows(rows, limits);
});

describe("maxTargetLength 16 -> 414", () => {
  const limits = { maxTargetLength: 16 };
  const rows: Row[] = [
    ["a target of exactly 16 bytes", `GET /${"a".repeat(15)} HTTP/1.1\r\n${H}\r\n`, accepts({ target: `/${"a".repeat(15)}` })],
    ["a target of 17 bytes", `GET /${"a".repeat(16)} HTTP/1.1\r\n${H}\r\n`, rejects(414)],
    ["an absolute-form target counts whole", `GET http://a.example/xxxxx HTTP/1.1\r\n${H}\r\n`, rejects(414)],
    ["a target that never ends is refused once past the limit", `GET /${"a".repeat(500)}`, rejects(414)],
    ["a short target with a long header is fine", `GET / HTTP/1.1\r\n${H}X: ${"a".repeat(100)}\r\n\r\n`, accepts({ path: "/" })],
  ];
  registerRows(rows, limits);
});

describe("maxBodySize 10 -> 413", () => {
  const limits = { maxBodySize: 10 };
  const POST = `POST / HTTP/1.1\r\n${H}`;
  const TE = `${POST}Transfer-Encoding: chunked\r\n\r\n`;
  const rows: Row[] = [
    ["Content-Length 10 is allowed", `${POST}Content-Length: 10\r\n\r\n0123456789`, accepts({ contentLength: 10 }, "0123456789")],
    ["Content-Length 11 is refused from the head alone, before any body", `${POST}Content-Length: 11\r\n\r\n`, rejects(413)],
    ["Content-Length 11 is refused even with its 11 bytes sent", `${POST}Content-Length: 11\r\n\r\n0123456789A`, rejects(413)],
    ["chunked: 10 bytes in two chunks is allowed", `${TE}5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n`, accepts({ chunked: true }, "0123456789")],
    ["chunked: one chunk of 11 is refused at its size line", `${TE}b\r\n`, rejects(413)],
    ["chunked: the second chunk takes it past 10", `${TE}6\r\n012345\r\n5\r\n`, rejects(413)],
    ["chunked: many one-byte chunks past 10", `${TE}${"1\r\nx\r\n".repeat(11)}0\r\n\r\n`, rejects(413)],
    ["chunked: a size of sixteen f's", `${TE}ffffffffffffffff\r\n`, rejects(413)],
    ["a body under the limit still waits for its bytes", `${POST}Content-Length: 10\r\n\r\n01234`, waits({ contentLength: 10 })],
  ];
  registerRows(rows, limits);
});

describe("limits left out keep their defaults", () => {
  test("a 10 KiB header under the default head limit, with only maxBodySize given", () => {
    check(parse(`GET / HTTP/1.1\r\n${H}X: ${"a".repeat(10 * 1024)}\r\n\r\n`, { maxBodySize: 10 }, 40), accepts({ method: "GET" }));
  });
  test("a target of 8 KiB is allowed and 8 KiB + 1 is 414 by default", () => {
    check(parse(`GET /${"a".repeat(8 * 1024 - 1)} HTTP/1.1\r\n${H}\r\n`, undefined, 40), accepts({ method: "GET" }));
    check(parse(`GET /${"a".repeat(8 * 1024)} HTTP/1.1\r\n${H}\r\n`, undefined, 40), rejects(414));
  });
  test("Content-Length of 1 GiB + 1 is 413 by default, from the head alone", () => {
    check(parse(`POST / HTTP/1.1\r\n${H}Content-Length: 1073741825\r\n\r\n`), rejects(413));
  });
  test("Content-Length of exactly 1 GiB is allowed by default (the body is awaited)", () => {
    check(parse(`POST / HTTP/1.1\r\n${H}Content-Length: 1073741824\r\n\r\n`), waits({ contentLength: 1073741824 }));
  });
  test("a head of more than 256 KiB is 431 by default", () => {
    check(parse(`GET / HTTP/1.1\r\n${H}${`X: ${"a".repeat(1000)}\r\n`.repeat(300)}\r\n`, undefined, 20), rejects(431));
  });
  test("a garbage line of 300 KiB with no CR or LF is refused, not buffered", () => {
    check(parse(`${"A".repeat(300 * 1024)}`, undefined, 10), rejects([400, 414, 431, 501]));
  });
});

describe("which limit answers never depends on where the bytes are cut", () => {
  // Both 414 and 431 are true of these requests; the split-at-every-offset harness checks that the
  // parser picks the same one however TCP delivers the bytes (found by the property tests).
  registerRows(
    [
      ["a long target in a head that is also too large", `GET /aaaaaaaaaa HTTP/1.1\r\nHost: a\r\nX: ${"b".repeat(60)}\r\n\r\n`, rejects([414, 431])],
      ["a long target in a finished request line, head unfinished", `GET /${"a".repeat(40)} HTTP/1.1\r\n`, rejects([414, 431])],
    ],
    { maxHeadSize: 64, maxTargetLength: 8 },
  );
  registerRows(
    [["a long target, then a bare LF in the head", `GET /${"a".repeat(30)} HTTP/1.0\r\nHost: aaa\n\r\n`, rejects([400, 414])]],
    { maxTargetLength: 24 },
  );
  registerRows([["a request line past both limits", `GET /${"a".repeat(40)} HTTP/1.1\r\n`, rejects([414, 431])]], { maxHeadSize: 40, maxTargetLength: 30 });
});
