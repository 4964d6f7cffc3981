// Every duration, size and count the benchmark uses, in one place, for the full run and --quick.
// Full: ~5-10 min on the 2-core machine; quick: ~1 min (shorter runs, fewer workloads, smaller
// memory tests). Changing a number here changes it everywhere it is used and in the report.

export interface BenchProfile {
  name: "full" | "quick";
  /** wrk's measured run per server and workload, whole seconds. */
  durationSeconds: number;
  /** A wrk run whose results are thrown away, just before the measured one (JIT, caches, pools).
   *  Whole seconds: wrk -d takes no fractions. */
  warmupSeconds: number;
  /** Workload names this profile runs when no --workload filter is given. */
  workloads: readonly string[] | "all";
  /** Server names this profile runs when no --only filter is given. */
  servers: readonly string[] | "all";
  /** Re-measurements allowed for a noisy wrk row (see NOISE_OTHER_CPU_LIMIT). */
  noiseRetries: number;
  /** The idle keep-alive workload: how many connections, opened how many at a time. */
  idleConnections: number;
  idleBatch: number;
  /** The big-upload workload's body size, bytes (streamed in UPLOAD_CHUNK_BYTES pieces). */
  uploadBytes: number;
  /** The start-up workload: how many times each server is started. */
  startupRuns: number;
}

export const FULL: BenchProfile = {
  name: "full",
  durationSeconds: 5,
  warmupSeconds: 2,
  workloads: "all",
  servers: "all",
  noiseRetries: 2,
  idleConnections: 10_000,
  idleBatch: 500,
  uploadBytes: 1024 ** 3,
  startupRuns: 10,
};

export const QUICK: BenchProfile = {
  name: "quick",
  durationSeconds: 2,
  warmupSeconds: 1,
  workloads: ["hello", "pipelined", "json", "idle", "upload-1g", "startup"],
  // The comparisons: tray against Bun.serve, Node's http and Waitress.
  servers: ["tray", "bun-serve", "node-http", "waitress"],
  noiseRetries: 0,
  idleConnections: 2_000,
  idleBatch: 500,
  uploadBytes: 128 * 1024 ** 2,
  startupRuns: 3,
};

/** wrk's load-generator threads (-t): one, so it takes at most one core of two. */
export const WRK_THREADS = 1;
/** wrk gives up on a response after this long and counts a timeout (its default, 2 s, is short for Waitress). */
export const WRK_TIMEOUT = "10s";
/** A wrk row during which other processes (and steal) took more than this share of one core is
 *  noisy: it is measured again, up to the profile's noiseRetries more times, keeping the quietest
 *  attempt. On a shared machine this trades a little time for figures that compare servers, not
 *  neighbours. */
export const NOISE_OTHER_CPU_LIMIT = 0.25;
/** Pin wrk to the last CPU with taskset (servers are left to the scheduler); --no-pin turns it off. */
export const PIN_WRK_DEFAULT = true;

/** How long a server may take to answer its first GET / before it is reported as not starting. */
export const READY_TIMEOUT_MS = 30_000;
/** How long a stopped server gets between SIGTERM and SIGKILL. */
export const STOP_GRACE_MS = 5_000;
/** RSS and CPU sampling period for the server's process tree. */
export const SAMPLE_INTERVAL_MS = 100;

/** Upload pieces written by the bench process; the same buffer is reused, never the whole body. */
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;
/** The idle workload waits this long after the last connection opened before reading RSS. */
export const IDLE_SETTLE_MS = 2_000;
/** A batch of idle connections that has not connected and been answered by then counts as failed. */
export const IDLE_BATCH_TIMEOUT_MS = 30_000;
/** File descriptors beyond the idle connections themselves that the bench process and a server
 *  need (logs, pipes, listeners); the limit is raised with `ulimit -n` to idleConnections + this. */
export const NOFILE_SPARE = 2_000;

/** The start-up probe retries a refused connect after this pause. */
export const STARTUP_POLL_MS = 1;
/** Workers tray runs in the start-up workload (the target is for 4). */
export const STARTUP_THREADS = 4;

/** The connection-close workload: connections * 1000 / delay ≈ 1000 new connections per second. */
export const CLOSE_CONNECTIONS = 16;
export const CLOSE_DELAY_MS = 16;
/** Requests per pipelined write. */
export const PIPELINE_DEPTH = 16;
/** The 1 MiB upload workload's body per request. */
export const UPLOAD_BODY_BYTES = 1024 * 1024;
