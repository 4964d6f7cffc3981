// The access log (--access-log, --access-log-format): one line per finished exchange in the
// Common Log Format or Apache's Combined format, to stderr or appended to a file.
//
//   common:   client - - [24/Nov/2026:20:52:16 +0000] "GET /x HTTP/1.1" 200 1234
//   combined: the same, then "referer" "user-agent"
//
// Strategy: off by default, and then nothing here runs (the connection holds a null hook). When
// on, connections hand over a small record as each exchange finishes; lines are formatted at
// once (the timestamp string is reused within a second) and written in batches: every
// ACCESS_LOG_FLUSH_MS, or at once when ACCESS_LOG_BATCH_MAX bytes are waiting, so a busy server
// makes a few writes a second, not one per request (one per event-loop turn cost 18% of
// hello-world throughput, batching 10%; formatting a line is ~0.1 µs). A file is opened for
// appending before anything listens (a bad path fails start-up) and written with one write in
// flight at a time, so lines keep their order; close() writes what is left before tray exits.
// Conventions where the formats leave a choice, as Apache (%b, %{Referer}i) and nginx do:
// - client: the address the app was given (a trusted proxy's client), "-" when there is none
//   (unix sockets); bytes: response body bytes, "-" for none; a missing header is "-";
// - a request the client abandoned before the app answered is logged with nginx's 499;
// - `"` and `\` are escaped with a backslash, and control and non-ASCII bytes as \xHH, so a
//   request can never forge a log line (the request line is already free of CR/LF).

import { closeSync, openSync, write, writeSync } from "node:fs";

export const ACCESS_LOG_FORMATS = ["common", "combined"] as const;
export type AccessLogFormat = (typeof ACCESS_LOG_FORMATS)[number];

/** --access-log's value meaning standard error. */
export const ACCESS_LOG_STDERR = "-";

/** Longest a line waits before it is written (a tail -f sees it this late at most). */
export const ACCESS_LOG_FLUSH_MS = 50;

/** Pending lines past this many characters are written at once (memory stays bounded in a burst). */
export const ACCESS_LOG_BATCH_MAX = 64 * 1024;

/** nginx's status for a request whose client closed the connection before the response began. */
export const STATUS_CLIENT_CLOSED = 499;

/** What a connection knows about an exchange when it finishes. */
export interface AccessRecord {
  /** The client address the app saw, "" when there is none (unix socket). */
  client: string;
  /** "GET /x HTTP/1.1", or "" when the request line could not be read. */
  requestLine: string;
  status: number;
  /** Response body bytes. */
  bytes: number;
  /** The request's header fields, flat [name, value, ...] (for Referer and User-Agent), or null. */
  headers: string[] | null;
  /** Appended after the format's fields (a WebSocket's close: "websocket_close=1000 duration=..."). */
  extra?: string;
}

export type AccessLogHook = (record: AccessRecord) => void;

// ---------------------------------------------------------------------------------------------
// Formatting.

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number) => (n < 10 ? `0${n}` : String(n));

let stampSecond = -1;
let stamp = "";

/** "[24/Nov/2026:20:52:16 +0000]" in local time with its offset, as Apache's %t; reused within a second. */
export function clfTimestamp(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second === stampSecond) return stamp;
  const d = new Date(second * 1000);
  const offset = -d.getTimezoneOffset();
  const abs = Math.abs(offset);
  const zone = `${offset < 0 ? "-" : "+"}${two(Math.floor(abs / 60))}${two(abs % 60)}`;
  stamp = `[${two(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}]`;
  stampSecond = second;
  return stamp;
}

// Header values are latin-1 strings (one char per byte); anything outside printable ASCII is escaped.
const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f-\uffff]/;
const ESCAPED = /["\\\x00-\x1f\x7f-\uffff]/g;

/** A field value made safe inside a quoted log field. */
export function escapeLogField(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(ESCAPED, (c) => {
    if (c === '"' || c === "\\") return `\\${c}`;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

function headerValue(headers: string[] | null, lowerName: string): string | null {
  if (headers === null) return null;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[i + 1];
  }
  return null;
}

function quoted(value: string | null): string {
  return value === null || value === "" ? `"-"` : `"${escapeLogField(value)}"`;
}

/** One access log line, newline included. */
export function formatAccessLine(format: AccessLogFormat, r: AccessRecord, now = Date.now()): string {
  const client = r.client === "" ? "-" : escapeLogField(r.client);
  const bytes = r.bytes > 0 ? String(r.bytes) : "-";
  const line = `${client} - - ${clfTimestamp(now)} ${quoted(r.requestLine)} ${r.status} ${bytes}`;
  const extra = r.extra === undefined ? "" : ` ${r.extra}`;
  if (format === "common") return line + extra + "\n";
  return `${line} ${quoted(headerValue(r.headers, "referer"))} ${quoted(headerValue(r.headers, "user-agent"))}${extra}\n`;
}

// ---------------------------------------------------------------------------------------------
// Writing.

export interface AccessLog {
  record: AccessLogHook;
  /** Writes every pending line, then closes the file (if any). */
  close(): Promise<void>;
}

/** The access log could not be opened (start-up fails with this one-line message). */
export class AccessLogError extends Error {
  override name = "AccessLogError";
}

/**
 * Opens the access log: `target` is a file path (appended to, created with mode 0644) or "-" for
 * stderr. `log` reports a write failure once (the lines are then dropped, the server carries on).
 */
export function openAccessLog(target: string, format: AccessLogFormat, log: (line: string) => void): AccessLog {
  let fd = -1;
  if (target !== ACCESS_LOG_STDERR) {
    try {
      fd = openSync(target, "a", 0o644);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new AccessLogError(`cannot open the access log ${JSON.stringify(target)} for appending (${code}); check that its directory exists and is writable.`);
    }
  }
  let pending: string[] = [];
  let pendingChars = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let inFlight: Promise<void> | null = null;
  let failed = false;
  let closed = false;

  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    log(`tray: cannot write the access log ${JSON.stringify(target)} (${(error as NodeJS.ErrnoException).code ?? String(error)}); access lines are dropped from now on`);
  };

  const writeFile = (text: string): Promise<void> =>
    new Promise((resolve) => {
      write(fd, text, null, "utf8", (error) => {
        if (error) fail(error);
        resolve();
      });
    });

  const take = (): string => {
    const text = pending.join("");
    pending = [];
    pendingChars = 0;
    return text;
  };

  const flush = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (pending.length === 0) return;
    if (failed) {
      take();
      return;
    }
    if (fd < 0) {
      process.stderr.write(take());
      return;
    }
    if (inFlight !== null) return; // the write in flight flushes again when it ends
    inFlight = writeFile(take()).then(() => {
      inFlight = null;
      if (pending.length > 0 && !closed) flush();
    });
  };

  return {
    record(r) {
      if (closed) return;
      const line = formatAccessLine(format, r);
      pending.push(line);
      pendingChars += line.length;
      if (pendingChars >= ACCESS_LOG_BATCH_MAX) flush();
      else if (timer === null) timer = setTimeout(flush, ACCESS_LOG_FLUSH_MS);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      while (inFlight !== null) await inFlight;
      const text = take();
      if (fd < 0) {
        if (text !== "") process.stderr.write(text);
        return;
      }
      try {
        if (text !== "" && !failed) writeSync(fd, text);
      } catch (error) {
        fail(error);
      }
      closeSync(fd);
    },
  };
}
