// Graceful shutdown of the built binary (DESIGN.md §2, issue 3): on SIGTERM or SIGINT tray stops
// accepting, lets in-flight requests finish within --shutdown-timeout, closes idle keep-alive
// connections, removes its unix socket file, and exits 0.

import { afterEach, describe, setDefaultTimeout, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { rawConnect } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { RawClient, exitWithin, makeScratch, marker, startFaultTray, waitFor } from "./fault-helpers.ts";
import type { Scratch } from "./fault-helpers.ts";

const TEST_TIMEOUT_MS = 60_000;
// Every test here is bounded by this (bunfig's [test] timeout is not applied by bun 1.4.5).
setDefaultTimeout(TEST_TIMEOUT_MS);

let scratch: Scratch | null = null;
let tray: Tray | null = null;

afterEach(async () => {
  if (tray !== null) await tray.stop();
  tray = null;
  scratch?.cleanup();
  scratch = null;
});

async function start(args: string[], opts: { autoPort?: boolean } = {}): Promise<{ t: Tray; s: Scratch }> {
  scratch = makeScratch();
  tray = await startFaultTray(args, scratch, opts);
  return { t: tray, s: scratch };
}

/** What a brand-new connection gets: refused, accepted then closed unserved, or served. */
async function newConnection(port: number): Promise<"refused" | "unserved" | "served"> {
  let c: RawClient;
  try {
    c = await RawClient.open(port);
  } catch {
    return "refused";
  }
  c.send("GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const r = await c.response(1500);
  c.destroy();
  return r === null ? "unserved" : "served";
}

describe("graceful shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(
      `${signal} with a request in flight: new connections are refused, the request completes with 200, exit 0`,
      async () => {
        const { t, s } = await start([]);
        const c = await RawClient.open(t.port);
        c.send("GET /sleep?ms=5000&id=inflight HTTP/1.1\r\nHost: t\r\n\r\n");
        expect(await waitFor(() => marker(s, "started-inflight") !== null, 5000)).toBe(true);
        const signalled = Date.now();
        t.proc.kill(signal);
        // Stop accepting: soon after the signal (the handler runs asynchronously, so poll) new
        // connections are refused, while the in-flight request is still sleeping.
        const refusal = await waitFor(async () => ((await newConnection(t.port)) === "refused" ? "refused" : null), 2500, 100);
        expect(refusal).toBe("refused");
        expect(marker(s, "finished-inflight")).toBeNull();
        const r = await c.response(15_000);
        c.destroy();
        expect(r?.status).toBe(200);
        expect(r?.body.toString()).toBe("slept 5000");
        expect(await exitWithin(t, 10_000)).toBe(0);
        console.log(`${signal}: new connections refused while in flight; exited ${Date.now() - signalled} ms after the signal`);
      },
      TEST_TIMEOUT_MS,
    );
  }

  test(
    "--shutdown-timeout=1 with a request that never ends: exits 0 within a few seconds, the client is disconnected",
    async () => {
      const { t, s } = await start(["--shutdown-timeout=1"]);
      const c = await RawClient.open(t.port);
      c.send("GET /hang?id=forever HTTP/1.1\r\nHost: t\r\n\r\n");
      expect(await waitFor(() => marker(s, "started-forever") !== null, 5000)).toBe(true);
      const signalled = Date.now();
      t.proc.kill("SIGTERM");
      const code = await exitWithin(t, 10_000);
      const ms = Date.now() - signalled;
      console.log(`--shutdown-timeout=1: exited ${ms} ms after SIGTERM`);
      expect(code).toBe(0);
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(5000);
      expect(await c.closesWithin(2000)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "idle keep-alive connections are closed at once: exit 0 long before the 30 s default grace period",
    async () => {
      const { t } = await start([]);
      const idle: RawClient[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await RawClient.open(t.port);
        c.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n");
        expect((await c.response())?.status).toBe(200);
        idle.push(c);
      }
      const signalled = Date.now();
      t.proc.kill("SIGTERM");
      for (const c of idle) expect(await c.closesWithin(5000)).toBe(true);
      expect(await exitWithin(t, 5000)).toBe(0);
      console.log(`idle keep-alive shutdown: exited ${Date.now() - signalled} ms after SIGTERM`);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a keep-alive connection with a request in flight gets its response, marked Connection: close, then is closed",
    async () => {
      const { t, s } = await start([]);
      const c = await RawClient.open(t.port);
      c.send("GET /sleep?ms=1000&id=last HTTP/1.1\r\nHost: t\r\n\r\n");
      expect(await waitFor(() => marker(s, "started-last") !== null, 5000)).toBe(true);
      t.proc.kill("SIGTERM");
      const r = await c.response(10_000);
      expect(r?.status).toBe(200);
      expect(r?.headers.connection?.toLowerCase()).toBe("close");
      expect(await c.closesWithin(5000)).toBe(true);
      expect(await exitWithin(t, 10_000)).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "the unix socket file is served and then removed at exit",
    async () => {
      scratch = makeScratch();
      const path = join(scratch.state, "..", "tray.sock");
      tray = await startFaultTray([`--unix-socket=${path}`], scratch, { autoPort: false });
      expect(tray.stderr()).toContain(`Serving on unix:${path}`);
      expect(existsSync(path)).toBe(true);
      const s = await rawConnect(path);
      s.destroy();
      const c = await RawClient.open(path);
      c.send("GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
      expect((await c.response())?.status).toBe(200);
      c.destroy();
      tray.proc.kill("SIGTERM");
      expect(await exitWithin(tray, 10_000)).toBe(0);
      expect(existsSync(path)).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );
});
