// Pipelining floods (issue 13 item 8): clients that write pipelined requests and never read their
// answers cost a bounded amount each. tray stops reading such a connection once its unanswered
// requests pass a bound (and parses a large read a slice at a time), so the rest waits in the
// socket. Bounded: 10 clients x 100,000 GETs on 127.0.0.1 for ~3 s; the test ends them all.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { join } from "node:path";
import { FIXTURES, rssOf } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { roundTrip, startOnFreePort } from "./http-helpers.ts";

const CLIENTS = 10;
const REQUESTS = 100_000;
const MiB = 1024 * 1024;

let tray: Tray;

beforeAll(async () => {
  tray = await startOnFreePort(["app.ts"], { cwd: join(FIXTURES, "http") });
});

afterAll(async () => {
  await tray?.stop();
});

test(`${CLIENTS} clients flooding ${REQUESTS} pipelined GETs each, never reading: RSS stays bounded and others are served`, async () => {
  const pid = tray.proc.pid!;
  const before = rssOf(pid);
  const batch = Buffer.from("GET /text HTTP/1.1\r\nHost: t\r\n\r\n".repeat(1000));
  const sockets: Socket[] = [];
  try {
    for (let c = 0; c < CLIENTS; c++) {
      const s = connect({ host: "127.0.0.1", port: tray.port });
      s.on("error", () => {});
      s.pause(); // never read the answers
      let sent = 0;
      const pump = () => {
        while (sent < REQUESTS) {
          sent += 1000;
          if (!s.write(batch)) return void s.once("drain", pump);
        }
      };
      s.on("connect", pump);
      sockets.push(s);
    }
    let peak = 0;
    for (let i = 0; i < 6; i++) {
      await Bun.sleep(500);
      peak = Math.max(peak, rssOf(pid));
    }
    // Before the bound: ~330 MiB of growth for this flood; after: ~60 MiB.
    expect(peak - before).toBeLessThan(150 * MiB);
    const { responses } = await roundTrip(tray.port, "GET /text HTTP/1.1\r\nHost: t\r\n\r\n", { timeoutMs: 5000 });
    expect(responses[0]?.body).toBe("hello world");
  } finally {
    for (const s of sockets) s.destroy();
  }
}, 30_000);
