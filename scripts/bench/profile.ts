// `bun scripts/bench/profile.ts [--workload=hello] [--threads=N] [--seconds=8] [--tray=head] [--no-perf]`:
// where tray's time goes under one wrk workload. Writes bench/profile-<workload>.md.
// --tray=head profiles the last commit (exported to a scratch directory) instead of the working tree.
//
// Strategy: the compiled binary cannot take --cpu-prof, so tray runs from source
// (`bun --cpu-prof src/cli.ts ...`, same code, same runtime). Bun's profiler covers the main
// thread only (parser, connections, socket writes, the pool's dispatch): so beside it the report
// gives each thread's CPU share from /proc/<pid>/task (main thread vs Workers vs GC/JIT helpers)
// and, when `perf` is installed, perf's split of samples by thread and by code (kernel, Bun's
// native code, JIT-compiled JS). Only the samples inside the measured wrk window count.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { FULL } from "./config.ts";
import { freePort, launch, machineCpu, sleep, stop, threadCpuSeconds, waitReady } from "./process.ts";
import { exportHead, headCommit } from "./source.ts";
import { WORKLOADS } from "./workloads.ts";
import type { WrkWorkload } from "./workloads.ts";
import { runWrk } from "./wrk.ts";

/** Functions below this share of main-thread busy time are left out of the report. */
const MIN_SHARE = 0.005;
const TOP_FUNCTIONS = 30;
/** perf's sampling frequency (Hz): low enough to add little load on two cores. */
const PERF_HZ = 499;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function threadTimes(pid: number): Map<string, { threads: number; seconds: number }> {
  const byName = new Map<string, { threads: number; seconds: number }>();
  for (const { name, seconds } of threadCpuSeconds(pid)) {
    const entry = byName.get(name) ?? { threads: 0, seconds: 0 };
    entry.threads++;
    entry.seconds += seconds;
    byName.set(name, entry);
  }
  return byName;
}

