// `npm run bench`: tray beside Bun.serve, Bun's and Node's node:http, deno serve and Waitress, same
// routes, one run, written to bench/results.md (DESIGN.md §6, issue 5).
//
//   bun scripts/bench.ts [--quick] [--only=SERVER,...] [--workload=NAME,...] [--no-build] [--no-pin] [--out=FILE]
//
// Strategy: for each workload, for each server: start the server (by pid, on 127.0.0.1 and a
// free port), wait for GET / to answer, measure (wrk from a second process, or the bench process
// itself for the memory and start-up workloads), stop it. A server that cannot be prepared or
// started is recorded as skipped or failed and the run goes on. The tables (servers.ts,
// workloads.ts) are the only places to add a server or a workload; every number is in
// bench/config.ts. Only a full, unfiltered run writes bench/results.md (and .json); any other run
// writes bench/last-run.md.tmp unless --out says where.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { ensureAptPackage } from "./bench/apt.ts";
import { FULL, NOFILE_SPARE, NOISE_OTHER_CPU_LIMIT, PIN_WRK_DEFAULT, QUICK } from "./bench/config.ts";
import type { BenchProfile } from "./bench/config.ts";
import { measureLoad } from "./bench/load.ts";
import type { Measurement, ResultRow, WrkMeasurement } from "./bench/measurements.ts";
import { median } from "./bench/measurements.ts";
import { measureIdle, measureUpload } from "./bench/memory.ts";
import { freePort, launch, stop, waitReady } from "./bench/process.ts";
import { renderReport } from "./bench/report.ts";
import type { RunFacts } from "./bench/report.ts";
import { SERVERS } from "./bench/servers.ts";
import type { BenchContext, PreparedServer, ServerSpec } from "./bench/servers.ts";
import { measureStartup } from "./bench/startup.ts";
import type { TraySource } from "./bench/source.ts";
import { checkTargets } from "./bench/targets.ts";
import { WORKLOADS, argsFor } from "./bench/workloads.ts";
import type { Workload } from "./bench/workloads.ts";

interface Cli {
  profile: BenchProfile;
  only: string[] | null;
  workloads: string[] | null;
  traySource: TraySource;
  pin: boolean;
  out: string | null;
}

const USAGE = `usage: bun scripts/bench.ts [--quick] [--only=SERVER,...] [--workload=NAME,...] [--tray=worktree|head] [--no-build] [--no-pin] [--out=FILE]
  --tray=head   build tray from the last commit in a scratch directory (the working tree is left alone)
  --no-build    measure dist/tray as it is
servers:   ${SERVERS.map((s) => s.name).join(", ")}
workloads: ${WORKLOADS.map((w) => w.name).join(", ")}`;

