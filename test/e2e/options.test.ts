// Each option of DESIGN.md §2 changing what the built binary does, seen from outside over real
// sockets (issue 3: "Each option changes behaviour observably, or is shown to be accepted as a
// documented no-op"). One tray per describe block, serving test/fixtures/e2e/http/app.ts.
// Option parsing and exit-2 errors are tested in test/options.test.ts and test/e2e/cli.test.ts.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { FIXTURES, startTray } from "./harness.ts";
import type { StartOptions, Tray } from "./harness.ts";
import { converse, echoOf, get, quietPort, roundTrip, servingPorts, startOnFreePort } from "./http-helpers.ts";

const CWD = join(FIXTURES, "http");
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };

/** Starts one tray for a describe block and stops it after. */
function trayFor(args: string[], opts: StartOptions = {}): () => Tray {
  let tray: Tray;
  beforeAll(async () => {
    tray = await startOnFreePort([...args, "app.ts"], { cwd: CWD, ...opts });
  });
  afterAll(async () => {
    await tray?.stop();
  });
  return () => tray;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until the tray's stderr matches; returns whether it did. */
async function stderrMatches(t: Tray, re: RegExp, from: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (re.test(t.stderr().slice(from))) return true;
    await sleep(25);
  }
  return re.test(t.stderr().slice(from));
}

const HAS_IPV6_LOOPBACK = await new Promise<boolean>((resolve) => {
  const s = createServer();
  s.once("error", () => resolve(false));
  s.listen(0, "::1", () => s.close(() => resolve(true)));
});

describe("--threads", () => {
  const tray = trayFor(["--threads=3"]);

  test("--threads=3: concurrent requests are served by exactly 3 distinct Workers", async () => {
    // app.ts /worker answers its Worker's id (module state: each Worker loads the app once).
    const runs = await Promise.all(Array.from({ length: 12 }, () => roundTrip(tray().port, get("/worker?ms=300", "Connection: close\r\n"), { close: true })));
    const ids = new Set(runs.map((r) => r.responses[0].body));
    expect(runs.every((r) => r.responses[0].status === 200)).toBe(true);
    expect(ids.size).toBe(3);
  });
});

describe("--listen", () => {
  test("--listen given twice: both ports serve", async () => {
    const t = await startTray(["--listen=127.0.0.1:0", "--listen=127.0.0.1:0", "app.ts"], { cwd: CWD, autoPort: false, serving: 2 });
    try {
      const ports = servingPorts(t.stderr());
      expect(ports.length).toBe(2);
      expect(ports[0]).not.toBe(ports[1]);
      for (const port of ports) {
        const { responses } = await roundTrip(port, get("/text"));
        expect(responses[0].body).toBe("hello world");
      }
    } finally {
      await t.stop();
    }
  });

  test.skipIf(!HAS_IPV6_LOOPBACK)("--listen=[::1]:PORT serves over IPv6; the app sees an IPv6 peer", async () => {
    const t = await startTray(["--listen=[::1]:0", "app.ts"], { cwd: CWD, autoPort: false });
    try {
      expect(t.stderr()).toMatch(/Serving on http:\/\/\[::1\]:\d+/);
      const port = servingPorts(t.stderr())[0];
      const c = await converse(port, "::1");
      try {
        c.send("GET /echo HTTP/1.1\r\nHost: [::1]\r\n\r\n");
        const [r] = await c.waitForResponses(1);
        const echo = echoOf(r);
        expect(echo.url).toBe("http://[::1]/echo");
        expect(echo.requestIP).toEqual({ address: "::1", family: "IPv6", port: c.socket.localPort! });
      } finally {
        c.destroy();
      }
    } finally {
      await t.stop();
    }
  });
});

