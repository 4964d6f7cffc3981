// The pool's operations features, on an injected clock: --worker-timeout replaces a Worker whose
// event loop stopped (its requests 503, logged with how long they ran) and spares one that is only
// slow; --request-timeout answers 503 to a request with no head and cancels it in the Worker;
// --max-requests replaces a Worker after its budget with no request failing; --worker-max-memory
// replaces a Worker whose heap grew past the limit. Fixtures: test/fixtures/pool/operations-*.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { PoolOptions } from "../../src/pool/types.ts";
import { FIXTURES, poolRequest, recordingSink, send, startPool, text, waitFor, type PoolHandle } from "./helpers.ts";

/** Longer than a heartbeat (250 ms), so a turning event loop has beaten at least once meanwhile. */
const BEAT_WAIT_MS = 600;

let handle: PoolHandle | null = null;
let clock = 1_000;

afterEach(async () => {
  await handle?.pool.close(0);
  handle = null;
});

async function start(options: Partial<PoolOptions> & { module?: string }): Promise<PoolHandle> {
  clock = 1_000;
  handle = await startPool({ module: "operations-app.ts", now: () => clock, watchdogTimer: false, ...options });
  return handle;
}

describe("--worker-timeout", () => {
  test("a Worker whose event loop stopped is replaced once the timeout passes; its request gets 503 and a log line; the next request is served", async () => {
    const { pool, logs } = await start({ workerTimeoutMs: 30_000 });
    const spin = recordingSink();
    pool.dispatch(poolRequest("/spin"), spin.sink);
    await Bun.sleep(BEAT_WAIT_MS); // the Worker is in the loop: no beat from here on
    pool.checkDeadlines();
    clock += 29_999;
    pool.checkDeadlines();
    expect(spin.result.calls).toEqual([]);
    clock += 1;
    pool.checkDeadlines();
    const r = await spin.done;
    expect(r.error).toEqual({ status: 503, body: "Service Unavailable", afterHead: false });
    expect(logs).toContain(`worker 0: "GET /spin HTTP/1.1" got 503 after 30.0 s: its Worker was replaced (timeout)`);
    expect(logs.some((l) => l.startsWith("worker 0 replaced (timeout): its event loop has not turned for 30.0 s (--worker-timeout=30); 1 request(s)"))).toBe(true);
    const next = await send(pool, "/whoami");
    expect(next.status).toBe(200);
  });

  test("a Worker that is slow but whose event loop turns is left alone", async () => {
    const { pool, logs } = await start({ workerTimeoutMs: 30_000 });
    const hang = recordingSink();
    pool.dispatch(poolRequest("/hang"), hang.sink);
    const before = text(await send(pool, "/whoami"));
    pool.checkDeadlines();
    await Bun.sleep(BEAT_WAIT_MS);
    clock += 60_000;
    pool.checkDeadlines();
    expect(hang.result.calls).toEqual([]);
    expect(logs.filter((l) => l.includes("replaced"))).toEqual([]);
    expect(text(await send(pool, "/whoami"))).toBe(before); // the same Worker
  });

  test("off (0): even a stopped Worker is never replaced", async () => {
    const { pool, logs } = await start({ workerTimeoutMs: 0, requestTimeoutMs: 0 });
    const spin = recordingSink();
    pool.dispatch(poolRequest("/spin"), spin.sink);
    await Bun.sleep(BEAT_WAIT_MS);
    clock += 3_600_000;
    pool.checkDeadlines();
    expect(spin.result.calls).toEqual([]);
    expect(logs.filter((l) => l.includes("replaced"))).toEqual([]);
  });
});

