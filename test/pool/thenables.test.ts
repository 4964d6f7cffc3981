// A handler may answer with a promise or any thenable (DESIGN.md §1): each settles into the
// Response, or into a 500 when it rejects, throws from then() or resolves to something else.
// The Worker carries on either way.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { send, startPool, text, type PoolHandle } from "./helpers.ts";

let pool: PoolHandle;

beforeAll(async () => {
  pool = await startPool({ threads: 1, module: "thenables-app.ts" });
});

afterAll(async () => {
  await pool.pool.close(1000);
});

describe("handlers that answer later", () => {
  for (const [route, body] of [
    ["/promise", "from a promise"],
    ["/later", "later"],
    ["/thenable", "from a thenable"],
  ] as const) {
    test(`${route} is answered with its Response`, async () => {
      const r = await send(pool.pool, route);
      expect(r.error).toBeNull();
      expect(r.status).toBe(200);
      expect(text(r)).toBe(body);
    });
  }

  for (const [route, logged] of [
    ["/rejects", "promise said no"],
    ["/thenable-rejects", "thenable said no"],
    ["/thenable-throws", "then() itself threw"],
    ["/thenable-not-a-response", "the handler returned number, not a Response"],
  ] as const) {
    test(`${route} gets a 500 and a log line; the Worker serves on`, async () => {
      const r = await send(pool.pool, route);
      expect(r.error?.status).toBe(500);
      expect(pool.logs.some((line) => line.includes(logged))).toBe(true);
      expect(text(await send(pool.pool, "/promise"))).toBe("from a promise");
    });
  }
});
