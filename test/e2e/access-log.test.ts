// --access-log (Common and Combined formats, to stderr or a file) and --log-format=text|json for
// tray's own lines, through dist/tray with test/fixtures/e2e/frameworks/logging.ts. Both are off
// (and plain text) by default, so a tray without them writes exactly what Waitress-like tray did.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTray, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { converse, roundTrip } from "./http-helpers.ts";
import { FRAMEWORKS_DIR } from "./frameworks-helpers.ts";

const APP = "logging.ts";
const start = (args: string[]) => startTray([...args, APP], { cwd: FRAMEWORKS_DIR });

/** [24/Nov/2026:20:52:16 +0000] */
const CLF_TIME = String.raw`\[\d\d/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]`;
const ACCESS_LINE = /^\S+ - - \[/;

const accessLines = (text: string) => text.split("\n").filter((l) => ACCESS_LINE.test(l));

/** Waits (bounded) until `read()` holds at least n access lines, and returns them. */
async function waitForAccessLines(read: () => string, n: number, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = accessLines(read());
    if (lines.length >= n) return lines;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} access log line(s); have: ${JSON.stringify(read())}`);
    await Bun.sleep(20);
  }
}

/** "127.0.0.1 - - [time] rest" with the time checked and cut out. */
/** The n access-log lines the server wrote after the first `before`, without their timestamps. */
async function newLines(tray: Tray, before: number, n: number): Promise<string[]> {
  return (await waitForAccessLines(tray.stderr, before + n)).slice(before).map(withoutTime);
}

function withoutTime(line: string): string {
  const m = new RegExp(`^(\\S+ - - )${CLF_TIME} (.*)$`).exec(line);
  if (m === null) throw new Error(`not a Common Log Format line: ${JSON.stringify(line)}`);
  return `${m[1]}${m[3]}`;
}

async function get(tray: Tray, path: string, init?: RequestInit): Promise<Response> {
  const r = await fetch(`${tray.url}${path}`, init);
  await r.arrayBuffer();
  return r;
}

describe("default: no access log, plain-text lines", () => {
  let tray: Tray;
  beforeAll(async () => {
    tray = await start([]);
  });
  afterAll(() => tray?.stop());

  test("requests write nothing to stderr, and tray's own lines are plain text", async () => {
    await get(tray, "/");
    await get(tray, "/missing");
    await Bun.sleep(200);
    expect(accessLines(tray.stderr())).toEqual([]);
    expect(tray.stderr()).toContain(`Serving on http://127.0.0.1:${tray.port}\n`);
    expect(tray.stderr()).not.toContain("{");
  });
});

