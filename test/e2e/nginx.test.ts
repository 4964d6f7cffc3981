// tray behind a real nginx (Debian's), started and stopped by this file: nginx -> tray over TCP
// (mounted at /app/ with --url-prefix=/app) and over a unix socket, with the proxy headers of
// docs/deploying-behind-nginx.md. The client connects from 127.0.0.2 so that the address the app
// reports (the client's) differs from the peer tray sees (nginx at 127.0.0.1).
// Skips, saying why, only when nginx is not installed (.ci/run installs it).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes, createHash } from "node:crypto";
import { startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { converse } from "./http-helpers.ts";
import { CLIENT_ADDRESS, PROXY_FIXTURES, ask, findNginx, headerOf, startNginx } from "./proxy-helpers.ts";
import type { Nginx, Seen } from "./proxy-helpers.ts";

const NGINX = findNginx();
if (NGINX === null) console.warn("nginx.test.ts: SKIPPED - nginx is not installed (apt-get install -y nginx; .ci/run installs it)");

const TRUSTED_HEADERS = "--trusted-proxy-headers=x-forwarded-for x-forwarded-proto x-forwarded-host x-forwarded-port";

describe.skipIf(NGINX === null)("tray behind nginx", () => {
  let dir: string;
  let trayTcp: Tray;
  let trayUnix: Tray;
  let nginx: Nginx;
  let host: string; // what the client puts in Host: shop.example:<nginx port>

  const viaNginx = (path: string, opts: { body?: Uint8Array; extra?: string; method?: string } = {}) =>
    ask({ port: nginx.port }, `${opts.method ?? "GET"} ${path} HTTP/1.1\r\nHost: ${host}\r\n${opts.extra ?? ""}`, { body: opts.body, localAddress: CLIENT_ADDRESS, timeoutMs: 30_000 });
  const seenVia = async (path: string, extra = ""): Promise<Seen> => {
    const r = await viaNginx(path, { extra });
    expect(r.status).toBe(200);
    return r.json<Seen>();
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tray-nginx-"));
    const socket = join(dir, "tray.sock");
    // --threads=1: the held-stream route is released by a later request to the same Worker.
    trayTcp = await startTray(["--threads=1", "--url-prefix=/app", "--trusted-proxy=127.0.0.1", TRUSTED_HEADERS, "--log-untrusted-proxy-headers", "app.ts"], { cwd: PROXY_FIXTURES });
    trayUnix = await startTray([`--unix-socket=${socket}`, "--trusted-proxy=localhost", TRUSTED_HEADERS, "app.ts"], { cwd: PROXY_FIXTURES, autoPort: false });
    nginx = await startNginx(NGINX!, dir, join(PROXY_FIXTURES, "nginx.conf.template"), { TRAY_PORT: String(trayTcp.port), TRAY_SOCKET: socket });
    host = `shop.example:${nginx.port}`;
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await trayTcp?.stop();
    await trayUnix?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("over TCP the app sees the client's address, the original host and port, and its path under the prefix", async () => {
    const seen = await seenVia("/app/info?q=1");
    expect(seen.url).toBe(`http://${host}/info?q=1`);
    expect(seen.scriptName).toBe("/app");
    expect(seen.remoteAddr.hostname).toBe(CLIENT_ADDRESS);
    expect(seen.remoteAddr.transport).toBe("tcp");
    expect(seen.requestIP).toMatchObject({ address: CLIENT_ADDRESS, family: "IPv4" });
    // tray makes Host agree with request.url; nginx's X-Forwarded-* reach the app as sent.
    expect(headerOf(seen, "host")).toBe(host);
    expect(headerOf(seen, "x-forwarded-for")).toBe(CLIENT_ADDRESS);
  });

  test("the scheme is https where nginx terminates TLS (X-Forwarded-Proto: https, port 443)", async () => {
    const seen = await seenVia("/app/secure/info");
    expect(seen.url).toBe("https://shop.example/secure/info");
    expect(seen.remoteAddr.hostname).toBe(CLIENT_ADDRESS);
  });

  test("over a unix socket (--trusted-proxy=localhost) the app sees the client as a TCP client", async () => {
    const seen = await seenVia("/unix/info");
    expect(seen.url).toBe(`http://${host}/unix/info`);
    expect(seen.remoteAddr).toMatchObject({ hostname: CLIENT_ADDRESS, transport: "tcp" });
    expect(seen.requestIP).toMatchObject({ address: CLIENT_ADDRESS, family: "IPv4" });
    expect(seen.scriptName).toBe("");
  });

  test("links built from request.url and info.scriptName lead back to the app through nginx", async () => {
    const links = (await viaNginx("/app/links")).json<{ self: string; item: string; home: string }>();
    expect(links.item).toBe(`http://${host}/app/info?item=42`);
    const item = new URL(links.item);
    const followed = await ask({ port: nginx.port }, `GET ${item.pathname}${item.search} HTTP/1.1\r\nHost: ${item.host}\r\n`, { localAddress: CLIENT_ADDRESS });
    expect(followed.json<Seen>().url).toBe(`http://${host}/info?item=42`);

    const home = await seenVia(links.home); // "/app/" reaches the app as "/"
    expect(home.url).toBe(`http://${host}/`);
    expect(home.scriptName).toBe("/app");

    const secure = (await viaNginx("/app/secure/links")).json<{ item: string }>();
    expect(secure.item).toBe("https://shop.example/app/info?item=42");
  });

  test("a client's forged X-Forwarded-For via nginx: nginx appends the real address, tray believes only that hop", async () => {
    const seen = await seenVia("/app/info", "X-Forwarded-For: 6.6.6.6\r\n");
    expect(seen.remoteAddr.hostname).toBe(CLIENT_ADDRESS);
    expect(headerOf(seen, "x-forwarded-for")).toBe(`6.6.6.6, ${CLIENT_ADDRESS}`);
  });

  test("a client that bypasses nginx and forges proxy headers gets no effect; the headers are removed and logged", async () => {
    const r = await ask(
      { port: trayTcp.port },
      `GET /app/info HTTP/1.1\r\nHost: 127.0.0.1:${trayTcp.port}\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n`,
      { localAddress: CLIENT_ADDRESS },
    );
    const seen = r.json<Seen>();
    expect(seen.url).toBe(`http://127.0.0.1:${trayTcp.port}/info`);
    expect(seen.remoteAddr.hostname).toBe(CLIENT_ADDRESS);
    expect(seen.headers.map(([n]) => n).filter((n) => n.startsWith("x-forwarded"))).toEqual([]);
    expect(trayTcp.stderr()).toContain(`Untrusted proxy headers from ${CLIENT_ADDRESS} removed: X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto`);
  });

  test("nginx keeps its connection to tray alive: several requests arrive on one connection", async () => {
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) ports.push((await seenVia(`/app/info?n=${i}`)).remoteAddr.port);
    // With no port in X-Forwarded-For, info.remoteAddr.port is nginx's side of its connection to tray.
    expect(new Set(ports).size).toBeLessThan(ports.length);
    expect(ports.at(-1)).toBe(ports.at(-2)!);
  }, 30_000);

  test("a 50 MiB upload arrives whole through nginx (buffered by nginx, Content-Length to tray)", async () => {
    const body = randomBytes(50 * 1024 * 1024);
    const r = await viaNginx("/app/upload", { method: "POST", body, extra: `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n` });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ length: body.length, sha256: createHash("sha256").update(body).digest("hex") });
  }, 60_000);

  test("a chunked upload streams through nginx without request buffering", async () => {
    const part = randomBytes(256 * 1024);
    const chunks: Buffer[] = [];
    for (let i = 0; i < 16; i++) chunks.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n"));
    chunks.push(Buffer.from("0\r\n\r\n"));
    const r = await viaNginx("/app/live/upload", { method: "POST", body: Buffer.concat(chunks), extra: "Transfer-Encoding: chunked\r\n" });
    const whole = Buffer.concat(Array.from({ length: 16 }, () => part));
    expect(r.json()).toEqual({ length: whole.length, sha256: createHash("sha256").update(whole).digest("hex") });
  }, 30_000);

  test("a 16 MiB streamed response arrives whole through nginx, buffered and unbuffered", async () => {
    const expected = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < expected.length; i++) expected[i] = i % 251;
    const digest = createHash("sha256").update(expected).digest("hex");
    for (const path of ["/app/stream?mib=16", "/app/live/stream?mib=16"]) {
      const r = await viaNginx(path);
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(expected.length);
      expect(createHash("sha256").update(r.body).digest("hex")).toBe(digest);
    }
  }, 60_000);

  test("a streamed response's first chunk reaches the client through nginx before the app has finished", async () => {
    const key = `k${Date.now()}`;
    const c = await converse(nginx.port);
    try {
      c.send(`GET /app/live/held?key=${key} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      await c.waitFor((t) => t.includes("first chunk\n"), 15_000);
      expect(c.text()).not.toContain("released");
      const release = await viaNginx(`/app/release?key=${key}`);
      expect(release.body.toString()).toBe("released\n");
      await c.waitFor((t) => t.includes("released\n"), 15_000);
    } finally {
      c.destroy();
    }
  }, 40_000);

  test("nginx logged no upstream errors", () => {
    expect(nginx.errorLog()).not.toMatch(/\[(error|crit|alert|emerg)\]/);
  });
});
