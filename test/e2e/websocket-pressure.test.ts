// WebSocket backpressure, pub/sub options and the server's limits through dist/tray
// (test/fixtures/e2e/websocket/pressure.ts and echo.ts): send() returning -1 and 0 and drain() for a
// client that stops reading, closeOnBackpressureLimit, publishToSelf, subscriptions, the main
// thread's bound on publishes to a stalled subscriber, --channel-timeout and --connection-limit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, startTray, type Tray } from "./harness.ts";
import { clientFrame, connect, countingWebSocket, rawWebSocket } from "./websocket-helpers.ts";

const PRESSURE = join(FIXTURES, "websocket", "pressure.ts");
const ECHO = join(FIXTURES, "websocket", "echo.ts");
const ENV = { PATH: process.env.PATH ?? "", HOME: "/tmp" };
const FLOOD_TOTAL = 48 * 1024 * 1024;

interface State {
  results: number[];
  drains: number;
  sent: number;
  closed: number | null;
}

async function state(tray: Tray, name: string): Promise<State> {
  return (await (await fetch(`${tray.url}/state?name=${name}`)).json()) as State;
}

/** kB of the process's resident set: now (VmRSS) or at its peak (VmHWM). */
function rssKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(field + ":"))!;
  return Number(line.split(/\s+/)[1]);
}

describe("a client that stops reading (backpressureLimit 64 KiB)", () => {
  let tray: Tray;
  beforeAll(async () => {
    tray = await startTray(["--threads=1", PRESSURE], { env: ENV });
  });
  afterAll(async () => {
    await tray.stop();
  }, 15_000);

  test("send() says -1 past the limit, then 0 (dropped); drain() fires only once the client reads again, and everything accepted arrives", async () => {
    const c = await countingWebSocket(tray.port, "/?name=stall");
    c.socket.pause();
    c.socket.write(clientFrame(1, "flood"));
    // While the client reads nothing, the app is held back: what it sent stops growing short of the total.
    let last = -1;
    const deadline = Date.now() + 10_000;
    let s = await state(tray, "stall");
    while (s.sent !== last && Date.now() < deadline) {
      last = s.sent;
      await Bun.sleep(300);
      s = await state(tray, "stall");
    }
    expect(s.results).toEqual([-1, 0]);
    expect(s.sent).toBeLessThan(FLOOD_TOTAL);
    const drainsWhileStalled = s.drains;
    c.socket.resume();
    await c.until(() => c.texts.includes("done"), 20_000, '"done"');
    expect(c.binaryBytes).toBe(FLOOD_TOTAL); // the -1 message was queued, the 0 one dropped
    expect((await state(tray, "stall")).drains).toBeGreaterThan(drainsWhileStalled);
    c.socket.destroy();
  }, 40_000);

  test("publishes to a stalled subscriber are dropped on the main thread: tray's memory stays bounded", async () => {
    const c = await countingWebSocket(tray.port, "/?name=sub-stalled");
    c.socket.pause();
    const before = rssKiB(tray.proc.pid!, "VmRSS");
    expect(await (await fetch(`${tray.url}/blast?mib=256`)).text()).toBe("256");
    const peak = rssKiB(tray.proc.pid!, "VmHWM");
    // 256 MiB went to a subscriber that reads nothing; kept, they would be 256 MiB more.
    expect(peak - before).toBeLessThan(96 * 1024);
    c.socket.resume();
    await Bun.sleep(200);
    expect(c.binaryBytes).toBeLessThan(64 * 1024 * 1024);
    c.socket.destroy();
  }, 60_000);
});

describe("closeOnBackpressureLimit", () => {
  test("the send past the limit is dropped and the connection closed with 1008", async () => {
    const tray = await startTray(["--threads=1", PRESSURE], { env: { ...ENV, WS_CLOSE_ON_LIMIT: "1" } });
    try {
      const c = await countingWebSocket(tray.port, "/?name=closer");
      c.socket.write(clientFrame(1, "flood"));
      await c.until(() => c.closeCode !== null, 10_000, "the close frame");
      expect(c.closeCode).toBe(1008);
      const s = await state(tray, "closer");
      expect(s.results).toEqual([-1, 0]);
      expect(c.binaryBytes).toBe(s.sent);
      c.socket.destroy();
    } finally {
      await tray.stop();
    }
  }, 20_000);
});

