// Node-style apps that upgrade (issue 14, item 5), through dist/tray with the real packages from
// test/fixtures/e2e/node (ws 8.23.1, socket.io 4.8.4, pinned): the http.Server 'upgrade' event
// with (req, socket, head), `ws` attached with { server } beside Express and with noServer +
// handleUpgrade, socket.io's default transports (polling, then the upgrade), an app with no
// 'upgrade' listener (served as plain HTTP, as node:http does), the bound on a tunnel whose client
// stops reading, a client that goes away, and SIGTERM. The clients (ws, socket.io-client) run
// under bun from the fixture directory, one process per test, bounded in time.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { exchange, parseResponses, rawConnect, startTray, type Tray } from "./harness.ts";
import { NODE_DIR, ensureNodeFixture, waitFor, trayEnv } from "./node-apps-helpers.ts";

const skipReason = await ensureNodeFixture();
if (skipReason !== null) console.warn(`node-upgrade tests skipped: ${skipReason}`);
const describeInstalled = skipReason === null ? describe : describe.skip;

const UPGRADE_DIR = join(NODE_DIR, "upgrade");
const CLIENT_MS = 20_000;

let running: Tray[] = [];
afterEach(async () => {
  for (const tray of running) await tray.stop();
  running = [];
});

async function serve(fixture: string, extra: string[] = []): Promise<Tray> {
  const tray = await startTray([...extra, join("upgrade", fixture)], { cwd: NODE_DIR, env: trayEnv() });
  running.push(tray);
  return tray;
}

/** Runs a client script of the fixture under bun; its last stdout line, parsed. */
async function client(script: string, args: string[]): Promise<Record<string, unknown>> {
  const proc = Bun.spawn([process.execPath, script, ...args], { cwd: UPGRADE_DIR, stdout: "pipe", stderr: "pipe", env: trayEnv() });
  const timer = setTimeout(() => proc.kill(), CLIENT_MS);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  const line = out.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`${script} printed no result; stderr: ${err.slice(0, 500)}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** An upgrade request; a WebSocket one carries a valid handshake (tray refuses others itself, 400/426). */
const UPGRADE_HEAD = (path: string, upgrade: string) =>
  `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n` +
  (upgrade === "websocket" ? "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" : "") +
  "\r\n";

describeInstalled("the http.Server 'upgrade' event", () => {
  test("Express + ws with { server }: HTTP and WebSocket echo on the same server", async () => {
    const tray = await serve("ws-express.mjs");
    expect(await (await fetch(`${tray.url}/`)).text()).toBe("express here");
    const result = await client("ws-client.mjs", [`ws://127.0.0.1:${tray.port}/room`, "one", "two", "three"]);
    expect(result).toEqual({ code: 1000, received: ["hello /room", "one", "two", "three"] });
  }, 30_000);

  test("ws with noServer: the app's 'upgrade' listener calls handleUpgrade, and answers other paths itself", async () => {
    const tray = await serve("ws-noserver.mjs");
    expect(await client("ws-client.mjs", [`ws://127.0.0.1:${tray.port}/echo`, "x", "y"])).toEqual({ code: 1000, received: ["x", "y"] });
    const refused = await exchange(tray.port, UPGRADE_HEAD("/other", "websocket"), { maxMs: 5000 });
    expect(refused.text).toStartWith("HTTP/1.1 404 Not Found\r\n");
    expect(refused.closed).toBe(true);
  }, 30_000);

  test("socket.io: a polling client that upgrades and a websocket-only client chat through tray (--threads=1)", async () => {
    const tray = await serve("socketio-chat.mjs", ["--threads=1"]);
    const result = await client("socketio-clients.mjs", [tray.url]);
    expect(result).toEqual({
      pollingTransport: "websocket",
      directTransport: "websocket",
      polling: ["from direct", "from polling"],
      direct: ["from direct", "from polling"],
    });
  }, 30_000);

  test("no 'upgrade' listener: the request is served through 'request' as plain HTTP (node:http since Node 10), then the connection closes", async () => {
    const tray = await serve("no-upgrade.mjs");
    for (const upgrade of ["websocket", "h2c"]) {
      const { text, closed } = await exchange(tray.port, [UPGRADE_HEAD("/x", upgrade), "GET /after HTTP/1.1\r\nHost: t\r\n\r\n"], { maxMs: 5000 });
      const responses = parseResponses(text);
      // What followed an upgrade request is not read as HTTP (RFC 9110 §7.8; the ws-server branch's rule).
      expect(responses.map((r) => [r.status, r.body, r.headers["connection"]])).toEqual([[200, `plain /x upgrade=${upgrade}`, "close"]]);
      expect(closed).toBe(true);
    }
  }, 30_000);

  test("an Upgrade field not listed in Connection never reaches 'upgrade' (RFC 9110 §7.8)", async () => {
    const tray = await serve("ws-noserver.mjs");
    const { text } = await exchange(tray.port, "GET /flood HTTP/1.1\r\nHost: t\r\nUpgrade: flood\r\n\r\n", { maxMs: 5000 });
    expect(parseResponses(text).map((r) => [r.status, r.body])).toEqual([[200, "plain /flood"]]);
  }, 30_000);
});

