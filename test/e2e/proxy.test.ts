// Trusted proxy headers through dist/tray over real sockets, without nginx: a trusted peer
// (127.0.0.1) and a stranger (127.0.0.2) send the same bytes; a unix-socket peer is the proxy
// only with --trusted-proxy=localhost; a malformed value from the proxy is a 400 naming the
// header, then close; untrusted copies are removed (or kept with --no-clear-…) and logged.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exchange, parseResponses, runTray, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { CLIENT_ADDRESS, PROXY_FIXTURES, ask, headerOf } from "./proxy-helpers.ts";
import type { Seen } from "./proxy-helpers.ts";

const ALL_X = "--trusted-proxy-headers=x-forwarded-for,x-forwarded-host,x-forwarded-proto,x-forwarded-port,x-forwarded-by";
const FORGED = "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\nX-Forwarded-Port: 8443\r\nForwarded: for=192.0.2.9\r\n";

const forwardedNames = (seen: Seen) => seen.headers.map(([n]) => n).filter((n) => n.startsWith("x-forwarded") || n === "forwarded");

describe("X-Forwarded-* over TCP (--trusted-proxy=127.0.0.1)", () => {
  let tray: Tray;
  beforeAll(async () => {
    tray = await startTray(["--trusted-proxy=127.0.0.1", ALL_X, "--log-untrusted-proxy-headers", "app.ts"], { cwd: PROXY_FIXTURES });
  });
  afterAll(async () => {
    await tray?.stop();
  });
  const get = (extra: string, localAddress?: string) => ask({ port: tray.port }, `GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}`, { localAddress });

  test("the trusted proxy's headers give request.url, info.remoteAddr and info.requestIP()", async () => {
    const seen = (await get(FORGED)).json<Seen>();
    expect(seen.url).toBe("https://shop.example:8443/info");
    expect(seen.remoteAddr).toMatchObject({ hostname: "192.0.2.1", transport: "tcp" });
    expect(seen.requestIP).toMatchObject({ address: "192.0.2.1", family: "IPv4" });
    expect(headerOf(seen, "host")).toBe("shop.example:8443");
    // Trusted X-Forwarded-* stay for the app; Forwarded is not trusted here, so it is removed.
    expect(forwardedNames(seen).sort()).toEqual(["x-forwarded-for", "x-forwarded-host", "x-forwarded-port", "x-forwarded-proto"]);
  });

  test("a client port in X-Forwarded-For becomes info.remoteAddr.port; IPv6 clients report IPv6", async () => {
    const seen = (await get("X-Forwarded-For: [2001:db8::17]:4711\r\n")).json<Seen>();
    expect(seen.remoteAddr).toEqual({ hostname: "2001:db8::17", port: 4711, transport: "tcp" });
    expect(seen.requestIP).toEqual({ address: "2001:db8::17", family: "IPv6", port: 4711 });
  });

  test("the same bytes from another address have no effect; the headers are removed and logged", async () => {
    const seen = (await get(FORGED, CLIENT_ADDRESS)).json<Seen>();
    expect(seen.url).toBe("http://127.0.0.1/info");
    expect(seen.remoteAddr.hostname).toBe(CLIENT_ADDRESS);
    expect(seen.requestIP).toMatchObject({ address: CLIENT_ADDRESS, family: "IPv4" });
    expect(headerOf(seen, "host")).toBe("127.0.0.1");
    expect(forwardedNames(seen)).toEqual([]);
    expect(tray.stderr()).toContain(`Untrusted proxy headers from ${CLIENT_ADDRESS} removed: Forwarded, X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Port, X-Forwarded-Proto`);
  });

  const malformed: [string, string][] = [
    ["X-Forwarded-For: not-an-address\r\n", "X-Forwarded-For"],
    ["X-Forwarded-For: 192.0.2.1:99999\r\n", "X-Forwarded-For"],
    ["X-Forwarded-Proto: ftp\r\n", "X-Forwarded-Proto"],
    ["X-Forwarded-Proto: https, http\r\n", "X-Forwarded-Proto"],
    ["X-Forwarded-Proto: https\r\nX-Forwarded-Proto: https\r\n", "X-Forwarded-Proto"],
    ["X-Forwarded-Port: 0\r\n", "X-Forwarded-Port"],
    ["X-Forwarded-Host: a b\r\n", "X-Forwarded-Host"],
    // Issue 12 defect 2: the rule Host obeys (a 500 from the Worker before).
    ["X-Forwarded-Host: [4712::abcd::]\r\n", "X-Forwarded-Host"],
    ["X-Forwarded-Host: a.1\r\n", "X-Forwarded-Host"],
    // Issue 13: a zone id is an interface name or number, at most 15 chars.
    ["X-Forwarded-For: fe80::1%abcdefghijklmnop\r\n", "X-Forwarded-For"],
  ];
  for (const [fields, name] of malformed) {
    test(`from the proxy, ${JSON.stringify(fields.trim())} is a 400 naming ${name}, then close`, async () => {
      const r = await ask({ port: tray.port }, `GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\n${fields}`);
      expect(r.status).toBe(400);
      expect(r.headers.connection).toBe("close");
      expect(r.body.toString()).toContain(`Malformed ${name} header`);
      expect(tray.stderr()).toContain(`Malformed ${name} header`);
    });
  }

  test("an X-Forwarded-For zone id of 5,000 chars is a 400, not the client address (issue 13)", async () => {
    const r = await ask({ port: tray.port }, `GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: fe80::1%${"a".repeat(5000)}\r\n`);
    expect(r.status).toBe(400);
    expect(r.body.toString()).toContain("Malformed X-Forwarded-For header");
  });

  test("an X-Forwarded-For zone id naming an interface is the client address", async () => {
    const seen = (await get("X-Forwarded-For: fe80::1%eth0\r\n")).json<Seen>();
    expect(seen.remoteAddr.hostname).toBe("fe80::1%eth0");
  });

  test("a refused HEAD gets the 400's head and no body; a refused HTTP/1.0 request gets an HTTP/1.0 status line", async () => {
    const head = await exchange(tray.port, ["HEAD /info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: gopher\r\n\r\n"], { idleMs: 5_000 });
    expect(head.text).toStartWith("HTTP/1.1 400 ");
    expect(head.text).toContain("\r\nConnection: close\r\n");
    expect(head.text).toEndWith("\r\n\r\n"); // RFC 9110 §9.3.2: no content after a HEAD response's head
    expect(head.closed).toBe(true);
    const old = await exchange(tray.port, ["GET /info HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: gopher\r\n\r\n"], { idleMs: 5_000 });
    expect(old.text).toStartWith("HTTP/1.0 400 ");
    expect(old.text).toContain("Malformed X-Forwarded-Proto header");
    expect(old.closed).toBe(true);
  });

  test("a malformed value from a stranger is not read at all: removed, no 400", async () => {
    const r = await get("X-Forwarded-Proto: ftp\r\n", CLIENT_ADDRESS);
    expect(r.status).toBe(200);
    expect(forwardedNames(r.json<Seen>())).toEqual([]);
  });

  test("a 400 from proxy headers ends the connection after the requests before it were answered", async () => {
    const { text, closed } = await exchange(tray.port, [
      "GET /info?n=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      "GET /info?n=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: gopher\r\n\r\n",
      "GET /info?n=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ], { idleMs: 5_000 });
    const responses = parseResponses(text);
    expect(responses.map((r) => r.status)).toEqual([200, 400]);
    expect(responses[1].body).toContain("Malformed X-Forwarded-Proto header");
    expect(closed).toBe(true);
  });
});

describe("unix-socket peers", () => {
  let dir: string;
  const started: Tray[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tray-proxy-"));
  });
  afterAll(async () => {
    for (const t of started) await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  async function serveUnix(name: string, ...args: string[]): Promise<string> {
    const path = join(dir, name);
    started.push(await startTray([`--unix-socket=${path}`, ...args, "app.ts"], { cwd: PROXY_FIXTURES, autoPort: false }));
    return path;
  }

  test("--trusted-proxy=localhost believes a unix-socket peer: the client is reported as a TCP client", async () => {
    const path = await serveUnix("local.sock", "--trusted-proxy=localhost", ALL_X);
    const seen = (await ask({ path }, `GET /info HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\n`)).json<Seen>();
    expect(seen.url).toBe("https://shop.example/info");
    expect(seen.remoteAddr).toEqual({ hostname: "192.0.2.1", port: 0, transport: "tcp" });
    expect(seen.requestIP).toEqual({ address: "192.0.2.1", family: "IPv4", port: 0 });
  });

  test("--trusted-proxy=127.0.0.1 does not cover a unix-socket peer: the headers are removed", async () => {
    const path = await serveUnix("ip.sock", "--trusted-proxy=127.0.0.1", ALL_X);
    const seen = (await ask({ path }, `GET /info HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\n`)).json<Seen>();
    expect(seen.url).toBe("http://shop.example/info");
    expect(seen.remoteAddr.transport).toBe("unix");
    expect(seen.requestIP).toBeNull();
    expect(forwardedNames(seen)).toEqual([]);
  });
});

describe("other proxy settings", () => {
  const started: Tray[] = [];
  afterAll(async () => {
    for (const t of started) await t.stop();
  });
  const serve = async (...args: string[]) => {
    const t = await startTray([...args, "app.ts"], { cwd: PROXY_FIXTURES });
    started.push(t);
    return t;
  };

  test("--trusted-proxy alone warns and believes X-Forwarded-Proto only (Waitress 3)", async () => {
    const tray = await serve("--trusted-proxy=127.0.0.1");
    expect(tray.stderr()).toContain("only X-Forwarded-Proto is trusted");
    const seen = (await ask({ port: tray.port }, `GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 192.0.2.1\r\n`)).json<Seen>();
    expect(seen.url).toBe("https://127.0.0.1/info");
    expect(seen.remoteAddr.hostname).toBe("127.0.0.1");
    expect(forwardedNames(seen)).toEqual(["x-forwarded-proto"]);
  });

  test("Forwarded (RFC 7239) when trusted; X-Forwarded-* then removed", async () => {
    const tray = await serve("--trusted-proxy=*", "--trusted-proxy-headers=forwarded", "--trusted-proxy-count=2");
    const seen = (
      await ask(
        { port: tray.port },
        `GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nForwarded: for=198.51.100.1, for="[2001:db8::1]:80";proto=https;host=shop.example, for=10.0.0.1;host=internal\r\nX-Forwarded-For: 192.0.2.1\r\n`,
        { localAddress: CLIENT_ADDRESS },
      )
    ).json<Seen>();
    expect(seen.url).toBe("https://shop.example/info");
    expect(seen.remoteAddr).toEqual({ hostname: "2001:db8::1", port: 80, transport: "tcp" });
    expect(forwardedNames(seen)).toEqual(["forwarded"]);
  });

  test("--trusted-proxy with a Forwarded/X-Forwarded-* mix of trusted headers is refused before listening", async () => {
    const r = await runTray(["--trusted-proxy=127.0.0.1", "--trusted-proxy-headers=forwarded,x-forwarded-for", "app.ts"], { cwd: PROXY_FIXTURES });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Forwarded");
  });

  test("--no-clear-untrusted-proxy-headers passes forged headers to the app, still without effect", async () => {
    const tray = await serve("--no-clear-untrusted-proxy-headers");
    const seen = (await ask({ port: tray.port }, `GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\n`)).json<Seen>();
    expect(seen.url).toBe("http://127.0.0.1/info");
    expect(seen.remoteAddr.hostname).toBe("127.0.0.1");
    expect(headerOf(seen, "x-forwarded-for")).toBe("192.0.2.1");
  });

  test("without --log-untrusted-proxy-headers removing them is silent", async () => {
    const tray = await serve();
    const r = await ask({ port: tray.port }, `GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 192.0.2.1\r\n`);
    expect(r.status).toBe(200);
    expect(tray.stderr()).not.toContain("Untrusted proxy headers");
  });
});
