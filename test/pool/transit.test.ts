// The Worker's transit budget (issue 13 item 7): streamed bytes sent to the main thread and not
// yet taken into its buffers are bounded per Worker (TRANSIT_MAX), across all its requests, so a
// main thread that falls behind many streams at once never has them all in flight. AppCall on a
// host object, no Workers.
import { describe, expect, test } from "bun:test";
import { AppCall } from "../../src/pool/app-call.ts";
import type { AppCallHost } from "../../src/pool/app-call.ts";
import { TRANSIT_MAX } from "../../src/pool/limits.ts";
import { Outbox } from "../../src/pool/outbox.ts";
import { poolRequest } from "./helpers.ts";

function host(): AppCallHost {
  return { outbox: new Outbox(), highWatermark: 64 * 1024 * 1024, exposeTracebacks: false, held: [], scheduleFlush: () => {}, finished: () => {}, inTransit: 0 };
}

function streaming(h: AppCallHost, id: number): AppCall {
  const r = poolRequest("/s");
  const call = new AppCall(h, id, { ...r, rawHeaders: r.headers, remoteHostname: "", remotePort: 0, transport: "tcp", family: "", body: null, bodyFd: null } as never);
  call.setHead(200, "", [], -1);
  call.sendHead();
  return call;
}

describe("transit budget", () => {
  test("streams of one Worker together stop at TRANSIT_MAX in flight, though each is far under its own watermark", () => {
    const h = host();
    const a = streaming(h, 1);
    const b = streaming(h, 2);
    const piece = new Uint8Array(256 * 1024);
    while (!a.congested) a.sendData(piece, false);
    expect(h.inTransit).toBeGreaterThan(TRANSIT_MAX);
    expect(a.unacked).toBeLessThan(h.highWatermark);
    expect(b.congested).toBe(true); // the other stream waits too: the budget is the Worker's
  });

  test("the main thread taking the bytes (OP_RECEIVED) frees the waiting streams", async () => {
    const h = host();
    const a = streaming(h, 1);
    const piece = new Uint8Array(256 * 1024);
    while (!a.congested) a.sendData(piece, false);
    let resumed = false;
    void a.drained().then(() => (resumed = true));
    await null;
    expect(resumed).toBe(false);
    h.inTransit = 0; // what worker.ts does on OP_RECEIVED, then wakeIfFree() for each call
    a.wakeIfFree();
    await null;
    expect(resumed).toBe(true);
  });
});
