// The release binaries run on the platforms they are named for (issue 6, "Release").
//
// Strategy: building all seven binaries on every test run would cost ~700 MB of runtimes and
// output; instead the test runs the real release script (`bun scripts/release.ts`, what
// `npm run release` runs) for the two binaries this machine can execute: linux-arm64, under
// qemu-user with Debian's arm64 glibc, and linux-x64-musl, with Debian's musl loader (see
// musl-runtime.ts for what stands in for Alpine's libstdc++). Each prints its version and serves
// examples/hello.ts to a real fetch over 127.0.0.1. The other five targets share the same code
// path and are checked for format and CPU by the release script itself on every build.
//
// The setup runs at load time so that a missing prerequisite (registry unreachable, no qemu, no
// musl loader) turns the affected tests into skips with the reason printed, not failures.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import packageJson from "../../package.json" with { type: "json" };
import { EXIT_RUNTIME_UNAVAILABLE, describeExecutable } from "../../scripts/release.ts";
import { prepareMuslRuntime, standInShortfall } from "./musl-runtime.ts";
import { AARCH64_SYSROOT, ensureReleaseTools } from "./tools.ts";

const ROOT = join(import.meta.dir, "..", "..");
const EXAMPLES = join(ROOT, "examples");
/** Bounds: the build fetches two ~50 MB runtimes on first use; qemu starts Bun in seconds, not ms. */
const BUILD_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 90_000;
const REQUEST_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const RUN_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 180_000;

const EXPECTED_VERSION_LINE = `tray ${packageJson.version} (bun ${packageJson.devDependencies.bun})\n`;
const BASE_ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };

const work = mkdtempSync(join(tmpdir(), "tray-release-test-"));
const outDir = join(work, "release");
const arm64 = join(outDir, "tray-linux-arm64");
const x64Musl = join(outDir, "tray-linux-x64-musl");
const started = new Set<ChildProcess>();

