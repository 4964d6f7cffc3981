// tray's own log lines ("Serving on ...", shutdown notices, app errors, Worker deaths), in the
// format --log-format chose: "text" is the line as it always was (Waitress's behaviour: one
// human-readable line on stderr); "json" is one JSON object per line, for log collectors.
//
// Strategy: every part of the server logs through one `(line, level?) => void` function made here.
// Callers that know a line's level say so; the others (the pool, proxy headers, connections pass
// plain lines) get a level from the line's wording, so their messages stay the single source.
// Writes go to stderr as they come: these lines are rare, and must not be lost at exit.

import type { LogFormat } from "../options/types.ts";

export type LogLevel = "info" | "warning" | "error";

export type Log = (line: string, level?: LogLevel) => void;

// A line reporting a failure (app error, Worker death, a bug, a start-up failure) is an error;
// one about a client or a proxy misbehaving is a warning; the rest is information.
const WARNING_WORDING = /^(tray: warning:|400 for |Socket error|Client .* disconnected|Untrusted proxy headers|Shutdown grace period over)/;
const ERROR_WORDING = /\b(error|failed|died|bug|cannot|could not)\b/i;

/** The level a line reads as, for lines logged without one. */
export function levelOf(line: string): LogLevel {
  if (WARNING_WORDING.test(line)) return "warning";
  if (ERROR_WORDING.test(line)) return "error";
  return "info";
}

/** One line of output, newline included. */
export function formatLogLine(format: LogFormat, line: string, level: LogLevel = levelOf(line), now = new Date()): string {
  if (format === "text") return line + "\n";
  return JSON.stringify({ time: now.toISOString(), level, message: line }) + "\n";
}

/** A Log writing to `write` (stderr by default) in the given format. */
export function createLog(format: LogFormat, write: (text: string) => void = (text) => void process.stderr.write(text)): Log {
  if (format === "text") return (line) => write(line + "\n");
  return (line, level) => write(formatLogLine(format, line, level));
}
