// Faults through the built binary (issue 3, "Faults"; DESIGN.md §1 and §3): a handler that
// throws, rejects, returns a non-Response, exits its Worker or never answers; clients that
// vanish mid-request or mid-response; --connection-limit; --channel-timeout; garbage bytes.
// In every case the server keeps serving, and nothing is left behind (temp files, open files).
// The fixture app (test/fixtures/e2e/faults/app.ts) reports what happened inside the Workers
// through marker files.

import { afterAll, beforeAll, describe, setDefaultTimeout, expect, test } from "bun:test";
import { rawConnect } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { MiB, RawClient, get, makeScratch, marker, openFilesUnder, sendPatternBody, startFaultTray, trayTempFiles, waitFor } from "./fault-helpers.ts";
import type { Scratch } from "./fault-helpers.ts";

const TEST_TIMEOUT_MS = 60_000;
// Every test here is bounded by this (bunfig's [test] timeout is not applied by bun 1.4.5).
setDefaultTimeout(TEST_TIMEOUT_MS);

function request(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
}

/** A fresh connection gets 200 "ok" from GET /ok. */
async function healthy(t: Tray): Promise<boolean> {
  const r = await get(t.port, "/ok", 10_000);
  return r !== null && r.status === 200 && r.body.toString() === "ok" && t.proc.exitCode === null;
}

/** stderr of tray has no sign of an internal failure (a crash in tray itself, not in the app). */
function noInternalError(t: Tray): void {
  expect(t.stderr()).not.toMatch(/internal error|a bug in tray|Uncaught|unhandled/i);
}

describe("a handler that fails", () => {
  let scratch: Scratch;
  let tray: Tray;
  beforeAll(async () => {
    scratch = makeScratch();
    tray = await startFaultTray([], scratch);
  });
  afterAll(async () => {
    await tray.stop();
    scratch.cleanup();
  });

  for (const [path, message] of [
    ["/throw", "boom-throw"],
    ["/reject", "boom-reject"],
    ["/non-response", null],
  ] as const) {
    test(`GET ${path} gets 500 "Internal Server Error" without the stack, is logged with its request line, and the next request on the connection is served`, async () => {
      const c = await RawClient.open(tray.port);
      c.send(request(path));
      const r = await c.response();
      expect(r).not.toBeNull();
      expect(r!.status).toBe(500);
      expect(r!.body.toString()).toContain("Internal Server Error");
      expect(r!.body.toString()).not.toContain("boom");
      expect(r!.body.toString()).not.toContain("app.ts");
      // The log names the request and (when there is one) the error.
      expect(await waitFor(() => tray.stderr().includes(`GET ${path} HTTP/1.1`), 3000)).toBe(true);
      if (message !== null) expect(tray.stderr()).toContain(message);
      // Same connection, next request: fine.
      c.send(request("/ok"));
      const next = await c.response();
      c.destroy();
      expect(next?.status).toBe(200);
      expect(next?.body.toString()).toBe("ok");
      expect(await healthy(tray)).toBe(true);
      noInternalError(tray);
    });
  }

  test("many failing requests at once leave every Worker serving", async () => {
    const paths = Array.from({ length: 30 }, (_, i) => ["/throw", "/reject", "/non-response"][i % 3]);
    const results = await Promise.all(paths.map((p) => get(tray.port, p)));
    expect(results.map((r) => r?.status)).toEqual(paths.map(() => 500));
    const oks = await Promise.all(Array.from({ length: 8 }, () => get(tray.port, "/ok")));
    expect(oks.map((r) => r?.status)).toEqual(oks.map(() => 200));
  });
});

describe("--expose-tracebacks", () => {
  test("puts the error and its stack in the 500 body", async () => {
    const scratch = makeScratch();
    const tray = await startFaultTray(["--expose-tracebacks"], scratch);
    try {
      const r = await get(tray.port, "/throw");
      expect(r?.status).toBe(500);
      expect(r!.body.toString()).toContain("Internal Server Error");
      expect(r!.body.toString()).toContain("boom-throw");
      expect(r!.body.toString()).toContain("app.ts");
    } finally {
      await tray.stop();
      scratch.cleanup();
    }
  });
});

