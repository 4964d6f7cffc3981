// Shared by the e2e tests: start dist/tray on a free port, talk to it with raw sockets, stop it.
// Every process a test starts is stopped by pid in afterAll; every wait is bounded.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
export const TRAY = join(ROOT, "dist", "tray");
export const FIXTURES = join(ROOT, "test", "fixtures", "e2e");

if (!existsSync(TRAY)) {
  throw new Error("dist/tray is missing: run `npm test` (it builds first) or `npm run build`");
}

export interface Tray {
  proc: ChildProcess;
  port: number;
  /** "http://127.0.0.1:PORT" */
  url: string;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (signal -> 128+n) once the process exits. */
  exited: Promise<number>;
  stop(): Promise<number>;
}

// Below Linux's ephemeral range (32768-60999), so no client socket of another test can be holding
// the port as its local end by the time a server binds it.
let nextPort = 10000 + Math.floor(Math.random() * 20000);

/** A port that can be bound on 127.0.0.1 right now (checked by binding it; bounded tries). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = nextPort++;
    if (nextPort >= 32000) nextPort = 10000;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port found");
}

export interface StartOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Wait for this many "Serving on" lines (default 1); 0 = don't wait. */
  serving?: number;
  /** Add --port and --host automatically (default true). */
  autoPort?: boolean;
  timeoutMs?: number;
}

/** Starts dist/tray with args (plus --host=127.0.0.1 --port=<free> unless autoPort is false). */
export async function startTray(args: string[], opts: StartOptions = {}): Promise<Tray> {
  // --port=0: the kernel picks a free port and tray names it in its "Serving on" line; probing for a
  // free port first races with every other test's outgoing connections.
  let port = 0;
  const full = opts.autoPort === false ? args : ["--host=127.0.0.1", "--port=0", ...args];
  const proc = spawn(TRAY, full, {
    cwd: opts.cwd ?? FIXTURES,
    env: opts.env ?? { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  let out = "";
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number>((resolve) => proc.once("exit", (code, signal) => resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : 15))));
  const tray: Tray = {
    proc,
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    stderr: () => err,
    stdout: () => out,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 10000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
  const want = opts.serving ?? 1;
  if (want > 0) {
    const deadline = Date.now() + (opts.timeoutMs ?? 20000);
    while ((err.match(/Serving on /g) ?? []).length < want) {
      if (proc.exitCode !== null) throw new Error(`tray exited with ${proc.exitCode} before serving:\n${err}`);
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`tray did not start serving in time:\n${err}`);
      }
      await Bun.sleep(20);
    }
    const m = /Serving on https?:\/\/(?:\[[^\]]+\]|[^:/]+):(\d+)/.exec(err);
    if (m) port = Number(m[1]);
  }
  return tray;
}

/** Runs dist/tray to completion (for option/loading errors): exit code, stdout, stderr. */
export async function runTray(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([TRAY, ...args], { cwd: opts.cwd ?? FIXTURES, env: opts.env ?? { PATH: process.env.PATH ?? "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 20000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Opens a raw TCP connection (or unix socket path). */
export function rawConnect(port: number | string, host = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = typeof port === "string" ? connect({ path: port }) : connect({ host, port });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/**
 * Sends bytes and collects everything until the server closes, or until `idleMs` passes with no
 * new bytes (then the socket is destroyed). Returns the bytes as latin-1 and whether it closed.
 */
export async function exchange(port: number | string, data: string | Uint8Array | (string | Uint8Array)[], opts: { idleMs?: number; host?: string; maxMs?: number } = {}): Promise<{ text: string; closed: boolean }> {
  const s = await rawConnect(port, opts.host);
  const parts = Array.isArray(data) ? data : [data];
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let idle: ReturnType<typeof setTimeout>;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      clearTimeout(max);
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    };
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => finish(false), opts.idleMs ?? 500);
    };
    const max = setTimeout(() => finish(false), opts.maxMs ?? 15000);
    s.on("data", (d: Buffer) => {
      chunks.push(d);
      arm();
    });
    s.on("close", () => finish(true));
    s.on("error", () => finish(true));
    for (const p of parts) s.write(typeof p === "string" ? Buffer.from(p, "latin1") : p);
    arm();
  });
}

/** Splits a byte stream of HTTP/1.1 responses (Content-Length or chunked) into parsed responses. */
export function parseResponses(text: string): { status: number; headers: Record<string, string>; rawHead: string; body: string }[] {
  const out: { status: number; headers: Record<string, string>; rawHead: string; body: string }[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) break;
    const rawHead = rest.slice(0, end);
    const lines = rawHead.split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    rest = rest.slice(end + 4);
    let body = "";
    if (status === 100) {
      out.push({ status, headers, rawHead, body });
      continue;
    }
    if (headers["transfer-encoding"] === "chunked") {
      for (;;) {
        const le = rest.indexOf("\r\n");
        const size = parseInt(rest.slice(0, le), 16);
        rest = rest.slice(le + 2);
        if (size === 0) {
          rest = rest.slice(rest.indexOf("\r\n") + 2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else if (headers["content-length"] !== undefined) {
      const n = Number(headers["content-length"]);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else {
      body = rest;
      rest = "";
    }
    out.push({ status, headers, rawHead, body });
  }
  return out;
}

/** RSS of a pid in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8") as string;
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}
