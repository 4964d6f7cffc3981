// log.ts: tray's own lines as text (unchanged, Waitress's way) or JSON, at the level the caller
// says (nothing guesses a level from the wording).
import { describe, expect, test } from "bun:test";
import { createLog, formatLogLine } from "../../src/server/log.ts";

describe("formatLogLine", () => {
  test("text is the line itself", () => {
    expect(formatLogLine("text", "Serving on http://127.0.0.1:8080", "info")).toBe("Serving on http://127.0.0.1:8080\n");
  });

  test("json is one object per line: time (ISO 8601 UTC), level, message", () => {
    const now = new Date(Date.UTC(2026, 10, 24, 20, 52, 16, 5));
    const out = formatLogLine("json", 'Error in app while handling "GET / HTTP/1.1": boom\nat x', "error", now);
    expect(out.endsWith("\n")).toBe(true);
    expect(out.slice(0, -1)).not.toContain("\n"); // a newline in the message stays escaped
    expect(JSON.parse(out)).toEqual({ time: "2026-11-24T20:52:16.005Z", level: "error", message: 'Error in app while handling "GET / HTTP/1.1": boom\nat x' });
  });
});

describe("createLog", () => {
  test("text writes the line; json writes an object with the caller's level, whatever the wording", () => {
    const out: string[] = [];
    createLog("text", (t) => out.push(t))("plain", "error");
    const json = createLog("json", (t) => out.push(t));
    json("Serving on unix:/tmp/s", "info");
    json("worker 0 died (x)", "error");
    json("an error-sounding line that is only information", "info");
    expect(out[0]).toBe("plain\n");
    expect(JSON.parse(out[1])).toMatchObject({ level: "info", message: "Serving on unix:/tmp/s" });
    expect(JSON.parse(out[2])).toMatchObject({ level: "error" });
    expect(JSON.parse(out[3])).toMatchObject({ level: "info" });
  });
});
