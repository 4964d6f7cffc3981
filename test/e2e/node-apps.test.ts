// Node-style (req, res) apps served unchanged by dist/tray (issue 8): Express 4 and 5, Koa,
// Connect, a bare handler, an exported http.createServer(h), and an app that calls listen()
// itself — real packages from npm in test/fixtures/e2e/node, real sockets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exchange, freePort, parseResponses, rawConnect, startTray, type Tray } from "./harness.ts";
import { NODE_DIR, ensureNodeFixture, waitFor, portOpen, trayEnv } from "./node-apps-helpers.ts";

const skipReason = await ensureNodeFixture();
if (skipReason !== null) console.warn(`node-apps tests skipped: ${skipReason}`);
const describeInstalled = skipReason === null ? describe : describe.skip;

const BIG_SIZE = 5 * 1024 * 1024;

/** A raw connection whose received bytes can be awaited by content. */
async function openReader(port: number): Promise<{ socket: Socket; text: () => string; until: (test: (text: string) => boolean, what: string) => Promise<string>; closed: Promise<void> }> {
  const socket = await rawConnect(port);
  let received = "";
  const waiters = new Set<() => void>();
  socket.on("data", (d: Buffer) => {
    received += d.toString("latin1");
    for (const w of waiters) w();
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  return {
    socket,
    text: () => received,
    until: (check, what) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(poll);
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(received.slice(0, 500))}`));
        }, 15_000);
        const poll = () => {
          if (!check(received)) return;
          clearTimeout(timer);
          waiters.delete(poll);
          resolve(received);
        };
        waiters.add(poll);
        poll();
      }),
    closed,
  };
}

for (const [label, module] of [
  ["Express 4", "express4.cjs"],
  ["Express 5", "express5.mjs"],
] as const) {
  describeInstalled(label, () => {
    let tray: Tray;
    let staticDir: string;
    let big: Uint8Array;

    beforeAll(async () => {
      staticDir = mkdtempSync(join(tmpdir(), "tray-node-static-"));
      big = new Uint8Array(BIG_SIZE);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 12)) & 0xff;
      writeFileSync(join(staticDir, "big.bin"), big);
      // One Worker: /stream and /release, /endless and /gone must meet in the same app instance.
      // --inbuf-overflow=4K: larger request bodies reach the app from a temp file.
      tray = await startTray(["--threads=1", "--inbuf-overflow=4K", module], { cwd: NODE_DIR, env: trayEnv({ NODE_FIXTURE_STATIC: staticDir }) });
    });
    afterAll(async () => {
      await tray?.stop();
      if (process.env.TRAY_TEST_DEBUG) console.log(tray?.stderr());
      rmSync(staticDir, { recursive: true, force: true });
    });

    test("auto detection serves it as a Node-style app and says so once", () => {
      const lines = tray.stderr().split("\n").filter((l) => l.includes("--interface=auto"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`"${module}" export "default" is a function (req, res, next), so it is served as a Node-style (req, res) app`);
    });

    test("express.json() parses the body; res.status(201).json answers", async () => {
      const r = await fetch(`${tray.url}/json`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: [1, 2], b: "é" }) });
      expect(r.status).toBe(201);
      expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(await r.json()).toEqual({ got: { a: [1, 2], b: "é" }, type: "application/json" });
    });

    test("express.json() reads a body that tray kept in a temp file (past --inbuf-overflow)", async () => {
      const items = Array.from({ length: 2000 }, (_, i) => ({ i, name: `item ${i}` }));
      const r = await fetch(`${tray.url}/json`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(items) });
      expect(r.status).toBe(201);
      expect(((await r.json()) as { got: unknown }).got).toEqual(items);
    });

    test("route params and the query string", async () => {
      const r = await fetch(`${tray.url}/users/7?sort=asc&tag=a&tag=b`);
      expect(await r.json()).toEqual({ id: "7", query: { sort: "asc", tag: ["a", "b"] }, url: "/users/7?sort=asc&tag=a&tag=b", originalUrl: "/users/7?sort=asc&tag=a&tag=b" });
    });

    test("res.redirect gives 302 with Location", async () => {
      const r = await fetch(`${tray.url}/redirect`, { redirect: "manual" });
      expect(r.status).toBe(302);
      expect(r.headers.get("location")).toBe("/users/42");
      await r.arrayBuffer();
    });

    test("res.status(418).send", async () => {
      const r = await fetch(`${tray.url}/teapot`);
      expect(r.status).toBe(418);
      expect(await r.text()).toBe("short and stout");
    });

    test("two cookies stay two Set-Cookie fields", async () => {
      const r = await fetch(`${tray.url}/cookies`);
      expect(r.headers.getSetCookie()).toEqual(["first=1; Path=/; HttpOnly", "second=2; Path=/x"]);
      expect(await r.text()).toBe("two cookies");
    });

    test("req.ip, req.protocol, req.secure and the client's port come from the connection", async () => {
      const socket = await rawConnect(tray.port);
      const localPort = socket.localPort;
      const text = await new Promise<string>((resolve) => {
        let got = "";
        socket.on("data", (d: Buffer) => {
          got += d.toString("latin1");
          if (parseResponses(got).length > 0 && got.endsWith("}")) resolve(got);
        });
        socket.write("GET /who HTTP/1.1\r\nHost: t\r\n\r\n");
      });
      socket.destroy();
      const [response] = parseResponses(text);
      expect(JSON.parse(response.body)).toEqual({ ip: "127.0.0.1", protocol: "http", secure: false, port: localPort, httpVersion: "1.1" });
    });

    test("req.httpVersion is the request's: an HTTP/1.0 request sees 1.0", async () => {
      const socket = await rawConnect(tray.port);
      const text = await new Promise<string>((resolve) => {
        let got = "";
        socket.on("data", (d: Buffer) => (got += d.toString("latin1")));
        socket.on("end", () => resolve(got)); // HTTP/1.0 without keep-alive: the server closes
        socket.write("GET /who HTTP/1.0\r\nHost: t\r\n\r\n");
      });
      socket.destroy();
      expect(text).toStartWith("HTTP/1.0 200 ");
      expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).httpVersion).toBe("1.0");
    });

    test("error middleware answers next(err) and a throw in a route", async () => {
      const failed = await fetch(`${tray.url}/fail`);
      expect(failed.status).toBe(500);
      expect(await failed.json()).toEqual({ handled: "failed on purpose" });
      const thrown = await fetch(`${tray.url}/throw`);
      expect(thrown.status).toBe(500);
      expect(await thrown.json()).toEqual({ handled: "thrown on purpose" });
    });

    if (module === "express5.mjs") {
      test("Express 5: a rejected async handler reaches the error middleware", async () => {
        const r = await fetch(`${tray.url}/async-throw`);
        expect(r.status).toBe(500);
        expect(await r.json()).toEqual({ handled: "rejected on purpose" });
      });
    }

    test("an Upgrade request is served as plain HTTP/1.1 (RFC 9110 §7.8: the server may ignore it)", async () => {
      const { text } = await exchange(tray.port, "GET /teapot HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", { idleMs: 800 });
      const [response] = parseResponses(text);
      expect(response.status).toBe(418);
      expect(response.body).toBe("short and stout");
    });

    test("tray owns the framing: the app's Connection, Keep-Alive, Date and Server are replaced", async () => {
      const { text } = await exchange(tray.port, "GET /hop-by-hop HTTP/1.1\r\nHost: t\r\n\r\nGET /teapot HTTP/1.1\r\nHost: t\r\n\r\n", { idleMs: 800 });
      const [first, second] = parseResponses(text);
      expect(first.body).toBe("framing is tray's");
      expect(first.rawHead.match(/^date:/gim)).toHaveLength(1);
      expect(first.rawHead.match(/^server:/gim)).toHaveLength(1);
      expect(first.headers.server).toBe("tray");
      expect(first.headers.date).not.toContain("1970");
      expect(first.rawHead).not.toMatch(/^keep-alive:/im);
      expect(first.rawHead).not.toMatch(/^connection:/im);
      expect(second.status).toBe(418); // the connection stayed open for the next request
    });

    test("HEAD: the head with the length a GET gets, and no body", async () => {
      const { text } = await exchange(tray.port, "HEAD /teapot HTTP/1.1\r\nHost: t\r\n\r\nGET /teapot HTTP/1.1\r\nHost: t\r\n\r\n", { idleMs: 800 });
      expect(text).toMatch(/^HTTP\/1\.1 418 I'm a Teapot\r\n/i);
      const head = text.slice(0, text.indexOf("\r\n\r\n") + 2);
      expect(head).toMatch(/\r\nContent-Length: 15\r\n/i);
      // The very next bytes are the GET's response.
      expect(text.slice(head.length + 2)).toMatch(/^HTTP\/1\.1 418 /);
    });

    test("express.static: a 5 MiB file whole, a Range (206), and an ETag revalidation (304)", async () => {
      const whole = await fetch(`${tray.url}/static/big.bin`);
      expect(whole.status).toBe(200);
      expect(whole.headers.get("content-length")).toBe(String(BIG_SIZE));
      const etag = whole.headers.get("etag");
      expect(etag).toBeTruthy();
      const body = new Uint8Array(await whole.arrayBuffer());
      expect(body.length).toBe(BIG_SIZE);
      expect(Buffer.compare(body, big)).toBe(0);

      const range = await fetch(`${tray.url}/static/big.bin`, { headers: { range: "bytes=1000000-1000099" } });
      expect(range.status).toBe(206);
      expect(range.headers.get("content-range")).toBe(`bytes 1000000-1000099/${BIG_SIZE}`);
      expect(Buffer.compare(new Uint8Array(await range.arrayBuffer()), big.subarray(1000000, 1000100))).toBe(0);

      const revalidated = await fetch(`${tray.url}/static/big.bin`, { headers: { "if-none-match": etag! } });
      expect(revalidated.status).toBe(304);
      expect((await revalidated.arrayBuffer()).byteLength).toBe(0);
    });

    test("a streamed route: the first write reaches the client before the app ends the response", async () => {
      const tag = `s${Math.random()}`;
      const reader = await openReader(tray.port);
      reader.socket.write(`GET /stream?tag=${tag} HTTP/1.1\r\nHost: t\r\n\r\n`);
      // The end is only written after /release, which is sent after this arrives.
      const early = await reader.until((t) => t.includes("first chunk\n"), "the first chunk");
      expect(early).toMatch(/\r\nTransfer-Encoding: chunked\r\n/i);
      expect(early).not.toContain("last chunk");
      expect(await (await fetch(`${tray.url}/release?tag=${tag}`)).text()).toBe("released");
      const all = await reader.until((t) => t.endsWith("0\r\n\r\n"), "the end of the stream");
      expect(all).toContain("last chunk\n");
      reader.socket.destroy();
    });

    test("a client that disconnects mid-stream: req and res see 'close', the app stops writing", async () => {
      const tag = `d${Math.random()}`;
      const reader = await openReader(tray.port);
      reader.socket.write(`GET /endless?tag=${tag} HTTP/1.1\r\nHost: t\r\n\r\n`);
      await reader.until((t) => t.length > 20_000, "some of the endless body");
      reader.socket.destroy();
      const record = await waitFor(
        async () => (await (await fetch(`${tray.url}/gone?tag=${tag}`)).json()) as { resClose: boolean; reqClose: boolean; writesAfterClose: number; timerCleared: boolean },
        (r) => r !== null && r.resClose,
        "res 'close' in the app",
      );
      expect(record).toEqual({ resClose: true, reqClose: true, writesAfterClose: 0, timerCleared: true });
      // The Worker carries on.
      expect((await fetch(`${tray.url}/teapot`)).status).toBe(418);
    });

    if (module === "express4.cjs") {
      // Last in this block: it replaces the Worker (and with it the app's in-memory state).
      test("Express 4: a rejected async handler is unhandled: 500, the Worker is replaced, serving goes on", async () => {
        const r = await fetch(`${tray.url}/async-throw`);
        expect(r.status).toBe(500);
        expect((await r.text()).trim()).toBe("Internal Server Error");
        expect(tray.stderr()).toMatch(/worker 0 died \(unhandled rejection: Error: rejected on purpose.*\); 1 request\(s\) in flight on it failed; starting a replacement/);
        const next = await waitFor(
          () => fetch(`${tray.url}/teapot`).then((x) => x.status),
          (status) => status === 418,
          "the replacement Worker",
        );
        expect(next).toBe(418);
      });
    }
  });
}

describeInstalled("behind a trusted proxy", () => {
  let tray: Tray;
  beforeAll(async () => {
    const proxy = ["--trusted-proxy=127.0.0.1", "--trusted-proxy-headers=x-forwarded-for x-forwarded-proto"];
    tray = await startTray(["--threads=1", ...proxy, "express4.cjs"], { cwd: NODE_DIR, env: trayEnv() });
  });
  afterAll(async () => {
    await tray?.stop();
  });

  test("req.ip is the client the proxy vouched for; req.protocol and req.secure follow its scheme", async () => {
    const r = await fetch(`${tray.url}/who`, { headers: { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" } });
    expect(await r.json()).toMatchObject({ ip: "203.0.113.9", protocol: "https", secure: true });
  });
});

describeInstalled("Koa", () => {
  let tray: Tray;
  beforeAll(async () => {
    tray = await startTray(["--threads=1", "koa.mjs"], { cwd: NODE_DIR, env: trayEnv() });
  });
  afterAll(async () => {
    await tray?.stop();
  });

  test("is served through app.callback()", () => {
    expect(tray.stderr()).toContain(`"koa.mjs" export "default" is a Koa app (it has callback and use methods), called through app.callback(), so it is served as a Node-style (req, res) app`);
  });

  test("a JSON body read from ctx.req", async () => {
    const r = await fetch(`${tray.url}/json`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"k":[true]}' });
    expect(await r.json()).toEqual({ got: { k: [true] }, length: 12 });
  });

  test("a stream body is sent chunked", async () => {
    const { text } = await exchange(tray.port, "GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    const [response] = parseResponses(text);
    expect(response.headers["transfer-encoding"]).toBe("chunked");
    expect(response.body).toBe("one two three");
  });

  test("ctx.throw(409)", async () => {
    const r = await fetch(`${tray.url}/conflict`);
    expect(r.status).toBe(409);
    expect(await r.text()).toBe("already there");
  });
});

describeInstalled("Connect", () => {
  let tray: Tray;
  beforeAll(async () => {
    tray = await startTray(["--threads=1", "connect.cjs"], { cwd: NODE_DIR, env: trayEnv() });
  });
  afterAll(async () => {
    await tray?.stop();
  });

  test("a handler mounted at /api sees the path below it", async () => {
    expect(await (await fetch(`${tray.url}/api/items?x=1`)).json()).toEqual({ url: "/items?x=1", originalUrl: "/api/items?x=1" });
    expect(await (await fetch(`${tray.url}/other`)).text()).toBe("connect root");
  });
});

describe("a bare (req, res) handler and an exported http.createServer(h)", () => {
  let bare: Tray;
  let server: Tray;
  beforeAll(async () => {
    [bare, server] = await Promise.all([
      startTray(["--threads=1", "--url-prefix=/app", "bare.mjs"], { cwd: NODE_DIR, env: trayEnv() }),
      startTray(["--threads=1", "server.mjs"], { cwd: NODE_DIR, env: trayEnv() }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([bare?.stop(), server?.stop()]);
  });

  test("the bare handler gets the method, the url without --url-prefix, the body, rawHeaders as sent, and the client", async () => {
    const body = "name=tray&x=1";
    const request = `POST /app/submit?q=1 HTTP/1.1\r\nHost: example.test\r\nX-Mixed-Case: One\r\nx-mixed-case: Two\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const { text } = await exchange(bare.port, request);
    const [response] = parseResponses(text);
    expect(JSON.parse(response.body)).toEqual({
      method: "POST",
      url: "/submit?q=1",
      body,
      host: "example.test",
      rawHeaders: ["Host", "example.test", "X-Mixed-Case", "One", "x-mixed-case", "Two", "Content-Length", String(body.length), "Connection", "close"],
      remoteAddress: "127.0.0.1",
    });
  });

  test("the server's 'request' listener answers", async () => {
    expect(await (await fetch(`${server.url}/hello`)).text()).toBe("createServer at /hello");
    expect(server.stderr()).toContain(`"server.mjs" export "default" is an http.Server, so it is served as a Node-style (req, res) app`);
  });
});

