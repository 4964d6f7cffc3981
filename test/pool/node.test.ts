// The pool running a Node-style (req, res) app (src/pool/node-interface.ts): what req carries,
// how res's bytes come back as head/data/end, flow control through res.write() === false and
// 'drain', disconnects, HEAD, and every way the app can fail. Fixture: test/fixtures/e2e/node/pool-app.mjs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ackUntilDone, flowReader, header, poolRequest, recordingSink, send, startPool, text, untilStalled, waitFor, type PoolHandle } from "./helpers.ts";

const NODE_FIXTURES = join(import.meta.dir, "../fixtures/e2e/node");
const HIGH_WATERMARK = 256 * 1024;

let handle: PoolHandle;

beforeAll(async () => {
  handle = await startPool({ highWatermark: HIGH_WATERMARK, app: { module: "pool-app.mjs", object: "default", call: false, cwd: NODE_FIXTURES } });
});

afterAll(async () => {
  await handle.pool.close(1000);
});

async function json<T>(target: string): Promise<T> {
  return JSON.parse(text(await send(handle.pool, target))) as T;
}

describe("loading", () => {
  test("auto detects the (req, res) function and the pool logs the choice once", () => {
    expect(handle.logs.filter((l) => l.startsWith("--interface=auto"))).toEqual([
      `--interface=auto: "pool-app.mjs" export "default" is a function (req, res), so it is served as a Node-style (req, res) app; --interface=fetch serves it as (request, info) => Response`,
    ]);
  });
});