describe("a Worker that calls process.exit()", () => {
  let scratch: Scratch;
  let tray: Tray;
  beforeAll(async () => {
    scratch = makeScratch();
    tray = await startFaultTray(["--threads=2"], scratch);
  });
  afterAll(async () => {
    await tray.stop();
    scratch.cleanup();
  });

  test(
    "fails only its own request (500/503); a slow request on the other Worker completes; the Worker is replaced",
    async () => {
      // A slow request occupies one Worker; least-busy dispatch sends /exit to the other.
      const slow = await RawClient.open(tray.port);
      slow.send(request("/sleep?ms=2000&id=beside-exit"));
      expect(await waitFor(() => marker(scratch, "started-beside-exit") !== null, 5000)).toBe(true);

      const dying = await get(tray.port, "/exit");
      expect(dying).not.toBeNull();
      expect([500, 503]).toContain(dying!.status);

      const slowReply = await slow.response(10_000);
      slow.destroy();
      expect(slowReply?.status).toBe(200);
      expect(slowReply?.body.toString()).toBe("slept 2000");
      expect(tray.proc.exitCode).toBeNull();
      expect(await healthy(tray)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "repeated exits never take the server down: afterwards both Workers still run requests concurrently",
    async () => {
      for (let i = 0; i < 4; i++) {
        const r = await get(tray.port, "/exit");
        expect([500, 503]).toContain(r?.status ?? 0);
      }
      // Let replacements load, then prove there are two Workers again: two 1.5 s sleeps plus a
      // fast request all complete, and /ok is not stuck behind anything.
      expect(await waitFor(() => healthy(tray), 10_000, 200)).toBe(true);
      const sleeps = [get(tray.port, "/sleep?ms=1500&id=after-exit-a"), get(tray.port, "/sleep?ms=1500&id=after-exit-b")];
      const ok = await get(tray.port, "/ok");
      expect(ok?.status).toBe(200);
      expect((await Promise.all(sleeps)).map((r) => r?.status)).toEqual([200, 200]);
      expect(tray.proc.exitCode).toBeNull();
      noInternalError(tray);
    },
    TEST_TIMEOUT_MS,
  );
});

describe("a handler that never resolves", () => {
  let scratch: Scratch;
  let tray: Tray;
  beforeAll(async () => {
    scratch = makeScratch();
    // One Worker: the hanging requests and the others share it, so "not blocked" means the
    // Worker runs requests concurrently, not that another Worker picked them up.
    tray = await startFaultTray(["--threads=1"], scratch);
  });
  afterAll(async () => {
    await tray.stop();
    scratch.cleanup();
  });

  test("does not block other requests, and its client can disconnect without harm", async () => {
    const hanging: RawClient[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await RawClient.open(tray.port);
      c.send(request(`/hang?id=h${i}`));
      hanging.push(c);
    }
    expect(await waitFor(() => marker(scratch, "started-h9") !== null, 5000)).toBe(true);
    const others = await Promise.all(Array.from({ length: 10 }, (_, i) => get(tray.port, `/sleep?ms=50&id=o${i}`)));
    expect(others.map((r) => r?.status)).toEqual(others.map(() => 200));
    // The hanging requests got nothing (no timeout answers them: the app owns its time).
    expect(hanging.every((c) => c.buffered === 0 && !c.closed)).toBe(true);
    for (const c of hanging) c.destroy();
    await Bun.sleep(300);
    expect(await healthy(tray)).toBe(true);
    noInternalError(tray);
  });

  test("a client that disconnects aborts request.signal in the app", async () => {
    const c = await RawClient.open(tray.port);
    c.send(request("/hang?id=abort-me"));
    expect(await waitFor(() => marker(scratch, "started-abort-me") !== null, 5000)).toBe(true);
    expect(marker(scratch, "aborted-abort-me")).toBeNull();
    c.destroy();
    expect(await waitFor(() => marker(scratch, "aborted-abort-me") !== null, 5000)).toBe(true);
    expect(await healthy(tray)).toBe(true);
  });
});

describe("a client that disconnects", () => {
  let scratch: Scratch;
  let tray: Tray;
  let pid: number;
  beforeAll(async () => {
    scratch = makeScratch();
    tray = await startFaultTray([], scratch);
    pid = tray.proc.pid!;
  });
  afterAll(async () => {
    await tray.stop();
    scratch.cleanup();
  });

  test("mid-request (half of a body spilled to a temp file): the server stays healthy, the app is not called, the temp file is deleted", async () => {
    for (const chunked of [false, true]) {
      const id = chunked ? "half-chunked" : "half-length";
      const c = await RawClient.open(tray.port);
      const framing = chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${64 * MiB}`;
      c.send(`POST /hash?id=${id} HTTP/1.1\r\nHost: t\r\n${framing}\r\n\r\n`);
      await sendPatternBody(c.socket, 4 * MiB, { chunked, unfinished: true });
      // The unfinished body is on disk (past the default 512 KiB --inbuf-overflow)...
      expect(await waitFor(() => openFilesUnder(pid, scratch.tmp).length > 0, 5000)).toBe(true);
      c.destroy();
      // ...and gone once the client is.
      expect(await waitFor(() => trayTempFiles(scratch, pid).length === 0, 5000)).toBe(true);
      expect(await waitFor(() => openFilesUnder(pid, scratch.tmp).length === 0, 3000)).toBe(true);
      expect(marker(scratch, `hash-called-${id}`)).toBeNull();
      expect(await healthy(tray)).toBe(true);
    }
  });

  test("mid-request (a small in-memory body, or half a head): the server stays healthy", async () => {
    for (const bytes of [
      "POST /hash?id=small HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nonly a few bytes",
      "GET /ok HTTP/1.1\r\nHost: t\r\nX-Half: ",
      "POST /hash?id=small-chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
    ]) {
      const s = await rawConnect(tray.port);
      s.write(bytes);
      await Bun.sleep(100);
      s.destroy();
    }
    await Bun.sleep(200);
    expect(marker(scratch, "hash-called-small")).toBeNull();
    expect(marker(scratch, "hash-called-small-chunked")).toBeNull();
    expect(await healthy(tray)).toBe(true);
    noInternalError(tray);
  });

  test(
    "mid-response (after 1 MiB of a 200 MiB stream): the app's stream is cancelled, nothing is left open, the server stays healthy",
    async () => {
      const c = await RawClient.open(tray.port);
      c.send(request(`/stream?size=${200 * MiB}&id=gone`));
      expect(await waitFor(() => c.buffered > MiB, 10_000)).toBe(true);
      c.destroy();
      const cancelled = await waitFor(() => marker(scratch, "cancel-gone"), 5000);
      expect(cancelled).not.toBeNull();
      // It was cancelled part-way, not run to the end.
      expect(Number(cancelled)).toBeLessThan(200 * MiB);
      expect(marker(scratch, "done-gone")).toBeNull();
      // Other routes (any Worker) see the same: the cancellation is visible through the app.
      const seen = await get(tray.port, "/state?name=cancel-gone");
      expect(seen?.status).toBe(200);
      expect(await waitFor(() => openFilesUnder(pid, scratch.tmp).length === 0, 3000)).toBe(true);
      expect(trayTempFiles(scratch, pid)).toEqual([]);
      expect(await healthy(tray)).toBe(true);
      noInternalError(tray);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "mid-response while the app is held back by flow control: the paused stream is still cancelled",
    async () => {
      const c = await RawClient.open(tray.port);
      c.send(request(`/stream?size=${200 * MiB}&id=held`));
      expect(await waitFor(() => c.buffered > MiB, 10_000)).toBe(true);
      c.socket.pause();
      // Wait until the app stops producing (the server stopped acknowledging: high watermark).
      let before = "";
      const held = await waitFor(async () => {
        const now = marker(scratch, "produced-held") ?? "";
        const still = now !== "" && now === before;
        before = now;
        if (!still) await Bun.sleep(500);
        return still;
      }, 15_000, 10);
      expect(held).toBe(true);
      expect(Number(before)).toBeLessThan(100 * MiB);
      c.destroy();
      expect(await waitFor(() => marker(scratch, "cancel-held") !== null, 5000)).toBe(true);
      expect(await waitFor(() => openFilesUnder(pid, scratch.tmp).length === 0, 3000)).toBe(true);
      expect(await healthy(tray)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );
});

describe("--connection-limit", () => {
  test("with the limit reached a new connection waits, unserved, and is served once one closes", async () => {
    const scratch = makeScratch();
    const tray = await startFaultTray(["--connection-limit=2"], scratch);
    try {
      const a = await RawClient.open(tray.port);
      const b = await RawClient.open(tray.port);
      for (const c of [a, b]) {
        c.send(request("/ok"));
        expect((await c.response())?.status).toBe(200);
      }
      const third = await RawClient.open(tray.port);
      third.send(request("/ok"));
      expect(await third.response(1500)).toBeNull();
      expect(third.closed).toBe(false); // waiting, not dropped
      a.destroy();
      const r = await third.response(10_000);
      expect(r?.status).toBe(200);
      // The other admitted connection was never disturbed.
      b.send(request("/ok"));
      expect((await b.response())?.status).toBe(200);
      b.destroy();
      third.destroy();
    } finally {
      await tray.stop();
      scratch.cleanup();
    }
  });
});

// --channel-timeout's rules (idle keep-alive, a half-sent body, a busy request spared) and
// --header-timeout's are unit tests on a fake clock: test/server/connection.test.ts. Here, only
// that the deadline is wired through dist/tray.
describe("--header-timeout", () => {
  let scratch: Scratch;
  let tray: Tray;
  beforeAll(async () => {
    scratch = makeScratch();
    tray = await startFaultTray(["--header-timeout=1"], scratch);
  });
  afterAll(async () => {
    await tray.stop();
    scratch.cleanup();
  });

  test("a slowloris connection (half a head, then a byte now and then) gets 408 and is closed within a few seconds", async () => {
    const c = await RawClient.open(tray.port);
    c.send("GET /ok HTTP/1.1\r\nHost: t\r\nX-Slow: ");
    const trickle = setInterval(() => c.send("a"), 300); // each byte would reset --channel-timeout
    try {
      const r = await c.response(8000);
      expect(r?.status).toBe(408);
      expect(await c.closesWithin(3000)).toBe(true);
    } finally {
      clearInterval(trickle);
      c.destroy();
    }
  });
});

describe("garbage bytes", () => {
  test("random bytes on many connections never crash the server; a valid request works afterwards", async () => {
    const scratch = makeScratch();
    const tray = await startFaultTray([], scratch);
    try {
      let seed = 12345;
      const rand = () => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) / 2 ** 32;
      };
      const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
      // Bytes HTTP cares about, so the parser gets deep into its states before failing.
      const alphabet = " \r\n:\t/GETPOSThttp1.0123456789abcxyz;=,\"\x00\x7f";
      const randomText = (n: number) => Buffer.from(Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(""), "latin1");
      const payloads: Uint8Array[] = [];
      for (let i = 0; i < 8; i++) payloads.push(randomBytes(1 + Math.floor(rand() * 8192)));
      for (let i = 0; i < 6; i++) payloads.push(randomText(1 + Math.floor(rand() * 4096)));
      for (let i = 0; i < 4; i++) payloads.push(Buffer.concat([Buffer.from("GET / HTTP/1.1\r\n"), randomBytes(2000)]));
      for (let i = 0; i < 4; i++) {
        payloads.push(Buffer.concat([Buffer.from("POST /hash HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"), randomText(3000)]));
      }
      payloads.push(new Uint8Array(300 * 1024)); // NULs past the head limit
      payloads.push(Buffer.from("\r\n".repeat(50_000), "latin1"));
      const replies = await Promise.all(
        payloads.map(async (p) => {
          const s = await RawClient.open(tray.port);
          s.send(p);
          const r = await s.response(3000);
          s.destroy();
          return r;
        }),
      );
      for (const r of replies) {
        // Either nothing (the server closed or is waiting for more) or an error status; never a 500.
        if (r !== null) {
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).not.toBe(500);
        }
      }
      expect(tray.proc.exitCode).toBeNull();
      expect(await healthy(tray)).toBe(true);
      const c = await RawClient.open(tray.port);
      c.send(request("/ok") + request("/ok"));
      expect((await c.response())?.status).toBe(200);
      expect((await c.response())?.status).toBe(200);
      c.destroy();
      noInternalError(tray);
    } finally {
      await tray.stop();
      scratch.cleanup();
    }
  }, TEST_TIMEOUT_MS);
});
