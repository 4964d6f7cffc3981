// Issue 13, items 1, 3 and 7 through dist/tray: storage that fails, a crash, stalled readers.
// - A request body that cannot be stored (EMFILE, ENOSPC) gets 503 and a closed connection, never
//   a 200 with zeros; a response whose spill fails is cut off (closed), never chunk-size lines
//   without data; each episode is logged once.
// - After kill -9 mid-upload or mid-download, $TMPDIR holds nothing of tray's.
// - Clients that never read a big response cost bounded memory: past --outbuf-overflow it is on
//   disk.
// EMFILE is made with prlimit on the running server (its fd limit set to its lowest free
// descriptor, so every open fails, with no accept storm); ENOSPC with a 64 KiB tmpfs as TMPDIR
// (needs root to mount; skipped otherwise).

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import type { Socket } from "node:net";
import { rawConnect, rssOf } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { MiB, RawClient, StreamedResponse, makeScratch, mib, openFilesUnder, sendPatternBody, startFaultTray, trayTempFiles, waitFor, writeAll } from "./fault-helpers.ts";
import type { Scratch } from "./fault-helpers.ts";

const TEST_TIMEOUT_MS = 60_000;
setDefaultTimeout(TEST_TIMEOUT_MS);

let scratch: Scratch;
let tray: Tray | null = null;
let mounted: string | null = null;

beforeEach(() => {
  scratch = makeScratch();
});

afterEach(async () => {
  if (tray !== null && tray.proc.exitCode === null && tray.proc.signalCode === null) await tray.stop();
  tray = null;
  if (mounted !== null) spawnSync("umount", [mounted]);
  mounted = null;
  scratch.cleanup();
});

const STORE_LOG = /Cannot store (request bodies|responses) in a temp file/g;

function storeLogLines(t: Tray): string[] {
  return t.stderr().match(STORE_LOG) ?? [];
}

/** POST /hash with `size` pattern bytes; the response (null: closed without one). */
async function upload(t: Tray, size: number): Promise<{ status: number; body: string; sent: string }> {
  const c = await RawClient.open(t.port);
  c.send(`POST /hash HTTP/1.1\r\nHost: t\r\nContent-Length: ${size}\r\n\r\n`);
  let sent = "";
  try {
    sent = await sendPatternBody(c.socket, size, { piece: 64 * 1024 });
  } catch {
    // the server may close before taking it all
  }
  const r = await c.response(20_000);
  c.destroy();
  return { status: r?.status ?? 0, body: r?.body.toString("utf8") ?? "", sent };
}

/** The server's fd limit set so that no new descriptor can be opened (EMFILE); returns the old one. */
function exhaustDescriptors(pid: number): string {
  const old = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))!;
  const open = new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
  let lowestFree = 0;
  while (open.has(lowestFree)) lowestFree++;
  const r = spawnSync("prlimit", ["--pid", String(pid), `--nofile=${lowestFree}:${old[2]}`]);
  if (r.status !== 0) throw new Error(`prlimit failed: ${r.stderr}`);
  return `${old[1]}:${old[2]}`;
}

function restoreDescriptors(pid: number, limit: string): void {
  spawnSync("prlimit", ["--pid", String(pid), `--nofile=${limit}`]);
}

/** A 64 KiB tmpfs over the scratch TMPDIR, or false when this machine will not mount one. */
function tinyTmpfs(dir: string): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "none", dir]);
  if (r.status !== 0) return false;
  mounted = dir;
  return true;
}

const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const probe = makeScratch();
  try {
    const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "none", probe.tmp]);
    if (r.status !== 0) return false;
    spawnSync("umount", [probe.tmp]);
    return true;
  } finally {
    probe.cleanup();
  }
})();

