// Slowloris with the defaults (issue 13 item 4): slow clients holding every --connection-limit slot
// do not deny service. Each sends half a request head and then a byte now and then, which resets
// --channel-timeout forever; tray sheds the one that has spent longest on its head (408) whenever
// a connection waits at the limit, so a well-behaved client is answered during the attack.
// Bounded: 100 attacking sockets on 127.0.0.1, the test ends them all.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { Socket } from "node:net";
import { FIXTURES, rawConnect } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { roundTrip, startOnFreePort } from "./http-helpers.ts";

const ATTACKERS = 100; // the default --connection-limit

let tray: Tray;

beforeAll(async () => {
  tray = await startOnFreePort(["app.ts"], { cwd: join(FIXTURES, "http") });
});

afterAll(async () => {
  await tray?.stop();
});

test(`${ATTACKERS} slowloris connections at the default limit: a good client is still answered within a few seconds`, async () => {
  const attackers: Socket[] = [];
  const trickle = setInterval(() => {
    for (const s of attackers) if (!s.destroyed) s.write("a");
  }, 500);
  try {
    for (let i = 0; i < ATTACKERS; i++) {
      const s = await rawConnect(tray.port);
      s.on("error", () => {});
      s.write("GET /text HTTP/1.1\r\nHost: t\r\nX-Slow: ");
      attackers.push(s);
    }
    await Bun.sleep(300); // every slot is held
    const started = Date.now();
    const { responses } = await roundTrip(tray.port, "GET /text HTTP/1.1\r\nHost: t\r\n\r\n", { timeoutMs: 8000 });
    expect(responses[0]?.body).toBe("hello world");
    expect(Date.now() - started).toBeLessThan(5000);
  } finally {
    clearInterval(trickle);
    for (const s of attackers) s.destroy();
  }
});
