// Issue 5's targets for tray, checked against one run's results. A target whose figures were not
// measured in this run (filtered out, skipped, failed) is reported as "not measured", not failed.
import { median } from "./measurements.ts";
import type { IdleMeasurement, Measurement, ResultRow, StartupMeasurement, UploadMeasurement, WrkMeasurement } from "./measurements.ts";
import { WORKLOADS } from "./workloads.ts";

export interface Verdict {
  target: string;
  /** The measured figure, as it will be printed. */
  figure: string;
  met: boolean | null;
}

const MIB = 1024;

function measured(rows: ResultRow[], workload: string, server: string): Measurement | null {
  const row = rows.find((r) => r.workload === workload && r.server === server);
  return row?.outcome.status === "ok" ? row.outcome.measurement : null;
}

function wrk(rows: ResultRow[], workload: string, server: string): WrkMeasurement | null {
  const m = measured(rows, workload, server);
  return m?.kind === "wrk" ? m : null;
}

function ratio(rows: ResultRow[], workload: string, server: string, versus: string, at: number, text: string): Verdict {
  const a = wrk(rows, workload, server);
  const b = wrk(rows, workload, versus);
  if (a === null || b === null) return { target: text, figure: "not measured", met: null };
  const r = a.wrk.requestsPerSecond / b.wrk.requestsPerSecond;
  return {
    target: text,
    figure: `${r.toFixed(2)}x (${Math.round(a.wrk.requestsPerSecond)} vs ${Math.round(b.wrk.requestsPerSecond)} req/s)`,
    met: r >= at,
  };
}

/** CPU time per request: the cost figure for a fixed offered rate, where req/s is the same for all. */
export function cpuPerRequestUs(m: WrkMeasurement): number {
  return (m.cpuSeconds * 1e6) / Math.max(1, m.wrk.requests);
}

function waitressEverywhere(rows: ResultRow[]): Verdict {
  const text = "tray >= 5x Waitress on every workload (req/s; CPU per request for the fixed-rate one)";
  const parts: string[] = [];
  let worst = Infinity;
  for (const w of WORKLOADS) {
    if (w.kind !== "wrk") continue;
    const t = wrk(rows, w.name, "tray");
    const p = wrk(rows, w.name, "waitress");
    if (t === null || p === null) continue;
    const r = w.fixedRate ? cpuPerRequestUs(p) / cpuPerRequestUs(t) : t.wrk.requestsPerSecond / p.wrk.requestsPerSecond;
    worst = Math.min(worst, r);
    parts.push(`${w.name} ${r.toFixed(1)}x`);
  }
  if (parts.length === 0) return { target: text, figure: "not measured", met: null };
  return { target: text, figure: parts.join(", "), met: worst >= 5 };
}

export function checkTargets(rows: ResultRow[], idleWanted: number): Verdict[] {
  const verdicts = [
    ratio(rows, "hello", "tray", "node-http", 1.0, "hello keep-alive: tray >= 1.0x Node's http"),
    ratio(rows, "hello", "tray", "bun-serve", 0.6, "hello keep-alive: tray >= 0.6x Bun.serve"),
    ratio(rows, "json", "tray", "bun-serve", 1.5, "CPU-bound: tray with 2 Workers >= 1.5x Bun.serve"),
    ratio(rows, "pipelined", "tray", "bun-serve", 1.0, "pipelined x16: tray >= 1.0x Bun.serve"),
    waitressEverywhere(rows),
  ];

  const upload = measured(rows, "upload-1g", "tray") as UploadMeasurement | null;
  const uploadText = "1 GiB upload: tray's RSS < 150 MiB";
  if (upload === null || upload.bytes < 1024 ** 3) verdicts.push({ target: uploadText, figure: upload ? `only ${upload.bytes / 1024 ** 2} MiB sent in this run` : "not measured", met: null });
  else verdicts.push({ target: uploadText, figure: `${(upload.peakKiB / MIB).toFixed(1)} MiB peak${upload.problem ? ` (answer: ${upload.problem})` : ""}`, met: upload.problem === null && upload.peakKiB < 150 * MIB });

  const idle = measured(rows, "idle", "tray") as IdleMeasurement | null;
  const idleText = "10k idle connections: tray's RSS < 400 MiB";
  if (idle === null || idleWanted < 10_000) verdicts.push({ target: idleText, figure: idle ? `only ${idleWanted} connections in this run` : "not measured", met: null });
  else verdicts.push({
    target: idleText,
    figure: `${(idle.idleKiB / MIB).toFixed(1)} MiB with ${idle.stillOpen} open`,
    met: idle.stillOpen >= 10_000 && idle.idleKiB < 400 * MIB,
  });

  const startup = measured(rows, "startup", "tray") as StartupMeasurement | null;
  const startupText = "start-up with 4 Workers < 150 ms (exec -> first 200, median)";
  if (startup === null) verdicts.push({ target: startupText, figure: "not measured", met: null });
  else {
    const ms = median(startup.responseMs);
    verdicts.push({ target: startupText, figure: `${ms.toFixed(0)} ms`, met: ms < 150 });
  }
  return verdicts;
}
