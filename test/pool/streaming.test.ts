// Streaming responses: the head and first chunk of a stream leave at once (SSE), a slow reader
// holds the Worker to about highWatermark of unacknowledged body, and cancel() stops the app's
// stream and aborts request.signal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ackUntilDone, flowReader, poolRequest, recordingSink, send, startPool, text, untilStalled, waitFor, type PoolHandle } from "./helpers.ts";

const HIGH_WATERMARK = 1024 * 1024;
const APP_CHUNK = 64 * 1024; // the fixture's /big chunk size

let handle: PoolHandle;

beforeAll(async () => {
  handle = await startPool({ highWatermark: HIGH_WATERMARK });
});

afterAll(async () => {
  await handle.pool.close(1000);
});

async function workerStats(): Promise<{ cancelled: string[]; aborted: string[]; produced: number }> {
  return JSON.parse(text(await send(handle.pool, "/stats")));
}

describe("flow control", () => {
  test("a 64 MiB stream to a slow reader never runs more than ~highWatermark ahead of the acks", async () => {
    const total = 64 * 1024 * 1024;
    const pool = handle.pool;
    let badByte = -1;
    const r = flowReader((chunk, offset) => {
      // Byte p of the body is floor(p / 64 KiB) % 251: check the first and last of each chunk.
      for (const p of [0, chunk.byteLength - 1]) {
        if (chunk[p] !== Math.floor((offset + p) / APP_CHUNK) % 251) badByte = offset + p;
      }
    });
    const id = pool.dispatch(poolRequest(`/big?bytes=${total}`), r.sink);

    // Phase 1: no acks at all. The Worker must stop at the watermark, and so must the app's stream.
    await untilStalled(r, "the stream to stall without acks", 200);
    expect(r.received).toBeGreaterThanOrEqual(HIGH_WATERMARK);
    expect(r.received).toBeLessThanOrEqual(HIGH_WATERMARK + 2 * APP_CHUNK);
    const { produced } = await workerStats();
    // The app is read at most a couple of chunks past what was sent (ReadableStream queues one).
    expect(produced).toBeLessThanOrEqual(r.received + 4 * APP_CHUNK);

    // Phase 2: a slow client that acks what it has every few milliseconds.
    await ackUntilDone(pool, id, r, "the 64 MiB stream to end", 60_000, 3);
    expect(r.failed).toBeNull();
    expect(r.received).toBe(total);
    expect(badByte).toBe(-1);
    expect(r.maxAhead).toBeLessThanOrEqual(HIGH_WATERMARK + 2 * APP_CHUNK);
    expect(pool.inFlight).toBe(0);
  });
});

describe("streams", () => {
  test("an SSE-style stream gets its head and first event out while the stream stays open", async () => {
    const { sink, result, headSeen } = recordingSink();
    const id = handle.pool.dispatch(poolRequest("/sse?tag=sse1"), sink);
    await headSeen;
    await waitFor(() => result.calls.includes("data"), "the first event");
    expect(result.bodyLength).toBeNull();
    expect(result.calls).toEqual(["head", "data"]);
    handle.pool.cancel(id);
    await waitFor(async () => (await workerStats()).cancelled.includes("sse1"), "the stream to be cancelled");
  });

  test("HEAD on a stream is answered with the head alone, and the app's stream is cancelled", async () => {
    const r = await send(handle.pool, "/sse?tag=head1", { method: "HEAD" });
    expect(r.calls).toEqual(["head", "end"]);
    expect(r.bodyLength).toBeNull();
    await waitFor(async () => (await workerStats()).cancelled.includes("head1"), "the stream to be cancelled");
  });

  test("cancel() cancels the app's body stream, aborts request.signal, and nothing more arrives", async () => {
    const { sink, result } = recordingSink();
    const id = handle.pool.dispatch(poolRequest("/ticker?tag=tick1"), sink);
    await waitFor(() => result.calls.filter((c) => c === "data").length >= 3, "a few chunks");
    handle.pool.cancel(id);
    const callsAtCancel = result.calls.length;
    expect(handle.pool.inFlight).toBe(0);
    await waitFor(async () => {
      const stats = await workerStats();
      return stats.cancelled.includes("tick1") && stats.aborted.includes("tick1");
    }, "the app to see the cancellation");
    await Bun.sleep(50);
    expect(result.calls.length).toBe(callsAtCancel);
  });

  test("cancel() before the handler answers aborts request.signal", async () => {
    const { sink, result } = recordingSink();
    const id = handle.pool.dispatch(poolRequest("/wait-abort?tag=early"), sink);
    await Bun.sleep(20);
    handle.pool.cancel(id);
    await waitFor(async () => (await workerStats()).aborted.includes("early"), "request.signal to abort");
    expect(result.calls).toEqual([]);
  });
});
