// Shared by test/e2e/proxy.test.ts and nginx.test.ts: one HTTP/1.1 exchange over a raw socket
// from a chosen local address (the "client" of a proxy test must not be the proxy's address), and
// an nginx started and stopped by the test itself (own config, prefix, logs and pid file in a
// temp dir; killed by pid). Every wait is bounded.

import { connect } from "node:net";
import type { Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, freePort } from "./harness.ts";

export const PROXY_FIXTURES = join(FIXTURES, "proxy");

/** A loopback address other than 127.0.0.1 (Linux routes all of 127/8 to lo): the "client". */
export const CLIENT_ADDRESS = "127.0.0.2";

export interface Reply {
  status: number;
  /** Lower-case name -> last value. */
  headers: Record<string, string>;
  body: Buffer;
  /** The body as JSON (the fixture's routes answer JSON). */
  json<T = Record<string, unknown>>(): T;
}

/** TCP (optionally TLS with this SNI name, certificate not checked: the tests make their own) or a unix socket. */
export type Target = { port: number; host?: string; tls?: { servername: string } } | { path: string };

function open(target: Target, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if ("path" in target) {
      const s = connect({ path: target.path });
      s.once("connect", () => resolve(s));
      s.once("error", reject);
      return;
    }
    const host = target.host ?? "127.0.0.1";
    if (target.tls !== undefined) {
      // TLS over a TCP socket opened from localAddress (tls.connect's own options do not take one).
      const tcp = connect({ host, port: target.port, localAddress });
      tcp.once("error", reject);
      const s = tlsConnect({ socket: tcp, servername: target.tls.servername, rejectUnauthorized: false });
      s.once("secureConnect", () => resolve(s));
      s.once("error", reject);
      return;
    }
    const s = connect({ host, port: target.port, localAddress });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** Decodes one response from the whole byte stream of a closed connection. */
export function parseReply(bytes: Buffer): Reply {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`no response head in ${JSON.stringify(bytes.toString("latin1").slice(0, 200))}`);
  const lines = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(lines[0].split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let rest = bytes.subarray(end + 4);
  let body: Buffer;
  if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
    const parts: Buffer[] = [];
    for (;;) {
      const le = rest.indexOf("\r\n");
      const size = parseInt(rest.subarray(0, le).toString("latin1"), 16);
      if (!(size >= 0)) throw new Error("bad chunk size in response");
      if (size === 0) break;
      parts.push(rest.subarray(le + 2, le + 2 + size));
      rest = rest.subarray(le + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else if (headers["content-length"] !== undefined) {
    body = rest.subarray(0, Number(headers["content-length"]));
  } else body = rest;
  return { status, headers, body, json: <T>() => JSON.parse(body.toString("utf8")) as T };
}

/**
 * Sends one request (its head as text, with "Connection: close" added) and an optional body, and
 * reads until the server closes.
 */
export async function ask(target: Target, head: string, opts: { body?: Uint8Array; localAddress?: string; timeoutMs?: number } = {}): Promise<Reply> {
  const s = await open(target, opts.localAddress);
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete answer in ${opts.timeoutMs ?? 15_000} ms to ${JSON.stringify(head.split("\r\n")[0])}; got ${JSON.stringify(Buffer.concat(chunks).toString("latin1").slice(0, 300))}`));
    }, opts.timeoutMs ?? 15_000);
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("close", () => (clearTimeout(timer), resolve()));
    s.on("error", () => undefined);
  });
  s.write(Buffer.from(`${head.replace(/\r\n$/, "")}\r\nConnection: close\r\n\r\n`, "latin1"));
  if (opts.body !== undefined) s.write(opts.body);
  await done;
  return parseReply(Buffer.concat(chunks));
}

/** The fixture app's /info answer. */
export interface Seen {
  method: string;
  url: string;
  headers: [string, string][];
  remoteAddr: { hostname: string; port: number; transport: string };
  requestIP: { address: string; family: string; port: number } | null;
  scriptName: string;
}

export const headerOf = (seen: Seen, name: string): string | undefined => seen.headers.find(([n]) => n === name.toLowerCase())?.[1];

// --- nginx -----------------------------------------------------------------------------------

/** The nginx binary, or null when it is not installed (.ci/run installs Debian's). */
export function findNginx(): string | null {
  for (const p of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"]) if (existsSync(p)) return p;
  const which = spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" });
  const p = which.stdout.trim();
  if (p === "") return null;
  return spawnSync(p, ["-v"]).status === 0 ? p : null;
}

export interface Nginx {
  proc: ChildProcess;
  port: number;
  errorLog(): string;
  accessLog(): string;
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground on 127.0.0.1:<free port> with the template at `template`, whose
 * @NAME@ placeholders are filled from `vars` plus PREFIX, PORT and USER (a `user root;` line when
 * running as root, else nothing: workers must reach the temp dir and the 0600 unix socket).
 */
export async function startNginx(nginx: string, dir: string, template: string, vars: Record<string, string>): Promise<Nginx> {
  // A probed free port can be taken before nginx binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNginxOnce(nginx, dir, template, vars, await freePort());
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test(String(err))) throw err;
    }
  }
}

async function startNginxOnce(nginx: string, dir: string, template: string, vars: Record<string, string>, port: number): Promise<Nginx> {
  for (const d of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d), { recursive: true });
  const all: Record<string, string> = { ...vars, PREFIX: dir, PORT: String(port), USER: process.getuid?.() === 0 ? "user root;" : "" };
  const conf = readFileSync(template, "utf8").replace(/@([A-Z_]+)@/g, (_, k: string) => {
    if (all[k] === undefined) throw new Error(`nginx template needs @${k}@`);
    return all[k];
  });
  const confPath = join(dir, "nginx.conf");
  writeFileSync(confPath, conf);
  const errorLog = join(dir, "error.log");
  const proc = spawn(nginx, ["-p", dir, "-c", confPath, "-e", errorLog, "-g", "daemon off;"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : "");
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}:\n${out}\n${read("error.log")}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`nginx did not listen on ${port} in time:\n${out}\n${read("error.log")}`);
    }
    await Bun.sleep(50);
  }
  return {
    proc,
    port,
    errorLog: () => read("error.log"),
    accessLog: () => read("access.log"),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM"); // nginx: fast shutdown of master and workers
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
