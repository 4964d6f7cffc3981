// --proxy-protocol through dist/tray: behind a real HAProxy (Debian's; TCP mode, send-proxy and
// send-proxy-v2, over IPv4 and IPv6 on loopback) the app, requestIP and the access log see the
// client HAProxy saw, not HAProxy; and over raw sockets, what is refused: a forged header from a
// peer that is not --trusted-proxy, a trusted peer that sends no header or a bad one.
// The client connects from 127.0.0.2 so the client address differs from HAProxy's (127.0.0.1).
// HAProxy tests skip, saying why, only when haproxy is not installed (.ci/run installs it).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, freePort, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { CLIENT_ADDRESS } from "./proxy-helpers.ts";

const CWD = join(FIXTURES, "ops");
const HAPROXY = spawnSync("haproxy", ["-v"], { stdio: "ignore" }).status === 0 ? "haproxy" : null;
if (HAPROXY === null) console.warn("proxy-protocol.test.ts: HAProxy tests SKIPPED - haproxy is not installed (apt-get install -y haproxy; .ci/run installs it)");

interface Talk {
  /** Everything the server sent before it closed (or the time ran out). */
  text: string;
  /** Whether the server closed the connection. */
  closed: boolean;
  /** The client's own port: the one a PROXY header from HAProxy names. */
  localPort: number;
}

/** Connects (from `localAddress`), writes the parts, and reads until the server closes; bounded. */
function talk(host: string, port: number, parts: (string | Uint8Array)[], localAddress?: string, timeoutMs = 5000): Promise<Talk> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, localAddress });
    const chunks: Buffer[] = [];
    let localPort = 0;
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: false, localPort });
    }, timeoutMs);
    s.once("connect", () => {
      localPort = s.localPort ?? 0;
      for (const p of parts) s.write(typeof p === "string" ? Buffer.from(p, "latin1") : p);
    });
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: true, localPort });
    });
    s.once("error", (e) => (localPort === 0 ? reject(e) : undefined));
  });
}

const WHOAMI = "GET /whoami HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n";

interface Whoami {
  url: string;
  remoteAddr: { hostname: string; port: number; transport: string };
  requestIP: { address: string; family: string; port: number } | null;
}

function whoami(t: Talk): Whoami {
  expect(t.text.startsWith("HTTP/1.1 200 ")).toBe(true);
  return JSON.parse(t.text.slice(t.text.indexOf("\r\n\r\n") + 4)) as Whoami;
}

/** A PROXY v2 header (§2.2) for TCP over IPv4 or LOCAL. */
function v2(command: "PROXY" | "LOCAL", src = [192, 0, 2, 9], srcPort = 4321): Uint8Array {
  const sig = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
  const addresses = [...src, 127, 0, 0, 1, srcPort >> 8, srcPort & 0xff, 0x1f, 0x90];
  return Uint8Array.from([...sig, command === "PROXY" ? 0x21 : 0x20, 0x11, 0, 12, ...addresses]);
}

let tray: Tray;
beforeAll(async () => {
  tray = await startTray(["--threads=1", "--trusted-proxy=127.0.0.1", "--trusted-proxy-headers=x-forwarded-proto", "--proxy-protocol", "--access-log", "app.ts"], { cwd: CWD });
});
afterAll(async () => {
  await tray?.stop();
});

describe("raw sockets: who may send a PROXY header", () => {
  test("the trusted proxy's v1 header names the client: remoteAddr, requestIP and the access log see it", async () => {
    const t = await talk("127.0.0.1", tray.port, [`PROXY TCP4 203.0.113.5 127.0.0.1 40001 ${tray.port}\r\n${WHOAMI}`]);
    const seen = whoami(t);
    expect(seen.remoteAddr).toEqual({ hostname: "203.0.113.5", port: 40001, transport: "tcp" });
    expect(seen.requestIP).toEqual({ address: "203.0.113.5", family: "IPv4", port: 40001 });
    const deadline = Date.now() + 2000;
    while (!tray.stderr().includes('203.0.113.5 - - [') && Date.now() < deadline) await Bun.sleep(20);
    expect(tray.stderr()).toMatch(/\n203\.0\.113\.5 - - \[[^\]]+\] "GET \/whoami HTTP\/1\.1" 200 /);
  });

  test("the header and the request may arrive in pieces", async () => {
    const header = `PROXY TCP6 2001:db8::7 ::1 40002 ${tray.port}\r\n`;
    const whole = header + WHOAMI;
    const t = await talk("127.0.0.1", tray.port, [whole.slice(0, 9), whole.slice(9, header.length + 3), whole.slice(header.length + 3)]);
    expect(whoami(t).requestIP).toEqual({ address: "2001:db8::7", family: "IPv6", port: 40002 });
  });

  test("v2 PROXY names the client; v2 LOCAL (the proxy's own check) keeps the proxy's address", async () => {
    expect(whoami(await talk("127.0.0.1", tray.port, [v2("PROXY"), WHOAMI])).requestIP).toEqual({ address: "192.0.2.9", family: "IPv4", port: 4321 });
    expect(whoami(await talk("127.0.0.1", tray.port, [v2("LOCAL"), WHOAMI])).remoteAddr.hostname).toBe("127.0.0.1");
  });

  test("the proxy's own proxy headers are still believed on its connection (X-Forwarded-Proto from a TLS-terminating proxy)", async () => {
    const head = `GET /whoami HTTP/1.1\r\nHost: app.example\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n`;
    const seen = whoami(await talk("127.0.0.1", tray.port, [`PROXY TCP4 203.0.113.5 127.0.0.1 40003 443\r\n${head}`]));
    expect(seen.url).toBe("https://app.example/whoami");
    expect(seen.requestIP?.address).toBe("203.0.113.5");
  });

  test("the trusted proxy without a header: closed, nothing answered", async () => {
    const t = await talk("127.0.0.1", tray.port, [WHOAMI]);
    expect(t).toMatchObject({ text: "", closed: true });
  });

  test("the trusted proxy with a malformed header: closed, nothing answered", async () => {
    const t = await talk("127.0.0.1", tray.port, [`PROXY TCP4 203.0.113.5 127.0.0.1 99999 80\r\n${WHOAMI}`]);
    expect(t).toMatchObject({ text: "", closed: true });
    expect(tray.stderr()).toContain("Closed a connection from 127.0.0.1: PROXY v1 header has a port that is not 0-65535");
  });

  test("any other peer forging a v1 or v2 header: closed, nothing answered", async () => {
    const forged = await talk("127.0.0.1", tray.port, [`PROXY TCP4 10.9.9.9 127.0.0.1 1 80\r\n${WHOAMI}`], CLIENT_ADDRESS);
    expect(forged).toMatchObject({ text: "", closed: true });
    expect(await talk("127.0.0.1", tray.port, [v2("PROXY"), WHOAMI], CLIENT_ADDRESS)).toMatchObject({ text: "", closed: true });
    expect(tray.stderr()).toContain(`Closed a connection from ${CLIENT_ADDRESS}: a PROXY protocol header from a peer that is not --trusted-proxy`);
  });

  test("any other peer speaking plain HTTP is served as itself, even one byte at a time", async () => {
    const parts = WHOAMI.split("");
    const t = await talk("127.0.0.1", tray.port, parts, CLIENT_ADDRESS);
    expect(whoami(t).requestIP).toEqual({ address: CLIENT_ADDRESS, family: "IPv4", port: t.localPort });
  });
});

