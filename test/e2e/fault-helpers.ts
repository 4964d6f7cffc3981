// Helpers for the bodies/faults/shutdown e2e tests (on top of the shared harness.ts).
//
// Strategy: every tray started here gets its own scratch directory as TMPDIR (so "no temp file
// left behind" is an exact check on one directory) and a state directory through which the
// fixture app (test/fixtures/e2e/faults/app.ts) reports what happened inside the Workers.
// Big bodies are never held whole in the test: they are generated (faults/pattern.ts), written
// with backpressure and hashed as they pass. Every wait is bounded.

import { createHash } from "node:crypto";
import type { Hash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "node:net";
import { rawConnect, rssOf, startTray } from "./harness.ts";
import type { StartOptions, Tray } from "./harness.ts";
import { patternPieces } from "../fixtures/e2e/faults/pattern.ts";

/** The fixture app, relative to the harness's cwd (test/fixtures/e2e). */
export const FAULT_APP = "faults/app.ts";

export const MiB = 1024 * 1024;

// --- scratch directories -------------------------------------------------------------------

export interface Scratch {
  /** TMPDIR of the tray process: its temp files (tray-<pid>-*) land here. */
  tmp: string;
  /** TRAY_E2E_STATE: marker files written by the fixture app. */
  state: string;
  cleanup(): void;
}

export function makeScratch(): Scratch {
  const root = mkdtempSync(join(tmpdir(), "tray-e2e-faults-"));
  const tmp = join(root, "tmp");
  const state = join(root, "state");
  mkdirSync(tmp);
  mkdirSync(state);
  return { tmp, state, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * Starts dist/tray serving the fixture app with args, TMPDIR and the state directory set.
 * harness.freePort() probes by connecting, which cannot see a port held as the local end of an
 * outgoing connection (ephemeral range), so "already in use" is retried on another port.
 */
export async function startFaultTray(args: string[], scratch: Scratch, opts: StartOptions = {}): Promise<Tray> {
  const run = () =>
    startTray([...args, FAULT_APP], {
      ...opts,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: process.env.HOME ?? "/tmp",
        TMPDIR: scratch.tmp,
        TRAY_E2E_STATE: scratch.state,
        ...opts.env,
      },
    });
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= 3 || !String(err).includes("already in use")) throw err;
    }
  }
}

/** Marker file written by the fixture app, or null. */
export function marker(scratch: Scratch, name: string): string | null {
  const file = join(scratch.state, name);
  return existsSync(file) ? readFileSync(file, "utf8") : null;
}

/** Temp files tray left in its TMPDIR (names tray-<pid>-...). */
export function trayTempFiles(scratch: Scratch, pid: number): string[] {
  return readdirSync(scratch.tmp).filter((n) => n.startsWith(`tray-${pid}-`));
}

/** Files under `dir` that process `pid` still has open (including unlinked ones, "(deleted)"). */
export function openFilesUnder(pid: number, dir: string): string[] {
  const out: string[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith(dir + "/")) out.push(target);
    } catch {
      // closed while we looked
    }
  }
  return out;
}

// --- waiting -------------------------------------------------------------------------------

/** Polls until fn() returns a truthy value (returned) or timeoutMs passes (returns the last value). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await Bun.sleep(stepMs);
  }
}

/** Resolves with the process's exit code, or null if it is still running after timeoutMs. */
export function exitWithin(tray: Tray, timeoutMs: number): Promise<number | null> {
  return Promise.race([tray.exited, Bun.sleep(timeoutMs).then(() => null)]);
}

// --- memory --------------------------------------------------------------------------------

export interface RssSampler {
  /** Highest RSS seen so far, bytes. */
  max(): number;
  count(): number;
  stop(): number;
}

/** Samples the RSS of pid every everyMs until stop(); returns the peak. */
export function sampleRss(pid: number, everyMs = 50): RssSampler {
  let max = 0;
  let count = 0;
  const take = () => {
    try {
      const r = rssOf(pid);
      count++;
      if (r > max) max = r;
    } catch {
      // process gone
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    max: () => max,
    count: () => count,
    stop() {
      clearInterval(timer);
      take();
      return max;
    },
  };
}

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

// --- writing -------------------------------------------------------------------------------

/** socket.write with backpressure: waits for 'drain'; rejects if the socket closes first. */
export function writeAll(socket: Socket, bytes: Uint8Array | string): Promise<void> {
  if (socket.destroyed) return Promise.reject(new Error("socket closed"));
  if (socket.write(bytes)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = () => (cleanup(), resolve());
    const onClose = () => (cleanup(), reject(new Error("socket closed while writing")));
    const cleanup = () => {
      socket.off("drain", onDrain);
      socket.off("close", onClose);
    };
    socket.on("drain", onDrain);
    socket.on("close", onClose);
  });
}

