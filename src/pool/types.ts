// What the server and the Worker pool (pool.ts) exchange: the options a pool is built with, the
// request the server hands to dispatch(), and the ResponseSink through which the pool answers.
// Strategy: plain data and one callback interface, no behaviour; kept apart from pool.ts so the
// pool's own parts (slot.ts) can name them without importing the pool.
import type { AppInterface } from "../app/interfaces.ts";
import type { AppSpec, RemoteAddr } from "../app/types.ts";

export interface PoolOptions {
  threads: number;
  app: AppSpec;
  exposeTracebacks: boolean;
  /** --outbuf-high-watermark: unacknowledged response bytes of one request above which the
   *  Worker stops reading the app's body stream until ack() brings it back below. */
  highWatermark: number;
  log: (line: string) => void;
  /** --interface: how the Workers call the app (default "auto", which also detects fetch apps). */
  appInterface?: AppInterface;
  // Operations (issue 15; watchdog in pool.ts, heartbeat.ts). All off when absent or 0.
  /** --worker-timeout in ms: a Worker whose event loop has not turned this long is replaced. */
  workerTimeoutMs?: number;
  /** --request-timeout in ms: a request with no response head this long after dispatch gets 503. */
  requestTimeoutMs?: number;
  /** --max-requests and --max-requests-jitter: a Worker given this many (+ random 0..jitter)
   *  requests is replaced gracefully. */
  maxRequests?: number;
  maxRequestsJitter?: number;
  /** --worker-max-memory: MiB of JavaScript heap past which a Worker is replaced. */
  workerMaxMemoryMiB?: number;
  /** The clock deadlines are measured on, in ms (default Date.now; tests inject one). */
  now?: () => number;
  /** false: no watchdog timer, the caller runs checkDeadlines() (tests); default true. */
  watchdogTimer?: boolean;
  /** 0 <= x < 1, for --max-requests-jitter (default Math.random). */
  random?: () => number;
}

export interface PoolRequest {
  method: string;
  url: string; // absolute, built by the server (scheme, host, path with url_prefix stripped)
  headers: string[]; // flat [name, value, name, value...], latin-1, original case and order
  /** The whole body in memory (ownership passes to the pool: it may be transferred), or null. */
  body: Uint8Array | null;
  /** Or: a temp file holding the whole body (past --inbuf-overflow), bodyLength bytes from its start. */
  bodyFile: string | null;
  bodyLength: number;
  /** Gives bodyFile back to the server once the request is over; reusable: the Worker said it is
   *  done with the request (it closes the file first), so the file may take another body. */
  releaseBody: ((reusable: boolean) => void) | null;
  remote: RemoteAddr;
  family: "IPv4" | "IPv6" | "";
  scriptName: string;
  /** The request's HTTP version is 1.versionMinor (RFC 9112 §2.3: 0 or 1). */
  versionMinor: number;
  requestLine: string; // "GET /x HTTP/1.1", for log lines
}

export interface ResponseSink {
  /** The app's status and headers (flat, set-cookie kept separate); bodyLength when known, else null. */
  head(status: number, statusText: string, headers: string[], bodyLength: number | null): void;
  /** A chunk of body; the sink owns it. */
  data(chunk: Uint8Array): void;
  end(): void;
  /** The request failed (app threw, Worker died). Before head(): the server answers status+body;
   *  after head(): the server closes the connection. */
  error(status: number, body: string): void;
}
