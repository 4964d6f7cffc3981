// The main thread's WebSocket session (src/server/websocket-session.ts) on a fake socket and a fake
// clock: idleTimeout's pings and its 1001, the close wait (RFC 6455 §7.1.1), and the bound on
// publishes to a subscriber that does not read. Nothing sleeps: time moves when the test says.
import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { WebSocketSession, type SessionContext, type SessionRunner, type SessionTimers } from "../../src/server/websocket-session.ts";
import { WebSocketTopics } from "../../src/server/websocket-topics.ts";
import type { WebSocketOptions } from "../../src/pool/types.ts";

/** A clock that moves only in advance(); due timers run in time order. */
class FakeTimers implements SessionTimers {
  private t = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => void (timer.live = false);
  }
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= until).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.live = false;
      this.t = due.at;
      due.fn();
      await settle();
    }
    this.t = until;
    await settle();
  }
}

/** The session flushes in a microtask. */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** Records what the session writes; `writableLength` is what a stalled client leaves unsent. */
class FakeSocket extends EventEmitter {
  written: Uint8Array[] = [];
  writableLength = 0;
  ended = false;
  destroyed = false;
  paused = false;
  write(bytes: Uint8Array): boolean {
    this.written.push(new Uint8Array(bytes));
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit("close");
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  /** Server frames written after the 101 head: [opcode, payload]. */
  frames(): [number, Uint8Array][] {
    const all = Buffer.concat(this.written);
    let at = all.indexOf("\r\n\r\n") + 4;
    const out: [number, Uint8Array][] = [];
    while (at + 2 <= all.length) {
      let len = all[at + 1] & 0x7f;
      let start = at + 2;
      if (len === 126) {
        len = all.readUInt16BE(at + 2);
        start = at + 4;
      } else if (len === 127) {
        len = Number(all.readBigUInt64BE(at + 2));
        start = at + 10;
      }
      out.push([all[at] & 0x0f, new Uint8Array(all.subarray(start, start + len))]);
      at = start + len;
    }
    return out;
  }
}

const OPTIONS: WebSocketOptions = {
  maxPayloadLength: 1024,
  idleTimeout: 10,
  backpressureLimit: 1024,
  closeOnBackpressureLimit: false,
  perMessageDeflate: false,
  sendPings: true,
  publishToSelf: false,
};

/** A masked client frame (§5.3); the mask key is fixed. */
function clientFrame(opcode: number, payload: number[] = []): Uint8Array {
  const mask = [1, 2, 3, 4];
  return new Uint8Array([0x80 | opcode, 0x80 | payload.length, ...mask, ...payload.map((b, i) => b ^ mask[i & 3])]);
}

function start(options: Partial<WebSocketOptions> = {}) {
  const socket = new FakeSocket();
  const timers = new FakeTimers();
  const closed: [number, string][] = [];
  const runner: SessionRunner = {
    openWebSocket: () => {},
    webSocketMessage: () => {},
    webSocketControl: () => {},
    webSocketAck: () => {},
    webSocketClosed: (_id, code, reason) => void closed.push([code, reason]),
  };
  const topics = new WebSocketTopics();
  const ctx: SessionContext = { pool: runner as SessionContext["pool"], topics, log: () => {}, accessLog: null, ident: "", connection: { touch: () => {} }, onClose: () => {}, timers };
  const session = new WebSocketSession(
    {
      socket: socket as unknown as Socket,
      rest: new Uint8Array(0),
      id: 7,
      handshake: { key: "dGhlIHNhbXBsZSBub25jZQ==", protocols: [], extensions: "" },
      appHeaders: [],
      options: { ...OPTIONS, ...options },
      client: "127.0.0.1",
      requestLine: "GET / HTTP/1.1",
      requestHeaders: [],
    },
    ctx,
  );
  return { socket, timers, closed, session, topics };
}

const closeCodeOf = (payload: Uint8Array) => (payload[0] << 8) | payload[1];

describe("idleTimeout", () => {
  test("a silent client is pinged at half of it (sendPings) and closed with 1001 at the end", async () => {
    const { socket, timers, closed } = start({ idleTimeout: 10 });
    await timers.advance(4999);
    expect(socket.frames()).toEqual([]);
    await timers.advance(1);
    expect(socket.frames().map(([op]) => op)).toEqual([9]);
    await timers.advance(4999);
    expect(socket.frames().map(([op]) => op)).toEqual([9]);
    await timers.advance(1);
    const [, close] = socket.frames();
    expect(close[0]).toBe(8);
    expect(closeCodeOf(close[1])).toBe(1001);
    // §7.1.1: the client does not answer the close either: the TCP connection is cut later.
    expect(socket.destroyed).toBe(false);
    await timers.advance(5000);
    expect(socket.destroyed).toBe(true);
    expect(closed).toEqual([[1001, "idle timeout"]]);
  });

  test("a client that answers the ping (a pong is traffic) stays open", async () => {
    const { socket, timers } = start({ idleTimeout: 10 });
    for (let round = 0; round < 5; round++) {
      await timers.advance(5000);
      expect(socket.frames().at(-1)?.[0]).toBe(9);
      socket.emit("data", Buffer.from(clientFrame(10)));
    }
    expect(socket.frames().every(([op]) => op === 9)).toBe(true);
    expect(socket.frames().length).toBe(5);
  });

  test("a client that sends a message now and then is never pinged nor closed", async () => {
    const { socket, timers } = start({ idleTimeout: 10 });
    for (let i = 0; i < 20; i++) {
      await timers.advance(4000);
      socket.emit("data", Buffer.from(clientFrame(1, [0x61])));
    }
    expect(socket.frames()).toEqual([]);
    expect(socket.destroyed).toBe(false);
  });

  test("sendPings false: no ping, and the silent client is closed with 1001 all the same", async () => {
    const { socket, timers } = start({ idleTimeout: 10, sendPings: false });
    await timers.advance(9999);
    expect(socket.frames()).toEqual([]);
    await timers.advance(1);
    expect(socket.frames().map(([op, p]) => [op, closeCodeOf(p)])).toEqual([[8, 1001]]);
  });

  test("idleTimeout 0: never closed", async () => {
    const { socket, timers } = start({ idleTimeout: 0 });
    await timers.advance(24 * 3600 * 1000);
    expect(socket.frames()).toEqual([]);
  });

  test("once the socket closed, no timer touches it again", async () => {
    const { socket, timers } = start({ idleTimeout: 10 });
    socket.destroy();
    const before = socket.written.length;
    await timers.advance(60_000);
    expect(socket.written.length).toBe(before);
  });
});

describe("publishes to a subscriber that does not read", () => {
  test("past backpressureLimit of pending output they are dropped, so memory stays bounded", async () => {
    const { socket, session, topics } = start({ backpressureLimit: 4096 });
    session.subscribe("t");
    socket.writableLength = 1 << 30; // the client stopped reading: nothing moves into the socket
    const payload = new Uint8Array(1000);
    for (let i = 0; i < 1000; i++) topics.publish("t", 2, false, 0, payload);
    await settle();
    const pending = (session as unknown as { pending: number }).pending;
    expect(pending).toBeGreaterThan(4096);
    expect(pending).toBeLessThan(4096 + 2 * 1004);
    expect(socket.destroyed).toBe(false);
  });

  test("closeOnBackpressureLimit: the subscriber is closed with 1008 instead", async () => {
    const { socket, session, topics, closed, timers } = start({ backpressureLimit: 4096, closeOnBackpressureLimit: true });
    session.subscribe("t");
    socket.writableLength = 1 << 30;
    for (let i = 0; i < 10; i++) topics.publish("t", 2, false, 0, new Uint8Array(1000));
    socket.writableLength = 0;
    socket.emit("drain");
    await settle();
    const frames = socket.frames();
    expect(frames.filter(([op]) => op === 2).length).toBe(5);
    expect(frames.at(-1)?.[0]).toBe(8);
    expect(closeCodeOf(frames.at(-1)![1])).toBe(1008);
    await timers.advance(5000);
    expect(closed).toEqual([[1008, "backpressure limit reached"]]);
  });
});