afterAll(() => {
  for (const proc of started) if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs: number }): Promise<Run> {
  const proc = Bun.spawn(cmd, { cwd: options.cwd ?? ROOT, env: options.env ?? BASE_ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

// --- Setup: build, then find or install the tools to run foreign binaries. ---

const buildStarted = performance.now();
const build = await run([process.execPath, "scripts/release.ts", `--out=${outDir}`, "linux-arm64", "linux-x64-musl"], {
  env: { ...process.env } as Record<string, string>,
  timeoutMs: BUILD_TIMEOUT_MS,
});
const buildSeconds = (performance.now() - buildStarted) / 1000;
const buildSkip = build.code === EXIT_RUNTIME_UNAVAILABLE ? `the Bun runtimes could not be fetched from the npm registry: ${build.stderr.trim()}` : null;
if (buildSkip) console.warn(`release test: SKIPPING, ${buildSkip}`);
else console.warn(`release test: built linux-arm64 and linux-x64-musl in ${buildSeconds.toFixed(1)}s (exit ${build.code})`);
const built = build.code === 0;

const tools = await ensureReleaseTools((line) => console.warn(line));
const qemuSkip = tools.qemuAarch64 ? null : `no qemu-user for arm64: missing ${tools.qemuMissing.join(", ")}`;
if (qemuSkip && built) console.warn(`release test: SKIPPING the arm64 runs, ${qemuSkip}`);

let muslLibraryPath = "";
let muslSkip: string | null = tools.muslLoader ? null : `no musl loader: missing ${tools.muslMissing.join(", ")}`;
if (!muslSkip && built) {
  const prepared = await prepareMuslRuntime(join(work, "musl-lib"));
  if ("reason" in prepared) muslSkip = prepared.reason;
  else {
    muslLibraryPath = prepared.libraryPath;
    // One probe: a shortfall of the stand-in libraries is this machine's limit, not the binary's.
    const probe = await run([x64Musl, "--version"], { env: { ...BASE_ENV, LD_LIBRARY_PATH: muslLibraryPath }, timeoutMs: RUN_TIMEOUT_MS });
    const shortfall = probe.code === 0 ? null : standInShortfall(probe.stderr, muslLibraryPath);
    if (shortfall) muslSkip = `Debian's libstdc++ cannot stand in for musl's here: ${shortfall}`;
  }
}
if (muslSkip && built) console.warn(`release test: SKIPPING the musl runs, ${muslSkip}`);

const muslEnv = { ...BASE_ENV, LD_LIBRARY_PATH: muslLibraryPath };
const qemuArm64 = [tools.qemuAarch64 ?? "qemu-aarch64-static", "-L", AARCH64_SYSROOT, arm64];

// --- Serving ---

interface Serving {
  url: string;
  stop(): Promise<number>;
}

/** Starts `command` serving examples/hello.ts on 127.0.0.1 and a port the OS picks. */
async function serveHello(command: string[], env: Record<string, string>): Promise<Serving> {
  const [program, ...args] = command;
  const proc = spawn(program, [...args, "--host=127.0.0.1", "--port=0", "--threads=1", "hello.ts"], { cwd: EXAMPLES, env, stdio: ["ignore", "pipe", "pipe"] });
  started.add(proc);
  let stderr = "";
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  proc.stdout!.resume();
  const exited = new Promise<number>((resolve) => proc.once("exit", (code, signal) => resolve(code ?? (signal === "SIGKILL" ? 137 : 143))));
  const deadline = Date.now() + START_TIMEOUT_MS;
  let url: string | undefined;
  while (!(url = /Serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1])) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${program} exited (${proc.exitCode ?? proc.signalCode}) before serving:\n${stderr}`);
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`not serving after ${START_TIMEOUT_MS / 1000}s:\n${stderr}`);
    }
    await Bun.sleep(50);
  }
  return {
    url,
    async stop() {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function expectServesHello(command: string[], env: Record<string, string>): Promise<void> {
  const server = await serveHello(command, env);
  try {
    const response = await fetch(`${server.url}/release-check?q=1`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    expect(response.status).toBe(200);
    expect(response.headers.get("server")).toBe("tray");
    expect(await response.text()).toBe("Hello from tray! You asked for /release-check\n");
  } finally {
    // SIGTERM: stop accepting, finish in-flight requests, exit 0 (DESIGN.md §2).
    expect(await server.stop()).toBe(0);
  }
}

async function fileSays(path: string): Promise<string | null> {
  if (!tools.file) return null;
  return (await run([tools.file, "-b", path], { timeoutMs: RUN_TIMEOUT_MS })).stdout;
}

// --- Tests ---

describe.skipIf(buildSkip !== null)("release build of linux-arm64 and linux-x64-musl", () => {
  test("scripts/release.ts exits 0", () => {
    if (!built) throw new Error(`scripts/release.ts failed with exit ${build.code}:\n${build.stdout}${build.stderr}`);
  });

  test.skipIf(!built)("SHA256SUMS lists each binary in sha256sum format, and sha256sum -c accepts it", async () => {
    const sums = readFileSync(join(outDir, "SHA256SUMS"), "utf8");
    expect(sums).toMatch(/^[0-9a-f]{64} {2}tray-linux-arm64\n[0-9a-f]{64} {2}tray-linux-x64-musl\n$/);
    if (Bun.which("sha256sum")) {
      const check = await run(["sha256sum", "-c", "SHA256SUMS"], { cwd: outDir, timeoutMs: RUN_TIMEOUT_MS });
      expect(check.stdout).toBe("tray-linux-arm64: OK\ntray-linux-x64-musl: OK\n");
      expect(check.code).toBe(0);
    }
  });

  test.skipIf(!built)("tray-linux-arm64 is an aarch64 ELF that asks for glibc's loader", async () => {
    expect(await describeExecutable(arm64)).toEqual({ format: "elf", cpu: "arm64", interpreter: "/lib/ld-linux-aarch64.so.1" });
    const said = await fileSays(arm64);
    if (said !== null) expect(said).toContain("ARM aarch64");
  });

  test.skipIf(!built)("tray-linux-x64-musl is an x86-64 ELF whose PT_INTERP is musl's loader", async () => {
    expect(await describeExecutable(x64Musl)).toEqual({ format: "elf", cpu: "x64", interpreter: "/lib/ld-musl-x86_64.so.1" });
    const said = await fileSays(x64Musl);
    if (said !== null) expect(said).toContain("interpreter /lib/ld-musl-x86_64.so.1");
  });

  describe.skipIf(!built || qemuSkip !== null)("tray-linux-arm64 under qemu-user", () => {
    test(
      "--version names tray's version and the Bun it was built with",
      async () => {
        const result = await run([...qemuArm64, "--version"], { timeoutMs: RUN_TIMEOUT_MS });
        expect(result.stdout).toBe(EXPECTED_VERSION_LINE);
        expect(result.code).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    test("serves examples/hello.ts to a fetch over 127.0.0.1, then stops on SIGTERM with status 0", () => expectServesHello(qemuArm64, BASE_ENV), TEST_TIMEOUT_MS);
  });

  describe.skipIf(!built || muslSkip !== null)("tray-linux-x64-musl with Debian's musl loader", () => {
    test(
      "--version names tray's version and the Bun it was built with",
      async () => {
        const result = await run([x64Musl, "--version"], { env: muslEnv, timeoutMs: RUN_TIMEOUT_MS });
        expect(result.stdout).toBe(EXPECTED_VERSION_LINE);
        expect(result.code).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    test("serves examples/hello.ts to a fetch over 127.0.0.1, then stops on SIGTERM with status 0", () => expectServesHello([x64Musl], muslEnv), TEST_TIMEOUT_MS);
  });
});
