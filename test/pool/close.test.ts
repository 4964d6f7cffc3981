// close(graceMs): no new work, in-flight requests get up to graceMs to finish, then the rest are
// answered 503 and the Workers are terminated.
import { expect, test } from "bun:test";
import { poolRequest, recordingSink, send, startPool, text } from "./helpers.ts";

test("close waits for a request in flight to finish", async () => {
  const { pool } = await startPool();
  const slow = send(pool, "/whoami?ms=300");
  await Bun.sleep(20);
  await pool.close(10_000);
  const r = await slow;
  expect(r.error).toBeNull();
  expect(text(r)).toMatch(/^\d+$/);
  expect(pool.inFlight).toBe(0);
});

test("close answers 503 to what is still running after the grace period", async () => {
  const { pool } = await startPool();
  const hung = send(pool, "/hang");
  await Bun.sleep(20);
  const started = Date.now();
  await pool.close(200);
  expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  const r = await hung;
  expect(r.error?.status).toBe(503);
  expect(pool.inFlight).toBe(0);
});

test("dispatch after close is answered 503, never synchronously", async () => {
  const { pool } = await startPool();
  await pool.close(0);
  const { sink, result, done } = recordingSink();
  pool.dispatch(poolRequest("/method"), sink);
  expect(result.calls).toEqual([]);
  await done;
  expect(result.error?.status).toBe(503);
});
