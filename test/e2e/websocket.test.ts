// WebSockets through dist/tray (RFC 6455), with a Bun-shape app (test/fixtures/e2e/websocket/echo.ts):
// Bun's built-in WebSocket client for what real clients do, raw sockets with hand-masked frames
// for the protocol errors and the handshake refusals.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { FIXTURES, startTray, type Tray } from "./harness.ts";
import { ACCEPT, clientFrame, closeCode, connect, handshake, rawWebSocket } from "./websocket-helpers.ts";

const APP = join(FIXTURES, "websocket", "echo.ts");

let tray: Tray;
let ws: (path: string) => string;

beforeAll(async () => {
  tray = await startTray(["--threads=2", "--access-log=-", APP]);
  ws = (path) => `ws://127.0.0.1:${tray.port}${path}`;
});

afterAll(async () => {
  await tray.stop();
}, 15_000);

describe("Bun shape: echo", () => {
  test("text and binary messages are echoed with their type", async () => {
    const c = await connect(ws("/echo?name=ann"));
    c.ws.send("hello");
    c.ws.send(new Uint8Array([1, 2, 3]));
    const [text, binary] = await c.next(2);
    expect(text).toBe("hello");
    expect(Array.from(new Uint8Array(binary as ArrayBuffer))).toEqual([1, 2, 3]);
    c.ws.close(1000);
    expect((await c.closed).code).toBe(1000);
  });

  test("ws.data is what upgrade() was given; remoteAddress and readyState are Bun's", async () => {
    const c = await connect(ws("/echo?name=bob"));
    c.ws.send("who");
    expect(await c.next(1)).toEqual(["bob 127.0.0.1 1 false"]);
    c.ws.close();
  });

  test("a message sent with compress goes out deflated (permessage-deflate negotiated) and arrives whole", async () => {
    const c = await connect(ws("/echo"));
    expect(c.ws.extensions).toContain("permessage-deflate");
    c.ws.send("compressed");
    expect(await c.next(1)).toEqual(["z".repeat(1000)]);
    c.ws.close();
  });

  test("the app's close(code, reason) reaches the client", async () => {
    const c = await connect(ws("/echo"));
    c.ws.send("close-me");
    expect(await c.closed).toEqual({ code: 4001, reason: "asked to" });
  });

  test("a handler that throws is logged and the socket carries on", async () => {
    const c = await connect(ws("/echo"));
    c.ws.send("throw");
    c.ws.send("still here");
    expect(await c.next(1)).toEqual(["still here"]);
    expect(tray.stderr()).toContain("handler boom");
    c.ws.close();
  });

  test("the 101 carries Sec-WebSocket-Accept (RFC 6455 §4.2.2) and the app's upgrade() headers", async () => {
    const raw = await rawWebSocket(tray.port);
    expect(raw.head).toStartWith("HTTP/1.1 101 Switching Protocols\r\n");
    expect(raw.head).toContain(`Sec-WebSocket-Accept: ${ACCEPT}\r\n`);
    expect(raw.head).toContain("Upgrade: websocket\r\n");
    expect(raw.head.toLowerCase()).toContain("x-tray-test: yes\r\n");
    expect(raw.head).not.toContain("Sec-WebSocket-Extensions");
    raw.socket.destroy();
  });

  test("an app that does not upgrade answers over HTTP, and the connection closes after it", async () => {
    const raw = await rawWebSocket(tray.port, handshake("/not-upgraded"));
    expect(raw.head).toStartWith("HTTP/1.1 403 ");
    expect(raw.head).toContain("Connection: close");
    await raw.ended;
  });

  test("the access log has a 101 line at the upgrade and a close line with code, duration and bytes", async () => {
    const c = await connect(ws("/echo?name=log"));
    c.ws.close(1000);
    await c.closed;
    const deadline = Date.now() + 3000;
    while (!/name=log HTTP\/1\.1" 101 \d+ websocket_close/.test(tray.stderr()) && Date.now() < deadline) await Bun.sleep(20);
    expect(tray.stderr()).toMatch(/"GET \/echo\?name=log HTTP\/1\.1" 101 -/);
    expect(tray.stderr()).toMatch(/"GET \/echo\?name=log HTTP\/1\.1" 101 \d+ websocket_close=1000 duration=\d+\.\d{3}s bytes_in=\d+/);
  });
});

describe("handshake refusals (RFC 6455 §4.2.1, §4.4)", () => {
  test("a bad Sec-WebSocket-Key is 400 and the connection closes", async () => {
    const raw = await rawWebSocket(tray.port, "GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n");
    expect(raw.head).toStartWith("HTTP/1.1 400 Bad Request\r\n");
    await raw.ended;
  });

  test("another version is 426 with Sec-WebSocket-Version: 13", async () => {
    const raw = await rawWebSocket(tray.port, handshake("/echo").replace("Version: 13", "Version: 8"));
    expect(raw.head).toStartWith("HTTP/1.1 426 Upgrade Required\r\n");
    expect(raw.head).toContain("Sec-WebSocket-Version: 13\r\n");
    await raw.ended;
  });

  test("a POST upgrade is 400", async () => {
    const raw = await rawWebSocket(tray.port, handshake("/echo").replace("GET", "POST"));
    expect(raw.head).toStartWith("HTTP/1.1 400 ");
  });
});

describe("frames from a raw client", () => {
  test("a ping is answered with a pong carrying the same payload (§5.5.2)", async () => {
    const raw = await rawWebSocket(tray.port);
    raw.send(clientFrame(9, "are you there"));
    const [pong] = await raw.frames(1);
    expect(pong.opcode).toBe(10);
    expect(new TextDecoder().decode(pong.payload)).toBe("are you there");
    raw.socket.destroy();
  });

  test("a close frame is echoed with its code and the server closes the TCP connection (§5.5.1)", async () => {
    const raw = await rawWebSocket(tray.port);
    raw.send(clientFrame(8, new Uint8Array([0x0f, 0xa0]))); // 4000
    const [close] = await raw.frames(1);
    expect(close.opcode).toBe(8);
    expect(closeCode(close)).toBe(4000);
    await raw.ended;
  });

  test("frames sent in the same packet as the handshake are read as frames", async () => {
    const request = Buffer.concat([Buffer.from(handshake(), "latin1"), clientFrame(1, "early")]);
    const raw = await rawWebSocket(tray.port, request);
    const [echo] = await raw.frames(1);
    expect(new TextDecoder().decode(echo.payload)).toBe("early");
    raw.socket.destroy();
  });

  const failures: [string, () => Uint8Array, number][] = [
    ["an unknown opcode is 1002", () => clientFrame(3, "x"), 1002],
    ["an unmasked frame is 1002", () => new Uint8Array([0x81, 0x01, 0x61]), 1002],
    ["RSV1 without a negotiated extension is 1002", () => clientFrame(1, "x", true, 0x40), 1002],
    ["a message over maxPayloadLength (64 KiB here) is 1009", () => clientFrame(2, new Uint8Array(64 * 1024 + 1)), 1009],
    ["invalid UTF-8 in a text message is 1007", () => clientFrame(1, new Uint8Array([0x68, 0xc3, 0x28])), 1007],
    ["a fragmented ping is 1002", () => clientFrame(9, "x", false), 1002],
    ["a continuation with no message started is 1002", () => clientFrame(0, "x"), 1002],
  ];
  for (const [what, frame, code] of failures) {
    test(`${what}, and the connection ends`, async () => {
      const raw = await rawWebSocket(tray.port);
      raw.send(frame());
      const [close] = await raw.frames(1);
      expect(close.opcode).toBe(8);
      expect(closeCode(close)).toBe(code);
      await raw.ended;
    });
  }
});

describe("pub/sub across Workers (--threads=2)", () => {
  test("clients on different Workers hear each other's publishes, not their own; counts span Workers", async () => {
    const clients = [];
    for (const name of ["a", "b", "c", "d"]) clients.push(await connect(ws(`/chat?name=${name}`)));
    const joined = await Promise.all(clients.map((c) => c.next(1)));
    const threads = new Set(joined.map(([m]) => String(m).split(":")[2]));
    expect(threads.size).toBe(2);
    const deadline = Date.now() + 3000;
    while ((await (await fetch(`${tray.url}/count`)).text()) !== "4" && Date.now() < deadline) await Bun.sleep(20);
    expect(await (await fetch(`${tray.url}/count`)).text()).toBe("4");
    clients[0].ws.send("hi all");
    for (const c of clients.slice(1)) expect((await c.next(2))[1]).toBe("a:hi all");
    // server.publish from an HTTP handler reaches every subscriber, the sender of "hi all" included.
    await fetch(`${tray.url}/announce?m=news`);
    expect((await clients[0].next(2))[1]).toBe("announce:news");
    for (const c of clients.slice(1)) expect((await c.next(3))[2]).toBe("announce:news");
    for (const c of clients) c.ws.close();
    await Promise.all(clients.map((c) => c.closed));
    const until = Date.now() + 3000;
    while ((await (await fetch(`${tray.url}/count`)).text()) !== "0" && Date.now() < until) await Bun.sleep(20);
    expect(await (await fetch(`${tray.url}/count`)).text()).toBe("0");
  });
});

describe("Deno shape", () => {
  test("Deno.upgradeWebSocket(request) gives a WebSocket-like socket (onopen, addEventListener, send, onclose)", async () => {
    const own = await startTray([join(FIXTURES, "websocket", "deno.ts")]);
    try {
      const c = await connect(`ws://127.0.0.1:${own.port}/`);
      c.ws.send("hi");
      expect(await c.next(2)).toEqual(["deno:open", "echo:hi"]);
      c.ws.close(1000);
      await c.closed;
      const deadline = Date.now() + 3000;
      while (!own.stderr().includes("deno close 1000") && Date.now() < deadline) await Bun.sleep(20);
      expect(own.stderr()).toContain("deno close 1000");
    } finally {
      await own.stop();
    }
  });
});

describe("lifecycle", () => {
  test("a Worker that dies closes its own WebSockets with 1011 and is replaced", async () => {
    const own = await startTray(["--threads=1", APP]);
    try {
      const c = await connect(`ws://127.0.0.1:${own.port}/echo`);
      c.ws.send("die");
      expect((await c.closed).code).toBe(1011);
      const deadline = Date.now() + 10_000;
      let again: Awaited<ReturnType<typeof connect>> | null = null;
      while (again === null && Date.now() < deadline) again = await connect(`ws://127.0.0.1:${own.port}/echo`).catch(() => null);
      again!.ws.send("back");
      expect(await again!.next(1)).toEqual(["back"]);
      again!.ws.close();
    } finally {
      await own.stop();
    }
  }, 20_000);

  test("SIGTERM sends close 1001 to every WebSocket and tray exits 0", async () => {
    const own = await startTray([APP]);
    const c = await connect(`ws://127.0.0.1:${own.port}/echo`);
    own.proc.kill("SIGTERM");
    expect((await c.closed).code).toBe(1001);
    expect(await own.exited).toBe(0);
  });

  // The idle rules (ping at half, 1001 at the end, pongs count) are tested on a fake clock in
  // test/server/websocket-session.test.ts; this checks the app's idleTimeout reaches the session.
  test("idleTimeout from the app's websocket object: a silent client is closed with 1001", async () => {
    const own = await startTray([APP], { env: { PATH: process.env.PATH ?? "", HOME: "/tmp", WS_IDLE: "1" } });
    try {
      const raw = await rawWebSocket(own.port);
      const [ping, close] = await raw.frames(2, 3000);
      expect(ping.opcode).toBe(9);
      expect(close.opcode).toBe(8);
      expect(closeCode(close)).toBe(1001);
      raw.socket.destroy();
    } finally {
      await own.stop();
    }
  }, 10_000);
});