describe("a request body that cannot be stored never reaches the app (issue 13 item 1)", () => {
  test("EMFILE while spilling an upload past --inbuf-overflow: 503 and close, never a 200; logged once; uploads work again once descriptors are free", async () => {
    tray = await startFaultTray(["--threads=1", "--inbuf-overflow=65536"], scratch);
    const pid = tray.proc.pid!;
    // The client is accepted first (its descriptor exists), then the server can open nothing more.
    const fdsBefore = readdirSync(`/proc/${pid}/fd`).length;
    const c = await RawClient.open(tray.port);
    const size = 2 * MiB;
    c.send(`POST /hash HTTP/1.1\r\nHost: t\r\nContent-Length: ${size}\r\n\r\n`);
    await writeAll(c.socket, new Uint8Array(1000).fill(0x61));
    expect(await waitFor(() => readdirSync(`/proc/${pid}/fd`).length > fdsBefore, 5000)).toBe(true);
    const old = exhaustDescriptors(pid);
    let status = 0;
    try {
      try {
        for (let sent = 1000; sent < size; sent += 64 * 1024) await writeAll(c.socket, new Uint8Array(Math.min(64 * 1024, size - sent)).fill(0x61));
      } catch {
        // closed early: fine
      }
      const r = await c.response(15_000);
      status = r?.status ?? 0;
      if (r !== null) expect(r.body.toString()).toContain("cannot store the request body");
      expect(await c.closesWithin(5000)).toBe(true);
    } finally {
      c.destroy();
      restoreDescriptors(pid, old);
    }
    expect([503, 0]).toContain(status); // 503, or closed: never the app's 200
    expect(storeLogLines(tray)).toHaveLength(1);
    const again = await upload(tray, 1 * MiB);
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body).sha256).toBe(again.sent);
  });

  test.skipIf(!canMount)("ENOSPC ($TMPDIR a full 64 KiB tmpfs): every upload past --inbuf-overflow gets 503, logged once for the episode; small ones still work", async () => {
    expect(tinyTmpfs(scratch.tmp)).toBe(true);
    tray = await startFaultTray(["--threads=1", "--inbuf-overflow=16384"], scratch);
    for (let i = 0; i < 3; i++) {
      const r = await upload(tray, 1 * MiB);
      expect(r.status).toBe(503);
      expect(r.body).toContain("cannot store the request body");
    }
    expect(storeLogLines(tray)).toHaveLength(1);
    const small = await upload(tray, 10_000);
    expect(small.status).toBe(200);
    expect(JSON.parse(small.body).sha256).toBe(small.sent);
  });
});

describe("a response whose spill fails is cut off, never framed around missing data (issue 13 item 1)", () => {
  for (const route of ["stream", "bytes"]) {
    test.skipIf(!canMount)(`ENOSPC spilling a /${route} response past --outbuf-overflow to a reader that waits: the connection closes, every byte that came is valid framing`, async () => {
      expect(tinyTmpfs(scratch.tmp)).toBe(true);
      tray = await startFaultTray(["--threads=1", "--outbuf-overflow=65536"], scratch);
      const size = 32 * MiB;
      const response = new StreamedResponse(() => {});
      const socket = await rawConnect(tray.port);
      socket.on("error", () => {});
      let isClosed = false;
      const closed = new Promise<void>((resolve) => socket.once("close", () => ((isClosed = true), resolve())));
      socket.pause();
      socket.write(`GET /${route}?size=${size}&id=r HTTP/1.1\r\nHost: t\r\n\r\n`);
      // The reader waits while the server spills (and fails), then reads what there is.
      expect(await waitFor(() => storeLogLines(tray!).length > 0, 10_000)).toBe(true);
      socket.on("data", (d: Buffer) => response.feed(d));
      socket.resume();
      await Promise.race([closed, Bun.sleep(15_000)]);
      expect(isClosed).toBe(true); // the server closed it: not left hanging, not framed as complete
      socket.destroy();
      console.log(`/${route} with a failing spill: ${mib(response.bodyBytes)} of ${mib(size)} arrived, then the connection closed`);
      expect(response.error).toBeNull(); // no chunk-size line without its data
      expect(response.complete).toBe(false);
      expect(response.bodyBytes).toBeLessThan(size);
      expect(storeLogLines(tray)).toHaveLength(1);
    });
  }
});

