// Renders one run's results as markdown (bench/results.md): the run's facts, the issue-5 targets,
// a summary matrix of req/s with ratios to the baseline (Bun.serve), one table per workload,
// the memory and start-up tables, and what was skipped or failed and why.
import type { BenchProfile } from "./config.ts";
import { CLOSE_CONNECTIONS, NOISE_OTHER_CPU_LIMIT, WRK_THREADS } from "./config.ts";
import { median } from "./measurements.ts";
import type { Measurement, ResultRow, WrkMeasurement } from "./measurements.ts";
import type { ServerSpec } from "./servers.ts";
import { cpuPerRequestUs } from "./targets.ts";
import type { Verdict } from "./targets.ts";
import type { Workload } from "./workloads.ts";

export interface RunFacts {
  date: string;
  profile: BenchProfile;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  commit: string;
  wrkVersion: string;
  pinCpu: number | null;
  nofile: number;
  /** /proc/loadavg's 1-minute figure when the run started and ended (other load makes figures noisy). */
  loadStart: string;
  loadEnd: string;
  versions: Map<string, string>;
  commands: Map<string, string>;
  seconds: number;
}

const MIB = 1024;
const mib = (kib: number) => (kib / MIB).toFixed(1);
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

type MeasurementOf<K extends Measurement["kind"]> = Extract<Measurement, { kind: K }>;

function okRows<K extends Measurement["kind"]>(rows: ResultRow[], workload: string, kind: K): Array<[ResultRow, MeasurementOf<K>]> {
  const found: Array<[ResultRow, MeasurementOf<K>]> = [];
  for (const r of rows) {
    if (r.workload !== workload || r.outcome.status !== "ok" || r.outcome.measurement.kind !== kind) continue;
    found.push([r, r.outcome.measurement as MeasurementOf<K>]);
  }
  return found;
}

function errorText(m: WrkMeasurement): string {
  const e = m.wrk.errors;
  const parts = [
    e.connect && `connect ${e.connect}`,
    e.read && `read ${e.read}`,
    e.write && `write ${e.write}`,
    e.status && `non-2xx ${e.status}`,
    e.timeout && `timeout ${e.timeout}`,
  ].filter(Boolean);
  return parts.length === 0 ? "0" : parts.join(", ");
}