function parseCli(argv: string[]): Cli {
  const cli: Cli = { profile: FULL, only: null, workloads: null, traySource: "worktree", pin: PIN_WRK_DEFAULT, out: null };
  const list = (value: string, known: string[], what: string) => {
    const names = value.split(",").filter(Boolean);
    for (const n of names) if (!known.includes(n)) throw new Error(`unknown ${what} '${n}'; known: ${known.join(", ")}`);
    return names;
  };
  for (const arg of argv) {
    const [flag, value = ""] = arg.split(/=(.*)/s, 2);
    if (flag === "--quick") cli.profile = QUICK;
    else if (flag === "--only") cli.only = list(value, SERVERS.map((s) => s.name), "server");
    else if (flag === "--workload") cli.workloads = list(value, WORKLOADS.map((w) => w.name), "workload");
    else if (flag === "--no-build") cli.traySource = "prebuilt";
    else if (flag === "--tray" && (value === "worktree" || value === "head")) cli.traySource = value;
    else if (flag === "--no-pin") cli.pin = false;
    else if (flag === "--out" && value) cli.out = value;
    else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument '${arg}'\n${USAGE}`);
  }
  return cli;
}

function openFileLimit(): { soft: number; hard: number } {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files")) ?? "";
  const [soft, hard] = line.split(/\s+/).slice(3, 5).map((v) => (v === "unlimited" ? Infinity : Number(v)));
  return { soft, hard };
}

/** The idle workload needs ~10k sockets on each side (the bench process's and the server's, each
 *  its own limit, inherited from here): re-run under `ulimit -n` if the limit is low. */
function reexecWithMoreFiles(wanted: number): void {
  const { soft, hard } = openFileLimit();
  if (soft >= wanted || process.env.TRAY_BENCH_NOFILE_RAISED) return;
  const target = Math.min(hard, wanted);
  if (target <= soft) {
    console.error(`bench: ulimit -n is ${soft} (hard ${hard}); the idle workload may fail to open its connections`);
    return;
  }
  const result = Bun.spawnSync(["sh", "-c", `ulimit -n ${target} && exec "$@"`, "sh", process.execPath, ...process.argv.slice(1)], {
    stdio: ["inherit", "inherit", "inherit"],
    env: { ...process.env, TRAY_BENCH_NOFILE_RAISED: "1" },
  });
  process.exit(result.exitCode ?? 1);
}

function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ")[0];
}

async function text(argv: string[]): Promise<string> {
  try {
    const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return (out || err).trim();
  } catch {
    return "";
  }
}

/** The share of one core that other processes took during a wrk measurement. */
function noise(m: WrkMeasurement): number {
  return m.otherCpuSeconds / m.wrk.seconds;
}

function summarize(m: Measurement): string {
  switch (m.kind) {
    case "wrk":
      return `${Math.round(m.wrk.requestsPerSecond).toLocaleString("en-US")} req/s, p50 ${m.wrk.p50Ms.toFixed(2)} ms, p99 ${m.wrk.p99Ms.toFixed(2)} ms, peak RSS ${(m.peakRssKiB / 1024).toFixed(0)} MiB, CPU ${((m.cpuSeconds / m.wrk.seconds) * 100).toFixed(0)}%`;
    case "idle":
      return `${m.stillOpen}/${m.wanted} open, RSS ${(m.baselineKiB / 1024).toFixed(0)} -> ${(m.idleKiB / 1024).toFixed(0)} MiB${m.problem ? ` (${m.problem})` : ""}`;
    case "upload":
      return `${(m.bytes / 1024 ** 2).toFixed(0)} MiB in ${m.seconds.toFixed(1)} s, peak RSS ${(m.peakKiB / 1024).toFixed(0)} MiB${m.problem ? `, answer ${m.problem}` : ""}`;
    case "startup":
      return `connect ${median(m.connectMs).toFixed(0)} ms, first 200 ${median(m.responseMs).toFixed(0)} ms (median of ${m.responseMs.length})`;
  }
}

async function measure(
  server: PreparedServer,
  workload: Workload,
  args: string[],
  ctx: BenchContext,
  cli: Cli,
  logPath: string,
  wrkReady: boolean,
): Promise<Measurement> {
  if (workload.kind === "startup") {
    return measureStartup((port) => server.launch(port, args), cli.profile.startupRuns, logPath);
  }
  if (workload.kind === "wrk" && !wrkReady) throw new Error("wrk is not installed");
  const port = await freePort();
  const running = launch(server.launch(port, args), port, logPath);
  try {
    await waitReady(running);
    switch (workload.kind) {
      case "wrk":
        return await measureLoad(running, workload, cli.profile, cli.pin && ctx.cores > 1 ? ctx.cores - 1 : null, ctx.tmpDir);
      case "idle":
        return await measureIdle(running, cli.profile);
      case "upload":
        return await measureUpload(running, cli.profile);
    }
  } finally {
    await stop(running);
  }
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const root = join(import.meta.dir, "..");
  process.chdir(root);
  process.env.PATH = `${join(root, "node_modules/.bin")}:${process.env.PATH}`;
  const wanted = cli.workloads ?? (cli.profile.workloads === "all" ? WORKLOADS.map((w) => w.name) : [...cli.profile.workloads]);
  if (wanted.includes("idle")) reexecWithMoreFiles(cli.profile.idleConnections + NOFILE_SPARE);

  const started = performance.now();
  const loadStart = loadAverage();
  const commitAtStart = await text(["git", "rev-parse", "--short", "HEAD"]);
  const ctx: BenchContext = {
    root,
    appsDir: join(root, "scripts/bench/apps"),
    cacheDir: process.env.TRAY_BENCH_CACHE ?? join(process.env.HOME ?? tmpdir(), ".cache/tray-bench"),
    tmpDir: mkdtempSync(join(tmpdir(), "tray-bench-")),
    cores: cpus().length,
    traySource: cli.traySource,
    commit: commitAtStart,
    log: (line) => console.log(`bench: ${line}`),
  };
  const defaultServers = cli.profile.servers;
  const servers = SERVERS.filter((s) => (cli.only === null ? defaultServers === "all" || defaultServers.includes(s.name) : cli.only.includes(s.name)));
  const workloads = WORKLOADS.filter((w) => wanted.includes(w.name));
  const wrkReady = await ensureAptPackage("wrk", async () => Bun.which("wrk") !== null, ctx.log);

  try {
    const prepared = new Map<string, PreparedServer | string>();
    for (const s of servers) {
      const p = await s.prepare(ctx);
      prepared.set(s.name, p);
      ctx.log(`${s.name}: ${typeof p === "string" ? `skipped (${p})` : p.version}`);
    }

    const rows: ResultRow[] = [];
    const runs = (spec: ServerSpec, workload: Workload) => spec.onlyWorkloads === undefined || spec.onlyWorkloads.includes(workload.name);
    const total = workloads.reduce((n, w) => n + servers.filter((s) => runs(s, w)).length, 0);
    for (const workload of workloads) {
      for (const spec of servers) {
        if (!runs(spec, workload)) continue;
        const p = prepared.get(spec.name) ?? "not prepared";
        const args = argsFor(workload, spec.name, spec.family);
        const tag = `[${rows.length + 1}/${total}] ${workload.name} · ${spec.name}`;
        if (typeof p === "string") {
          rows.push({ workload: workload.name, server: spec.name, args, outcome: { status: "skipped", reason: p } });
          continue;
        }
        try {
          const logPath = join(ctx.tmpDir, `${spec.name}.${workload.name}.log`);
          let measurement = await measure(p, workload, args, ctx, cli, logPath, wrkReady);
          let attempts = 1;
          while (measurement.kind === "wrk" && noise(measurement) > NOISE_OTHER_CPU_LIMIT && attempts <= cli.profile.noiseRetries) {
            ctx.log(`${tag}: other processes took ${(noise(measurement) * 100).toFixed(0)}% of a core meanwhile; measuring again`);
            const again = await measure(p, workload, args, ctx, cli, logPath, wrkReady);
            attempts++;
            if (again.kind === "wrk" && noise(again) < noise(measurement)) measurement = again;
          }
          rows.push({ workload: workload.name, server: spec.name, args, attempts, outcome: { status: "ok", measurement } });
          ctx.log(`${tag}: ${summarize(measurement)}`);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          rows.push({ workload: workload.name, server: spec.name, args, outcome: { status: "failed", reason } });
          ctx.log(`${tag}: FAILED ${reason}`);
        }
      }
    }

    const cpuModel = cpus()[0]?.model ?? "unknown CPU";
    const facts: RunFacts = {
      date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      profile: cli.profile,
      cores: ctx.cores,
      cpuModel,
      memoryGiB: totalmem() / 1024 ** 3,
      kernel: await text(["uname", "-r"]),
      commit: commitAtStart,
      wrkVersion: wrkReady ? (await text(["wrk", "-v"])).split("\n")[0].split(" [")[0] : "wrk (missing)",
      pinCpu: cli.pin && ctx.cores > 1 ? ctx.cores - 1 : null,
      nofile: openFileLimit().soft,
      loadStart,
      loadEnd: loadAverage(),
      versions: new Map(servers.flatMap((s): Array<[string, string]> => {
        const p = prepared.get(s.name);
        return typeof p === "object" ? [[s.name, p.version]] : [];
      })),
      commands: new Map(servers.flatMap((s): Array<[string, string]> => {
        const p = prepared.get(s.name);
        if (typeof p !== "object") return [];
        const launchSpec = p.launch(0, []);
        const argv = launchSpec.argv.map((a) => a.replace(root + "/", "").replace(ctx.cacheDir, "$CACHE").replace(ctx.tmpDir, "$SCRATCH").replace(/^--port=0$/, "--port=PORT"));
        return [[s.name, "`" + argv.map((a) => (a === "0" ? "PORT" : a)).join(" ") + "`"]];
      })),
      seconds: (performance.now() - started) / 1000,
    };
    const verdicts = checkTargets(rows, cli.profile.idleConnections);
    const markdown = renderReport(facts, servers, workloads, rows, verdicts);
    const complete = cli.profile === FULL && cli.only === null && cli.workloads === null;
    const out = cli.out ?? (complete ? "bench/results.md" : "bench/last-run.md.tmp");
    writeFileSync(out, markdown + "\n");
    writeFileSync(out.replace(/\.md(\.tmp)?$/, ".json$1"), JSON.stringify({ facts: { ...facts, versions: Object.fromEntries(facts.versions), commands: Object.fromEntries(facts.commands) }, rows, verdicts }, null, 1) + "\n");
    console.log("\n" + markdown);
    ctx.log(`wrote ${out}; server logs in ${ctx.tmpDir}`);
    // WebSockets have their own servers and clients (scripts/bench-websocket.ts): a full run includes them.
    if (complete) Bun.spawnSync([process.execPath, join(root, "scripts/bench-websocket.ts"), "--no-build"], { stdio: ["inherit", "inherit", "inherit"] });
  } finally {
    // The HEAD export (--tray=head) holds a ~100 MB binary, even after a failed run; the logs are
    // small and kept for reading.
    rmSync(join(ctx.tmpDir, "tray-head"), { recursive: true, force: true });
  }
}

await main();
