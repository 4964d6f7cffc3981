// Micro-benchmark of one connection on the main thread, no sockets and no Workers: a fake socket
// feeds pipelined hello-world requests and a fake pool answers each at once (head, 13 bytes, end),
// so only the connection's own work is timed — parsing, the exchange's states, the response
// writer, the output buffer and the socket write. Prints ns per request (median of RUNS).
//   bun scripts/bench-connection.ts [REQUESTS=200000] [PIPELINE=16] [RUNS=7]
import { BodyFiles } from "../src/server/body-files.ts";
import { Connection, SYSTEM_CLOCK } from "../src/server/connection.ts";
import type { ConnectionContext, ConnectionSocket, RequestRunner } from "../src/server/connection.ts";
import { directOrigin } from "../src/server/request-origin.ts";
import type { PoolRequest, ResponseSink } from "../src/pool/types.ts";

const REQUESTS = Number(process.argv[2] ?? 200_000);
const PIPELINE = Number(process.argv[3] ?? 16);
const RUNS = Number(process.argv[4] ?? 7);
const BODY = new TextEncoder().encode("Hello, World!");
const HEADERS = ["content-type", "text/plain;charset=utf-8"];

let written = 0;
const socket: ConnectionSocket = {
  writableLength: 0,
  write: (data) => ((written += data.byteLength), true),
  end: () => {},
  destroy: () => {},
  pause: () => {},
  resume: () => {},
};

let answered = 0;
const pool: RequestRunner = {
  dispatch(_request: PoolRequest, sink: ResponseSink): number {
    sink.head(200, "", HEADERS, BODY.byteLength);
    sink.data(BODY);
    sink.end();
    answered++;
    return answered;
  },
  ack: () => {},
  cancel: () => {},
  abort: () => {},
  webSocketClosed: () => {},
};

const ctx: ConnectionContext = {
  settings: {
    parserLimits: { maxHeadSize: 256 * 1024, maxBodySize: 1 << 30, maxTargetLength: 8192, maxFields: 100 },
    buffers: { inbufOverflow: 512 * 1024, outbufOverflow: 1024 * 1024 },
    maxRunning: PIPELINE,
    ident: "tray",
    urlPrefix: "",
    logSocketErrors: true,
    headerTimeoutMs: 20_000,
    channelTimeoutMs: 120_000,
  },
  pool,
  clock: SYSTEM_CLOCK,
  log: () => {},
  origin: (head, peer) => directOrigin(head, peer, "http", "tray.invalid", ""),
  onClose: () => {},
  accessLog: null,
  bodyFiles: new BodyFiles(),
  metrics: null,
  upgrade: () => {},
  tunnel: () => {
    throw new Error("no tunnels here");
  },
};

const request = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n";
const batch = Buffer.from(request.repeat(PIPELINE), "latin1");

async function once(): Promise<number> {
  const c = new Connection(socket, ctx, { address: "127.0.0.1", port: 5000, family: "IPv4", transport: "tcp", localPort: 8080 });
  answered = 0;
  const start = Bun.nanoseconds();
  for (let sent = 0; sent < REQUESTS; sent += PIPELINE) {
    c.receive(batch);
    await null; // the connection flushes in a microtask
  }
  while (answered < REQUESTS) await null;
  await new Promise((r) => setImmediate(r));
  return (Bun.nanoseconds() - start) / REQUESTS;
}

const results: number[] = [];
for (let i = 0; i < RUNS; i++) results.push(await once());
results.sort((a, b) => a - b);
console.log(`connection: median ${results[RUNS >> 1].toFixed(0)} ns per request (${REQUESTS} requests, pipeline ${PIPELINE}; runs: ${results.map((r) => r.toFixed(0)).join(" ")})`);