export function renderReport(facts: RunFacts, servers: ServerSpec[], workloads: Workload[], rows: ResultRow[], verdicts: Verdict[]): string {
  const label = new Map(servers.map((s) => [s.name, s.label]));
  const baseline = servers.find((s) => s.baseline)?.name ?? "";
  const ran = servers.filter((s) => rows.some((r) => r.server === s.name && r.outcome.status === "ok"));
  const out: string[] = [];
  const p = facts.profile;

  out.push("# tray benchmark results", "");
  out.push(
    `${facts.date} · \`npm run bench\`${p.name === "quick" ? " --quick" : ""} (scripts/bench.ts) · ${Math.round(facts.seconds)} s in all · repository at ${facts.commit} (how tray was built: see its version below)`,
    "",
  );
  out.push(
    `Machine: **${facts.cores} cores** (${facts.cpuModel}), ${facts.memoryGiB.toFixed(0)} GiB RAM, Linux ${facts.kernel}; ulimit -n ${facts.nofile}; load average ${facts.loadStart} at the start, ${facts.loadEnd} at the end.`,
    "",
  );

  out.push("## Servers", "");
  out.push(
    table(
      ["server", "version", "command (PORT is a free port on 127.0.0.1; $SCRATCH is the run's temp directory, $CACHE ~/.cache/tray-bench)"],
      servers.map((s) => [label.get(s.name) ?? s.name, facts.versions.get(s.name) ?? "skipped", facts.commands.get(s.name) ?? "—"]),
    ),
    "",
  );

  out.push("## Method", "");
  out.push(
    `- Load: ${facts.wrkVersion}, \`-t${WRK_THREADS}\`, ${facts.pinCpu === null ? "not pinned" : `pinned with \`taskset -c ${facts.pinCpu}\` (servers are not pinned, so a one-thread server runs beside wrk on the other core and tray's threads share both)`}; a ${p.warmupSeconds} s warm-up run (discarded; for the fixed-rate workload an unthrottled one, so every JIT has settled), then a ${p.durationSeconds} s measured run, per server and workload, each server freshly started for each workload.`,
    `- req/s and latency are wrk's (a request is timed from its write to its response's last byte; p50/p99 from wrk's histogram). Peak RSS is the highest sum of VmRSS over the server's process tree, sampled every 100 ms from its start to the end of the measured run. CPU % is the tree's user+system time over the measured run (200 % = both cores); wrk CPU % is wrk's own; softirq % is the kernel's packet processing (loopback TCP for both ends, charged to no process); other CPU % is what other processes and the hypervisor took meanwhile (the bench process's sampling and any other load: high values mean a noisy row). ${p.noiseRetries > 0 ? `A row with other CPU above ${Math.round(NOISE_OTHER_CPU_LIMIT * 100)} % was measured again (up to ${p.noiseRetries} more times) and the quietest attempt kept; its server name is marked with the number of attempts, e.g. (×2).` : "Noisy rows are not re-measured in this profile."}`,
    "- Every server runs the same routes: scripts/bench/apps/handlers.mjs (fetch-app.mjs for tray, Bun.serve and deno; node-http.mjs for Node and Bun's node:http) and apps/wsgi_app.py for Waitress.",
  );
  if (servers.some((s) => s.name === "bun-net")) {
    out.push(
      "- **Bun node:net, canned reply (ceiling)** is not an HTTP server: apps/net-ceiling.mjs answers each request head with one fixed response, no parsing, no app, no Workers. It shows how fast tray's transport (node:net in Bun) goes on this machine; it runs hello, pipelined and the new-connections workload (where its CPU per connection is what node:net alone costs).",
    );
  }
  for (const w of workloads) out.push(`- **${w.title}** (\`${w.name}\`): ${w.method}.`);
  out.push("");

  out.push("## Targets (issue 5)", "");
  out.push(
    table(
      ["target", "this run", "met?"],
      verdicts.map((v) => [v.target, v.figure, v.met === null ? "not measured" : v.met ? "**yes**" : "**no**"]),
    ),
    "",
  );

  const wrkWorkloads = workloads.filter((w) => w.kind === "wrk");
  if (wrkWorkloads.length > 0) {
    out.push(`## Summary: req/s (ratio to ${label.get(baseline)})`, "");
    const head = ["server", ...wrkWorkloads.map((w) => w.title)];
    const body = ran.map((s) => [
      label.get(s.name) ?? s.name,
      ...wrkWorkloads.map((w) => {
        const m = okRows(rows, w.name, "wrk").find(([r]) => r.server === s.name)?.[1];
        const b = okRows(rows, w.name, "wrk").find(([r]) => r.server === baseline)?.[1];
        if (m === undefined) return "—";
        const r = b === undefined ? "" : ` (${(m.wrk.requestsPerSecond / b.wrk.requestsPerSecond).toFixed(2)}x)`;
        return `${int(m.wrk.requestsPerSecond)}${r}`;
      }),
    ]);
    out.push(table(head, body), "");
    if (wrkWorkloads.some((w) => w.fixedRate)) {
      out.push(
        `The ~1000 new connections/s column is a fixed offered rate (${CLOSE_CONNECTIONS} connections with a pause between requests): every server that keeps up shows ~1000; compare its CPU and latency below.`,
        "",
      );
    }
  }

  for (const w of wrkWorkloads) {
    const measuredRows = okRows(rows, w.name, "wrk");
    if (measuredRows.length === 0) continue;
    const base = measuredRows.find(([r]) => r.server === baseline)?.[1];
    out.push(`### ${w.title}`, "");
    out.push(
      table(
        ["server", "req/s", `vs ${label.get(baseline)}`, "p50 ms", "p99 ms", "peak RSS MiB", "CPU %", "CPU µs/req", "wrk CPU %", "softirq %", "other CPU %", "errors"],
        measuredRows.map(([r, m]) => [
          `${label.get(r.server) ?? r.server}${r.args.length ? ` \`${r.args.join(" ")}\`` : ""}${(r.attempts ?? 1) > 1 ? ` (×${r.attempts})` : ""}`,
          int(m.wrk.requestsPerSecond),
          base ? `${(m.wrk.requestsPerSecond / base.wrk.requestsPerSecond).toFixed(2)}x` : "—",
          m.wrk.p50Ms > 0 ? ms(m.wrk.p50Ms) : "n/a",
          // wrk's histogram sometimes yields 0 under heavy pipelining: 0 is not a latency.
          m.wrk.p99Ms > 0 && m.wrk.p99Ms >= m.wrk.p50Ms ? ms(m.wrk.p99Ms) : "n/a",
          mib(m.peakRssKiB),
          ((m.cpuSeconds / m.wrk.seconds) * 100).toFixed(0),
          cpuPerRequestUs(m).toFixed(0),
          ((m.wrk.clientCpuSeconds / m.wrk.seconds) * 100).toFixed(0),
          ((m.softirqSeconds / m.wrk.seconds) * 100).toFixed(0),
          ((m.otherCpuSeconds / m.wrk.seconds) * 100).toFixed(0),
          errorText(m),
        ]),
      ),
      "",
    );
  }

  const idleRows = workloads.filter((w) => w.kind === "idle").flatMap((w) => okRows(rows, w.name, "idle"));
  if (idleRows.length > 0) {
    out.push(`## Memory: ${int(p.idleConnections)} idle keep-alive connections`, "");
    out.push(
      table(
        ["server", "opened", "still open", "open time s", "RSS before MiB", `RSS with ${int(p.idleConnections)} idle MiB`, "KiB per connection", "peak MiB", "problem"],
        idleRows.map(([r, m]) => [
          `${label.get(r.server) ?? r.server}${r.args.length ? ` \`${r.args.join(" ")}\`` : ""}`,
          int(m.opened),
          int(m.stillOpen),
          m.openSeconds.toFixed(1),
          mib(m.baselineKiB),
          mib(m.idleKiB),
          m.opened > 0 ? ((m.idleKiB - m.baselineKiB) / m.opened).toFixed(1) : "—",
          mib(m.peakKiB),
          m.problem ?? "",
        ]),
      ),
      "",
    );
  }

  const uploadRows = workloads.filter((w) => w.kind === "upload").flatMap((w) => okRows(rows, w.name, "upload"));
  if (uploadRows.length > 0) {
    out.push(`## Memory: one ${mib(p.uploadBytes / 1024)} MiB upload`, "");
    out.push(
      table(
        ["server", "seconds", "MiB/s", "RSS before MiB", "peak RSS MiB", "bench process peak MiB", "answer"],
        uploadRows.map(([r, m]) => [
          `${label.get(r.server) ?? r.server}${r.args.length ? ` \`${r.args.join(" ")}\`` : ""}`,
          m.seconds.toFixed(1),
          int(m.bytes / 1024 ** 2 / m.seconds),
          mib(m.baselineKiB),
          mib(m.peakKiB),
          mib(m.clientPeakKiB),
          m.problem ?? "200, byte count right",
        ]),
      ),
      "",
    );
  }

  const startupRows = workloads.filter((w) => w.kind === "startup").flatMap((w) => okRows(rows, w.name, "startup"));
  if (startupRows.length > 0) {
    out.push(`## Start-up (${p.startupRuns} starts each)`, "");
    const span = (values: number[]) => `${ms(median(values))} (${ms(Math.min(...values))}–${ms(Math.max(...values))})`;
    out.push(
      table(
        ["server", "exec → connect accepted, median (min–max) ms", "exec → first 200, median (min–max) ms"],
        startupRows.map(([r, m]) => [
          `${label.get(r.server) ?? r.server}${r.args.length ? ` \`${r.args.join(" ")}\`` : ""}`,
          span(m.connectMs),
          span(m.responseMs),
        ]),
      ),
      "",
    );
  }

  const notRun = rows.filter((r) => r.outcome.status !== "ok");
  if (notRun.length > 0) {
    out.push("## Skipped and failed", "");
    // One line per server and reason, listing the workloads it covers.
    const grouped = new Map<string, string[]>();
    for (const r of notRun) {
      const o = r.outcome as { status: string; reason: string };
      const key = `${label.get(r.server) ?? r.server} — ${o.status}: ${o.reason}`;
      grouped.set(key, [...(grouped.get(key) ?? []), r.workload]);
    }
    for (const [key, names] of grouped) out.push(`- ${key} (${names.join(", ")})`);
    out.push("");
  }
  return out.join("\n");
}