describeInstalled("a tunnel's bounds", () => {
  async function flooded(tray: Tray): Promise<{ written: number; ended: number; closed: number }> {
    return (await (await fetch(`${tray.url}/written`)).json()) as { written: number; ended: number; closed: number };
  }

  test("a client that stops reading stops the app's writes (write() false, 'drain' never comes) with bounded memory", async () => {
    const tray = await serve("ws-noserver.mjs", ["--threads=1"]);
    const socket = await rawConnect(tray.port);
    socket.on("error", () => {});
    let head = "";
    socket.once("data", (d: Buffer) => {
      head = d.toString("latin1", 0, 40);
      socket.pause(); // and never read again
    });
    socket.write(UPGRADE_HEAD("/flood", "flood"));
    // The writes stall: three reads 200 ms apart agree.
    let last = -1;
    let same = 0;
    const stalled = await waitFor(
      async () => {
        await Bun.sleep(200);
        const { written } = await flooded(tray);
        same = written === last ? same + 1 : 0;
        last = written;
        return { written, same };
      },
      (v) => v.same >= 3,
      "the app's writes to stall",
    );
    expect(head).toStartWith("HTTP/1.1 101 Switching Protocols\r\n");
    // Socket buffers on both ends, the Worker's window, the main thread's: a few MiB, not the GiB the app would write.
    expect(stalled.written).toBeGreaterThan(1024 * 1024);
    expect(stalled.written).toBeLessThan(48 * 1024 * 1024);
    socket.destroy();
  }, 30_000);

  test("a client that goes away: the app's socket sees 'end' and 'close'", async () => {
    const tray = await serve("ws-noserver.mjs", ["--threads=1"]);
    const socket = await rawConnect(tray.port);
    socket.on("error", () => {});
    socket.on("data", () => {}); // reads, so the app keeps writing until the client leaves
    socket.write(UPGRADE_HEAD("/flood", "flood"));
    await waitFor(() => flooded(tray), (v) => v.written > 0, "the flood to start");
    socket.destroy();
    expect(await waitFor(() => flooded(tray), (v) => v.closed === 1, "'close' on the app's socket")).toMatchObject({ ended: 1, closed: 1 });
  }, 30_000);

  test("SIGTERM ends an open tunnel and tray exits 0", async () => {
    const tray = await serve("ws-noserver.mjs", ["--threads=1"]);
    const proc = Bun.spawn([process.execPath, "ws-client.mjs", `ws://127.0.0.1:${tray.port}/echo`], { cwd: UPGRADE_DIR, stdout: "pipe", stderr: "pipe", env: trayEnv() });
    const timer = setTimeout(() => proc.kill(), CLIENT_MS);
    const reader = proc.stdout.getReader();
    let out = "";
    while (!out.includes("open\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(out).toContain("open\n");
    tray.proc.kill("SIGTERM");
    const code = await tray.exited;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    clearTimeout(timer);
    expect(code).toBe(0);
    const result = JSON.parse(out.trim().split("\n").pop()!) as { code: number; received: string[] };
    expect(result.received).toEqual([]);
    expect(result.code).toBeNumber();
  }, 30_000);
});
