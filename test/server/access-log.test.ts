// access-log.ts: the Common and Combined line formats, escaping, the timestamp, and the writer
// (batched per turn, in order, everything written by close()). The e2e side is
// test/e2e/access-log.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccessLogError, clfTimestamp, escapeLogField, formatAccessLine, openAccessLog } from "../../src/server/access-log.ts";
import type { AccessRecord } from "../../src/server/access-log.ts";

const record = (over: Partial<AccessRecord> = {}): AccessRecord => ({
  client: "192.0.2.7",
  requestLine: "GET /index.html?q=1 HTTP/1.1",
  status: 200,
  bytes: 2326,
  headers: ["Host", "example.com", "Referer", "http://example.com/start", "User-Agent", "Mozilla/5.0 (X11)"],
  ...over,
});

const TIME = /\[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]/;

describe("formatAccessLine", () => {
  test("common: client - - [time] \"request line\" status bytes", () => {
    const line = formatAccessLine("common", record());
    expect(line.replace(TIME, "[T]")).toBe(`192.0.2.7 - - [T] "GET /index.html?q=1 HTTP/1.1" 200 2326\n`);
  });

  test("combined adds \"referer\" \"user-agent\", found in any case", () => {
    const line = formatAccessLine("combined", record({ headers: ["referer", "http://a/", "USER-AGENT", "ua"] }));
    expect(line.replace(TIME, "[T]")).toBe(`192.0.2.7 - - [T] "GET /index.html?q=1 HTTP/1.1" 200 2326 "http://a/" "ua"\n`);
  });

  test("absent or empty parts are '-' (Apache's %b and %{Header}i)", () => {
    const line = formatAccessLine("combined", record({ client: "", requestLine: "", bytes: 0, headers: ["Referer", ""] }));
    expect(line.replace(TIME, "[T]")).toBe(`- - - [T] "-" 200 - "-" "-"\n`);
    expect(formatAccessLine("combined", record({ headers: null })).endsWith(` "-" "-"\n`)).toBe(true);
  });

  test("the first Referer counts when a request repeats it", () => {
    const line = formatAccessLine("combined", record({ headers: ["Referer", "first", "Referer", "second"] }));
    expect(line).toContain(`"first" "-"`);
  });
});

describe("escapeLogField", () => {
  test("plain printable ASCII is unchanged", () => {
    expect(escapeLogField("Mozilla/5.0 (X11; Linux x86_64)")).toBe("Mozilla/5.0 (X11; Linux x86_64)");
  });

  test("quote and backslash get a backslash, so a field cannot close its quotes", () => {
    expect(escapeLogField(`a" 200 1 "b\\c`)).toBe(String.raw`a\" 200 1 \"b\\c`);
  });

  test("control and non-ASCII bytes (latin-1 chars) become \\xHH", () => {
    expect(escapeLogField("tab\there\x7f caf\xe9")).toBe(String.raw`tab\x09here\x7f caf\xe9`);
  });
});

describe("clfTimestamp", () => {
  test("is Apache's %t: [dd/Mon/yyyy:HH:MM:SS ±hhmm] in local time", () => {
    const at = Date.UTC(2026, 10, 24, 20, 52, 16);
    const stamp = clfTimestamp(at);
    expect(stamp).toMatch(/^\[\d\d\/(Nov|Dec)\/2026:\d\d:\d\d:16 [+-]\d{4}\]$/);
    const d = new Date(at);
    const offset = -d.getTimezoneOffset();
    const sign = offset < 0 ? "-" : "+";
    const hh = String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0");
    const mm = String(Math.abs(offset) % 60).padStart(2, "0");
    expect(stamp.endsWith(` ${sign}${hh}${mm}]`)).toBe(true);
  });

  test("within one second the same string is reused; the next second gets a new one", () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(clfTimestamp(at + 999)).toBe(clfTimestamp(at));
    expect(clfTimestamp(at + 1000)).not.toBe(clfTimestamp(at));
  });
});

describe("openAccessLog", () => {
  const dir = mkdtempSync(join(tmpdir(), "tray-access-log-unit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a file gets every line, in order, once close() resolves", async () => {
    const file = join(dir, "ordered.log");
    const log = openAccessLog(file, "common", () => {});
    for (let i = 0; i < 500; i++) {
      log.record(record({ requestLine: `GET /${i} HTTP/1.1` }));
      if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // several batches
    }
    await log.close();
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines.map((l) => /"GET \/(\d+) /.exec(l)![1])).toEqual(Array.from({ length: 500 }, (_, i) => String(i)));
  });

  test("records after close() are dropped, not written to a closed file", async () => {
    const file = join(dir, "closed.log");
    const log = openAccessLog(file, "common", () => {});
    log.record(record());
    await log.close();
    log.record(record());
    await new Promise((r) => setImmediate(r));
    expect(readFileSync(file, "utf8").split("\n").filter(Boolean)).toHaveLength(1);
  });

  test("a path that cannot be opened is an AccessLogError with one sentence", () => {
    expect(() => openAccessLog(join(dir, "missing", "x.log"), "common", () => {})).toThrow(AccessLogError);
    try {
      openAccessLog(join(dir, "missing", "x.log"), "common", () => {});
    } catch (error) {
      expect((error as Error).message).toMatch(/^cannot open the access log ".*" for appending \(ENOENT\); check that its directory exists and is writable\.$/);
    }
  });
});