describe("flow control through dist/tray: a client that stops reading", () => {
  let tray: Tray;
  beforeAll(async () => {
    // pool-app.mjs's /flow writes 16 KiB chunks and waits for 'drain' whenever write() says false.
    tray = await startTray(["--threads=1", "--outbuf-high-watermark=256K", "--outbuf-overflow=256K", "pool-app.mjs"], { cwd: NODE_DIR, env: trayEnv() });
  });
  afterAll(async () => {
    await tray?.stop();
  });

  test("stops the app with write() === false, and 'drain' lets it finish once the client reads again", async () => {
    const total = 64 * 1024 * 1024;
    const stats = async () => (await (await fetch(`${tray.url}/flow-stats?tag=e2e`)).json()) as { falses: number; drains: number; written: number } | null;
    const socket = await rawConnect(tray.port);
    socket.pause();
    socket.write(`GET /flow?tag=e2e&total=${total} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    // Unread, the response fills the kernel's buffers, then tray's, then the app is told to wait.
    let last = -1;
    const stalled = await waitFor(stats, (s) => {
      const still = s !== null && s.falses > 0 && s.written === last;
      last = s?.written ?? -1;
      return still;
    }, "the app to be held back");
    expect(stalled!.written).toBeLessThan(total / 2);
    if (process.env.TRAY_TEST_DEBUG) console.log(`stalled after ${stalled!.written} bytes, ${stalled!.falses} false writes`);
    let received = 0;
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (d: Buffer) => (received += d.length));
    socket.resume();
    await closed;
    expect(received).toBeGreaterThan(total);
    const done = await stats();
    expect(done!.written).toBe(total);
    expect(done!.drains).toBeGreaterThanOrEqual(done!.falses);
  });
});

describeInstalled("an app that calls app.listen(PORT) itself", () => {
  let tray: Tray;
  let appPort: number;
  beforeAll(async () => {
    appPort = await freePort();
    tray = await startTray(["--threads=2", "listens.cjs"], { cwd: NODE_DIR, env: trayEnv({ APP_PORT: String(appPort) }) });
  });
  afterAll(async () => {
    await tray?.stop();
  });

  test("is served on tray's port, its listen callback ran, and its own port stays unbound", async () => {
    expect(await (await fetch(`${tray.url}/`)).text()).toBe(`listened app, told it was on ${appPort}`);
    expect(await portOpen(appPort)).toBe(false);
    expect(tray.stderr()).toContain(`"listens.cjs" export "default" is an object with no fetch method, but it called listen() while loading: serving that server on tray's sockets (its port ${appPort} is not bound)`);
  });
});
