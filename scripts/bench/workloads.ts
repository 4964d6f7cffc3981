// The workloads: one entry each, run against every server. "wrk" entries are load from wrk in a
// second process; "idle", "upload" and "startup" are measured by the bench process itself
// (memory.ts, startup.ts). Adding a workload is adding one entry here.
//
// serverArgs add command-line options for one workload, keyed by server name (tray, tray-1, ...)
// or, when no name matches, by family (tray, waitress, ...); they come after a server's own
// options, so for tray they override (its options table keeps the last value).
import {
  CLOSE_CONNECTIONS,
  CLOSE_DELAY_MS,
  PIPELINE_DEPTH,
  STARTUP_THREADS,
  UPLOAD_BODY_BYTES,
} from "./config.ts";

interface WorkloadBase {
  name: string;
  title: string;
  /** One line for the report: what is sent and how. */
  method: string;
  serverArgs?: Record<string, string[]>;
}

export interface WrkWorkload extends WorkloadBase {
  kind: "wrk";
  path: string;
  connections: number;
  script?: string;
  scriptArgs?: string[];
  /** A request sent once before the load, and what its body must be, so a broken route is caught. */
  smoke: { method: "GET" | "POST"; bodyBytes?: number; headers?: Record<string, string>; expect: (body: string) => boolean };
  /** A fixed offered rate (req/s is then not a throughput figure): compare CPU and latency instead. */
  fixedRate?: boolean;
  /** Script arguments for the discarded warm-up run, when they differ from the measured run's. */
  warmupScriptArgs?: string[];
}

export interface MemoryWorkload extends WorkloadBase {
  kind: "idle" | "upload" | "startup";
}

export type Workload = WrkWorkload | MemoryWorkload;

const HELLO = (body: string) => body === "Hello, World!";

export const WORKLOADS: Workload[] = [
  {
    kind: "wrk",
    name: "hello",
    title: "hello keep-alive",
    method: "GET / (13-byte text), 64 keep-alive connections",
    path: "/",
    connections: 64,
    smoke: { method: "GET", expect: HELLO },
  },
  {
    kind: "wrk",
    name: "pipelined",
    title: `pipelined x${PIPELINE_DEPTH}`,
    method: `GET /, ${PIPELINE_DEPTH} requests per write (lua/pipeline.lua), 64 connections; tray runs with --channel-request-lookahead=${PIPELINE_DEPTH}; wrk times each batch (write -> its last response), so latency is per ${PIPELINE_DEPTH} requests`,
    path: "/",
    connections: 64,
    script: "pipeline.lua",
    scriptArgs: [String(PIPELINE_DEPTH)],
    serverArgs: { tray: [`--channel-request-lookahead=${PIPELINE_DEPTH}`] },
    smoke: { method: "GET", expect: HELLO },
  },
  {
    kind: "wrk",
    name: "64k",
    title: "64 KiB response",
    method: "GET /64k (65,536-byte text body), 64 keep-alive connections",
    path: "/64k",
    connections: 64,
    smoke: { method: "GET", expect: (body) => body.length === 65536 },
  },
  {
    kind: "wrk",
    name: "upload-1m",
    title: "1 MiB upload",
    method: "POST /upload with a 1 MiB body (lua/upload.lua), the app streams and counts it, 16 keep-alive connections",
    path: "/upload",
    connections: 16,
    script: "upload.lua",
    scriptArgs: [String(UPLOAD_BODY_BYTES)],
    smoke: { method: "POST", bodyBytes: UPLOAD_BODY_BYTES, expect: (body) => body === String(UPLOAD_BODY_BYTES) },
  },
  {
    kind: "wrk",
    name: "close",
    title: "~1000 new connections/s",
    method: `GET / with Connection: close, ${CLOSE_CONNECTIONS} connections each pausing ${CLOSE_DELAY_MS} ms between requests (lua/close.lua): a fixed offered rate of about ${Math.round((CLOSE_CONNECTIONS * 1000) / CLOSE_DELAY_MS)}/s. wrk counts a read error for every close the response did not announce with Connection: close (RFC 9112 §9.6); Bun.serve omits that header`,
    path: "/",
    connections: CLOSE_CONNECTIONS,
    script: "close.lua",
    scriptArgs: [String(CLOSE_DELAY_MS)],
    // The warm-up runs unthrottled (no pause): at ~1000/s a 2 s warm-up is only 2,000 requests,
    // too few for JavaScriptCore to finish compiling a JS server's paths, and the measured CPU
    // then includes the compiler threads (tray's took ~30 µs per request for its first ~20 s).
    warmupScriptArgs: ["0"],
    fixedRate: true,
    smoke: { method: "GET", headers: { connection: "close" }, expect: HELLO },
  },
  {
    kind: "wrk",
    name: "json",
    title: "CPU-bound (JSON of 1000 objects)",
    method: "GET /json: build 1000 small objects and JSON-encode them (~73 KB) per request, 64 keep-alive connections",
    path: "/json",
    connections: 64,
    smoke: { method: "GET", expect: (body) => (JSON.parse(body) as unknown[]).length === 1000 },
  },
  // TODO(issue 5): "Express hello" is the hello workload run against the "express" entry in
  // servers.ts; it needs no workload entry of its own, only that server entry filled in.
  {
    kind: "idle",
    name: "idle",
    title: "idle keep-alive connections",
    method: "the bench process opens N connections in batches, sends one GET / on each, reads the answer and leaves them open; RSS is read once all are idle",
    serverArgs: {
      tray: ["--connection-limit=11000"],
      waitress: ["--connection-limit=11000", "--asyncore-use-poll"],
    },
  },
  {
    kind: "upload",
    name: "upload-1g",
    title: "big upload",
    method: "one POST /upload with Content-Length, streamed from the bench process in 1 MiB writes (never held whole), the app counts the bytes; peak RSS while it is received",
    serverArgs: {
      tray: ["--max-request-body-size=2G"],
      waitress: ["--max-request-body-size=2147483648"],
    },
  },
  {
    kind: "startup",
    name: "startup",
    title: "start-up",
    method: `exec -> first accepted TCP connect, and exec -> first 200 to GET /, polled every 1 ms; tray with --threads=${STARTUP_THREADS} (tray-1 with 1)`,
    serverArgs: { tray: [`--threads=${STARTUP_THREADS}`], "tray-1": [] },
  },
];

/** The extra options a workload gives one server: by name first, then by family. */
export function argsFor(workload: Workload, serverName: string, family: string): string[] {
  const table = workload.serverArgs ?? {};
  return table[serverName] ?? table[family] ?? [];
}