function label(frame: ProfileNode["callFrame"]): string {
  const file = frame.url === "" ? "(native)" : frame.url.replace(/^.*\/src\//, "src/");
  return `${frame.functionName || "(anonymous)"} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ""}`;
}

/** Self time per function and the busy total, counting only samples between from and to (µs since profile start). */
function summarizeProfile(profile: CpuProfile, fromUs: number, toUs: number): { busyUs: number; windowUs: number; self: Array<[string, number]>; inclusive: Array<[string, number]> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let t = 0;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const dt = profile.timeDeltas[i + 1] ?? 0; // this sample stands for the time until the next one
    const node = byId.get(profile.samples[i]);
    if (node === undefined) continue;
    const name = label(node.callFrame);
    if (name.startsWith("(root)") || name.startsWith("(idle)") || name.startsWith("(program)")) continue;
    busy += dt;
    self.set(name, (self.get(name) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = label(byId.get(id)!.callFrame);
      if (seen.has(frame) || frame.startsWith("(root)")) continue;
      seen.add(frame);
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + dt);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { busyUs: busy, windowUs: toUs - fromUs, self: sorted(self), inclusive: sorted(inclusive) };
}

async function perfSplit(pid: number, seconds: number, tmp: string): Promise<string | null> {
  if (Bun.which("perf") === null) return null;
  const data = join(tmp, "perf.data");
  const record = Bun.spawn(["perf", "record", "-F", String(PERF_HZ), "-o", data, "-p", String(pid), "--", "sleep", String(seconds)], { stdout: "ignore", stderr: "ignore" });
  if ((await record.exited) !== 0) return null;
  const report = Bun.spawn(["perf", "report", "-i", data, "--no-children", "--sort", "comm,dso", "--stdio", "-g", "none"], { stdout: "pipe", stderr: "ignore" });
  const text = await new Response(report.stdout).text();
  return text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#")).slice(0, 20).join("\n");
}

async function main(): Promise<void> {
  const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
  const workloadName = args.get("workload") ?? "hello";
  const workload = WORKLOADS.find((w): w is WrkWorkload => w.kind === "wrk" && w.name === workloadName);
  if (workload === undefined) throw new Error(`--workload must name a wrk workload`);
  const cores = cpus().length;
  const threads = Number(args.get("threads") ?? cores);
  const seconds = Number(args.get("seconds") ?? 8);
  const usePerf = !args.has("no-perf");
  const root = join(import.meta.dir, "../..");
  const tmp = mkdtempSync(join(tmpdir(), "tray-profile-"));
  const bun = join(root, "node_modules/.bin/bun");
  const extra = workload.serverArgs?.tray ?? [];
  const commit = await headCommit(root);
  const fromHead = args.get("tray") === "head";
  const source = fromHead ? await exportHead(root, join(tmp, "tray-head")) : root;

  const port = await freePort();
  const spawnedAt = performance.now();
  const server = launch(
    {
      argv: [bun, "--cpu-prof", `--cpu-prof-dir=${tmp}`, join(source, "src/cli.ts"), "--host=127.0.0.1", `--port=${port}`, `--threads=${threads}`, ...extra, "fetch-app.mjs"],
      cwd: join(import.meta.dir, "apps"),
    },
    port,
    join(tmp, "server.log"),
  );
  let report = "";
  try {
    await waitReady(server);
    const run = { port, path: workload.path, connections: workload.connections, script: workload.script, scriptArgs: workload.scriptArgs, pinCpu: cores > 1 ? cores - 1 : null, tmpDir: tmp };
    await runWrk({ ...run, seconds: FULL.warmupSeconds });
    const before = threadTimes(server.pid);
    const machineBefore = machineCpu();
    const loadFrom = performance.now() - spawnedAt;
    const perf = usePerf ? perfSplit(server.pid, Math.max(1, seconds - 2), tmp) : Promise.resolve(null);
    const [result, perfText] = await Promise.all([runWrk({ ...run, seconds }), sleep(1000).then(() => perf)]);
    const loadTo = performance.now() - spawnedAt;
    const after = threadTimes(server.pid);
    const machineAfter = machineCpu();
    await stop(server);
    const file = readdirSync(tmp).find((f) => f.endsWith(".cpuprofile"));
    if (file === undefined) throw new Error(`bun wrote no .cpuprofile in ${tmp}`);
    const profile = JSON.parse(readFileSync(join(tmp, file), "utf8")) as CpuProfile;
    // Profile time starts near spawn; trim 300 ms each side of the measured window for skew.
    const summary = summarizeProfile(profile, (loadFrom + 300) * 1000, (loadTo - 300) * 1000);

    const out: string[] = [];
    const pct = (part: number, whole: number) => `${((part / whole) * 100).toFixed(1)}%`;
    out.push(`# Where tray's time goes: ${workload.title}`, "");
    out.push(`${new Date().toISOString()} · \`bun scripts/bench/profile.ts --workload=${workload.name} --threads=${threads}${fromHead ? " --tray=head" : ""}\` · ${cores} cores · load average ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`, "");
    out.push(`tray ${fromHead ? `at commit ${commit}` : `from the working tree at ${commit}`}, run from source (\`bun --cpu-prof src/cli.ts --threads=${threads}${extra.length ? " " + extra.join(" ") : ""}\`), ${workload.method}; wrk -t1 pinned to CPU ${run.pinCpu}, ${seconds} s: **${Math.round(result.requestsPerSecond).toLocaleString("en-US")} req/s**, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms.`, "");
    out.push("## CPU by thread during the run", "");
    out.push("| thread | count | CPU seconds | % of one core | µs per request |", "| --- | --- | --- | --- | --- |");
    for (const [name, a] of [...after].sort((x, y) => y[1].seconds - (before.get(y[0])?.seconds ?? 0) - (x[1].seconds - (before.get(x[0])?.seconds ?? 0)))) {
      const used = a.seconds - (before.get(name)?.seconds ?? 0);
      if (used <= 0) continue;
      out.push(`| ${name} | ${a.threads} | ${used.toFixed(2)} | ${((used / result.seconds) * 100).toFixed(0)}% | ${((used * 1e6) / result.requests).toFixed(1)} |`);
    }
    const trayTotal = [...after].reduce((sum, [name, a]) => sum + a.seconds - (before.get(name)?.seconds ?? 0), 0);
    const share = (s: number) => `${((s / result.seconds) * 100).toFixed(0)}%`;
    out.push(
      "",
      `Whole machine meanwhile (of ${cores * 100}%): tray ${share(trayTotal)}, wrk ${share(result.clientCpuSeconds)}, other processes ${share(Math.max(0, machineAfter.processSeconds - machineBefore.processSeconds - trayTotal - result.clientCpuSeconds))}, kernel packet processing (softirq) ${share(machineAfter.softirqSeconds - machineBefore.softirqSeconds)}, steal ${share(machineAfter.stealSeconds - machineBefore.stealSeconds)}.`,
    );
    out.push("", "(The main thread is the one named after the executable, `bun` here; `Worker` threads run the app; HeapHelper/JITWorker are JavaScriptCore's GC and compiler threads.)", "");
    if (perfText !== null) out.push("## perf: samples by thread and code", "", "```", perfText, "```", "", "(`[JIT] tid N` is JIT-compiled JavaScript; `bun`/`tray` is Bun's native code, unsymbolized in release builds; `[kernel.kallsyms]` is the kernel: syscalls, TCP, scheduling.)", "");
    out.push(`## Main thread (Bun's --cpu-prof): busy ${pct(summary.busyUs, summary.windowUs)} of the window`, "");
    out.push("### Self time (top functions)", "", "| share of busy | ms | function |", "| --- | --- | --- |");
    for (const [name, us] of summary.self.slice(0, TOP_FUNCTIONS)) if (us / summary.busyUs >= MIN_SHARE) out.push(`| ${pct(us, summary.busyUs)} | ${(us / 1000).toFixed(0)} | \`${name}\` |`);
    out.push("", "### Inclusive time (function and what it calls)", "", "| share of busy | ms | function |", "| --- | --- | --- |");
    for (const [name, us] of summary.inclusive.slice(0, TOP_FUNCTIONS)) if (us / summary.busyUs >= MIN_SHARE) out.push(`| ${pct(us, summary.busyUs)} | ${(us / 1000).toFixed(0)} | \`${name}\` |`);
    report = out.join("\n") + "\n";
  } finally {
    await stop(server);
  }
  const path = join(root, `bench/profile-${workload.name}.md`);
  writeFileSync(path, report);
  console.log(report);
  console.log(`wrote ${path}; raw profile and logs in ${tmp}`);
}

await main();