describe("--access-log to stderr, common format", () => {
  let tray: Tray;
  beforeAll(async () => {
    tray = await start(["--access-log", "--max-request-body-size=100"]);
  });
  afterAll(() => tray?.stop());

  test("one line per request: client, request line, status and body bytes", async () => {
    const before = accessLines(tray.stderr()).length;
    await get(tray, "/?q=1");
    await get(tray, "/missing");
    expect(await newLines(tray, before, 2)).toEqual([`127.0.0.1 - - "GET /?q=1 HTTP/1.1" 200 6`, `127.0.0.1 - - "GET /missing HTTP/1.1" 404 14`]);
  });

  test("no body is '-' (HEAD, 204); the line has no Referer or User-Agent", async () => {
    const before = accessLines(tray.stderr()).length;
    await get(tray, "/", { method: "HEAD", headers: { "user-agent": "not logged" } });
    await get(tray, "/empty");
    expect(await newLines(tray, before, 2)).toEqual([`127.0.0.1 - - "HEAD / HTTP/1.1" 200 -`, `127.0.0.1 - - "GET /empty HTTP/1.1" 204 -`]);
  });

  test("pipelined requests are logged in order, HTTP/1.0 too", async () => {
    const before = accessLines(tray.stderr()).length;
    await roundTrip(tray.port, "GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\n\r\nGET /missing HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.0\r\n\r\n", { close: true });
    expect(await newLines(tray, before, 3)).toEqual([
      `127.0.0.1 - - "GET /slow?ms=300 HTTP/1.1" 200 5`,
      `127.0.0.1 - - "GET /missing HTTP/1.1" 404 14`,
      `127.0.0.1 - - "GET / HTTP/1.0" 200 6`,
    ]);
  });

  test("an app error is logged as the 500 tray sent", async () => {
    const before = accessLines(tray.stderr()).length;
    await get(tray, "/throw");
    const [line] = await newLines(tray, before, 1);
    expect(line).toMatch(/^127\.0\.0\.1 - - "GET \/throw HTTP\/1\.1" 500 \d+$/);
  });

  test("tray's own error responses are logged, with the request line when the head was read", async () => {
    const before = accessLines(tray.stderr()).length;
    const send = (bytes: string) => roundTrip(tray.port, bytes, { close: true });
    // A chunked body grows past --max-request-body-size after its head was accepted.
    await send(`POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n${"x".repeat(128)}\r\n0\r\n\r\n`);
    // These heads are refused as a whole: no request line to show (as "-").
    await send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    await send("GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n");
    const lines = await newLines(tray, before, 3);
    expect(lines[0]).toMatch(/^127\.0\.0\.1 - - "POST \/upload HTTP\/1\.1" 413 \d+$/);
    expect(lines[1]).toMatch(/^127\.0\.0\.1 - - "-" 413 \d+$/);
    expect(lines[2]).toMatch(/^127\.0\.0\.1 - - "-" 400 \d+$/);
  });

  test("a client that leaves mid-stream is logged with the status it got and the bytes sent so far", async () => {
    const before = accessLines(tray.stderr()).length;
    const c = await converse(tray.port);
    try {
      c.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
      await c.waitFor((t) => t.split("0123456789").length > 3);
    } finally {
      c.destroy();
    }
    const [line] = await newLines(tray, before, 1);
    const m = /^127\.0\.0\.1 - - "GET \/stream HTTP\/1\.1" 200 (\d+)$/.exec(line);
    expect(m).not.toBeNull();
    expect(Number(m![1]) % 10).toBe(0);
    expect(Number(m![1])).toBeGreaterThanOrEqual(30);
  });

  test("a client that leaves before the app answers is logged as 499 (nginx's 'client closed request')", async () => {
    // Its FIN looks like a half-close, so the answer is still written (RFC 9112 §9.6): the line
    // comes when the app answers, and counts the bytes written.
    const before = accessLines(tray.stderr()).length;
    const c = await converse(tray.port);
    c.send("GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n");
    await Bun.sleep(100);
    c.destroy();
    expect(await newLines(tray, before, 1)).toEqual([`127.0.0.1 - - "GET /slow?ms=300 HTTP/1.1" 499 5`]);
  });
});

describe("--access-log-format=combined", () => {
  let tray: Tray;
  beforeAll(async () => {
    tray = await start(["--access-log=-", "--access-log-format=combined", "--trusted-proxy=127.0.0.1", "--trusted-proxy-headers=x-forwarded-for"]);
  });
  afterAll(() => tray?.stop());

  test("adds the Referer and User-Agent, '-' when absent", async () => {
    const before = accessLines(tray.stderr()).length;
    await roundTrip(tray.port, "GET / HTTP/1.1\r\nHost: t\r\nReferer: http://example.com/from\r\nUser-Agent: tester/1.0 (x11)\r\n\r\nGET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", { close: true });
    const lines = await newLines(tray, before, 2);
    expect(lines).toEqual([
      `127.0.0.1 - - "GET / HTTP/1.1" 200 6 "http://example.com/from" "tester/1.0 (x11)"`,
      `127.0.0.1 - - "GET /missing HTTP/1.1" 404 14 "-" "-"`,
    ]);
  });

  test("quotes, backslashes and non-ASCII bytes in a field are escaped, so a request cannot forge a line", async () => {
    const before = accessLines(tray.stderr()).length;
    await roundTrip(tray.port, Buffer.from('GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: a" 200 1 "x\\y caf\xe9\r\nConnection: close\r\n\r\n', "latin1"), { close: true });
    const [line] = await newLines(tray, before, 1);
    expect(line).toBe(String.raw`127.0.0.1 - - "GET / HTTP/1.1" 200 6 "-" "a\" 200 1 \"x\\y caf\xe9"`);
  });

  test("with a trusted proxy the client is the address it vouched for", async () => {
    const before = accessLines(tray.stderr()).length;
    await get(tray, "/", { headers: { "x-forwarded-for": "203.0.113.9" } });
    const [line] = await newLines(tray, before, 1);
    expect(line).toStartWith(`203.0.113.9 - - "GET / HTTP/1.1" 200 6 `);
  });
});

