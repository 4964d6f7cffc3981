// The response writer through dist/tray: pipelined responses of mixed sizes (small ones copied
// together with their heads into one write, large bodies written as they are, streams in chunked
// coding) reach the client complete, byte for byte, and in request order (RFC 9112 §9.3.2).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { FIXTURES, exchange, parseResponses, startTray, type Tray } from "./harness.ts";
import { pattern } from "../fixtures/e2e/output/app.ts";

const APP = join(FIXTURES, "output", "app.ts");
const KINDS = ["small", "big", "bytes", "stream"] as const;

function expected(kind: (typeof KINDS)[number], n: number): string {
  switch (kind) {
    case "small":
      return `small ${n}.`;
    case "big":
      return pattern(n, 64 * 1024 + n);
    case "bytes":
      return pattern(n, 40 * 1024 + n);
    case "stream":
      return pattern(n, 60 * 1024);
  }
}

/** 24 requests, the four kinds interleaved so every kind follows every other. */
function pipeline(): { raw: string; want: Array<[string, string]> } {
  let raw = "";
  const want: Array<[string, string]> = [];
  for (let n = 0; n < 24; n++) {
    const kind = KINDS[(n + Math.floor(n / 4)) % 4];
    // The last one closes the connection, so the client knows the stream is complete.
    raw += `GET /${kind}/${n} HTTP/1.1\r\nHost: t\r\n${n === 23 ? "Connection: close\r\n" : ""}\r\n`;
    want.push([kind, expected(kind, n)]);
  }
  return { raw, want };
}

for (const lookahead of [0, 8]) {
  describe(`--channel-request-lookahead=${lookahead}`, () => {
    let tray: Tray;
    beforeAll(async () => {
      tray = await startTray(["--threads=2", `--channel-request-lookahead=${lookahead}`, APP]);
    });
    afterAll(async () => {
      await tray.stop();
    });

    test("pipelined small, large, byte and streamed responses arrive whole and in order", async () => {
      const { raw, want } = pipeline();
      const { text, closed } = await exchange(tray.port, raw, { idleMs: 5000 });
      expect(closed).toBe(true);
      const responses = parseResponses(text);
      expect(responses.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) {
        const [kind, body] = want[i];
        expect(responses[i].status).toBe(200);
        if (kind === "stream") expect(responses[i].headers["transfer-encoding"]).toBe("chunked");
        else expect(responses[i].headers["content-length"]).toBe(String(body.length));
        expect(responses[i].body.length).toBe(body.length);
        expect(responses[i].body === body).toBe(true);
      }
    });

    test("the same over eight connections at once", async () => {
      const runs = await Promise.all(Array.from({ length: 8 }, () => exchange(tray.port, pipeline().raw, { idleMs: 5000 })));
      const { want } = pipeline();
      for (const { text } of runs) {
        const responses = parseResponses(text);
        expect(responses.map((r) => r.body.length)).toEqual(want.map(([, body]) => body.length));
        expect(responses.every((r, i) => r.body === want[i][1])).toBe(true);
      }
    });
  });
}
