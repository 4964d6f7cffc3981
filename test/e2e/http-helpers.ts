// Helpers for http.test.ts and options.test.ts, beside the shared harness.ts: a step-by-step raw
// conversation (send, wait for bytes, send more, wait for close) for tests where the order of
// bytes on the wire is the behaviour (100-continue, keep-alive, connection limit, timeouts), and
// a response splitter that only reports responses it has seen whole.
// Every wait is bounded; every socket is destroyed by the test that opened it.

import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import type { Socket } from "node:net";
import { rawConnect, startTray } from "./harness.ts";
import type { StartOptions, Tray } from "./harness.ts";

export const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

export interface Conversation {
  socket: Socket;
  /** Writes bytes (a string is sent as latin-1). */
  send(data: string | Uint8Array): void;
  /** Everything received so far, as latin-1. */
  text(): string;
  closed(): boolean;
  /** Resolves with text() once `ready(text())` holds; rejects after timeoutMs or if the server closes first. */
  waitFor(ready: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with text() once `n` whole responses are in. */
  waitForResponses(n: number, timeoutMs?: number): Promise<ParsedResponse[]>;
  /** Resolves true when the server closes within timeoutMs, false otherwise. */
  waitForClose(timeoutMs?: number): Promise<boolean>;
  /** True if nothing arrives for ms (the socket stays open). */
  quietFor(ms: number): Promise<boolean>;
  destroy(): void;
}

export async function converse(port: number | string, host = "127.0.0.1"): Promise<Conversation> {
  const socket = await rawConnect(port, host);
  const chunks: Buffer[] = [];
  let isClosed = false;
  let listeners: (() => void)[] = [];
  const poke = () => {
    const l = listeners;
    listeners = [];
    for (const f of l) f();
  };
  socket.on("data", (d: Buffer) => {
    chunks.push(d);
    poke();
  });
  socket.on("close", () => {
    isClosed = true;
    poke();
  });
  socket.on("error", () => {
    isClosed = true;
    poke();
  });
  const text = () => Buffer.concat(chunks).toString("latin1");
  const until = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received so far: ${JSON.stringify(text())}`)), timeoutMs);
      const test = () => {
        const v = check();
        if (v !== undefined) {
          clearTimeout(timer);
          resolve(v);
        } else if (isClosed) {
          clearTimeout(timer);
          reject(new Error(`server closed while waiting for ${what}; received: ${JSON.stringify(text())}`));
        } else listeners.push(test);
      };
      test();
    });
  return {
    socket,
    send: (data) => void socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data),
    text,
    closed: () => isClosed,
    waitFor: (ready, timeoutMs = 10_000) => until(() => (ready(text()) ? text() : undefined), timeoutMs, "bytes"),
    waitForResponses: (n, timeoutMs = 10_000) =>
      until(() => {
        const r = splitResponses(text());
        return r.length >= n ? r : undefined;
      }, timeoutMs, `${n} response(s)`),
    waitForClose: (timeoutMs = 10_000) =>
      new Promise((resolve) => {
        if (isClosed) return resolve(true);
        const timer = setTimeout(() => resolve(false), timeoutMs);
        const test = () => {
          if (isClosed) {
            clearTimeout(timer);
            resolve(true);
          } else listeners.push(test);
        };
        listeners.push(test);
      }),
    quietFor: (ms) =>
      new Promise((resolve) => {
        const before = text().length;
        setTimeout(() => resolve(!isClosed && text().length === before), ms);
      }),
    destroy: () => socket.destroy(),
  };
}

export interface ParsedResponse {
  status: number;
  /** "HTTP/1.1 200 OK" */
  statusLine: string;
  /** Header lines in order, exactly as sent: [name, value]. */
  fields: [string, string][];
  /** Last value of a header, by case-insensitive name. */
  header(name: string): string | undefined;
  /** Every value of a header, in order. */
  all(name: string): string[];
  rawHead: string;
  body: string;
  framing: "length" | "chunked" | "close" | "none";
}

/**
 * Splits a byte stream into the responses it holds whole (Content-Length satisfied, last chunk
 * seen). A response framed by close is whole only when `closed` is true. 1xx, 204 and 304 have no
 * body; so does the response at index i when noBody(i) (an answer to HEAD).
 */
export function splitResponses(text: string, opts: { closed?: boolean; noBody?: (index: number) => boolean } = {}): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return out;
    const rawHead = rest.slice(0, end);
    const lines = rawHead.split("\r\n");
    const statusLine = lines[0];
    const status = Number(statusLine.split(" ")[1]);
    const fields: [string, string][] = lines.slice(1).map((l) => {
      const i = l.indexOf(":");
      return [l.slice(0, i), l.slice(i + 1).trim()];
    });
    const all = (name: string) => fields.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
    const header = (name: string) => all(name).at(-1);
    let body = "";
    let after = rest.slice(end + 4);
    let framing: ParsedResponse["framing"];
    if (status < 200 || status === 204 || status === 304 || opts.noBody?.(out.length)) {
      framing = "none";
    } else if (header("transfer-encoding") === "chunked") {
      framing = "chunked";
      let complete = false;
      for (;;) {
        const le = after.indexOf("\r\n");
        if (le < 0) break;
        const size = parseInt(after.slice(0, le), 16);
        if (size === 0) {
          // RFC 9112 §7.1.2: last-chunk, then trailer fields (maybe none), then CRLF.
          const tail = after.slice(le + 2);
          const stop = tail.startsWith("\r\n") ? 2 : tail.indexOf("\r\n\r\n") >= 0 ? tail.indexOf("\r\n\r\n") + 4 : -1;
          if (stop >= 0) {
            after = tail.slice(stop);
            complete = true;
          }
          break;
        }
        if (after.length < le + 2 + size + 2) break;
        body += after.slice(le + 2, le + 2 + size);
        after = after.slice(le + 2 + size + 2);
      }
      if (!complete) return out;
    } else if (header("content-length") !== undefined) {
      framing = "length";
      const n = Number(header("content-length"));
      if (after.length < n) return out;
      body = after.slice(0, n);
      after = after.slice(n);
    } else {
      framing = "close";
      if (!opts.closed) return out;
      body = after;
      after = "";
    }
    out.push({ status, statusLine, fields, header, all, rawHead, body, framing });
    rest = after;
  }
}

/** Sends raw bytes on a fresh connection and returns the parsed responses and whether it closed. */
export async function roundTrip(port: number | string, data: string | Uint8Array, opts: { responses?: number; close?: boolean; noBody?: (index: number) => boolean; timeoutMs?: number } = {}): Promise<{ responses: ParsedResponse[]; closed: boolean; text: string }> {
  const c = await converse(port);
  try {
    c.send(data);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    if (opts.close) await c.waitForClose(timeoutMs);
    else await c.waitFor((t) => splitResponses(t, { noBody: opts.noBody }).length >= (opts.responses ?? 1), timeoutMs);
    return { responses: splitResponses(c.text(), { closed: c.closed(), noBody: opts.noBody }), closed: c.closed(), text: c.text() };
  } finally {
    c.destroy();
  }
}

/** A GET request for path with Host: test (HTTP/1.1 unless version is given). */
export function get(path: string, extra = "", version = "1.1"): string {
  return `GET ${path} HTTP/${version}\r\nHost: test\r\n${extra}\r\n`;
}

/** The app's echo (app.ts) of a response body. */
export interface Echo {
  method: string;
  url: string;
  headers: [string, string][];
  body: string;
  remoteAddr: { hostname: string; port: number; transport: string };
  requestIP: { address: string; family: string; port: number } | null;
  scriptName: string;
}

export function echoOf(response: ParsedResponse): Echo {
  return JSON.parse(Buffer.from(response.body, "latin1").toString("utf8")) as Echo;
}

/** The ports of the "Serving on scheme://host:PORT" lines tray printed, in order. */
export function servingPorts(stderr: string): number[] {
  return [...stderr.matchAll(/Serving on [a-z]+:\/\/(?:\[[^\]]*\]|[^:\s/]+):(\d+)/g)].map((m) => Number(m[1]));
}

/**
 * startTray with --host=127.0.0.1 --port=0: the kernel picks a port that is free at bind time,
 * and the Tray's port/url are read from its "Serving on" line. Probed ports (harness freePort)
 * race with the thousands of client sockets e2e tests open: a probed port inside the ephemeral
 * range can be a client's source port (or in TIME_WAIT) by the time tray binds it.
 */
export async function startOnFreePort(args: string[], opts: StartOptions = {}): Promise<Tray> {
  const tray = await startTray(["--host=127.0.0.1", "--port=0", ...args], { ...opts, autoPort: false });
  const port = servingPorts(tray.stderr())[0];
  if (port === undefined) {
    await tray.stop();
    throw new Error(`no "Serving on" port in tray's stderr:\n${tray.stderr()}`);
  }
  return { ...tray, port, url: `http://127.0.0.1:${port}` };
}

/** The lowest port of the kernel's ephemeral range (Linux); 32768 elsewhere. */
function ephemeralLow(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

let nextQuietPort = 0;

/**
 * A port for a test that must name it ($PORT, --listen=*:PORT): below the ephemeral range, so no
 * client socket takes it as a source port, and free on every address right now (bound, then closed).
 */
export async function quietPort(): Promise<number> {
  const high = Math.min(ephemeralLow(), 65536) - 1;
  const low = 20000;
  if (nextQuietPort === 0) nextQuietPort = low + Math.floor(Math.random() * (high - low));
  for (let i = 0; i < 100; i++) {
    const port = nextQuietPort;
    nextQuietPort = nextQuietPort >= high ? low : nextQuietPort + 1;
    const free = await Promise.all(["127.0.0.1", "::"].map((host) => canBind(port, host)));
    if (free[0] === true && free[1] !== "in use") return port;
  }
  throw new Error("no quiet port found");
}

/** true: bindable; "in use": taken; false: the address family is unavailable. */
function canBind(port: number, host: string): Promise<true | false | "in use"> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "EADDRINUSE" ? "in use" : false));
    s.listen({ port, host, ipv6Only: host === "::" }, () => s.close(() => resolve(true)));
  });
}
