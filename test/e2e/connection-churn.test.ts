// A burst of short-lived connections (Connection: close, one request each, RFC 9112 §9.6) must not
// pile up in the server: a connection both sides have closed is released at once, not held until
// some timer fires. (Each closed connection used to stay referenced by its 2 s linger timer: at
// ~20,000 connections/s that was ~40,000 connections and ~500 MiB of RSS at any moment.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { FIXTURES, rssOf, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";

const MiB = 1024 * 1024;
/** Connections in the burst, and how many are open at a time. */
const BURST = 20000;
const PARALLEL = 16;
/** RSS growth allowed over the burst (holding every closed connection for 2 s cost ~150 MiB). */
const GROWTH_LIMIT = 64 * MiB;
const TEST_TIMEOUT_MS = 60_000;

let tray: Tray;
beforeAll(async () => {
  tray = await startTray(["--threads=1", join("faults", "app.ts")], { cwd: FIXTURES });
});
afterAll(async () => {
  await tray.stop();
});

/** One request on a fresh connection; resolves with the response once the server has closed. */
function oneShot(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.write("GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("end", () => socket.end());
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("error", reject);
  });
}

async function burst(count: number): Promise<number> {
  let started = 0;
  let ok = 0;
  const deadline = Date.now() + TEST_TIMEOUT_MS / 2;
  const loop = async () => {
    while (started < count && Date.now() < deadline) {
      started++;
      const response = await oneShot(tray.port);
      if (response.startsWith("HTTP/1.1 200 ") && response.includes("\r\nConnection: close\r\n")) ok++;
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, loop));
  return ok;
}

test(
  `${BURST} short connections in a burst: every one answered and closed, and the server's RSS grows by less than ${GROWTH_LIMIT / MiB} MiB`,
  async () => {
    const pid = tray.proc.pid!;
    expect(await burst(500)).toBe(500); // warm-up: JIT, pools, the Worker
    const before = rssOf(pid);
    const started = Date.now();
    expect(await burst(BURST)).toBe(BURST);
    const growth = rssOf(pid) - before;
    console.log(`${BURST} connections in ${Date.now() - started} ms; RSS ${(before / MiB).toFixed(1)} MiB -> +${(growth / MiB).toFixed(1)} MiB`);
    expect(growth).toBeLessThan(GROWTH_LIMIT);
  },
  TEST_TIMEOUT_MS,
);
