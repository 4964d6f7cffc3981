// systemd integration through dist/tray: socket activation with systemd-socket-activate (the
// sockets systemd passes replace --host/--port), and sd_notify: READY=1 once serving and
// STOPPING=1 on SIGTERM, received on a unix datagram socket (a path, and the abstract namespace)
// by a small python3 receiver. Skips, saying why, when a tool is missing (.ci/run installs them).

import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, TRAY, freePort, startTray } from "./harness.ts";

const CWD = join(FIXTURES, "ops");
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };
const ACTIVATE = spawnSync("systemd-socket-activate", ["--version"], { stdio: "ignore" }).status === 0 ? "systemd-socket-activate" : null;
const PYTHON = spawnSync("python3", ["--version"], { stdio: "ignore" }).status === 0 ? "python3" : null;
if (ACTIVATE === null) console.warn("systemd.test.ts: socket activation SKIPPED - systemd-socket-activate is not installed (apt-get install -y systemd)");
if (PYTHON === null) console.warn("systemd.test.ts: sd_notify SKIPPED - python3 is not installed (it receives the notifications)");

const started: ChildProcess[] = [];
afterAll(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

/** One request with Connection: close; the whole answer once the server closes (bounded). */
function ask(port: number, path: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => (s.destroy(), reject(new Error(`no answer on ${port} in ${timeoutMs} ms`))), timeoutMs);
    s.once("connect", () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("close", () => (clearTimeout(timer), resolve(Buffer.concat(chunks).toString("latin1"))));
    s.on("error", (e) => (clearTimeout(timer), reject(e)));
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(false)));
    s.once("error", () => resolve(true));
  });
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe.skipIf(ACTIVATE === null)("socket activation (LISTEN_FDS)", () => {
  test("tray serves on the sockets systemd passes, not on --host/--port, and exits 0 on SIGTERM", async () => {
    const [a, b, unused] = [await freePort(), await freePort(), await freePort()];
    // systemd-socket-activate binds both, then execs tray (same pid) on the first connection.
    const proc = spawn(ACTIVATE!, ["-l", `127.0.0.1:${a}`, "-l", `127.0.0.1:${b}`, TRAY, "--host=127.0.0.1", `--port=${unused}`, "--threads=1", "app.ts"], { cwd: CWD, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    started.push(proc);
    let err = "";
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    await until("systemd-socket-activate to listen", () => err.includes(`127.0.0.1:${b}`), 10_000);
    const first = await ask(a, "/");
    expect(first).toStartWith("HTTP/1.1 200 OK");
    expect(first).toEndWith("hello\n");
    expect(await ask(b, "/whoami")).toStartWith("HTTP/1.1 200 OK");
    // sd_listen_fds(unset_environment=1): the app does not see the variables meant for tray.
    expect(await ask(b, "/env?name=LISTEN_FDS")).toEndWith("\r\n\r\n(unset)\n");
    expect(await ask(b, "/env?name=LISTEN_PID")).toEndWith("\r\n\r\n(unset)\n");
    expect(err).toContain(`Serving on http://127.0.0.1:${a}`);
    expect(err).toContain(`Serving on http://127.0.0.1:${b}`);
    expect(await refused(unused)).toBe(true);
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 30_000);

  test("LISTEN_FDS meant for another process is ignored", async () => {
    const tray = await startTray(["--threads=1", "app.ts"], { cwd: CWD, env: { ...ENV, LISTEN_PID: "1", LISTEN_FDS: "lots" } });
    try {
      expect(await ask(tray.port, "/")).toEndWith("hello\n");
    } finally {
      await tray.stop();
    }
  }, 30_000);

  test("LISTEN_FDS for this process that is not a count of sockets fails start-up with one line", async () => {
    // The pid is only known once running: sh puts its own pid in LISTEN_PID, then execs tray.
    const proc = Bun.spawn(["sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=lots exec "${TRAY}" --host=127.0.0.1 --port=0 app.ts`], { cwd: CWD, env: ENV, stderr: "pipe", stdout: "ignore" });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    clearTimeout(timer);
    expect(code).toBe(1);
    expect(stderr).toContain(`tray: LISTEN_FDS is "lots"; systemd passes a whole number of sockets from 1 to 64.`);
    expect(stderr).not.toContain("Serving on");
  }, 30_000);
});

/** A python3 receiver bound to a unix datagram socket: prints each message as one JSON line. */
function receiver(address: string): { proc: ChildProcess; messages: () => string[]; ready: Promise<void> } {
  const script = [
    "import socket, sys, json",
    "a = sys.argv[1]",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
    "s.bind('\\0' + a[1:] if a.startswith('@') else a)",
    "print('bound', flush=True)",
    "s.settimeout(30)",
    "while True:",
    "    print(json.dumps(s.recv(4096).decode()), flush=True)",
  ].join("\n");
  const proc = spawn(PYTHON!, ["-c", script, address], { stdio: ["ignore", "pipe", "inherit"] });
  started.push(proc);
  let out = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const ready = until("the receiver to bind", () => out.startsWith("bound\n"), 10_000);
  const messages = () => out.split("\n").slice(1).filter((l) => l !== "").map((l) => JSON.parse(l) as string);
  return { proc, messages, ready };
}

describe.skipIf(PYTHON === null)("sd_notify (NOTIFY_SOCKET)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tray-notify-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const kind of ["a socket path", "an abstract socket (@name)"]) {
    test(`READY=1 once serving, then STOPPING=1 on SIGTERM, to ${kind}`, async () => {
      const address = kind.startsWith("an abstract") ? `@tray-test-${process.pid}-${Date.now()}` : join(dir, "notify.sock");
      const r = receiver(address);
      await r.ready;
      const tray = await startTray(["--threads=1", "app.ts"], { cwd: CWD, env: { ...ENV, NOTIFY_SOCKET: address } });
      try {
        await until("READY=1", () => r.messages().length >= 1, 5000);
        expect(r.messages()).toEqual(["READY=1"]);
        expect(tray.stderr()).toContain("Serving on");
        tray.proc.kill("SIGTERM");
        expect(await tray.exited).toBe(0);
        await until("STOPPING=1", () => r.messages().length >= 2, 5000);
        expect(r.messages()).toEqual(["READY=1", "STOPPING=1"]);
      } finally {
        await tray.stop();
        r.proc.kill("SIGKILL");
      }
    });
  }

  test("without NOTIFY_SOCKET nothing is sent and nothing is logged about it", async () => {
    const tray = await startTray(["--threads=1", "app.ts"], { cwd: CWD, env: ENV });
    await tray.stop();
    expect(tray.stderr()).not.toContain("notify");
  });
});
