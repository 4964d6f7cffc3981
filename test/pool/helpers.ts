// Shared pieces of the pool tests: a pool on the fixture app, a request with defaults, and a sink
// that records everything the pool tells it.
import { messageFields, type Message, type Outbox } from "../../src/pool/outbox.ts";
import { join } from "node:path";
import { WorkerPool } from "../../src/pool/pool.ts";
import type { PoolOptions, PoolRequest, ResponseSink } from "../../src/pool/types.ts";

export const FIXTURES = join(import.meta.dir, "../fixtures/pool");

export interface Recorded {
  status: number;
  statusText: string;
  headers: string[];
  bodyLength: number | null;
  body: Uint8Array;
  /** sink.error(status, body), if it came. */
  error: { status: number; body: string; afterHead: boolean } | null;
  /** Every call, in order: "head", "data", "end", "error". */
  calls: string[];
}

export interface PoolHandle {
  pool: WorkerPool;
  logs: string[];
}

export async function startPool(options: Partial<PoolOptions> & { module?: string } = {}): Promise<PoolHandle> {
  const logs: string[] = [];
  const pool = new WorkerPool({
    threads: options.threads ?? 1,
    app: options.app ?? { module: options.module ?? "app.ts", object: "default", call: false, cwd: FIXTURES },
    exposeTracebacks: options.exposeTracebacks ?? false,
    highWatermark: options.highWatermark ?? 16 * 1024 * 1024,
    log: options.log ?? ((line) => logs.push(line)),
    // The operations options (watchdog, recycling, clock), passed through when a test sets them.
    workerTimeoutMs: options.workerTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    maxRequests: options.maxRequests,
    maxRequestsJitter: options.maxRequestsJitter,
    workerMaxMemoryMiB: options.workerMaxMemoryMiB,
    now: options.now,
    watchdogTimer: options.watchdogTimer,
    random: options.random,
    appInterface: options.appInterface,
  });
  await pool.start();
  return { pool, logs };
}

export function poolRequest(target: string, extra: Partial<PoolRequest> = {}): PoolRequest {
  const method = extra.method ?? "GET";
  return {
    method,
    url: `http://example.test${target}`,
    headers: ["Host", "example.test"],
    body: null,
    bodyFd: null,
    bodyLength: extra.body?.byteLength ?? 0,
    releaseBody: null,
    remote: { hostname: "192.0.2.7", port: 40123, transport: "tcp" },
    family: "IPv4",
    scriptName: "",
    versionMinor: 1,
    requestLine: `${method} ${target} HTTP/1.1`,
    ...extra,
    upgrade: extra.upgrade ?? false,
  };
}

/** A sink that records the response; `done` settles at end() or error(). */
export function recordingSink(): { sink: ResponseSink; result: Recorded; done: Promise<Recorded>; headSeen: Promise<void> } {
  const result: Recorded = { status: 0, statusText: "", headers: [], bodyLength: null, body: new Uint8Array(0), error: null, calls: [] };
  const parts: Uint8Array[] = [];
  let finish: (r: Recorded) => void = () => {};
  let sawHead: () => void = () => {};
  const done = new Promise<Recorded>((resolve) => (finish = resolve));
  const headSeen = new Promise<void>((resolve) => (sawHead = resolve));
  const sink: ResponseSink = {
    upgrade() {},
    tunnel: () => null,
    head(status, statusText, headers, bodyLength) {
      result.calls.push("head");
      Object.assign(result, { status, statusText, headers, bodyLength });
      sawHead();
    },
    data(chunk) {
      result.calls.push("data");
      parts.push(chunk);
    },
    end() {
      result.calls.push("end");
      result.body = new Uint8Array(Buffer.concat(parts));
      finish(result);
    },
    error(status, body) {
      result.error = { status, body, afterHead: result.calls.includes("head") };
      result.calls.push("error");
      result.body = new Uint8Array(Buffer.concat(parts));
      finish(result);
    },
  };
  return { sink, result, done, headSeen };
}

/** Dispatches one request and waits for its whole response. */
export function send(pool: WorkerPool, target: string, extra: Partial<PoolRequest> = {}): Promise<Recorded> {
  const { sink, done } = recordingSink();
  pool.dispatch(poolRequest(target, extra), sink);
  return done;
}

export function text(r: Recorded): string {
  return new TextDecoder().decode(r.body);
}

/** The value of the first header named `name` (case-insensitive) in a flat list. */
export function header(headers: string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === name) return headers[i + 1];
  return undefined;
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** A client reading a streamed response for the flow-control tests: counts what arrived and how
 *  far that ran ahead of what it acknowledged; `inspect` may check each chunk at its offset. */
export interface FlowReader {
  sink: ResponseSink;
  received: number;
  acked: number;
  maxAhead: number;
  ended: boolean;
  failed: string | null;
}

export function flowReader(inspect?: (chunk: Uint8Array, offset: number) => void): FlowReader {
  const r: FlowReader = {
    received: 0,
    acked: 0,
    maxAhead: 0,
    ended: false,
    failed: null,
    sink: {
      upgrade() {},
      tunnel: () => null,
      head() {},
      data(chunk) {
        inspect?.(chunk, r.received);
        r.received += chunk.byteLength;
        r.maxAhead = Math.max(r.maxAhead, r.received - r.acked);
      },
      end() {
        r.ended = true;
      },
      error(status, body) {
        r.failed = `${status} ${body}`;
      },
    },
  };
  return r;
}

/** Waits until nothing more arrives between two looks `stepMs` apart (no acks: the Worker stalls). */
export async function untilStalled(r: FlowReader, what: string, stepMs: number): Promise<void> {
  let last = -1;
  await waitFor(async () => {
    const stable = r.received > 0 && r.received === last;
    last = r.received;
    if (!stable) await Bun.sleep(stepMs);
    return stable;
  }, what);
}

/** Acknowledges what has arrived every `everyMs`, as a slow client would, until the response ends or fails. */
export async function ackUntilDone(pool: WorkerPool, id: number, r: FlowReader, what: string, timeoutMs: number, everyMs: number): Promise<void> {
  const timer = setInterval(() => {
    if (r.received > r.acked) {
      pool.ack(id, r.received - r.acked);
      r.acked = r.received;
    }
  }, everyMs);
  try {
    await waitFor(() => r.ended || r.failed !== null, what, timeoutMs);
  } finally {
    clearInterval(timer);
  }
}

/** Everything an outbox holds, as the receiving side decodes it (protocol round trips). */
export function roundTrip<T extends { next: number }>(out: Outbox, decode: (f: unknown[], i: number, m: Message) => T): T[] {
  const { message } = out.take();
  const f = messageFields(message);
  const ops: T[] = [];
  for (let i = 0; i < f.length; ) {
    const op = decode(f, i, message);
    ops.push(op);
    i = op.next;
  }
  return ops;
}
