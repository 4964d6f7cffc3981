// Runs wrk (one thread, optionally pinned to one CPU) against a server and returns its figures.
//
// Strategy: wrk takes one Lua script, so the workload's script (pipelining, upload body, ...) and
// lua/report.lua (a done() that prints one WRK_RESULT JSON line) are concatenated into a temp
// file; workload parameters travel as wrk's script arguments (`-- 16`), not by editing Lua.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WRK_THREADS, WRK_TIMEOUT } from "./config.ts";

export interface WrkRun {
  port: number;
  path: string;
  connections: number;
  seconds: number;
  /** File name under scripts/bench/lua/, or none for plain GETs. */
  script?: string;
  scriptArgs?: string[];
  /** CPU number for taskset, or null to let the scheduler place wrk. */
  pinCpu: number | null;
  tmpDir: string;
}

export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  bytes: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket read/write/connect errors, non-2xx/3xx statuses and timeouts, as wrk counts them. */
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  /** wrk's own CPU seconds (user + system), to tell the server's share of the machine from the load's. */
  clientCpuSeconds: number;
}

const LUA_DIR = join(import.meta.dir, "lua");

interface RawResult {
  requests: number;
  duration_us: number;
  bytes: number;
  connect_errors: number;
  read_errors: number;
  write_errors: number;
  status_errors: number;
  timeouts: number;
  p50_us: number;
  p99_us: number;
}

export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const lua = [run.script, "report.lua"]
    .filter((name): name is string => name !== undefined)
    .map((name) => readFileSync(join(LUA_DIR, name), "utf8"))
    .join("\n");
  const scriptPath = join(run.tmpDir, `wrk-${run.script ?? "get"}`);
  writeFileSync(scriptPath, lua);
  const argv = [
    ...(run.pinCpu === null ? [] : ["taskset", "-c", String(run.pinCpu)]),
    "wrk",
    `-t${WRK_THREADS}`,
    `-c${run.connections}`,
    `-d${run.seconds}s`,
    `--timeout`,
    WRK_TIMEOUT,
    "-s",
    scriptPath,
    `http://127.0.0.1:${run.port}${run.path}`,
    ...(run.scriptArgs && run.scriptArgs.length > 0 ? ["--", ...run.scriptArgs] : []),
  ];
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_RESULT "));
  if (code !== 0 || line === undefined) {
    throw new Error(`wrk failed (exit ${code}): ${(stderr + stdout).trim().split("\n").slice(-3).join(" | ")}`);
  }
  const raw = JSON.parse(line.slice("WRK_RESULT ".length)) as RawResult;
  const seconds = raw.duration_us / 1e6;
  const usage = proc.resourceUsage();
  return {
    requests: raw.requests,
    seconds,
    requestsPerSecond: raw.requests / seconds,
    bytes: raw.bytes,
    p50Ms: raw.p50_us / 1000,
    p99Ms: raw.p99_us / 1000,
    errors: {
      connect: raw.connect_errors,
      read: raw.read_errors,
      write: raw.write_errors,
      status: raw.status_errors,
      timeout: raw.timeouts,
    },
    clientCpuSeconds: usage === undefined ? 0 : Number(usage.cpuTime.total) / 1e6,
  };
}
