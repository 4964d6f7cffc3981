// log.ts: tray's own lines as text (unchanged, Waitress's way) or JSON, and the level a line
// gets when its caller gives none.
import { describe, expect, test } from "bun:test";
import { createLog, formatLogLine, levelOf } from "../../src/server/log.ts";

describe("formatLogLine", () => {
  test("text is the line itself", () => {
    expect(formatLogLine("text", "Serving on http://127.0.0.1:8080")).toBe("Serving on http://127.0.0.1:8080\n");
  });

  test("json is one object per line: time (ISO 8601 UTC), level, message", () => {
    const now = new Date(Date.UTC(2026, 10, 24, 20, 52, 16, 5));
    const out = formatLogLine("json", 'Error in app while handling "GET / HTTP/1.1": boom\nat x', "error", now);
    expect(out.endsWith("\n")).toBe(true);
    expect(out.slice(0, -1)).not.toContain("\n"); // a newline in the message stays escaped
    expect(JSON.parse(out)).toEqual({ time: "2026-11-24T20:52:16.005Z", level: "error", message: 'Error in app while handling "GET / HTTP/1.1": boom\nat x' });
  });
});

describe("levelOf (lines logged without a level)", () => {
  const CASES: [string, string][] = [
    ["Serving on http://127.0.0.1:8080", "info"],
    ["Received SIGTERM, shutting down (waiting up to 30s for in-flight requests)", "info"],
    ['Error in app while handling "GET / HTTP/1.1": response body longer than its Content-Length', "error"],
    ['error while serving "GET / HTTP/1.1": Error: boom', "error"],
    ["worker 1 died (uncaught Error: x); 1 request(s) in flight on it failed; starting a replacement", "error"],
    ["bug: a response sink threw: x", "error"],
    ["tray: warning: --send-bytes is deprecated (as in Waitress) and has no effect.", "warning"],
    ["Client 127.0.0.1 disconnected before its response was complete", "warning"],
    ["Socket error from 127.0.0.1: ECONNRESET", "warning"],
    ["400 for 10.0.0.1: X-Forwarded-For is malformed; the value was \"x\"", "warning"],
    ["Untrusted proxy headers from 10.0.0.9 removed: X-Forwarded-For (peer is not --trusted-proxy)", "warning"],
    ["Shutdown grace period over: closing remaining connections", "warning"],
  ];
  for (const [line, level] of CASES) {
    test(`${level}: ${line.slice(0, 60)}`, () => expect(levelOf(line)).toBe(level as ReturnType<typeof levelOf>));
  }
});

describe("createLog", () => {
  test("text writes the line; json writes an object with the caller's level, else the line's", () => {
    const out: string[] = [];
    createLog("text", (t) => out.push(t))("plain", "error");
    const json = createLog("json", (t) => out.push(t));
    json("Serving on unix:/tmp/s", "info");
    json("worker 0 died (x)");
    expect(out[0]).toBe("plain\n");
    expect(JSON.parse(out[1])).toMatchObject({ level: "info", message: "Serving on unix:/tmp/s" });
    expect(JSON.parse(out[2])).toMatchObject({ level: "error" });
  });
});
