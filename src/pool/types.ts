// What the server and the Worker pool (pool.ts) exchange: the options a pool is built with, the
// request the server hands to dispatch(), and the ResponseSink through which the pool answers.
// Strategy: plain data and one callback interface, no behaviour; kept apart from pool.ts so the
// pool's own parts (slot.ts) can name them without importing the pool.
import type { Log } from "../server/log.ts";
import type { AppInterface } from "../app/interfaces.ts";
import type { AppSpec, RemoteAddr } from "../app/types.ts";

export interface PoolOptions {
  threads: number;
  app: AppSpec;
  exposeTracebacks: boolean;
  /** --outbuf-high-watermark: unacknowledged response bytes of one request above which the
   *  Worker stops reading the app's body stream until ack() brings it back below. */
  highWatermark: number;
  log: Log;
  /** --interface: how the Workers call the app (default "auto", which also detects fetch apps). */
  appInterface?: AppInterface;
  /** --admin-listen's metrics: a Worker was replaced; reason "crash" (it died) or "reload" (new code). */
  onWorkerRestart?: (reason: string) => void;
  // Operations (issue 15; watchdog in pool.ts, heartbeat.ts). All off when absent or 0.
  /** --worker-timeout in ms: a Worker whose event loop has not turned this long is replaced. */
  workerTimeoutMs?: number;
  /** --request-timeout in ms: a request with no response head this long after dispatch gets 503. */
  requestTimeoutMs?: number;
  /** --max-requests and --max-requests-jitter: a Worker given this many (+ random 0..jitter)
   *  requests is replaced gracefully. */
  maxRequests?: number;
  maxRequestsJitter?: number;
  /** --worker-max-memory: MiB of JavaScript heap past which a Worker is replaced. */
  workerMaxMemoryMiB?: number;
  /** The clock deadlines are measured on, in ms (default Date.now; tests inject one). */
  now?: () => number;
  /** false: no watchdog timer, the caller runs checkDeadlines() (tests); default true. */
  watchdogTimer?: boolean;
  /** 0 <= x < 1, for --max-requests-jitter (default Math.random). */
  random?: () => number;
}

export interface PoolRequest {
  method: string;
  url: string; // absolute, built by the server (scheme, host, path with url_prefix stripped)
  headers: string[]; // flat [name, value, name, value...], latin-1, original case and order
  /** The whole body in memory (ownership passes to the pool: it may be transferred), or null. */
  body: Uint8Array | null;
  /** Or: a descriptor of a temp file holding the whole body (past --inbuf-overflow), bodyLength
   *  bytes from its start. The descriptor becomes the Worker's (it closes it when the request ends;
   *  Workers share the process's fd table): a second one, from SpillFile.handOff(), never the
   *  server's own. */
  bodyFd: number | null;
  bodyLength: number;
  /** Gives the body's file back to the server once the request is over; reusable: the Worker said it is
   *  done with the request (it closes the file first), so the file may take another body. */
  releaseBody: ((reusable: boolean) => void) | null;
  remote: RemoteAddr;
  family: "IPv4" | "IPv6" | "";
  scriptName: string;
  /** The request's HTTP version is 1.versionMinor (RFC 9112 §2.3: 0 or 1). */
  versionMinor: number;
  requestLine: string; // "GET /x HTTP/1.1", for log lines
  /** The main thread checked a WebSocket handshake (RFC 6455 §4.2.1) in this request: the app may
   *  upgrade it (fetch apps: info.upgrade(request)); the answer is then ResponseSink.upgrade(). */
  upgrade: boolean;
}

/** What the app chose for a WebSocket (Bun's `websocket` options), with Bun's defaults filled in. */
export interface WebSocketOptions {
  /** A message (all its fragments) over this many bytes closes the connection with 1009. */
  maxPayloadLength: number;
  /** Seconds without a byte from the client before the connection is closed (0: never). */
  idleTimeout: number;
  /** Bytes of the app's sends not yet written past which send() says -1 (and drops past it). */
  backpressureLimit: number;
  /** Past backpressureLimit, close the connection instead of dropping messages. */
  closeOnBackpressureLimit: boolean;
  /** Offer permessage-deflate (RFC 7692) when the client asks for it. */
  perMessageDeflate: boolean;
  /** Ping an idle client before idleTimeout runs out, so a live one answers and stays. */
  sendPings: boolean;
  /** A WebSocket's own publish() reaches itself too when it is subscribed. */
  publishToSelf: boolean;
}

export interface ResponseSink {
  /** The app's status and headers (flat, set-cookie kept separate); bodyLength when known, else null. */
  head(status: number, statusText: string, headers: string[], bodyLength: number | null): void;
  /** A chunk of body; the sink owns it. */
  data(chunk: Uint8Array): void;
  end(): void;
  /** The request failed (app threw, Worker died). Before head(): the server answers status+body;
   *  after head(): the server closes the connection. */
  error(status: number, body: string): void;
  /** The app upgraded the request to a WebSocket (only when PoolRequest.upgrade): the server
   *  writes the 101 with the app's extra header fields and then calls pool.openWebSocket(). */
  upgrade(headers: string[], options: WebSocketOptions): void;
  /** A Node-style app's 'upgrade' listener took the request's socket: no response follows, the
   *  connection becomes a byte tunnel. Returns the main thread's side of it, or null when the
   *  connection is already gone (the pool then tells the Worker it closed). */
  tunnel(): TunnelPeer | null;
}

/** The main thread's side of one Node-style tunnel, as the pool reaches it (src/server/tunnel.ts). */
export interface TunnelPeer {
  /** Bytes the app wrote (owned). */
  write(chunk: Uint8Array): void;
  /** The app ended its side: FIN once the written bytes are out. */
  finish(): void;
  /** The app destroyed its socket. */
  destroy(): void;
  /** The app took `bytes` of the client's bytes. */
  received(bytes: number): void;
  /** The Worker is gone (died, or the pool closed): cut the connection. */
  lost(): void;
}

/** The main thread's side of one open WebSocket, as the pool reaches it (src/server/websocket-session.ts). */
export interface WebSocketPeer {
  /** A frame from the app: RFC 6455 opcode (1 text, 2 binary, 9 ping, 10 pong) and payload (owned). */
  send(opcode: number, payload: Uint8Array, compress: boolean): void;
  /** The app starts the closing handshake (code 0: a close frame with no status). */
  close(code: number, reason: string): void;
  /** The app drops the connection. */
  terminate(): void;
  /** The Worker handed `bytes` of the client's messages to the app. */
  received(bytes: number): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** The Worker is gone (died: 1011) or the pool is closing (1001): close with this code. */
  lost(code: number, reason: string): void;
}

/** A publish from any Worker (to every subscriber of the topic on every Worker). */
export type PublishHandler = (topic: string, opcode: number, compress: boolean, excludeId: number, payload: Uint8Array) => void;
