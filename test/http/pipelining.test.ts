// Pipelining and persistence (RFC 9112 §9.3, §9.3.2): several requests in one read, bodies that
// contain text looking like a request, empty lines between requests, and the parser's state
// carried from one message to the next. A body is framed only by its own header fields, so text
// inside it must never become a request, and a request's end must never swallow the next one.
import { describe, expect, test } from "bun:test";
import { RequestParser } from "../../src/http/parser.ts";
import { acceptsAll, acceptsThenRejects, registerRows } from "./table.ts";
import type { Row } from "./table.ts";
import { bytes, feedChunks, outcome, parse } from "./harness.ts";

const H = "Host: example.com\r\n";
const GET = (path: string): string => `GET ${path} HTTP/1.1\r\n${H}\r\n`;

describe("several requests in one chunk", () => {
  const rows: Row[] = [
    ["two GETs", GET("/a") + GET("/b"), acceptsAll({ head: { path: "/a" } }, { head: { path: "/b" } })],
    [
      "a GET, a Content-Length POST, a chunked POST, a GET",
      GET("/1") +
        `POST /2 HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc` +
        `POST /3 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n` +
        GET("/4"),
      acceptsAll(
        { head: { path: "/1" } },
        { head: { path: "/2", contentLength: 3 }, body: "abc" },
        { head: { path: "/3", chunked: true }, body: "de", trailers: ["T", "v"] },
        { head: { path: "/4" } },
      ),
    ],
    [
      "empty lines between requests are ignored (RFC 9112 §2.2)",
      `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\n\r\nq=42\r\n\r\n` + GET("/next"),
      acceptsAll({ head: { method: "POST" }, body: "q=42" }, { head: { path: "/next" } }),
    ],
    [
      "a Content-Length body that is a whole request stays a body",
      `POST /outer HTTP/1.1\r\n${H}Content-Length: 38\r\n\r\nGET /evil HTTP/1.1\r\nHost: evil.com\r\n\r\n` + GET("/after"),
      acceptsAll({ head: { path: "/outer" }, body: "GET /evil HTTP/1.1\r\nHost: evil.com\r\n\r\n" }, { head: { path: "/after" } }),
    ],
    [
      "a chunked body that is a whole request stays a body",
      `POST /outer HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n26\r\nGET /evil HTTP/1.1\r\nHost: evil.com\r\n\r\n\r\n0\r\n\r\n` + GET("/after"),
      acceptsAll({ head: { path: "/outer" }, body: "GET /evil HTTP/1.1\r\nHost: evil.com\r\n\r\n" }, { head: { path: "/after" } }),
    ],
    [
      "bytes past Content-Length are the next request",
      `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhelloGET /smuggled HTTP/1.1\r\n${H}\r\n`,
      acceptsAll({ body: "hello" }, { head: { method: "GET", path: "/smuggled" } }),
    ],
    [
      "a GET with no framing fields has no body: what follows is the next request",
      `GET /a HTTP/1.1\r\n${H}\r\nGET /b HTTP/1.1\r\n${H}\r\n`,
      acceptsAll({ head: { path: "/a" }, body: "" }, { head: { path: "/b" } }),
    ],
    [
      "a valid request then a broken one: the first is served, then 400",
      GET("/ok") + `GET  /bad HTTP/1.1\r\n${H}\r\n`,
      acceptsThenRejects(400, { head: { path: "/ok" } }),
    ],
    [
      "a valid request then a request with a Host missing",
      GET("/ok") + `GET /nohost HTTP/1.1\r\n\r\n`,
      acceptsThenRejects(400, { head: { path: "/ok" } }),
    ],
    [
      "a chunked body whose data is one byte short poisons the rest",
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nabcd\r\n0\r\n\r\n` + GET("/next"),
      acceptsThenRejects(400),
    ],
  ];
  registerRows(rows);

  test("a partial third request waits while two complete ones are out", () => {
    const o = parse(
      `POST /aaa HTTP/1.1\r\nContent-Length: 3\r\n${H}\r\nAAA\r\n` +
        `PUT /bbb HTTP/1.1\r\nContent-Length: 4\r\n${H}\r\nBBBB\r\n` +
        `PATCH /ccc HTTP/1.1\r\nContent-Length: 5\r\n${H}\r\nCCCC`,
    );
    expect(o.error).toBeNull();
    expect(o.messages.map((m) => [m.head.method, m.body, m.trailers !== null])).toEqual([
      ["POST", "AAA", true],
      ["PUT", "BBBB", true],
      ["PATCH", "CCCC", false],
    ]);
  });
});

describe("persistence across feeds on one parser", () => {
  test("a keep-alive request, then the next request in a later read", () => {
    const parser = new RequestParser();
    const first = parser.feed(bytes(`POST /1 HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\nok`));
    expect(first.map((e) => e.type)).toEqual(["head", "data", "end"]);
    expect(parser.feed(new Uint8Array(0))).toEqual([]);
    const second = parser.feed(bytes(GET("/2")));
    expect(second.map((e) => e.type)).toEqual(["head", "end"]);
    const head = second[0].type === "head" ? second[0].head : null;
    expect(head?.path).toBe("/2");
    // Nothing from the first message leaks into the second.
    expect(head?.contentLength).toBeNull();
    expect(head?.headers).toEqual(["Host", "example.com"]);
  });

  test("chunked state does not leak: trailers of one message are not the next one's", () => {
    const o = parse(`POST /1 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nA: 1\r\n\r\n` + GET("/2"));
    expect(o.error).toBeNull();
    expect(o.messages[1].head.chunked).toBe(false);
    expect(o.messages[1].trailers).toEqual([]);
  });

  test("after a Connection: close message nothing more is a request (RFC 9112 §9.6)", () => {
    const o = outcome(feedChunks([bytes(`GET /1 HTTP/1.1\r\n${H}Connection: close\r\n\r\n` + GET("/2"))]).steps);
    expect(o.messages.filter((m) => m.trailers !== null).map((m) => m.head.path)).toEqual(["/1"]);
  });

  test("after an HTTP/1.0 request without keep-alive nothing more is a request", () => {
    const o = outcome(feedChunks([bytes(`PUT /url HTTP/1.0\r\n\r\nPUT /url HTTP/1.1\r\n\r\n`)]).steps);
    expect(o.messages.filter((m) => m.trailers !== null).length).toBe(1);
  });

  test("an HTTP/1.0 keep-alive request is followed by the next", () => {
    const o = parse(`GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n`);
    expect(o.error).toBeNull();
    expect(o.messages.map((m) => [m.head.path, m.head.keepAlive])).toEqual([
      ["/1", true],
      ["/2", false],
    ]);
  });
});
