// A large whole body (a Response built from bytes or a string) crosses from the Worker as a
// transferred buffer, not a copy: that is safe only because response.bytes() hands out a fresh
// copy each time. These tests pin that down: bodies built from bytes the app keeps and reuses
// arrive intact request after request, and the app's own bytes are never detached.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { send, startPool, text, type PoolHandle } from "./helpers.ts";

let pool: PoolHandle;

beforeAll(async () => {
  pool = await startPool({ threads: 1, module: "bodies-app.ts" });
});

afterAll(async () => {
  await pool.pool.close(1000);
});

const BIG = new Uint8Array(48 * 1024).map((_, i) => i % 251);

describe("whole bodies built from the app's own bytes", () => {
  const before = async () => text(await send(pool.pool, "/state"));

  for (const [route, expected] of [
    ["/u8", BIG],
    ["/array-buffer", BIG],
    ["/view", BIG.subarray(1024)],
    ["/clone", BIG],
  ] as const) {
    test(`${route}: intact on every request, the app's bytes untouched`, async () => {
      const initial = await before();
      for (let i = 0; i < 4; i++) {
        const r = await send(pool.pool, route);
        expect(r.error).toBeNull();
        expect(Buffer.compare(Buffer.from(r.body), Buffer.from(expected))).toBe(0);
      }
      expect(await before()).toBe(initial);
    });
  }

  test("a 64 KiB string body arrives whole, with its length", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await send(pool.pool, "/string");
      expect(r.bodyLength).toBe(64 * 1024);
      expect(text(r)).toBe("y".repeat(64 * 1024));
    }
  });
});