describe("--listen=*:PORT with --ipv4 / --ipv6", () => {
  /** Whether a TCP connection to host:port is accepted. */
  const accepts = (port: number, host: string) =>
    converse(port, host).then(
      (c) => (c.destroy(), true),
      () => false,
    );

  test.skipIf(!HAS_IPV6_LOOPBACK)("*:PORT binds both families: 127.0.0.1 and ::1 are served", async () => {
    const port = await quietPort();
    const t = await startTray([`--listen=*:${port}`, "app.ts"], { cwd: CWD, autoPort: false, serving: 2 });
    try {
      for (const host of ["127.0.0.1", "::1"]) {
        const c = await converse(port, host);
        try {
          c.send(get("/text"));
          expect((await c.waitForResponses(1))[0].body).toBe("hello world");
        } finally {
          c.destroy();
        }
      }
    } finally {
      await t.stop();
    }
  });

  test.skipIf(!HAS_IPV6_LOOPBACK)("--no-ipv6: *:PORT binds IPv4 only", async () => {
    const port = await quietPort();
    const t = await startTray([`--listen=*:${port}`, "--no-ipv6", "app.ts"], { cwd: CWD, autoPort: false });
    try {
      expect(await accepts(port, "127.0.0.1")).toBe(true);
      expect(await accepts(port, "::1")).toBe(false);
    } finally {
      await t.stop();
    }
  });

  test.skipIf(!HAS_IPV6_LOOPBACK)("--no-ipv4: *:PORT binds IPv6 only", async () => {
    const port = await quietPort();
    const t = await startTray([`--listen=*:${port}`, "--no-ipv4", "app.ts"], { cwd: CWD, autoPort: false });
    try {
      expect(await accepts(port, "::1")).toBe(true);
      expect(await accepts(port, "127.0.0.1")).toBe(false);
    } finally {
      await t.stop();
    }
  });
});