/**
 * Writes `total` pattern bytes as a request body (raw, or chunked-coded with the pattern's
 * naturally varying piece sizes), hashing as it goes; onProgress sees the bytes sent so far.
 * unfinished: leave a chunked body open (no last-chunk), as a client that dies mid-body would.
 * Returns the sha-256 of the body bytes (hex).
 */
export async function sendPatternBody(socket: Socket, total: number, opts: { chunked?: boolean; unfinished?: boolean; piece?: number; onProgress?: (sent: number) => void } = {}): Promise<string> {
  const hash = createHash("sha256");
  let sent = 0;
  for (const piece of patternPieces(total, opts.piece ?? MiB)) {
    hash.update(piece);
    if (opts.chunked) {
      await writeAll(socket, Buffer.concat([Buffer.from(piece.byteLength.toString(16) + "\r\n", "latin1"), piece, CRLF]));
    } else {
      await writeAll(socket, piece);
    }
    sent += piece.byteLength;
    opts.onProgress?.(sent);
  }
  if (opts.chunked && !opts.unfinished) await writeAll(socket, "0\r\n\r\n");
  return hash.digest("hex");
}

/** sha-256 (hex) of the first `total` pattern bytes. */
export function patternSha256(total: number): string {
  const hash = createHash("sha256");
  for (const piece of patternPieces(total)) hash.update(piece);
  return hash.digest("hex");
}

const CRLF = Buffer.from("\r\n", "latin1");

// --- reading -------------------------------------------------------------------------------

export interface HeadInfo {
  status: number;
  headers: Record<string, string>;
  rawHead: string;
}

function parseHead(raw: string): HeadInfo {
  const lines = raw.split("\r\n");
  const status = Number(lines[0].split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, rawHead: raw };
}

/**
 * One response read incrementally: head, then a Content-Length, chunked or close-delimited body
 * handed to onBody piece by piece (never accumulated). Interim 1xx responses are skipped.
 */
export class StreamedResponse {
  head: HeadInfo | null = null;
  bodyBytes = 0;
  complete = false;
  /** Set when the bytes are not valid HTTP framing. */
  error: string | null = null;
  private state: "head" | "size" | "data" | "data-crlf" | "trailer" | "length" | "close" | "done" = "head";
  private pending: Buffer = Buffer.alloc(0);
  private left = 0;

  constructor(private readonly onBody: (piece: Uint8Array) => void, private readonly method = "GET") {}

  feed(chunk: Buffer): void {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    let i = 0;
    while (i < buf.length && this.state !== "done" && this.error === null) {
      switch (this.state) {
        case "head": {
          const end = buf.indexOf("\r\n\r\n", i, "latin1");
          if (end < 0) {
            this.pending = buf.subarray(i);
            return;
          }
          const head = parseHead(buf.toString("latin1", i, end));
          i = end + 4;
          if (head.status >= 100 && head.status < 200) break;
          this.head = head;
          const noBody = this.method === "HEAD" || head.status === 204 || head.status === 304;
          if (noBody) this.finish();
          else if ((head.headers["transfer-encoding"] ?? "").toLowerCase() === "chunked") this.state = "size";
          else if (head.headers["content-length"] !== undefined) {
            this.left = Number(head.headers["content-length"]);
            this.state = "length";
            if (this.left === 0) this.finish();
          } else this.state = "close";
          break;
        }
        case "size": {
          const end = buf.indexOf("\r\n", i, "latin1");
          if (end < 0) {
            this.pending = buf.subarray(i);
            return;
          }
          const line = buf.toString("latin1", i, end);
          i = end + 2;
          if (!/^[0-9a-fA-F]+(;.*)?$/.test(line)) {
            this.error = `bad chunk-size line ${JSON.stringify(line)}`;
            return;
          }
          const size = parseInt(line, 16);
          if (size === 0) this.state = "trailer";
          else {
            this.left = size;
            this.state = "data";
          }
          break;
        }
        case "data":
        case "length": {
          const n = Math.min(this.left, buf.length - i);
          this.onBody(buf.subarray(i, i + n));
          this.bodyBytes += n;
          this.left -= n;
          i += n;
          if (this.left === 0) {
            if (this.state === "data") this.state = "data-crlf";
            else this.finish();
          }
          break;
        }
        case "data-crlf": {
          if (buf.length - i < 2) {
            this.pending = buf.subarray(i);
            return;
          }
          if (buf[i] !== 13 || buf[i + 1] !== 10) {
            this.error = "chunk data not followed by CRLF";
            return;
          }
          i += 2;
          this.state = "size";
          break;
        }
        case "trailer": {
          const end = buf.indexOf("\r\n", i, "latin1");
          if (end < 0) {
            this.pending = buf.subarray(i);
            return;
          }
          const empty = end === i;
          i = end + 2;
          if (empty) this.finish();
          break;
        }
        case "close": {
          this.onBody(buf.subarray(i));
          this.bodyBytes += buf.length - i;
          i = buf.length;
          break;
        }
      }
    }
  }

