// The connection on a fake socket, a fake pool and a fake clock (Waitress's test_channel.py in
// spirit): raw request bytes in, the exact bytes written out, deadlines driven by the clock.
import { describe, expect, test } from "bun:test";
import { CLOSE_LINGER_MS, Connection, ConnectionState, MAX_QUEUED_REQUESTS, PARSE_SLICE } from "../../src/server/connection.ts";
import type { Clock, ConnectionContext, ConnectionSocket, RequestRunner } from "../../src/server/connection.ts";
import type { PoolRequest, ResponseSink } from "../../src/pool/types.ts";
import { BodyFiles } from "../../src/server/body-files.ts";
import { directOrigin } from "../../src/server/request-origin.ts";
import type { Peer } from "../../src/server/request-origin.ts";
import type { ConnectionSettings } from "../../src/server/settings.ts";
import type { AccessRecord } from "../../src/server/access-log.ts";

const HEADER_TIMEOUT_MS = 20_000;
const CHANNEL_TIMEOUT_MS = 120_000;

class FakeSocket implements ConnectionSocket {
  written: string[] = [];
  writableLength = 0;
  ended = false;
  destroyed = false;
  paused = false;
  write(data: Uint8Array): boolean {
    if (this.ended) throw new Error("write after end");
    this.written.push(Buffer.from(data).toString("latin1"));
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  get output(): string {
    return this.written.join("");
  }
}

interface Dispatched {
  id: number;
  request: PoolRequest;
  sink: ResponseSink;
}

class FakePool implements RequestRunner {
  dispatched: Dispatched[] = [];
  cancelled: number[] = [];
  aborted: number[] = [];
  acked = 0;
  private next = 0;
  dispatch(request: PoolRequest, sink: ResponseSink): number {
    const id = ++this.next;
    this.dispatched.push({ id, request, sink });
    return id;
  }
  ack(_id: number, bytes: number): void {
    this.acked += bytes;
  }
  cancel(id: number): void {
    this.cancelled.push(id);
  }
  abort(id: number): void {
    this.aborted.push(id);
  }
  webSocketClosed(): void {}
}

class FakeClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
}

const PEER: Peer = { address: "127.0.0.1", port: 5555, family: "IPv4", transport: "tcp", localPort: 8080 };

function settings(over: Partial<ConnectionSettings> = {}): ConnectionSettings {
  return {
    parserLimits: { maxHeadSize: 64 * 1024, maxBodySize: 1024 * 1024, maxTargetLength: 8192, maxFields: 100 },
    buffers: { inbufOverflow: 512 * 1024, outbufOverflow: 1024 * 1024 },
    maxRunning: 1,
    ident: "tray",
    urlPrefix: "",
    logSocketErrors: true,
    headerTimeoutMs: HEADER_TIMEOUT_MS,
    channelTimeoutMs: CHANNEL_TIMEOUT_MS,
    ...over,
  };
}

function setup(over: Partial<ConnectionSettings> = {}) {
  const socket = new FakeSocket();
  const pool = new FakePool();
  const clock = new FakeClock();
  const logs: string[] = [];
  const access: AccessRecord[] = [];
  let closedNotified = false;
  const ctx: ConnectionContext = {
    settings: settings(over),
    pool,
    clock,
    log: (line) => void logs.push(line),
    origin: (head, peer) => directOrigin(head, peer, "http", "tray.invalid", ""),
    onClose: () => {
      closedNotified = true;
    },
    accessLog: (record) => void access.push(record),
    bodyFiles: new BodyFiles(),
    metrics: null,
    upgrade: () => {
      throw new Error("no upgrade expected");
    },
    tunnel: () => {
      throw new Error("no tunnel expected");
    },
  };
  const connection = new Connection(socket, ctx, PEER);
  return { socket, pool, clock, logs, access, connection, closedNotified: () => closedNotified };
}

/** Lets queued microtasks and immediates (the connection's flushes) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

const b = (s: string) => Buffer.from(s, "latin1");
const GET = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;

function answer(d: Dispatched, body: string, status = 200, headers: string[] = []): void {
  d.sink.head(status, "", headers, body.length);
  if (body.length > 0) d.sink.data(b(body));
  d.sink.end();
}

/** The responses in `raw`, split by their status lines. */
function statuses(raw: string): string[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => m[1]);
}

