// When the app fails the pool answers 500 (with the stack only when asked), logs the error with
// the request line, and carries on; a Worker that dies is replaced and only its own requests
// fail; an app that cannot load fails start() with the loader's sentence.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AppLoadError } from "../../src/app/loader.ts";
import { send, startPool, text, waitFor, type PoolHandle } from "./helpers.ts";

let plain: PoolHandle;
let traces: PoolHandle;

beforeAll(async () => {
  [plain, traces] = await Promise.all([startPool(), startPool({ exposeTracebacks: true })]);
});

afterAll(async () => {
  await Promise.all([plain.pool.close(1000), traces.pool.close(1000)]);
});

describe("a failing handler gives 500", () => {
  for (const [target, logged] of [
    ["/throw", "boom from the handler"],
    ["/reject", "rejected later"],
    ["/not-response", "returned number, not a Response"],
    ["/undefined", "returned undefined, not a Response"],
    ["/response-error", "Response.error()"],
    ["/used-body", "TypeError"],
  ] as const) {
    test(`${target}: body is exactly "Internal Server Error", the error is logged with the request line`, async () => {
      plain.logs.length = 0;
      const r = await send(plain.pool, target);
      expect(r.calls).toEqual(["error"]);
      expect(r.error).toEqual({ status: 500, body: "Internal Server Error", afterHead: false });
      expect(plain.logs.length).toBe(1);
      expect(plain.logs[0]).toContain(`GET ${target} HTTP/1.1`);
      expect(plain.logs[0]).toContain(logged);
    });
  }

  test("with exposeTracebacks the body carries the stack after a blank line", async () => {
    const r = await send(traces.pool, "/throw");
    expect(r.error?.status).toBe(500);
    const body = r.error!.body;
    expect(body.startsWith("Internal Server Error\n\nError: boom from the handler\n")).toBe(true);
    expect(body).toMatch(/\n\s+at .*app\.ts:\d+/);
  });

  test("with exposeTracebacks a non-Response result is explained in the body", async () => {
    const r = await send(traces.pool, "/not-response");
    expect(r.error?.body).toBe("Internal Server Error\n\nTypeError: the handler returned number, not a Response");
  });

  test("the Worker carries on serving after a failure", async () => {
    await send(plain.pool, "/throw");
    const r = await send(plain.pool, "/method");
    expect(text(r)).toBe("GET");
  });

  test("a body stream that errors after the head is reported as an error after head", async () => {
    plain.logs.length = 0;
    const r = await send(plain.pool, "/stream-error");
    expect(r.calls[0]).toBe("head");
    expect(r.error).toEqual({ status: 500, body: "Internal Server Error", afterHead: true });
    expect(text(r)).toBe("partial");
    expect(plain.logs.join("\n")).toContain("stream broke");
  });
});

describe("a Worker that dies", () => {
  test("calling process.exit() is replaced; the request on the other Worker completes", async () => {
    const { pool, logs } = await startPool({ threads: 2 });
    try {
      const slowA = send(pool, "/whoami?ms=1500");
      const slowB = send(pool, "/whoami?ms=1500");
      const exit = await send(pool, "/exit");
      expect(exit.error?.status).toBe(500);
      const [a, b] = await Promise.all([slowA, slowB]);
      // /exit shared a Worker with exactly one of the slow requests: that one failed, the other finished.
      const outcomes = [a, b].map((r) => (r.error === null ? "ok" : String(r.error.status))).sort();
      expect(outcomes).toEqual(["500", "ok"]);
      const died = logs.filter((line) => line.includes("died"));
      expect(died.length).toBe(1);
      expect(died[0]).toContain("process.exit(7)");
      expect(died[0]).not.toContain("\n");
      // The replacement serves: enough requests land on both Workers again.
      const threads = new Set((await Promise.all(Array.from({ length: 6 }, () => send(pool, "/whoami?ms=50")))).map(text));
      expect(threads.size).toBe(2);
      expect(pool.inFlight).toBe(0);
    } finally {
      await pool.close(1000);
    }
  });

  test("requests dispatched while the replacement loads are run by it", async () => {
    const { pool, logs } = await startPool();
    try {
      const exit = await send(pool, "/exit");
      expect(exit.error?.status).toBe(500);
      expect(logs.some((line) => line.includes("died"))).toBe(true);
      // The only Worker is still loading the app: these wait for it instead of failing.
      const results = await Promise.all([send(pool, "/method"), send(pool, "/method", { method: "POST" })]);
      expect(results.map(text)).toEqual(["GET", "POST"]);
    } finally {
      await pool.close(1000);
    }
  });

  test("from an uncaught error is replaced, and the reason is logged on one line", async () => {
    const { pool, logs } = await startPool();
    try {
      const crash = await send(pool, "/crash");
      expect(crash.error?.status).toBe(500);
      await waitFor(() => logs.some((line) => line.includes("died")), "the death to be logged");
      const line = logs.find((l) => l.includes("died"))!;
      expect(line).toContain("crash in a timer");
      expect(line).not.toContain("\n");
      const r = await send(pool, "/method");
      expect(text(r)).toBe("GET");
    } finally {
      await pool.close(1000);
    }
  });
});

describe("an app that cannot load", () => {
  for (const [module, why] of [
    ["no-default.ts", "no default export"],
    ["throws-on-load.ts", "throws while evaluated"],
    ["exits-on-load.ts", "calls process.exit while evaluated"],
    ["missing-module.ts", "does not exist"],
  ] as const) {
    test(`fails start() with an AppLoadError naming the module (${why})`, async () => {
      const failure = await startPool({ module, threads: 2 }).then(
        (handle) => handle.pool.close(0).then(() => null),
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(AppLoadError);
      expect((failure as Error).message).toContain(module.replace(/\.ts$/, ""));
    });
  }
});