describe("--request-timeout", () => {
  test("a fetch app's request with no head gets 503 at the deadline, and request.signal aborts in the Worker", async () => {
    const { pool, logs } = await start({ requestTimeoutMs: 5_000 });
    const hang = recordingSink();
    pool.dispatch(poolRequest("/hang?tag=late"), hang.sink);
    clock += 4_999;
    pool.checkDeadlines();
    expect(hang.result.calls).toEqual([]);
    clock += 1;
    pool.checkDeadlines();
    expect((await hang.done).error).toEqual({ status: 503, body: "Service Unavailable", afterHead: false });
    expect(logs).toContain(`worker 0: "GET /hang?tag=late HTTP/1.1" got 503 after 5.0 s with no response (--request-timeout=5)`);
    expect(pool.inFlight).toBe(0);
    // The cancel reached the Worker before this request did (messages keep their order).
    expect(JSON.parse(text(await send(pool, "/aborted")))).toEqual(["late"]);
  });

  test("a Node-style app's req sees 'aborted' and 'close'", async () => {
    const { pool } = await start({ requestTimeoutMs: 1_000, app: { module: "operations-node.mjs", object: "default", call: false, cwd: FIXTURES } });
    const never = recordingSink();
    pool.dispatch(poolRequest("/never?tag=n"), never.sink);
    clock += 1_000;
    pool.checkDeadlines();
    expect((await never.done).error?.status).toBe(503);
    let events: string[] = [];
    await waitFor(async () => {
      events = JSON.parse(text(await send(pool, "/events?tag=n"))) as string[];
      return events.includes("req close");
    }, "req's events");
    expect(events).toContain("req aborted");
  });

  test("a request whose head has come is not timed out (a long stream is fine)", async () => {
    const { pool } = await start({ requestTimeoutMs: 1_000, module: "app.ts" });
    const sse = recordingSink();
    pool.dispatch(poolRequest("/sse?tag=long"), sse.sink);
    await sse.headSeen;
    clock += 60_000;
    pool.checkDeadlines();
    expect(sse.result.calls.includes("error")).toBe(false);
  });
});

describe("--max-requests", () => {
  test("a Worker given N requests is replaced; every request is answered 200", async () => {
    const { pool, logs } = await start({ maxRequests: 3 });
    const threads: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await send(pool, "/whoami");
      expect(r.status).toBe(200);
      threads.push(text(r));
      if (i % 3 === 2) await waitFor(() => replacements(logs) === (i + 1) / 3, "the replacement");
    }
    // Three Workers' worth of requests, then a fourth Worker.
    expect(new Set(threads).size).toBe(4);
    expect(threads.slice(0, 3).every((t) => t === threads[0])).toBe(true);
  });

  test("under concurrent load no request fails while Workers are replaced", async () => {
    const { pool, logs } = await start({ maxRequests: 20, maxRequestsJitter: 5, threads: 2 });
    // Waves of concurrent requests, so replacements load while others are running.
    const results = [];
    for (let wave = 0; wave < 12; wave++) {
      results.push(...(await Promise.all(Array.from({ length: 25 }, (_, i) => send(pool, `/whoami?ms=${i % 7}`)))));
    }
    expect(results.filter((r) => r.status !== 200 || r.error !== null)).toEqual([]);
    // A replacement loads while the waves run; on a busy machine it may finish after them.
    await waitFor(() => replacements(logs) >= 2, "two replacements");
  });

  test("the jitter adds random 0..J to the budget", async () => {
    const { pool } = await start({ maxRequests: 2, maxRequestsJitter: 3, random: () => 0.99 });
    const threads: string[] = [];
    for (let i = 0; i < 5; i++) threads.push(text(await send(pool, "/whoami")));
    // 2 + floor(0.99 * 4) = 5 requests on the first Worker.
    expect(new Set(threads).size).toBe(1);
  });
});

describe("--worker-max-memory", () => {
  test("a Worker whose heap passes the limit is replaced (reason memory), its request 503", async () => {
    const { pool, logs } = await start({ workerMaxMemoryMiB: 100 });
    const grow = recordingSink();
    pool.dispatch(poolRequest("/grow"), grow.sink);
    await waitFor(() => {
      pool.checkDeadlines();
      return grow.result.error !== null;
    }, "the replacement", 15_000);
    expect(grow.result.error?.status).toBe(503);
    expect(logs.some((l) => /^worker 0 replaced \(memory\): its JavaScript heap reached \d+ MiB \(--worker-max-memory=100\)/.test(l))).toBe(true);
    expect((await send(pool, "/whoami")).status).toBe(200);
  });

  test("a Worker allocating in one synchronous loop is caught by the process's memory", async () => {
    let now = 0;
    const { pool, logs } = await start({ workerMaxMemoryMiB: 64, now: () => now });
    const grow = recordingSink();
    pool.dispatch(poolRequest("/grow-sync"), grow.sink);
    await waitFor(() => {
      now = Date.now(); // the silence is judged on real time here: the allocation itself takes it
      pool.checkDeadlines();
      return grow.result.error !== null;
    }, "the replacement", 15_000);
    expect(grow.result.error?.status).toBe(503);
    expect(logs.some((l) => l.startsWith("worker 0 replaced (memory): the process passed 64 MiB per Worker"))).toBe(true);
  });
});

function replacements(logs: string[]): number {
  return logs.filter((l) => l.includes("replaced (max-requests)")).length;
}