describe("--access-log=FILE", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tray-access-log-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("appends to the file (keeping what was there), writes nothing to stderr, and has every line at exit", async () => {
    const file = join(dir, "access.log");
    writeFileSync(file, "earlier line\n");
    const tray = await start([`--access-log=${file}`]);
    try {
      for (let i = 0; i < 20; i++) await get(tray, `/?n=${i}`);
    } finally {
      expect(await tray.stop()).toBe(0);
    }
    const lines = readFileSync(file, "utf8").split("\n");
    expect(lines[0]).toBe("earlier line");
    expect(accessLines(readFileSync(file, "utf8")).map(withoutTime)).toEqual(Array.from({ length: 20 }, (_, i) => `127.0.0.1 - - "GET /?n=${i} HTTP/1.1" 200 6`));
    expect(accessLines(tray.stderr())).toEqual([]);
  });

  test("a new file is created readable by all (0644, less the umask)", async () => {
    const file = join(dir, "new.log");
    const tray = await start([`--access-log=${file}`]);
    try {
      await get(tray, "/");
      await waitForAccessLines(() => readFileSync(file, "utf8"), 1);
    } finally {
      await tray.stop();
    }
    expect(statSync(file).mode & 0o777 & ~0o644).toBe(0);
  });

  test("a file that cannot be opened fails start-up with one line, before anything listens", async () => {
    const r = await runTray(["--host=127.0.0.1", "--port=0", `--access-log=${join(dir, "no-such-dir", "access.log")}`, APP], { cwd: FRAMEWORKS_DIR });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("Serving on");
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^tray: cannot open the access log ".*no-such-dir\/access\.log" for appending \(ENOENT\); check that its directory exists and is writable\.$/);
  });
});

describe("--log-format=json", () => {
  let tray: Tray;
  beforeAll(async () => {
    tray = await start(["--log-format=json", "--send-bytes=1"]);
  });
  afterAll(() => tray?.stop());

  type Entry = { time: string; level: string; message: string };
  const entries = () =>
    tray
      .stderr()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Entry);

  test("every line tray writes is one JSON object with time, level and message", async () => {
    await get(tray, "/throw");
    const deadline = Date.now() + 10_000;
    while (!entries().some((e) => e.message.includes("/throw")) && Date.now() < deadline) await Bun.sleep(20);
    const all = entries();
    for (const e of all) {
      expect(Object.keys(e)).toEqual(["time", "level", "message"]);
      expect(new Date(e.time).toISOString()).toBe(e.time);
    }
    expect(all).toContainEqual(expect.objectContaining({ level: "info", message: `Serving on http://127.0.0.1:${tray.port}` }));
    expect(all).toContainEqual(expect.objectContaining({ level: "warning", message: "tray: warning: --send-bytes is deprecated (as in Waitress) and has no effect." }));
    const error = all.find((e) => e.message.includes("GET /throw HTTP/1.1"));
    expect(error?.level).toBe("error");
    expect(error?.message).toContain("the app failed on purpose");
  });

  test("the shutdown lines are JSON too", async () => {
    expect(await tray.stop()).toBe(0);
    expect(entries().at(-1)).toMatchObject({ level: "info", message: expect.stringContaining("Received SIGTERM") });
  });

  test("a start-up failure is a JSON line with level error", async () => {
    const r = await runTray(["--host=127.0.0.1", "--port=0", "--log-format=json", "no-such-app.ts"], { cwd: FRAMEWORKS_DIR });
    expect(r.code).toBe(1);
    const last = JSON.parse(r.stderr.trim().split("\n").at(-1)!) as Entry;
    expect(last.level).toBe("error");
    expect(last.message).toStartWith("tray: ");
  });
});
