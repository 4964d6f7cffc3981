// Server processes: start one by argv, wait until it answers, watch its process tree's memory and
// CPU through /proc, and stop it by pid (SIGTERM, then SIGKILL after a grace period).
//
// Strategy: a server is "ready" when GET / answers 200, not when its port opens, so start-up
// that loads an app after binding is not mistaken for readiness. RSS is the sum of VmRSS over
// the server and every descendant (Waitress or a launcher may fork; threads share one VmRSS),
// sampled every SAMPLE_INTERVAL_MS; CPU is utime+stime of the same tree from /proc/<pid>/stat.
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import type { Subprocess } from "bun";
import { READY_TIMEOUT_MS, SAMPLE_INTERVAL_MS, STOP_GRACE_MS } from "./config.ts";

export interface LaunchSpec {
  argv: string[];
  cwd: string;
  env?: Record<string, string>;
}

export interface RunningServer {
  pid: number;
  port: number;
  proc: Subprocess;
  logPath: string;
}

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it; the race is harmless here). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts argv with stdout and stderr appended to logPath; does not wait for readiness. */
export function launch(spec: LaunchSpec, port: number, logPath: string): RunningServer {
  const fd = openSync(logPath, "a");
  try {
    const proc = Bun.spawn(spec.argv, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdin: "ignore",
      stdout: fd,
      stderr: fd,
    });
    return { pid: proc.pid, port, proc, logPath };
  } finally {
    closeSync(fd);
  }
}

/** The last lines of a server's log, for a skip or failure reason. */
export function logTail(logPath: string, lines = 6): string {
  try {
    const text = readFileSync(logPath, "utf8").trimEnd();
    return text.split("\n").slice(-lines).join(" | ");
  } catch {
    return "";
  }
}

/** Resolves once GET / answers 200; throws if the process exits first or time runs out. */
export async function waitReady(server: RunningServer, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) {
      throw new Error(`exited (${server.proc.exitCode ?? server.proc.signalCode}) before answering: ${logTail(server.logPath)}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`did not answer GET / within ${timeoutMs} ms: ${logTail(server.logPath)}`);
}

export async function stop(server: RunningServer): Promise<void> {
  const tree = processTree(server.pid);
  signal(server.pid, "SIGTERM");
  const exited = await Promise.race([server.proc.exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
  if (!exited) signal(server.pid, "SIGKILL");
  // Descendants that outlived their parent (by pid, never by name).
  for (const pid of tree) if (pid !== server.pid) signal(pid, "SIGKILL");
  await server.proc.exited;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

interface ProcStat {
  pid: number;
  ppid: number;
  cpuTicks: number; // utime + stime
}

/** A /proc stat line's fields after the parenthesised command name (which may itself contain
 *  spaces or ')'): ppid is [1], utime [11] and stime [12], in clock ticks (100 per second). */
function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

function readStat(pid: number): ProcStat | null {
  try {
    const rest = statFields(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return { pid, ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return null;
  }
}

/** Each thread of a process (pid, or "self") with its name and CPU seconds so far; empty where
 *  there is no /proc (not Linux). */
export function threadCpuSeconds(pid: number | "self"): { tid: string; name: string; seconds: number }[] {
  const threads: { tid: string; name: string; seconds: number }[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const rest = statFields(text);
      threads.push({ tid, name: text.slice(text.indexOf("(") + 1, text.lastIndexOf(")")), seconds: (Number(rest[11]) + Number(rest[12])) / 100 });
    } catch {
      // the thread exited
    }
  }
  return threads;
}

/** pid and all its descendants, found by scanning /proc for parent links. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat === null) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

function vmRssKiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

export function treeRssKiB(root: number): number {
  let sum = 0;
  for (const pid of processTree(root)) sum += vmRssKiB(pid);
  return sum;
}

/** CPU seconds (user + system) used so far by the live processes of the tree. */
export function treeCpuSeconds(root: number): number {
  const ticksPerSecond = 100; // USER_HZ: 100 on every Linux ABI this runs on
  let ticks = 0;
  for (const pid of processTree(root)) ticks += readStat(pid)?.cpuTicks ?? 0;
  return ticks / ticksPerSecond;
}

export interface MachineCpu {
  /** user + nice + system: time charged to some process (the server, wrk, anything else). */
  processSeconds: number;
  /** irq + softirq: the kernel's packet processing, charged to no process. Over loopback this is
   *  the TCP receive path of both ends, a real cost of every request that no server's CPU shows. */
  softirqSeconds: number;
  /** Time the hypervisor gave to other machines. */
  stealSeconds: number;
}

/** CPU seconds the whole machine has spent (all cores, since boot), from /proc/stat's first line. */
export function machineCpu(): MachineCpu {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal = 0] = fields;
  return { processSeconds: (user + nice + system) / 100, softirqSeconds: (irq + softirq) / 100, stealSeconds: steal / 100 };
}

export interface RssSampler {
  /** Highest tree RSS seen since start or the last resetPeak(), KiB. */
  peakKiB(): number;
  latestKiB(): number;
  resetPeak(): void;
  stop(): void;
}

/** Re-scan /proc for the tree's members every this many samples (a scan costs a few ms of CPU). */
const TREE_RESCAN_SAMPLES = 10;

export function sampleRss(root: number): RssSampler {
  let peak = 0;
  let latest = 0;
  let tree = processTree(root);
  let samples = 0;
  const take = () => {
    if (++samples % TREE_RESCAN_SAMPLES === 0) tree = processTree(root);
    latest = 0;
    for (const pid of tree) latest += vmRssKiB(pid);
    if (latest > peak) peak = latest;
  };
  take();
  const timer = setInterval(take, SAMPLE_INTERVAL_MS);
  return {
    peakKiB: () => (take(), peak),
    latestKiB: () => (take(), latest),
    resetPeak: () => {
      peak = 0;
      take();
    },
    stop: () => clearInterval(timer),
  };
}