  /** The connection closed: completes a close-delimited body. */
  closed(): void {
    if (this.state === "close") this.finish();
  }

  private finish(): void {
    this.state = "done";
    this.complete = true;
  }
}

export interface SmallResponse extends HeadInfo {
  body: Buffer;
}

/**
 * A keep-alive client on one raw socket: send bytes, then read responses one at a time
 * (Content-Length, chunked or close-delimited bodies, small enough to keep in memory).
 */
export class RawClient {
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.poke();
    });
    this.closedPromise = new Promise((resolve) => {
      const done = () => {
        this.closed = true;
        this.poke();
        resolve();
      };
      socket.once("close", done);
      socket.on("error", () => {});
    });
  }

  static async open(port: number | string): Promise<RawClient> {
    return new RawClient(await rawConnect(port));
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  send(data: string | Uint8Array): void {
    this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** Bytes received and not yet consumed by response(). */
  get buffered(): number {
    return this.buf.length;
  }

  /** The next complete response, or null if none arrives within timeoutMs / the socket closes first. */
  async response(timeoutMs = 15000, method = "GET"): Promise<SmallResponse | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.tryParse(method);
      if (r !== null) return r;
      if (this.closed || Date.now() > deadline) return null;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.max(1, Math.min(200, deadline - Date.now())));
      });
    }
  }

  /** True if the server closes the connection within timeoutMs. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    await Promise.race([this.closedPromise, Bun.sleep(timeoutMs)]);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private tryParse(method: string): SmallResponse | null {
    // Skip interim 1xx responses, then find where the final response ends before decoding it.
    let start = 0;
    for (;;) {
      const end = this.buf.indexOf("\r\n\r\n", start, "latin1");
      if (end < 0) return null;
      const head = parseHead(this.buf.toString("latin1", start, end));
      if (head.status >= 100 && head.status < 200) {
        start = end + 4;
        continue;
      }
      const total = measureResponse(this.buf, end + 4, head, method, this.closed);
      if (total === null) return null;
      const pieces: Buffer[] = [];
      const parser = new StreamedResponse((p) => pieces.push(Buffer.from(p)), method);
      parser.feed(this.buf.subarray(start, total));
      parser.closed();
      this.buf = this.buf.subarray(total);
      return { ...head, body: Buffer.concat(pieces) };
    }
  }
}

/** Offset just past the response whose body starts at bodyStart, or null if it is not all here. */
function measureResponse(buf: Buffer, bodyStart: number, head: HeadInfo, method: string, closed: boolean): number | null {
  if (method === "HEAD" || head.status === 204 || head.status === 304) return bodyStart;
  if ((head.headers["transfer-encoding"] ?? "").toLowerCase() === "chunked") {
    let i = bodyStart;
    for (;;) {
      const le = buf.indexOf("\r\n", i, "latin1");
      if (le < 0) return null;
      const size = parseInt(buf.toString("latin1", i, le), 16);
      i = le + 2;
      if (size === 0) {
        for (;;) {
          const te = buf.indexOf("\r\n", i, "latin1");
          if (te < 0) return null;
          const empty = te === i;
          i = te + 2;
          if (empty) return i;
        }
      }
      if (buf.length < i + size + 2) return null;
      i += size + 2;
    }
  }
  if (head.headers["content-length"] !== undefined) {
    const n = Number(head.headers["content-length"]);
    return buf.length >= bodyStart + n ? bodyStart + n : null;
  }
  return closed ? buf.length : null;
}

/** One GET on a fresh connection (Connection: close); the parsed response or null on timeout. */
export async function get(port: number | string, path: string, timeoutMs = 15000): Promise<SmallResponse | null> {
  const c = await RawClient.open(port);
  try {
    c.send(`GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    return await c.response(timeoutMs);
  } finally {
    c.destroy();
  }
}

/** A sha-256 hasher for streamed bodies. */
export function sha256(): Hash {
  return createHash("sha256");
}