describe("temp files never survive a crash (issue 13 item 3)", () => {
  test("kill -9 mid-upload (body spilled past --inbuf-overflow): $TMPDIR holds no tray file", async () => {
    tray = await startFaultTray(["--inbuf-overflow=65536"], scratch);
    const pid = tray.proc.pid!;
    const c = await RawClient.open(tray.port);
    c.send(`POST /hash HTTP/1.1\r\nHost: t\r\nContent-Length: ${16 * MiB}\r\n\r\n`);
    await writeAll(c.socket, new Uint8Array(4 * MiB).fill(0x62));
    expect(await waitFor(() => openFilesUnder(pid, scratch.tmp).length > 0, 5000)).toBe(true);
    tray.proc.kill("SIGKILL");
    await tray.exited;
    c.destroy();
    expect(trayTempFiles(scratch, pid)).toEqual([]);
    expect(readdirSync(scratch.tmp)).toEqual([]);
  });

  test("kill -9 mid-download (response spilled past --outbuf-overflow to a reader that waits): $TMPDIR holds no tray file", async () => {
    tray = await startFaultTray(["--outbuf-overflow=65536"], scratch);
    const pid = tray.proc.pid!;
    const socket = await rawConnect(tray.port);
    socket.on("error", () => {});
    socket.pause();
    socket.write(`GET /stream?size=${64 * MiB}&id=k HTTP/1.1\r\nHost: t\r\n\r\n`);
    expect(await waitFor(() => openFilesUnder(pid, scratch.tmp).length > 0, 5000)).toBe(true);
    tray.proc.kill("SIGKILL");
    await tray.exited;
    socket.destroy();
    expect(readdirSync(scratch.tmp)).toEqual([]);
  });
});

describe("clients that never read cost bounded memory (issue 13 item 7)", () => {
  /** RSS growth the 20 x 20 MiB attack below may cost once the responses are produced: the
   *  spilled bytes are on disk, what stays is --outbuf-overflow (1 MiB) plus socket buffers per
   *  client. Before the fix: +423 MiB (/bytes) and +244 MiB (/stream). */
  const GROWTH_LIMIT = 150 * MiB;
  const CLIENTS = 20;
  const SIZE = 20 * MiB;

  for (const route of ["bytes", "stream"]) {
    test(`${CLIENTS} clients that never read a ${SIZE / MiB} MiB /${route} response: RSS grows less than ${GROWTH_LIMIT / MiB} MiB`, async () => {
      tray = await startFaultTray([], scratch);
      const pid = tray.proc.pid!;
      const base = rssOf(pid);
      const sockets: Socket[] = [];
      for (let i = 0; i < CLIENTS; i++) {
        const s = await rawConnect(tray.port);
        s.on("error", () => {});
        s.pause();
        s.write(`GET /${route}?size=${SIZE}&id=s${i} HTTP/1.1\r\nHost: t\r\n\r\n`);
        sockets.push(s);
      }
      try {
        // Until every response has been produced as far as flow control lets it (spill files
        // stop growing), then a moment for the runtime to give back what it freed.
        const spilled = () => openFilesUnder(pid, scratch.tmp).length;
        expect(await waitFor(() => spilled() === CLIENTS, 20_000)).toBe(true);
        await Bun.sleep(3000);
        const growth = rssOf(pid) - base;
        console.log(`${CLIENTS} x ${SIZE / MiB} MiB /${route}, never read: RSS ${mib(base)} -> +${mib(growth)}`);
        expect(growth).toBeLessThan(GROWTH_LIMIT);
      } finally {
        for (const s of sockets) s.destroy();
      }
    });
  }
});