describe("what req carries", () => {
  interface Seen {
    method: string;
    url: string;
    httpVersion: string;
    rawHeaders: string[];
    headers: Record<string, string | string[]>;
    complete: boolean;
    bodyLength: number;
    bodyHead: string;
    socket: { remoteAddress: string | null; remotePort: number | null; remoteFamily: string | null; encrypted: boolean | null };
  }

  test("method, path and query (not the absolute URL), rawHeaders as received, headers derived from them, the body, the client", async () => {
    const body = new TextEncoder().encode("x=1&y=2");
    const r = await send(
      handle.pool,
      "/request?a=1&b=%20",
      { method: "PUT", headers: ["Host", "example.test", "X-Twice", "1", "x-twice", "2", "Cookie", "a=1", "Cookie", "b=2"], body, bodyLength: body.byteLength },
    );
    const seen = JSON.parse(text(r)) as Seen;
    expect(seen).toMatchObject({ method: "PUT", url: "/request?a=1&b=%20", httpVersion: "1.1", complete: true, bodyLength: 7, bodyHead: "x=1&y=2" });
    expect(seen.rawHeaders).toEqual(["Host", "example.test", "X-Twice", "1", "x-twice", "2", "Cookie", "a=1", "Cookie", "b=2"]);
    expect(seen.headers).toEqual({ host: "example.test", "x-twice": "1, 2", cookie: "a=1; b=2" });
    expect(seen.socket).toEqual({ remoteAddress: "192.0.2.7", remotePort: 40123, remoteFamily: "IPv4", encrypted: null });
  });

  test("an https URL makes req.socket.encrypted true (Express's req.protocol and req.secure read it)", async () => {
    const seen = JSON.parse(text(await send(handle.pool, "/request", { url: "https://example.test/request" }))) as Seen;
    expect(seen.socket.encrypted).toBe(true);
    expect(seen.url).toBe("/request");
  });

  test("over a unix socket there is no remote address, as in Node", async () => {
    const seen = JSON.parse(text(await send(handle.pool, "/request", { remote: { hostname: "", port: 0, transport: "unix" }, family: "" }))) as Seen;
    expect(seen.socket).toEqual({ remoteAddress: null, remotePort: null, remoteFamily: null, encrypted: null });
  });

  test("a body in a temp file (past --inbuf-overflow) is read as the app pulls it, every byte", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tray-node-body-"));
    try {
      const file = join(dir, "body");
      const size = 3 * 1024 * 1024 + 17;
      writeFileSync(file, Buffer.alloc(size, 0x7a));
      const seen = JSON.parse(text(await send(handle.pool, "/request", { method: "POST", bodyFd: openSync(file, "r"), bodyLength: size }))) as Seen;
      expect(seen.bodyLength).toBe(size);
      expect(seen.bodyHead).toBe("z".repeat(16));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("what res produces", () => {
  test("a response ended within the turn is one head + body + end with an exact length", async () => {
    const r = await send(handle.pool, "/plain?tag=plain1");
    expect(r.calls).toEqual(["head", "data", "end"]);
    expect(r.status).toBe(200);
    expect(r.bodyLength).toBe(5);
    expect(text(r)).toBe("plain");
  });

  test("after a normal end, req ends and closes and res closes — no 'aborted'", async () => {
    await send(handle.pool, "/plain?tag=plain2");
    const events = await waitForEvents("plain2", (e) => e.includes("res close") && e.includes("req close"));
    expect(events).not.toContain("req aborted");
    expect(events.indexOf("res finish")).toBeLessThan(events.indexOf("res close"));
  });

  test("several Set-Cookie values stay separate fields", async () => {
    const r = await send(handle.pool, "/cookies");
    const cookies: string[] = [];
    for (let i = 0; i < r.headers.length; i += 2) if (r.headers[i].toLowerCase() === "set-cookie") cookies.push(r.headers[i + 1]);
    expect(cookies).toEqual(["a=1", "b=2; Path=/", "c=3"]);
  });

  test("res.flushHeaders() sends the head at once, with the length unknown, before any body", async () => {
    const { sink, result, headSeen } = recordingSink();
    const id = handle.pool.dispatch(poolRequest("/flush-headers"), sink);
    await headSeen;
    expect(result.status).toBe(200);
    expect(header(result.headers, "content-type")).toBe("text/event-stream");
    expect(result.bodyLength).toBeNull();
    expect(result.calls).toEqual(["head"]);
    handle.pool.cancel(id);
  });

  test("an app that sets Transfer-Encoding: chunked itself still gives plain body bytes", async () => {
    const r = await send(handle.pool, "/chunked-by-app");
    expect(text(r)).toBe("abcdefg");
    expect(r.error).toBeNull();
  });

  test("interim 1xx heads (writeContinue) are dropped; the final status and reason are kept", async () => {
    const r = await send(handle.pool, "/interim");
    expect(r.status).toBe(202);
    expect(r.statusText).toBe("Taken");
    expect(header(r.headers, "x-kind")).toBe("final");
    expect(text(r)).toBe("after interim");
  });

  test("node's own Date is not sent (the server adds one)", async () => {
    const r = await send(handle.pool, "/plain");
    expect(header(r.headers, "date")).toBeUndefined();
  });

  test("HEAD: the body the app writes is counted, not sent", async () => {
    const r = await send(handle.pool, "/head", { method: "HEAD" });
    expect(r.calls).toEqual(["head", "end"]);
    expect(r.bodyLength).toBe(5);
  });

  test("HEAD: the app's own Content-Length is the answer's length", async () => {
    const r = await send(handle.pool, "/declared-head", { method: "HEAD" });
    expect(r.bodyLength).toBe(1234);
  });

  test("a 204's Content-Length is not held against its (absent) body", async () => {
    const r = await send(handle.pool, "/no-content");
    expect(r.error).toBeNull();
    expect(r.status).toBe(204);
    expect(r.body.byteLength).toBe(0);
  });

  test("a body shorter than the app's Content-Length is an error, not a short response", async () => {
    const r = await send(handle.pool, "/too-short");
    expect(r.error?.status).toBe(500);
  });
});

describe("flow control", () => {
  test("res.write() returns false and 'drain' follows once the server acknowledges; the Worker never runs far ahead", async () => {
    const total = 8 * 1024 * 1024;
    const pool = handle.pool;
    const r = flowReader();
    const id = pool.dispatch(poolRequest(`/flow?tag=f1&total=${total}`), r.sink);
    // No acks: the app must be told to stop (write() === false) near the watermark.
    await untilStalled(r, "the response to stall without acks", 100);
    expect(r.received).toBeLessThanOrEqual(HIGH_WATERMARK + 64 * 1024);
    const stalled = await json<{ falses: number; drains: number; written: number }>("/flow-stats?tag=f1");
    expect(stalled.falses).toBeGreaterThanOrEqual(1);
    expect(stalled.written).toBeLessThan(total);
    // Acks: 'drain' wakes the app, and the rest flows.
    await ackUntilDone(pool, id, r, "the response to end", 30_000, 2);
    expect(r.received).toBe(total);
    expect(r.maxAhead).toBeLessThanOrEqual(HIGH_WATERMARK + 64 * 1024);
    const done = await json<{ falses: number; drains: number }>("/flow-stats?tag=f1");
    expect(done.drains).toBeGreaterThanOrEqual(done.falses);
  });

  test("one 8 MiB write leaves in pieces, never more than a piece past the watermark", async () => {
    const r = flowReader();
    const id = handle.pool.dispatch(poolRequest("/big-write"), r.sink);
    await ackUntilDone(handle.pool, id, r, "the 8 MiB body", 30_000, 2);
    expect(r.received).toBe(8 * 1024 * 1024);
    // The first piece travels with the head and is counted once it leaves (AppCall), so two
    // pieces may be out before the first acknowledgement.
    expect(r.maxAhead).toBeLessThanOrEqual(HIGH_WATERMARK + 2 * 1024 * 1024);
  });
});

async function waitForEvents(tag: string, ready: (events: string[]) => boolean): Promise<string[]> {
  let events: string[] = [];
  await waitFor(async () => {
    events = await json<string[]>(`/events?tag=${tag}`);
    return ready(events);
  }, `the app's events for ${tag}`);
  return events;
}

describe("the client goes away", () => {
  test("cancel(): req 'aborted' and 'close', res 'close'; later writes return false quietly and nothing more arrives", async () => {
    const { sink, result } = recordingSink();
    const id = handle.pool.dispatch(poolRequest("/endless?tag=gone1"), sink);
    await waitFor(() => result.calls.filter((c) => c === "data").length >= 2, "a few chunks");
    handle.pool.cancel(id);
    const callsAtCancel = result.calls.length;
    const events = await waitForEvents("gone1", (e) => e.includes("res close") && e.some((x) => x.startsWith("write after close")));
    expect(events).toContain("req aborted");
    expect(events).toContain("req close");
    expect(events.filter((e) => e.startsWith("write after close"))).toContain("write after close returned false");
    await Bun.sleep(30);
    expect(result.calls.length).toBe(callsAtCancel);
    expect(handle.pool.inFlight).toBe(0);
  });
});

describe("failures", () => {
  test("a sync throw before anything is written: 500, logged with the request line, and the Worker carries on", async () => {
    const r = await send(handle.pool, "/throw");
    expect(r.error).toEqual({ status: 500, body: "Internal Server Error", afterHead: false });
    expect(handle.logs.some((l) => l.startsWith('error while serving "GET /throw HTTP/1.1": Error: sync throw'))).toBe(true);
    expect(text(await send(handle.pool, "/plain"))).toBe("plain");
  });

  test("a throw right after a write, before anything left the Worker: still a clean 500", async () => {
    const r = await send(handle.pool, "/throw-after-write");
    expect(r.error).toEqual({ status: 500, body: "Internal Server Error", afterHead: false });
  });

  test("a rejected promise from the handler: 500", async () => {
    const r = await send(handle.pool, "/reject");
    expect(r.error).toEqual({ status: 500, body: "Internal Server Error", afterHead: false });
    expect(handle.logs.some((l) => l.includes("Error: async rejection"))).toBe(true);
  });

  test("a rejection after the head went out: the server is told to close the connection", async () => {
    const r = await send(handle.pool, "/reject-after-stream");
    expect(r.calls.slice(0, 2)).toEqual(["head", "data"]);
    expect(r.error?.afterHead).toBe(true);
  });

  test("a rejection after the response ended: the response stands, the error is logged", async () => {
    const r = await send(handle.pool, "/reject-after-end");
    expect(text(r)).toBe("done");
    await waitFor(() => handle.logs.some((l) => l.includes('after its response to "GET /reject-after-end" was complete: Error: rejected after the end')), "the log line");
  });

  test("a Response returned (sync or async) without touching res: 500 and a line that says --interface=fetch", async () => {
    for (const target of ["/response", "/async-response"]) {
      const r = await send(handle.pool, target);
      expect(r.error?.status).toBe(500);
      expect(handle.logs).toContain(
        `error while serving "GET ${target} HTTP/1.1": the app returned a Response instead of writing to res: it is a fetch handler (request, info) => Response; start tray with --interface=fetch`,
      );
    }
  });
});
