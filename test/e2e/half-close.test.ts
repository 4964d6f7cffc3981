// A client that shuts down its sending side after its request (`printf ... | nc`, Apache's and Go's
// test clients) is still answered: RFC 9112 §9.6, the FIN ends the client's sending, not the
// exchange. And HEAD answered as Hono and Koa answer it (no body, no length) gets no false
// Content-Length (RFC 9110 §9.3.2). Both through dist/tray over raw sockets.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { FIXTURES, parseResponses } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { roundTrip, startOnFreePort } from "./http-helpers.ts";

let tray: Tray;

beforeAll(async () => {
  tray = await startOnFreePort(["app.ts"], { cwd: join(FIXTURES, "http") });
});

afterAll(async () => {
  await tray?.stop();
});

/** Writes `data`, then half-closes (FIN); collects everything until the server closes (bounded). */
function sendThenFin(port: number, data: string, maxMs = 5000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: false });
    }, maxMs);
    s.on("connect", () => s.end(Buffer.from(data, "latin1")));
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: true });
    });
  });
}

describe("a request followed at once by the client's FIN", () => {
  test("HTTP/1.0 GET then FIN: answered, then closed", async () => {
    const { text, closed } = await sendThenFin(tray.port, "GET /text HTTP/1.0\r\n\r\n");
    expect(closed).toBe(true);
    const [r] = parseResponses(text);
    expect(r.status).toBe(200);
    expect(r.body).toBe("hello world");
  });

  test("three pipelined requests then FIN: all three answered in order, then closed", async () => {
    const req = (p: string) => `GET ${p} HTTP/1.1\r\nHost: t\r\n\r\n`;
    const { text, closed } = await sendThenFin(tray.port, req("/text") + req("/slow?ms=200") + req("/text"));
    expect(closed).toBe(true);
    expect(parseResponses(text).map((r) => r.body)).toEqual(["hello world", "slept", "hello world"]);
  });

  test("a POST with its body, then FIN, while the app takes its time: answered", async () => {
    const { text } = await sendThenFin(tray.port, "POST /sha256 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    const [r] = parseResponses(text);
    expect(r.status).toBe(200);
    expect(r.body.startsWith("3 ")).toBe(true);
  });

  test("a request cut short by the FIN is not answered, and tray closes", async () => {
    const { text, closed } = await sendThenFin(tray.port, "POST /sha256 HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    expect(closed).toBe(true);
    expect(text).toBe("");
  });
});

describe("HEAD answered without a body or length (RFC 9110 §9.3.2, §8.6)", () => {
  test("no Content-Length: the GET has a body, so 0 would be false", async () => {
    const { responses } = await roundTrip(tray.port, "HEAD /head-as-hono HTTP/1.1\r\nHost: t\r\n\r\n", { noBody: () => true });
    expect(responses[0].status).toBe(200);
    expect(responses[0].header("content-length")).toBeUndefined();
    expect(responses[0].header("transfer-encoding")).toBeUndefined();
  });
  test("the connection stays usable after it", async () => {
    const { responses } = await roundTrip(tray.port, "HEAD /head-as-hono HTTP/1.1\r\nHost: t\r\n\r\nGET /text HTTP/1.1\r\nHost: t\r\n\r\n", { responses: 2, noBody: (i) => i === 0 });
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(responses[1].body).toBe("hello world");
  });
});
