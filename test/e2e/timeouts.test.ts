// --channel-timeout against clients that stop reading: a response the client will not read must
// not hold a connection (and its spill file, and a paused app stream) forever.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { FIXTURES, rawConnect, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";

let tray: Tray;
beforeAll(async () => {
  tray = await startTray(["--channel-timeout=1", "--cleanup-interval=1", "--threads=1", join("faults", "app.ts")], { cwd: FIXTURES });
});
afterAll(async () => {
  await tray.stop();
});

/**
 * Leaves the socket unread for `stallMs`, then reads: resolves with the bytes that were still
 * buffered when the server's close arrives, or -1 if it has not closed within `limitMs`.
 */
async function bytesBeforeClose(socket: import("node:net").Socket, stallMs: number, limitMs: number): Promise<number> {
  await Bun.sleep(stallMs);
  let n = 0;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(-1), limitMs);
    socket.on("data", (d: Buffer) => (n += d.byteLength));
    socket.once("close", () => (clearTimeout(timer), resolve(n)));
    socket.resume();
  });
}

describe("a client that stops reading", () => {
  test("a big streamed response it never reads is cut off after --channel-timeout", async () => {
    const socket = await rawConnect(tray.port);
    socket.pause(); // no reads: the socket buffers fill and the app is paused by flow control
    socket.on("error", () => {});
    socket.write("GET /stream?size=536870912&id=stalled HTTP/1.1\r\nHost: t\r\n\r\n");
    // Closed within a few seconds of silence, having sent only what the buffers held, not 512 MiB.
    const got = await bytesBeforeClose(socket, 3000, 10000); // the rule itself: connection.test.ts, on a clock
    socket.destroy();
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(128 * 1024 * 1024);
  }, 30000);

  test("a whole response it never reads is cut off too, and the server serves others meanwhile", async () => {
    const socket = await rawConnect(tray.port);
    socket.pause();
    socket.on("error", () => {});
    socket.write("GET /bytes?size=268435456 HTTP/1.1\r\nHost: t\r\n\r\n");
    const other = await fetch(`${tray.url}/ok`);
    expect(await other.text()).toBe("ok");
    const got = await bytesBeforeClose(socket, 3000, 10000); // the rule itself: connection.test.ts, on a clock
    socket.destroy();
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(256 * 1024 * 1024);
  }, 30000);
});
