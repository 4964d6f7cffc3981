// What each kind of workload measures: plain data, produced by load.ts, memory.ts and
// startup.ts, stored in bench/results.json and rendered by report.ts.
import type { WrkResult } from "./wrk.ts";

export interface WrkMeasurement {
  kind: "wrk";
  wrk: WrkResult;
  /** Highest RSS of the server's process tree from its start to the end of the measured run. */
  peakRssKiB: number;
  /** CPU seconds (user + system) the server's tree used during the measured run. */
  cpuSeconds: number;
  /** Kernel packet processing (irq + softirq) during the measured run: loopback TCP work for both
   *  ends that is charged to no process. */
  softirqSeconds: number;
  /** CPU seconds other processes (not the server, not wrk) and the hypervisor (steal) took during
   *  the measured run: the bench process's sampling and anything else running, i.e. noise. */
  otherCpuSeconds: number;
}

export interface IdleMeasurement {
  kind: "idle";
  wanted: number;
  opened: number;
  /** Of those opened, how many the server had not closed when RSS was read. */
  stillOpen: number;
  openSeconds: number;
  baselineKiB: number;
  idleKiB: number;
  peakKiB: number;
  /** The first failure, if not every connection opened. */
  problem: string | null;
}

export interface UploadMeasurement {
  kind: "upload";
  bytes: number;
  seconds: number;
  baselineKiB: number;
  peakKiB: number;
  /** The bench process's own peak RSS, to show the body was streamed, not built. */
  clientPeakKiB: number;
  /** The response's status line and body when it was not the expected count. */
  problem: string | null;
}

export interface StartupMeasurement {
  kind: "startup";
  connectMs: number[];
  responseMs: number[];
}

export type Measurement = WrkMeasurement | IdleMeasurement | UploadMeasurement | StartupMeasurement;

export interface ResultRow {
  workload: string;
  server: string;
  /** The server's extra options for this workload (shown in the report). */
  args: string[];
  /** How many times it was measured (more than 1: earlier attempts were noisy, the quietest is kept). */
  attempts?: number;
  outcome: { status: "ok"; measurement: Measurement } | { status: "skipped" | "failed"; reason: string };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
