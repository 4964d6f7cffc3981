// The pool carries requests to the app and responses back intact: method, URL, headers (latin-1,
// order, Set-Cookie kept apart), binary bodies both ways, body files streamed, info; and it
// spreads concurrent requests over its Workers, least busy first.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { header, poolRequest, recordingSink, send, startPool, text, type PoolHandle } from "./helpers.ts";

let one: PoolHandle;
let two: PoolHandle;

beforeAll(async () => {
  [one, two] = await Promise.all([startPool({ threads: 1 }), startPool({ threads: 2 })]);
});

afterAll(async () => {
  await Promise.all([one.pool.close(1000), two.pool.close(1000)]);
});

describe("round trip", () => {
  test("method, url, headers in order, body, status, statusText and info arrive intact", async () => {
    const latin1 = "caf\u00e9 \u00ff\u00a0end";
    const r = await send(one.pool, "/echo?x=1", {
      method: "PUT",
      headers: ["Host", "example.test", "X-Latin", latin1, "X-Dup", "a", "X-Dup", "b"],
      body: new Uint8Array([0, 1, 2, 253, 254, 255]),
      scriptName: "/prefix",
    });
    expect(r.error).toBeNull();
    expect(r.status).toBe(201);
    expect(r.statusText).toBe("Made It");
    // The app's reply header carries the latin-1 request value back unchanged.
    expect(header(r.headers, "x-reply")).toBe(latin1);
    expect(r.bodyLength).toBe(r.body.byteLength);
    const seen = JSON.parse(text(r));
    expect(seen.method).toBe("PUT");
    expect(seen.url).toBe("http://example.test/echo?x=1");
    expect(seen.headers).toEqual([
      ["host", "example.test"],
      ["x-dup", "a, b"],
      ["x-latin", latin1],
    ]);
    expect(seen.bodyHex).toBe("000102fdfeff");
    expect(seen.remoteAddr).toEqual({ hostname: "192.0.2.7", port: 40123, transport: "tcp" });
    expect(seen.requestIP).toEqual({ address: "192.0.2.7", family: "IPv4", port: 40123 });
    expect(seen.scriptName).toBe("/prefix");
  });

  test("requestIP is null over a unix socket", async () => {
    const r = await send(one.pool, "/echo", { remote: { hostname: "", port: 0, transport: "unix" }, family: "" });
    const seen = JSON.parse(text(r));
    expect(seen.remoteAddr.transport).toBe("unix");
    expect(seen.requestIP).toBeNull();
  });

  test("binary bodies of every size come back byte for byte", async () => {
    for (const size of [1, 255, 16 * 1024, 16 * 1024 + 1, 200 * 1024, 3 * 1024 * 1024 + 7]) {
      const body = new Uint8Array(randomBytes(size));
      const expected = body.slice();
      const r = await send(one.pool, "/bytes", { method: "POST", body });
      expect(r.error).toBeNull();
      expect(r.body.byteLength).toBe(size);
      expect(Buffer.compare(r.body, expected)).toBe(0);
    }
  });

  test("a request body that is a view into a larger buffer sends only its own bytes", async () => {
    const big = new Uint8Array(100_000).fill(7);
    big.set([1, 2, 3], 50_000);
    const r = await send(one.pool, "/bytes", { method: "POST", body: big.subarray(50_000, 50_003) });
    expect([...r.body]).toEqual([1, 2, 3]);
    const large = big.subarray(10, 90_000);
    const r2 = await send(one.pool, "/bytes", { method: "POST", body: large });
    expect(r2.body.byteLength).toBe(89_990);
  });

  test("each Set-Cookie stays a separate header", async () => {
    const r = await send(one.pool, "/cookies");
    const cookies = [];
    for (let i = 0; i < r.headers.length; i += 2) if (r.headers[i] === "set-cookie") cookies.push(r.headers[i + 1]);
    expect(cookies).toEqual(["a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"]);
    expect(header(r.headers, "x-other")).toBe("yes");
  });

  test("a small static response arrives as head, data, end with its exact length", async () => {
    const r = await send(one.pool, "/method");
    expect(r.calls).toEqual(["head", "data", "end"]);
    expect(r.bodyLength).toBe(3);
    expect(text(r)).toBe("GET");
  });

  test("a null body has length 0", async () => {
    const empty = await send(one.pool, "/empty");
    expect(empty.status).toBe(204);
    expect(empty.bodyLength).toBe(0);
    expect(empty.calls).toEqual(["head", "end"]);
  });

  test("HEAD: no body bytes, and bodyLength is what GET would send", async () => {
    const counted = await send(one.pool, "/method", { method: "HEAD" });
    expect(counted.calls).toEqual(["head", "end"]);
    expect(counted.bodyLength).toBe(4); // "HEAD"
    const declared = await send(one.pool, "/head-length", { method: "HEAD" });
    expect(declared.calls).toEqual(["head", "end"]);
    expect(declared.bodyLength).toBe(1234);
    expect(header(declared.headers, "content-length")).toBe("1234");
  });

  test("a streamed body with a declared Content-Length reports that length in the head", async () => {
    const r = await send(one.pool, "/declared");
    expect(r.error).toBeNull();
    expect(r.bodyLength).toBe(7);
    expect(text(r)).toBe("exactly");
  });

  test("a body shorter than the declared Content-Length is an error, not a short response", async () => {
    const r = await send(one.pool, "/declared-too-long");
    expect(r.error?.status).toBe(500);
  });

  test("a string body gets the Fetch standard's text/plain;charset=UTF-8 unless the app set a type", async () => {
    const plain = await send(one.pool, "/text");
    expect(header(plain.headers, "content-type")).toBe("text/plain;charset=UTF-8");
    expect(text(plain)).toBe("h\u00e9llo \u2603");
    const html = await send(one.pool, "/html");
    expect(header(html.headers, "content-type")).toBe("text/html");
    const bytes = await send(one.pool, "/bytes", { method: "POST", body: new Uint8Array([1]) });
    expect(header(bytes.headers, "content-type")).toBe("application/octet-stream");
  });

  test("Response subclasses, instanceof and Response.json still work in the app", async () => {
    const r = await send(one.pool, "/subclass");
    expect(text(r)).toBe("true true text/plain;charset=UTF-8 true");
  });

  test("string chunks in a body stream are sent as UTF-8", async () => {
    const r = await send(one.pool, "/strings");
    expect(text(r)).toBe("caf\u00e9 \u2603");
  });

  test("a Uint8Array the app enqueues on every request is copied, never detached", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await send(one.pool, "/constant");
      expect(r.error).toBeNull();
      expect(text(r)).toBe("a".repeat(40 * 1024) + ": keep-alive\n\n" + "a".repeat(40 * 1024));
    }
  });

  test("a method the runtime's Request cannot carry gets 501, never reaches the app as GET", async () => {
    const r = await send(one.pool, "/method", { method: "FROBNICATE" });
    expect(r.error?.status).toBe(501);
    expect(r.calls).toEqual(["error"]);
    const known = await send(one.pool, "/method", { method: "PROPFIND" });
    expect(text(known)).toBe("PROPFIND");
  });
});

