// tray's own log lines ("Serving on ...", shutdown notices, app errors, Worker deaths), in the
// format --log-format chose: "text" is the line as it always was (Waitress's behaviour: one
// human-readable line on stderr); "json" is one JSON object per line, for log collectors.
//
// Strategy: every part of the server logs through one `(line, level) => void` function made here,
// and every call says its level: a failure (app error, Worker death, a bug, a start-up failure) is
// an error, a client or proxy misbehaving is a warning, the rest is information. Nothing guesses a
// level from the wording. Writes go to stderr as they come: these lines are rare, and must not be
// lost at exit.

import type { LogFormat } from "../options/types.ts";

export type LogLevel = "info" | "warning" | "error";

export type Log = (line: string, level: LogLevel) => void;

/** One line of output, newline included. */
export function formatLogLine(format: LogFormat, line: string, level: LogLevel, now = new Date()): string {
  if (format === "text") return line + "\n";
  return JSON.stringify({ time: now.toISOString(), level, message: line }) + "\n";
}

/** A Log writing to `write` (stderr by default) in the given format. */
export function createLog(format: LogFormat, write: (text: string) => void = (text) => void process.stderr.write(text)): Log {
  if (format === "text") return (line) => write(line + "\n");
  return (line, level) => write(formatLogLine(format, line, level));
}