describe("requests in, responses out", () => {
  test("a GET is dispatched with its URL; the answer goes out with its length, and the connection stays open", async () => {
    const t = setup();
    t.connection.receive(b(GET("/x?y=1")));
    expect(t.pool.dispatched.length).toBe(1);
    expect(t.pool.dispatched[0].request.url).toBe("http://t/x?y=1");
    answer(t.pool.dispatched[0], "hello");
    await settle();
    expect(t.socket.output).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(t.socket.output).toContain("Content-Length: 5\r\n");
    expect(t.socket.output.endsWith("\r\n\r\nhello")).toBe(true);
    expect(t.socket.output).not.toContain("Connection: close");
    expect(t.socket.ended).toBe(false);
  });

  test("pipelined requests are answered in order even when the second finishes first (RFC 9112 §9.3.2)", async () => {
    const t = setup({ maxRunning: 2 });
    t.connection.receive(b(GET("/1") + GET("/2")));
    expect(t.pool.dispatched.length).toBe(2);
    answer(t.pool.dispatched[1], "two");
    await settle();
    expect(t.socket.output).toBe("");
    answer(t.pool.dispatched[0], "one");
    await settle();
    expect(t.socket.output.indexOf("one")).toBeLessThan(t.socket.output.indexOf("two"));
  });

  test("with no lookahead the second request starts only once the first is written", async () => {
    const t = setup({ maxRunning: 1 });
    t.connection.receive(b(GET("/1") + GET("/2")));
    expect(t.pool.dispatched.length).toBe(1);
    answer(t.pool.dispatched[0], "one");
    await settle();
    expect(t.pool.dispatched.length).toBe(2);
  });

  test("an unsafe request never runs beside another (RFC 9112 §9.3.2)", async () => {
    const t = setup({ maxRunning: 4 });
    t.connection.receive(b(GET("/1") + "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx" + GET("/3")));
    expect(t.pool.dispatched.map((d) => d.request.url)).toEqual(["http://t/1"]);
    answer(t.pool.dispatched[0], "1");
    await settle();
    expect(t.pool.dispatched.map((d) => d.request.method)).toEqual(["GET", "POST"]);
    answer(t.pool.dispatched[1], "p");
    await settle();
    expect(t.pool.dispatched.length).toBe(3);
  });

  test("a body split across reads reaches the pool whole", () => {
    const t = setup();
    t.connection.receive(b("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc"));
    expect(t.pool.dispatched.length).toBe(0);
    t.connection.receive(b("def"));
    expect(Buffer.from(t.pool.dispatched[0].request.body!).toString()).toBe("abcdef");
  });
});

describe("the client's FIN (RFC 9112 §9.6)", () => {
  test("a request followed at once by FIN is answered, then tray closes", async () => {
    const t = setup();
    t.connection.receive(b("GET / HTTP/1.0\r\n\r\n"));
    t.connection.receiveEnd();
    expect(t.socket.ended).toBe(false);
    answer(t.pool.dispatched[0], "hi");
    await settle();
    expect(t.socket.output).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
    expect(t.socket.output.endsWith("hi")).toBe(true);
    expect(t.socket.ended).toBe(true);
  });

  test("pipelined requests before the FIN are all answered; the last says Connection: close", async () => {
    const t = setup({ maxRunning: 3 });
    t.connection.receive(b(GET("/1") + GET("/2") + GET("/3")));
    t.connection.receiveEnd();
    for (const d of t.pool.dispatched) answer(d, d.request.url.slice(-1));
    await settle();
    expect(statuses(t.socket.output)).toEqual(["200", "200", "200"]);
    expect(t.socket.output.split("Connection: close").length).toBe(2);
    expect(t.socket.ended).toBe(true);
  });

  test("the running request's signal is aborted (as Go cancels on EOF), its answer still sent", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    t.connection.receiveEnd();
    expect(t.pool.aborted).toEqual([t.pool.dispatched[0].id]);
    expect(t.pool.cancelled).toEqual([]);
  });

  test("the access log says 499 for an answer whose client sent its FIN before it began (nginx's 'client closed request')", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    t.connection.receiveEnd();
    answer(t.pool.dispatched[0], "hi");
    await settle();
    expect(t.access.map((r) => r.status)).toEqual([499]);
  });

  test("a request cut short by the FIN is dropped: never dispatched, nothing written", async () => {
    const t = setup();
    t.connection.receive(b("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
    t.connection.receiveEnd();
    await settle();
    expect(t.pool.dispatched.length).toBe(0);
    expect(t.socket.output).toBe("");
    expect(t.socket.ended).toBe(true);
  });
});