describe("pub/sub", () => {
  let tray: Tray;
  let self: Tray;
  beforeAll(async () => {
    [tray, self] = await Promise.all([
      startTray(["--threads=1", PRESSURE], { env: ENV }),
      startTray(["--threads=1", PRESSURE], { env: { ...ENV, WS_PUBLISH_TO_SELF: "1" } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([tray.stop(), self.stop()]);
  }, 15_000);

  test("publishToSelf false (the default): the publisher does not hear itself; publish() counts only others", async () => {
    const a = await connect(`ws://127.0.0.1:${tray.port}/?name=sub-a`);
    a.ws.send("pub:room:alone");
    a.ws.send("info");
    const [published, info] = await a.next(2);
    expect(published).toBe("published 0");
    expect(JSON.parse(info as string).count).toBe(1);
    const b = await connect(`ws://127.0.0.1:${tray.port}/?name=sub-b`);
    a.ws.send("pub:room:hello");
    expect((await a.next(3))[2]).toBe(`published ${"hello".length}`);
    expect(await b.next(1)).toEqual(["hello"]);
    a.ws.close();
    b.ws.close();
    await Promise.all([a.closed, b.closed]);
  });

  test("publishToSelf true: the publisher hears its own publish, before what it sends next", async () => {
    const a = await connect(`ws://127.0.0.1:${self.port}/?name=sub-a`);
    a.ws.send("pub:room:me");
    expect(await a.next(2)).toEqual(["me", "published 2"]);
    a.ws.close();
    await a.closed;
  });

  test("subscriptions, isSubscribed and subscriberCount follow subscribe, unsubscribe and close", async () => {
    const count = async () => (await (await fetch(`${tray.url}/count?topic=room`)).text());
    const a = await connect(`ws://127.0.0.1:${tray.port}/?name=sub-c`);
    a.ws.send("sub:news");
    a.ws.send("info");
    expect(JSON.parse((await a.next(1))[0] as string)).toEqual({ subscriptions: ["room", "news"], room: true, count: 1 });
    const b = await connect(`ws://127.0.0.1:${tray.port}/?name=sub-d`);
    a.ws.send("info");
    expect(JSON.parse((await a.next(2))[1] as string).count).toBe(2);
    a.ws.send("unsub:room");
    a.ws.send("info");
    expect(JSON.parse((await a.next(3))[2] as string)).toEqual({ subscriptions: ["news"], room: false, count: 1 });
    b.ws.close();
    await b.closed;
    const deadline = Date.now() + 3000;
    while ((await count()) !== "0" && Date.now() < deadline) await Bun.sleep(20);
    expect(await count()).toBe("0");
    a.ws.close();
  });
});

describe("the server's limits", () => {
  test("--channel-timeout does not cut an open WebSocket whose client pings", async () => {
    const tray = await startTray(["--channel-timeout=1", "--cleanup-interval=1", ECHO], { env: ENV });
    try {
      const raw = await rawWebSocket(tray.port);
      for (let i = 0; i < 10; i++) {
        raw.send(clientFrame(9, `p${i}`));
        await Bun.sleep(300);
      }
      raw.send(clientFrame(1, "still open"));
      const frames = await raw.frames(11);
      expect(frames.slice(0, 10).every((f) => f.opcode === 10)).toBe(true);
      expect(new TextDecoder().decode(frames[10].payload)).toBe("still open");
      raw.socket.destroy();
    } finally {
      await tray.stop();
    }
  }, 20_000);

  test("a WebSocket counts in --connection-limit: with the only slot held, a new connection waits until it closes", async () => {
    const tray = await startTray(["--connection-limit=1", ECHO], { env: ENV });
    try {
      const c = await connect(`ws://127.0.0.1:${tray.port}/echo`);
      let answered = false;
      const response = fetch(`${tray.url}/count`).then(async (r) => {
        answered = true;
        return r.text();
      });
      await Bun.sleep(700);
      expect(answered).toBe(false);
      c.ws.send("still served");
      expect(await c.next(1)).toEqual(["still served"]);
      c.ws.close();
      expect(await response).toBe("0");
    } finally {
      await tray.stop();
    }
  }, 20_000);
});
