// The built executable's command line: --help, --version, usage errors (exit 2, one line on
// stderr, nothing listening) and start-up warnings. Runs dist/tray (built here if missing).
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { optionSynopsis } from "../../src/options/help.ts";
import { OPTION_TABLE } from "../../src/options/table.ts";

const ROOT = join(import.meta.dir, "..", "..");
// TRAY_BIN lets a developer point the suite at another build; CI uses dist/tray.
const TRAY = process.env.TRAY_BIN ?? join(ROOT, "dist", "tray");
const RUN_TIMEOUT_MS = 20_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function tray(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  const proc = Bun.spawn([TRAY, ...argv], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), RUN_TIMEOUT_MS);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** A port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Resolves true if something accepts a TCP connection on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

beforeAll(async () => {
  if (existsSync(TRAY)) return;
  const build = Bun.spawnSync(["bun", join(ROOT, "scripts", "build.ts")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`building dist/tray failed: ${build.stderr.toString()}`);
}, 180_000);

describe("tray --help", () => {
  test("prints the usage line and every option of the table to stdout, and exits 0", async () => {
    const r = await tray(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout.startsWith("Usage: tray [OPTIONS] MODULE[:OBJECT]\n")).toBe(true);
    for (const o of OPTION_TABLE) {
      expect(r.stdout).toContain(`    ${optionSynopsis(o)}\n`);
      if (o.shownDefault !== "") expect(r.stdout.replace(/\s+/g, " ")).toContain(`Default: ${o.shownDefault}.`);
    }
  });

  test("-h is the same text", async () => {
    const [long, short] = await Promise.all([tray(["--help"]), tray(["-h"])]);
    expect(short.code).toBe(0);
    expect(short.stdout).toBe(long.stdout);
  });

  test("wins over a bad command line", async () => {
    const r = await tray(["--threads=0", "--bogus", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("Usage: tray")).toBe(true);
  });
});

describe("tray --version", () => {
  test("prints tray's and Bun's versions and exits 0", async () => {
    const { version } = (await Bun.file(join(ROOT, "package.json")).json()) as { version: string };
    const r = await tray(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`^tray ${version.replace(/\./g, "\\.")} \\(bun \\d+\\.\\d+\\.\\d+[^)]*\\)\\n$`));
  });
});

describe("usage errors exit 2 with one line on stderr, before anything listens", () => {
  // Every case runs with PORT set to a free port: had tray started serving, it would be there.
  const CASES: { argv: (port: number) => string[]; mention: string }[] = [
    { argv: () => ["--port=abc", "app.ts"], mention: "--port" },
    { argv: () => ["--port=70000", "app.ts"], mention: "--port" },
    { argv: () => ["--threads=0", "app.ts"], mention: "--threads" },
    { argv: () => ["--unix-socket-perms=999", "app.ts"], mention: "--unix-socket-perms" },
    { argv: (p) => [`--listen=127.0.0.1:${p}`, "--host=127.0.0.1", "app.ts"], mention: "--listen" },
    { argv: (p) => [`--listen=127.0.0.1:${p}`, `--port=${p}`, "app.ts"], mention: "--listen" },
    { argv: (p) => [`--listen=:${p}`, "app.ts"], mention: "no host" },
    { argv: (p) => [`--listen=::1:${p}`, "app.ts"], mention: "brackets" },
    { argv: (p) => [`--listen=[::1]:${p}`, "--no-ipv6", "app.ts"], mention: "--no-ipv6" },
    { argv: () => ["--unix-socket=/tmp/tray-cli-test.sock", "--host=127.0.0.1", "app.ts"], mention: "--unix-socket" },
    { argv: () => ["--bogus", "app.ts"], mention: "unknown option '--bogus'" },
    { argv: () => [], mention: "no app given" },
    { argv: () => ["a.ts", "b.ts"], mention: "give one app only" },
    { argv: () => ["--trusted-proxy=127.0.0.1", "--trusted-proxy-headers=x-foo", "app.ts"], mention: "--trusted-proxy-headers" },
    { argv: () => ["--trusted-proxy-count=2", "app.ts"], mention: "--trusted-proxy-count" },
    { argv: () => ["--url-prefix=/a?b", "app.ts"], mention: "--url-prefix" },
    { argv: () => ["--ipv6=false", "app.ts"], mention: "takes no value" },
    { argv: () => ["app.ts", "--port"], mention: "needs a value" },
  ];

  for (const c of CASES) {
    test(JSON.stringify(c.argv(0)), async () => {
      const port = await freePort();
      const r = await tray(c.argv(port), { PORT: String(port) });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.split("\n");
      expect(lines).toHaveLength(2); // one line and its newline
      expect(lines[1]).toBe("");
      expect(lines[0]).toStartWith("tray: ");
      expect(lines[0]).toEndWith(" Try 'tray --help'.");
      expect(lines[0]).toContain(c.mention);
      expect(await accepts(port)).toBe(false);
    });
  }

  test("a bad $PORT is reported as such", async () => {
    const r = await tray(["app.ts"], { PORT: "http" });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("tray: the PORT environment variable is 'http', which is not a port (a whole number from 0 to 65535). Try 'tray --help'.\n");
  });

  test("the bad unix socket is not created", async () => {
    const path = `/tmp/tray-cli-test-${process.pid}.sock`;
    const r = await tray([`--unix-socket=${path}`, "--unix-socket-perms=8", "app.ts"]);
    expect(r.code).toBe(2);
    expect(existsSync(path)).toBe(false);
  });
});

describe("warnings", () => {
  test("--send-bytes prints a deprecation warning to stderr before start-up", async () => {
    const port = await freePort();
    // The app does not exist, so tray stops right after the warning whatever serve() does.
    const r = await tray(["--send-bytes=18000", "--host=127.0.0.1", `--port=${port}`, "no-such-app.ts"]);
    expect(r.stderr.split("\n")[0]).toBe("tray: warning: --send-bytes is deprecated (as in Waitress) and has no effect.");
    expect(r.code).not.toBe(0);
  });

  test("the asyncore options are accepted silently", async () => {
    const port = await freePort();
    const r = await tray(["--asyncore-loop-timeout=5", "--asyncore-use-poll", "--host=127.0.0.1", `--port=${port}`, "no-such-app.ts"]);
    expect(r.stderr).not.toContain("asyncore");
    expect(r.code).not.toBe(2);
  });
});