describe("framing errors", () => {
  test("a bad request after a good one: the good one is answered first, then 400, then close", async () => {
    const t = setup();
    t.connection.receive(b(GET("/ok") + "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n"));
    await settle();
    expect(t.socket.output).toBe("");
    answer(t.pool.dispatched[0], "ok");
    await settle();
    expect(statuses(t.socket.output)).toEqual(["200", "400"]);
    expect(t.socket.output).toContain("Invalid Content-Length");
    expect(t.socket.ended).toBe(true);
  });

  test("bytes after a framing error are never parsed", async () => {
    const t = setup();
    t.connection.receive(b("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n"));
    t.connection.receive(b(GET("/smuggled")));
    await settle();
    expect(t.pool.dispatched.length).toBe(0);
  });
});

describe("the app's response, framed by the writer", () => {
  test("HEAD answered without a length gets no Content-Length (RFC 9110 §9.3.2)", async () => {
    const t = setup();
    t.connection.receive(b("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"));
    t.pool.dispatched[0].sink.head(200, "", [], null);
    t.pool.dispatched[0].sink.end();
    await settle();
    expect(t.socket.output).not.toMatch(/content-length/i);
    expect(t.socket.output).not.toMatch(/transfer-encoding/i);
    expect(t.socket.ended).toBe(false);
  });

  test("a body longer than its Content-Length: what was promised goes out, then the connection closes", async () => {
    const t = setup();
    t.connection.receive(b(GET("/") + GET("/next")));
    const d = t.pool.dispatched[0];
    d.sink.head(200, "", [], 3);
    d.sink.data(b("abcdef"));
    await settle();
    expect(t.socket.output.endsWith("\r\n\r\nabc")).toBe(true);
    expect(t.pool.cancelled).toEqual([d.id]);
    expect(t.socket.ended).toBe(true);
    expect(t.logs.some((l) => l.includes("more body than its Content-Length"))).toBe(true);
    expect(t.pool.dispatched.length).toBe(1); // the pipelined request is never run
  });

  test("a body shorter than its Content-Length: the connection closes so the client cannot take it as whole", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    const d = t.pool.dispatched[0];
    d.sink.head(200, "", [], 10);
    d.sink.data(b("abc"));
    d.sink.end();
    await settle();
    expect(t.socket.ended).toBe(true);
  });

  test("an unknown length on HTTP/1.1 is chunked; on HTTP/1.0 it ends at close", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    const d = t.pool.dispatched[0];
    d.sink.head(200, "", [], null);
    d.sink.data(b("abc"));
    d.sink.end();
    await settle();
    expect(t.socket.output.endsWith("Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")).toBe(true);
    const u = setup();
    u.connection.receive(b("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    u.pool.dispatched[0].sink.head(200, "", [], null);
    u.pool.dispatched[0].sink.data(b("abc"));
    u.pool.dispatched[0].sink.end();
    await settle();
    expect(u.socket.output).toContain("Connection: close\r\n");
    expect(u.socket.output.endsWith("\r\n\r\nabc")).toBe(true);
    expect(u.socket.ended).toBe(true);
  });

  test("the app fails before its head: a 500 with a short body; the connection stays open", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    t.pool.dispatched[0].sink.error(500, "Internal Server Error");
    await settle();
    expect(statuses(t.socket.output)).toEqual(["500"]);
    expect(t.socket.ended).toBe(false);
  });

  test("the app fails after its head: the connection closes (RFC 9112 §8)", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    const d = t.pool.dispatched[0];
    d.sink.head(200, "", [], null);
    d.sink.data(b("part"));
    d.sink.error(500, "x");
    await settle();
    expect(t.socket.output).not.toContain("0\r\n\r\n");
    expect(t.socket.ended).toBe(true);
  });

  test("a header the app cannot send (CR LF in a value) becomes a 500 and a log line", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    t.pool.dispatched[0].sink.head(200, "", ["X", "a\r\nb"], 0);
    await settle();
    expect(statuses(t.socket.output)).toEqual(["500"]);
    expect(t.logs.length).toBe(1);
  });
});