describe("--unix-socket and --unix-socket-perms", () => {
  let dir = "";
  let path = "";
  let staleMtimeMs = 0;
  let t: Tray;

  beforeAll(async () => {
    dir = mkdtempSync("/tmp/tray-e2e-"); // short: a socket path may be at most 107 bytes
    path = join(dir, "tray.sock");
    // A stale socket file: bound by a process that was killed, so nobody removed it.
    const holder = Bun.spawn([process.execPath, "-e", `require("node:net").createServer().listen(${JSON.stringify(path)}); setInterval(() => {}, 1000)`], { stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 200 && !existsSync(path); i++) await sleep(25);
    holder.kill("SIGKILL");
    await holder.exited;
    staleMtimeMs = lstatSync(path).mtimeMs; // (inode numbers are reused at once, so compare times)
    await sleep(50);
    t = await startTray([`--unix-socket=${path}`, "--unix-socket-perms=660", "app.ts"], { cwd: CWD, autoPort: false });
  });
  afterAll(async () => {
    await t?.stop();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  test("start-up names the socket: Serving on unix:PATH", () => {
    expect(t.stderr()).toContain(`Serving on unix:${path}`);
  });

  test("--unix-socket-perms=660: the socket file has mode 660", () => {
    const st = lstatSync(path);
    expect(st.isSocket()).toBe(true);
    expect((st.mode & 0o777).toString(8)).toBe("660");
  });

  test("a stale socket file from a dead process does not stop start-up: a new socket replaces it", () => {
    // Binding over the old file would fail with EADDRINUSE; tray started, and the file is newer.
    expect(staleMtimeMs).toBeGreaterThan(0);
    expect(lstatSync(path).mtimeMs).toBeGreaterThan(staleMtimeMs);
  });

  test("serves over the socket (curl --unix-socket); the app sees transport unix", async () => {
    const curl = Bun.spawn(["curl", "-sS", "--max-time", "10", "--unix-socket", path, "http://localhost/echo"], { stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(curl.stdout).text(), curl.exited]);
    expect(code).toBe(0);
    const echo = JSON.parse(out) as { url: string; remoteAddr: { transport: string } };
    expect(echo.url).toBe("http://localhost/echo");
    expect(echo.remoteAddr.transport).toBe("unix");
  });

  test("the socket file is removed when tray exits", async () => {
    expect(await t.stop()).toBe(0);
    expect(existsSync(path)).toBe(false);
  });
});

describe("--max-request-header-size and --max-request-body-size", () => {
  const tray = trayFor(["--max-request-header-size=1024", "--max-request-body-size=100"]);

  test("--max-request-header-size=1024: a 1100-byte head gets 431, then close", async () => {
    const { responses, closed } = await roundTrip(tray().port, get("/text", `X-Pad: ${"p".repeat(1100)}\r\n`), { close: true });
    expect(responses[0].status).toBe(431);
    expect(closed).toBe(true);
  });

  test("--max-request-header-size=1024: a 900-byte head is served", async () => {
    const { responses } = await roundTrip(tray().port, get("/text", `X-Pad: ${"p".repeat(850)}\r\n`));
    expect(responses[0].status).toBe(200);
  });

  test("--max-request-body-size=100: Content-Length: 101 gets 413, then close", async () => {
    const { responses, closed } = await roundTrip(tray().port, `POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 101\r\n\r\n${"x".repeat(101)}`, { close: true });
    expect(responses[0].status).toBe(413);
    expect(closed).toBe(true);
  });

  test("--max-request-body-size=100: a chunked body growing past 100 bytes gets 413, then close", async () => {
    const request = `POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n${"x".repeat(64)}\r\n40\r\n${"y".repeat(64)}\r\n0\r\n\r\n`;
    const { responses, closed } = await roundTrip(tray().port, request, { close: true });
    expect(responses[0].status).toBe(413);
    expect(closed).toBe(true);
  });

  test("--max-request-body-size=100: Expect: 100-continue with Content-Length: 101 gets 413 and no 100 Continue", async () => {
    const { text, closed } = await roundTrip(tray().port, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 101\r\nExpect: 100-continue\r\n\r\n", { close: true });
    expect(text).toStartWith("HTTP/1.1 413 ");
    expect(text).not.toContain("100 Continue");
    expect(closed).toBe(true);
  });

  test("--max-request-body-size=100: a body of exactly 100 bytes is served", async () => {
    const { responses } = await roundTrip(tray().port, `POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n${"x".repeat(100)}`);
    expect(responses[0].status).toBe(200);
    expect(echoOf(responses[0]).body).toBe("x".repeat(100));
  });
});

describe("--channel-timeout and --cleanup-interval", () => {
  const tray = trayFor(["--channel-timeout=1", "--cleanup-interval=1"]);

  test("--channel-timeout=1 --cleanup-interval=1: a connection that sends nothing is closed after 1-2 s", async () => {
    const c = await converse(tray().port);
    const start = Date.now();
    try {
      expect(await c.waitForClose(8000)).toBe(true);
      const elapsed = Date.now() - start;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(c.text()).toBe(""); // closed without a response
    } finally {
      c.destroy();
    }
  });
});

describe("--connection-limit", () => {
  const tray = trayFor(["--connection-limit=1"]);

  test("--connection-limit=1: a second connection waits unserved (not dropped) until the first closes", async () => {
    const first = await converse(tray().port);
    const second = await converse(tray().port);
    try {
      first.send(get("/text"));
      expect((await first.waitForResponses(1))[0].body).toBe("hello world");
      second.send(get("/text"));
      expect(await second.quietFor(800)).toBe(true); // no response, not closed
      first.destroy();
      const [r] = await second.waitForResponses(1, 8000);
      expect(r.body).toBe("hello world");
    } finally {
      first.destroy();
      second.destroy();
    }
  });
});

describe("--channel-request-lookahead", () => {
  // One Worker each, so the barrier in app.ts is shared by both requests of a pipeline.
  const ahead = trayFor(["--threads=1", "--channel-request-lookahead=1"]);
  const inTurn = trayFor(["--threads=1"]);

  test("--channel-request-lookahead=1: pipelined responses come back in order", async () => {
    const { responses } = await roundTrip(ahead().port, get("/slow?ms=300") + get("/echo?n=2") + get("/text"), { responses: 3 });
    // The fast second and third finish first inside the Worker; they must still go out after the first.
    expect(responses[0].body).toBe("slept");
    expect(echoOf(responses[1]).url).toBe("http://test/echo?n=2");
    expect(responses[2].body).toBe("hello world");
  });

  test("--channel-request-lookahead=1: a pipelined GET runs while the GET before it is still running", async () => {
    // The first waits for the second to release it; without read-ahead it would time out.
    const { responses } = await roundTrip(ahead().port, get("/barrier/wait?key=la1&ms=3000") + get("/barrier/release?key=la1"), { responses: 2 });
    expect(responses.map((r) => r.body)).toEqual(["released", "released one"]);
  });

  test("without lookahead (default 0): a pipelined request waits for the one before it", async () => {
    const { responses } = await roundTrip(inTurn().port, get("/barrier/wait?key=la0&ms=1000") + get("/barrier/release?key=la0"), { responses: 2 });
    expect(responses.map((r) => r.body)).toEqual(["timeout", "none waiting"]);
  });

  test("--channel-request-lookahead=1: pipelined POSTs (unsafe) still run one at a time (RFC 9112 §9.3.2)", async () => {
    const post = (path: string) => `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n`;
    const { responses } = await roundTrip(ahead().port, post("/barrier/wait?key=la2&ms=1000") + post("/barrier/release?key=la2"), { responses: 2 });
    expect(responses.map((r) => r.body)).toEqual(["timeout", "none waiting"]);
  });

  test("--threads=1: one Worker serves every request", async () => {
    const runs = await Promise.all(Array.from({ length: 6 }, () => roundTrip(inTurn().port, get("/worker?ms=100"))));
    expect(new Set(runs.map((r) => r.responses[0].body)).size).toBe(1);
  });
});

describe("--expose-tracebacks", () => {
  const exposing = trayFor(["--expose-tracebacks"]);
  const plain = trayFor([]);

  test("--expose-tracebacks: a handler's error and stack are in the 500 body", async () => {
    const { responses } = await roundTrip(exposing().port, get("/throw"));
    expect(responses[0].status).toBe(500);
    expect(responses[0].body).toContain("marker-error-message");
    expect(responses[0].body).toContain("throwMarkerFrame");
  });

  test("without it: the 500 body says Internal Server Error and has no stack", async () => {
    const { responses } = await roundTrip(plain().port, get("/throw"));
    expect(responses[0].status).toBe(500);
    expect(responses[0].body).toContain("Internal Server Error");
    expect(responses[0].body).not.toContain("throwMarkerFrame");
    expect(responses[0].body).not.toContain("marker-error-message");
  });
});

describe("--log-socket-errors", () => {
  const logging = trayFor([]);
  const quiet = trayFor(["--no-log-socket-errors"]);
  const DISCONNECT = /disconnect|socket error|ECONNRESET|EPIPE/i;

  async function hangUpMidRequest(t: Tray): Promise<void> {
    const c = await converse(t.port);
    c.send(get("/slow?ms=300"));
    await sleep(100);
    c.destroy();
    await sleep(600); // the slow request ends; anything tray logs about it is out by now
  }

  test("on by default: a client that hangs up before its response is logged", async () => {
    const from = logging().stderr().length;
    await hangUpMidRequest(logging());
    expect(await stderrMatches(logging(), DISCONNECT, from, 2000)).toBe(true);
    expect(logging().stderr().slice(from)).toContain("127.0.0.1");
  });

  test("--no-log-socket-errors: the same hang-up logs nothing", async () => {
    const from = quiet().stderr().length;
    await hangUpMidRequest(quiet());
    expect(await stderrMatches(quiet(), DISCONNECT, from, 500)).toBe(false);
    expect(quiet().stderr().slice(from)).toBe(""); // nothing at all about it
  });
});

describe("compatibility options (documented no-ops)", () => {
  const tray = trayFor(["--backlog=16", "--recv-bytes=4096", "--send-bytes=1", "--asyncore-loop-timeout=5", "--asyncore-use-poll"]);

  test("--backlog --recv-bytes --send-bytes --asyncore-loop-timeout --asyncore-use-poll are accepted; tray serves", async () => {
    const { responses } = await roundTrip(tray().port, get("/text"));
    expect(responses[0].body).toBe("hello world");
  });

  test("--send-bytes prints a deprecation warning", () => {
    expect(tray().stderr()).toMatch(/send-bytes.*deprecated/i);
  });
});

describe("$PORT and --call", () => {
  test("$PORT is the default port", async () => {
    const port = await quietPort();
    const t = await startTray(["--host=127.0.0.1", "app.ts"], { cwd: CWD, autoPort: false, env: { ...ENV, PORT: String(port) } });
    try {
      expect(t.stderr()).toContain(`Serving on http://127.0.0.1:${port}`);
      const res = await fetch(`http://127.0.0.1:${port}/text`);
      expect(await res.text()).toBe("hello world");
    } finally {
      await t.stop();
    }
  });

  test("--call factory.ts:makeApp: the async factory's result serves", async () => {
    const t = await startOnFreePort(["--call", "factory.ts:makeApp"], { cwd: CWD });
    try {
      const res = await fetch(`${t.url}/hi`);
      expect(res.status).toBe(200);
      expect(await res.text()).toStartWith("from factory /hi ");
    } finally {
      await t.stop();
    }
  });
});