describe.skipIf(HAPROXY === null)("behind HAProxy (TCP mode)", () => {
  let dir: string;
  let haproxy: ChildProcess;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tray-haproxy-"));
    for (const name of ["v1", "v2", "v1six", "v2six"]) ports[name] = await freePort();
    const backend = (version: string) => `    server tray 127.0.0.1:${tray.port} ${version === "v1" ? "send-proxy" : "send-proxy-v2"}\n`;
    const config = [
      "global",
      "    maxconn 64",
      "defaults",
      "    mode tcp",
      "    timeout connect 5s",
      "    timeout client 30s",
      "    timeout server 30s",
      ...["v1", "v2"].flatMap((v) => [
        `frontend f_${v}`,
        `    bind 127.0.0.1:${ports[v]}`,
        `    bind [::1]:${ports[`${v}six`]}`,
        `    default_backend b_${v}`,
        `backend b_${v}`,
        backend(v),
      ]),
    ].join("\n");
    writeFileSync(join(dir, "haproxy.cfg"), config);
    haproxy = spawn(HAPROXY!, ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    haproxy.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    haproxy.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
    // Up when every frontend accepts a connection.
    const deadline = Date.now() + 10_000;
    for (const port of Object.values(ports)) {
      for (;;) {
        const host = port === ports.v1six || port === ports.v2six ? "::1" : "127.0.0.1";
        const up = await new Promise<boolean>((resolve) => {
          const s = connect({ host, port });
          s.once("connect", () => (s.destroy(), resolve(true)));
          s.once("error", () => resolve(false));
        });
        if (up) break;
        if (haproxy.exitCode !== null || Date.now() > deadline) throw new Error(`haproxy did not start:\n${out}`);
        await Bun.sleep(50);
      }
    }
  });

  afterAll(async () => {
    if (haproxy !== undefined && haproxy.exitCode === null) {
      const exited = new Promise((resolve) => haproxy.once("exit", resolve));
      haproxy.kill("SIGTERM");
      const timer = setTimeout(() => haproxy.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  for (const version of ["v1", "v2"]) {
    const option = version === "v1" ? "send-proxy" : "send-proxy-v2";
    test(`${option} over IPv4: the app sees the client's address and port, not HAProxy's`, async () => {
      const t = await talk("127.0.0.1", ports[version], [WHOAMI], CLIENT_ADDRESS);
      const seen = whoami(t);
      expect(seen.remoteAddr).toEqual({ hostname: CLIENT_ADDRESS, port: t.localPort, transport: "tcp" });
      expect(seen.requestIP).toEqual({ address: CLIENT_ADDRESS, family: "IPv4", port: t.localPort });
    });

    test(`${option} over IPv6: the app sees ::1 as an IPv6 client though HAProxy reached tray over IPv4`, async () => {
      const t = await talk("::1", ports[`${version}six`], [WHOAMI]);
      expect(whoami(t).requestIP).toEqual({ address: "::1", family: "IPv6", port: t.localPort });
    });
  }

  test("several requests on one client connection through HAProxy keep the client's address", async () => {
    const keep = "GET /whoami HTTP/1.1\r\nHost: app.example\r\n\r\n";
    const t = await talk("127.0.0.1", ports.v2, [keep + keep + WHOAMI], CLIENT_ADDRESS);
    const bodies = t.text.split("HTTP/1.1 200 OK").slice(1);
    expect(bodies.length).toBe(3);
    for (const b of bodies) expect(b).toContain(`"address":"${CLIENT_ADDRESS}"`);
  });
});