describe("Expect: 100-continue (RFC 9110 §10.1.1)", () => {
  test("sent when the request's turn comes, before its body", async () => {
    const t = setup();
    t.connection.receive(b("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
    await settle();
    expect(t.socket.output).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    t.connection.receive(b("ok"));
    expect(t.pool.dispatched.length).toBe(1);
  });
  test("not sent when the body came with the head", async () => {
    const t = setup();
    t.connection.receive(b("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"));
    await settle();
    expect(t.socket.output).toBe("");
  });
  test("never to an HTTP/1.0 client (RFC 9110 §15.2)", async () => {
    const t = setup();
    t.connection.receive(b("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
    await settle();
    expect(t.socket.output).toBe("");
  });
});

describe("deadlines, on the clock", () => {
  test("--header-timeout: half a head, then a trickle that never finishes it: 408 and close at the deadline, not before", async () => {
    const t = setup();
    t.connection.receive(b("GET / HTTP/1.1\r\n"));
    for (let i = 0; i < 19; i++) {
      t.clock.t += 1000;
      t.connection.receive(b("X")); // every byte would reset --channel-timeout; this deadline holds
      t.connection.tick(t.clock.t);
    }
    await settle();
    expect(t.socket.output).toBe("");
    t.clock.t += 1000;
    t.connection.tick(t.clock.t);
    await settle();
    expect(statuses(t.socket.output)).toEqual(["408"]);
    expect(t.socket.ended).toBe(true);
  });

  test("the first head's deadline runs from the connection's start; a silent connection is closed without a 408", async () => {
    const t = setup();
    t.clock.t += HEADER_TIMEOUT_MS;
    t.connection.tick(t.clock.t);
    await settle();
    expect(t.socket.output).toBe("");
    expect(t.socket.ended).toBe(true);
  });

  test("an idle keep-alive connection is not held to the head deadline, only to --channel-timeout", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    answer(t.pool.dispatched[0], "x");
    await settle();
    t.clock.t += HEADER_TIMEOUT_MS * 2;
    t.connection.tick(t.clock.t);
    t.connection.sweepIdle(t.clock.t);
    await settle();
    expect(t.socket.ended).toBe(false);
    expect(t.socket.destroyed).toBe(false);
    t.clock.t += CHANNEL_TIMEOUT_MS;
    t.connection.sweepIdle(t.clock.t);
    expect(t.socket.destroyed).toBe(true);
  });

  test("--channel-timeout spares a connection whose request the app is still working on", () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    t.clock.t += CHANNEL_TIMEOUT_MS * 2;
    t.connection.sweepIdle(t.clock.t);
    expect(t.socket.destroyed).toBe(false);
  });

  test("--channel-timeout closes a connection whose client stopped reading a response (its silence is the client's)", async () => {
    const t = setup();
    t.socket.writableLength = 2 * 1024 * 1024; // the socket is full: nothing more goes out
    t.connection.receive(b(GET("/")));
    const d = t.pool.dispatched[0];
    d.sink.head(200, "", [], null);
    d.sink.data(b("x".repeat(1000)));
    await settle();
    t.clock.t += CHANNEL_TIMEOUT_MS;
    t.connection.sweepIdle(t.clock.t);
    expect(t.socket.destroyed).toBe(true);
  });

  test("--channel-timeout closes a half-sent body followed by silence", () => {
    const t = setup();
    t.connection.receive(b("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
    t.clock.t += CHANNEL_TIMEOUT_MS;
    t.connection.sweepIdle(t.clock.t);
    expect(t.socket.destroyed).toBe(true);
  });

  test("after tray ends its side, a client that does not close is cut off after the linger", async () => {
    const t = setup();
    t.connection.receive(b("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    answer(t.pool.dispatched[0], "x");
    await settle();
    expect(t.connection.state).toBe(ConnectionState.Lingering);
    t.clock.t += CLOSE_LINGER_MS - 1;
    t.connection.tick(t.clock.t);
    expect(t.socket.destroyed).toBe(false);
    t.clock.t += 1;
    t.connection.tick(t.clock.t);
    expect(t.socket.destroyed).toBe(true);
  });

  test("sheddableFor: a connection with a request in flight is never shed; an unfinished head counts from its first byte", () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    expect(t.connection.sheddableFor(t.clock.t + 5000)).toBe(-1);
    const u = setup();
    u.clock.t += 500;
    u.connection.receive(b("GET / HT"));
    expect(u.connection.sheddableFor(u.clock.t + 3000)).toBe(3500);
    u.connection.timeOutHead();
  });
});

describe("shedding at --connection-limit", () => {
  test("shed(): a 408 for the half-sent head, and the socket is destroyed at once, not after the linger", async () => {
    const t = setup();
    t.connection.receive(b("GET / HTTP/1.1\r\nHo"));
    t.connection.shed();
    await settle();
    expect(statuses(t.socket.output)).toEqual(["408"]);
    expect(t.socket.destroyed).toBe(true);
  });
  test("shed() leaves a connection with a request in flight alone", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    t.connection.shed();
    await settle();
    expect(t.socket.output).toBe("");
    expect(t.socket.destroyed).toBe(false);
    expect(t.connection.state).toBe(ConnectionState.Open);
  });
});

describe("bounds", () => {
  test(`more than ${MAX_QUEUED_REQUESTS} pipelined requests pause reading until answers drain the queue`, async () => {
    const t = setup({ maxRunning: 1 });
    t.connection.receive(b(GET("/").repeat(MAX_QUEUED_REQUESTS + 8)));
    expect(t.socket.paused).toBe(true);
    t.connection.receive(b(GET("/late"))); // delivered anyway: held, not parsed
    for (let i = 0; i < 30; i++) {
      const d = t.pool.dispatched[i];
      answer(d, "x");
      await settle();
    }
    expect(t.socket.paused).toBe(false);
  });
});

describe("pipelining floods (issue 13 item 8)", () => {
  test("one large read of small pipelined requests queues at most a slice's worth, the rest waits unparsed", async () => {
    const t = setup();
    const flood = GET("/").repeat(20_000); // ~500 KiB in one read, as a runtime may deliver it
    t.connection.receive(b(flood));
    expect(t.socket.paused).toBe(true);
    // At most the bound plus one PARSE_SLICE of requests were parsed; the rest is raw bytes.
    expect(t.pool.dispatched.length).toBe(1);
    const parsed = (t.connection as unknown as { queue: unknown[] }).queue.length;
    expect(parsed).toBeLessThanOrEqual(MAX_QUEUED_REQUESTS + Math.ceil(PARSE_SLICE / GET("/").length));
  });

  test("a FIN after a flood: every held request is still answered, in order, then tray closes", async () => {
    const t = setup();
    const n = 1000; // more than a PARSE_SLICE: some are held while reading is paused
    t.connection.receive(b(Array.from({ length: n }, (_, i) => GET(`/${i}`)).join("")));
    t.connection.receiveEnd();
    for (let i = 0; i < n; i++) {
      const d = t.pool.dispatched[i];
      expect(d.request.url).toBe(`http://t/${i}`);
      answer(d, String(i));
      await settle();
    }
    expect(statuses(t.socket.output).length).toBe(n);
    expect(t.socket.ended).toBe(true);
  });
});

describe("the socket closes", () => {
  test("running requests are cancelled, the server is told, an access record says 499", async () => {
    const t = setup();
    t.connection.receive(b(GET("/")));
    t.connection.closed();
    expect(t.pool.cancelled).toEqual([t.pool.dispatched[0].id]);
    expect(t.closedNotified()).toBe(true);
    expect(t.access.map((r) => r.status)).toEqual([499]);
  });
});