describe("request body in a temp file", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tray-pool-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("is streamed to the app in bounded chunks, every byte intact", async () => {
    const size = 5 * 1024 * 1024 + 123;
    const bytes = randomBytes(size);
    const path = join(dir, "body.bin");
    writeFileSync(path, bytes);
    // The Worker gets a descriptor of its own, which it closes (src/pool/body-file.ts).
    const fd = openSync(path, "r");
    const r = await send(one.pool, "/sha", { method: "POST", bodyFd: fd, bodyLength: size });
    expect(r.error).toBeNull();
    // Closed by the Worker before its last op (the number may already name something else).
    const now = (() => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return null;
      }
    })();
    expect(now).not.toBe(path);
    const seen = JSON.parse(text(r));
    expect(seen.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(seen.largest).toBeLessThanOrEqual(64 * 1024);
    expect(seen.chunks).toBeGreaterThan(10);
  });
});

describe("concurrency", () => {
  test("thousands of concurrent requests over two Workers all come back to the right sink", async () => {
    const n = 2000;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => send(two.pool, `/echo?i=${i}`, { method: "POST", body: new TextEncoder().encode(`body ${i}`) })),
    );
    const threads = new Set<number>();
    results.forEach((r, i) => {
      const seen = JSON.parse(text(r));
      expect(seen.url).toBe(`http://example.test/echo?i=${i}`);
      expect(Buffer.from(seen.bodyHex, "hex").toString()).toBe(`body ${i}`);
      threads.add(seen.threadId);
    });
    expect(threads.size).toBe(2);
    expect(two.pool.inFlight).toBe(0);
  });

  test("concurrent requests are spread evenly over the Workers", async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => send(two.pool, "/whoami?ms=200")));
    const counts = new Map<string, number>();
    for (const r of results) counts.set(text(r), (counts.get(text(r)) ?? 0) + 1);
    expect([...counts.values()]).toEqual([5, 5]);
  });

  test("a new request goes to the least busy Worker", async () => {
    const busy = recordingSink();
    const hangId = two.pool.dispatch(poolRequest("/hang"), busy.sink);
    // The Worker holding /hang has one request in flight, the other none: every one-at-a-time
    // request must land on the other Worker.
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(text(await send(two.pool, "/whoami")));
    expect(seen.size).toBe(1);
    two.pool.cancel(hangId);
    expect(two.pool.inFlight).toBe(0);
  });

  test("a handler that never resolves does not hold up other requests on its Worker", async () => {
    const hung = recordingSink();
    const id = one.pool.dispatch(poolRequest("/hang"), hung.sink);
    const r = await send(one.pool, "/method");
    expect(text(r)).toBe("GET");
    expect(one.pool.inFlight).toBe(1);
    one.pool.cancel(id);
    expect(one.pool.inFlight).toBe(0);
  });
});
