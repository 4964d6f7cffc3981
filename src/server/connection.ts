// One client connection (Waitress's channel), on the main thread: a queue of exchanges over a
// thin socket adapter.
//
// Strategy: socket bytes go through the parser; each request head becomes an Exchange at the back
// of the queue and moves through its named states (exchange.ts). A request is dispatched to the
// Worker pool once its body is whole; up to --channel-request-lookahead + 1 run at once, and
// responses are written strictly in request order (RFC 9112 §9.3.2). Each response's wire bytes
// come from its ResponseWriter (src/http/response-writer.ts: the one place framing is decided)
// into its OutputBuffer; flush() moves the front response's bytes into the socket while the
// socket holds less than SOCKET_WINDOW, acknowledges them to the pool (flow control), and writes
// one turn's parts as one socket write.
//
// The connection itself is Open (reading requests), Closing (no more requests are read; those
// queued are answered, then tray ends its side), Lingering (tray's side is ended; the client has
// CLOSE_LINGER_MS to close its own, RFC 9112 §9.6), Closed, or Upgraded (the app upgraded its last
// request: a WebSocket session or a Node-style tunnel owns the socket now). Time comes from an
// injected clock and deadlines are checked by tick(), so tests drive timeouts without sleeping.
//
// The socket is anything with ConnectionSocket's methods; attachSocket() (socket-adapter.ts)
// routes a node:net socket's events to receive(), receiveEnd(), writable() and closed().

import type { RequestHead } from "../http/parser.ts";
import { RequestParser } from "../http/parser.ts";
import type { ProtocolError } from "../http/errors.ts";
import { ResponseHeaderError } from "../http/response.ts";
import { CONTINUE, ResponseFramingError, ResponseWriter } from "../http/response-writer.ts";
import type { PoolRequest, ResponseSink } from "../pool/types.ts";
import type { BodyFiles } from "./body-files.ts";
import type { Exchange } from "./exchange.ts";
import { ExchangeState, newExchange } from "./exchange.ts";
import { writeParts } from "./socket-write.ts";
import type { WritableSocket } from "./socket-write.ts";
import { errorBody, errorResponse } from "./error-response.ts";
import { STATUS_CLIENT_CLOSED } from "./access-log.ts";
import type { AccessLogHook, AccessRecord } from "./access-log.ts";
import { httpDate } from "./date.ts";
import type { Log } from "./log.ts";
import { REASON_BODY_NOT_STORED, STATUS_BODY_NOT_STORED } from "./request-body.ts";
import { storageFailureReason, storageTrouble } from "./spill-file.ts";
import type { Peer, RequestOrigin } from "./request-origin.ts";
import type { ConnectionSettings } from "./settings.ts";
import { checkUpgrade } from "../http/websocket-handshake.ts";
import type { UpgradeRequest } from "../http/websocket-handshake.ts";
import { CLOSE_ABNORMAL } from "../http/websocket-close.ts";
import type { WebSocketOptions } from "../pool/types.ts";
import type { Tunnel } from "./tunnel.ts";
import type { ServerMetrics } from "./metrics.ts";

/** Parsed requests a connection may hold before it stops reading the socket. */
export const MAX_QUEUED_REQUESTS = 32;

/** Bytes handed to the socket ahead of the kernel: past this, output waits in the response's
 *  OutputBuffer (memory up to --outbuf-overflow, then a temp file) rather than in the runtime's
 *  own buffer as well, so a client that stops reading holds --outbuf-overflow plus this. */
export const SOCKET_WINDOW = 128 * 1024;

/** Bytes parsed at a time between requests: at most this much of pipelined requests is parsed
 *  past the queue bound (a few hundred of the smallest). */
export const PARSE_SLICE = 4 * 1024;
/** Bytes parsed at a time while a request body is arriving. */
export const BODY_SLICE = 256 * 1024;

/** After tray closes its side (RFC 9112 §9.6), how long a client may take to close its own. */
export const CLOSE_LINGER_MS = 2000;

/** RFC 9110 §9.2.1: methods whose requests may run side by side. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** What the connection needs of its socket (node:net's Socket has all of it). */
export interface ConnectionSocket extends WritableSocket {
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
}

export interface Clock {
  /** Milliseconds, monotonic enough for deadlines. */
  now(): number;
}

export const SYSTEM_CLOCK: Clock = { now: () => performance.now() };

/** What the connection needs of the Worker pool (WorkerPool has all of it). */
export interface RequestRunner {
  dispatch(request: PoolRequest, sink: ResponseSink): number;
  ack(id: number, bytes: number): void;
  cancel(id: number): void;
  /** The client will send nothing more: abort request.signal, still deliver the response. */
  abort(id: number): void;
  /** An upgrade the connection could not hand over: the app's WebSocket is closed at once. */
  webSocketClosed(id: number, code: number, reason: string): void;
}

/** What a connection hands over when the app upgrades its last request (RFC 6455 §4.2). */
export interface UpgradeHandoff {
  /** Bytes that came after the upgrade request: the client's first frames. */
  rest: Uint8Array;
  id: number;
  handshake: UpgradeRequest;
  appHeaders: string[];
  options: WebSocketOptions;
  client: string;
  requestLine: string;
  requestHeaders: string[];
}

export interface ConnectionContext {
  settings: ConnectionSettings;
  pool: RequestRunner;
  log: Log;
  clock: Clock;
  /** Scheme, host and client address for a request (proxy headers are applied here). */
  origin: (head: RequestHead, peer: Peer) => RequestOrigin | ProtocolError;
  onClose: (connection: Connection) => void;
  /** --access-log: told of every exchange as it finishes; null (the default) costs nothing. */
  accessLog: AccessLogHook | null;
  /** Temp files for request bodies past --inbuf-overflow, reused between requests. */
  bodyFiles: BodyFiles;
  /** Takes over the socket of a connection whose request the app upgraded (a WebSocket session). */
  upgrade: (connection: Connection, handoff: UpgradeHandoff) => void;
  /** Makes a byte tunnel of the socket for a Node-style app's 'upgrade' listener (tunnel.ts);
   *  `rest`: the bytes that came after the request. */
  tunnel: (connection: Connection, id: number, rest: Uint8Array) => Tunnel;
  /** --admin-listen: told of every exchange as it finishes; null (the default) costs nothing. */
  metrics: ServerMetrics | null;
}

export const enum ConnectionState {
  Open,
  Closing,
  Lingering,
  Closed,
  /** The socket belongs to a WebSocket session now; nothing here touches it again. */
  Upgraded,
}

export class Connection {
  state = ConnectionState.Open;
  /** Clock time of the last byte received or sent (--channel-timeout). */
  lastActivity: number;
  private readonly parser: RequestParser;
  private readonly queue: Exchange[] = [];
  /** The exchange whose body is arriving. */
  private receiving: Exchange | null = null;
  /** Dispatched exchanges still in the queue. */
  private running = 0;
  /** Clock time the current request head began (its first byte; for the first request, the
   *  connection's start), or null while no head is due (a request is in flight, or idle). */
  private headStartedAt: number | null;
  /** A framing error or timeout answered after the requests before it; then the connection closes. */
  private pendingError: Uint8Array | null = null;
  private pendingErrorRecord: AccessRecord | null = null;
  /** Clock time after which a lingering connection is destroyed. */
  private lingerUntil = 0;
  /** The client sent its FIN (held bytes may still be waiting to be parsed). */
  private finReceived = false;
  /** Closing waits up to CLOSE_LINGER_MS for the client's own close (not when shed). */
  private lingers = true;
  private paused = false;
  /** Bytes that arrived while reading was paused (a runtime may still deliver what it has read). */
  private held: Uint8Array[] = [];
  /** The request whose valid WebSocket handshake waits for the app's answer. */
  private upgrading: { ex: Exchange; handshake: UpgradeRequest } | null = null;
  private flushScheduled = false;
  private readonly flushBound = () => this.flush();
  /** The byte tunnel a Node-style 'upgrade' listener made of this connection (onTunnel). */
  private tunnel: Tunnel | null = null;

  constructor(
    readonly socket: ConnectionSocket,
    private readonly ctx: ConnectionContext,
    readonly peer: Peer,
  ) {
    this.parser = new RequestParser(ctx.settings.parserLimits);
    this.lastActivity = ctx.clock.now();
    this.headStartedAt = this.lastActivity;
  }

  /** Traffic on a socket handed over to a WebSocket session or a tunnel (--channel-timeout). */
  touch(): void {
    this.lastActivity = this.ctx.clock.now();
  }

  /** True when no request is in flight: a timeout or shutdown may close it. */
  get idle(): boolean {
    return this.queue.length === 0 && this.receiving === null;
  }

  /**
   * True while the app is working on one of this connection's requests and owes output: then
   * silence is the app's, not the client's, and --channel-timeout does not apply. A response
   * that is waiting for the client to read (its output pending, or the app paused by flow
   * control) does not count: a client that stops reading is timed out like an idle one.
   */
  get busy(): boolean {
    for (const ex of this.queue) {
      if ((ex.state === ExchangeState.Running || ex.state === ExchangeState.HeadSent) && ex.out.length === 0) return true;
    }
    return false;
  }

  /**
   * How long this connection has held its slot without a request in flight, for shedding at
   * --connection-limit: ms spent on an unfinished head, or idle between requests; -1 when a
   * request is in flight (never shed).
   */
  sheddableFor(now: number): number {
    if (this.state !== ConnectionState.Open || !this.idle) return -1;
    return now - (this.headStartedAt ?? this.lastActivity);
  }

  // --- reading requests ----------------------------------------------------------------------

  /** Bytes from the client. */
  receive(chunk: Uint8Array): void {
    this.lastActivity = this.ctx.clock.now();
    if (this.upgrading !== null) {
      // After a WebSocket handshake, bytes are the client's first frames: kept for the session.
      this.held.push(chunk);
      return;
    }
    if (!this.reading) return;
    if (this.paused) {
      this.held.push(chunk);
      return;
    }
    this.parse(chunk);
  }

  /** Bytes are read in Open, and in Closing only for the body of the last request (a request
   *  with "Connection: close" still has its body to receive; the parser ignores what follows). */
  private get reading(): boolean {
    return this.state === ConnectionState.Open || (this.state === ConnectionState.Closing && this.receiving !== null);
  }

  /**
   * Parses a chunk a slice at a time. A runtime read can be hundreds of KiB: parsed whole, a
   * pipelining flood of small requests would queue thousands of exchanges at once. Between
   * slices the queue bound is checked, and what is left waits in `held`. Heads are parsed
   * PARSE_SLICE bytes at a time; a body in progress takes BODY_SLICE (an upload costs no more
   * parser calls than it must).
   */
  private parse(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    let at = 0;
    while (at < n) {
      if (at > 0) {
        if (this.paused) {
          this.held.unshift(chunk.subarray(at)); // before anything held after it
          return;
        }
        if (!this.reading) return;
      }
      const slice = this.receiving !== null ? BODY_SLICE : PARSE_SLICE;
      this.parseSlice(at === 0 && n <= slice ? chunk : chunk.subarray(at, at + slice));
      at += slice;
    }
  }

  private parseSlice(chunk: Uint8Array): void {
    const events = this.parser.feed(chunk);
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      switch (ev.type) {
        case "head":
          this.onHead(ev.head);
          break;
        case "data": {
          // A body that could not be stored is said once per episode and answered 503 at its end.
          const body = this.receiving!.body!;
          if (!body.append(ev.data) && storageTrouble.failed()) this.logStorageFailure("request bodies", body.failure!);
          break;
        }
        case "end":
          this.onRequestEnd();
          break;
        case "error":
          this.onProtocolError(ev.error);
          break;
      }
    }
    // A head is due while part of one waits in the parser: its deadline runs from the first of
    // its bytes (a fresh connection's first head, from the connection's start).
    if (this.parser.inHead) this.headStartedAt ??= this.lastActivity;
    else this.headStartedAt = null;
    if (this.queue.length >= MAX_QUEUED_REQUESTS && !this.paused) {
      // RFC 9112 §9.3.2 lets a server bound pipelining: the rest waits in the socket.
      this.paused = true;
      this.socket.pause();
    }
  }

  private onHead(head: RequestHead): void {
    const ex = newExchange(head, this.ctx.settings.buffers, this.ctx.bodyFiles, this.peer.address, this.lastActivity);
    this.queue.push(ex);
    this.receiving = ex;
    if (!head.keepAlive) this.state = ConnectionState.Closing;
    if (head.upgrade) this.onUpgradeHead(ex);
    if (ex.continueOwed) this.scheduleFlush();
  }

  private onRequestEnd(): void {
    const ex = this.receiving!;
    this.receiving = null;
    ex.continueOwed = false; // the body is here: no 100 needed any more
    const received = ex.body === null ? { body: null, file: null, length: 0 } : ex.body.finish();
    ex.body = null;
    ex.state = ExchangeState.Ready;
    if ("failure" in received) {
      // Never dispatched: a body with a hole must not reach the app. 503 in its turn, then close.
      if (storageTrouble.failed()) this.logStorageFailure("request bodies", received.failure);
      ex.received = { body: null, file: null, length: 0 };
      this.refuse(ex, STATUS_BODY_NOT_STORED, REASON_BODY_NOT_STORED);
      this.dispatchReady();
      return;
    }
    ex.received = received;
    this.dispatchReady();
  }

  private onProtocolError(error: ProtocolError): void {
    this.answerLast(error.status, error.message, this.receiving);
  }

  /** The client sent its FIN: it will send no more, but still reads (RFC 9112 §9.6). Every
   *  complete request is answered, pipelined ones too; a request cut short is dropped. */
  receiveEnd(): void {
    if (this.state !== ConnectionState.Open && this.state !== ConnectionState.Closing) return;
    this.finReceived = true;
    // Bytes held while reading was paused are requests too: the FIN takes effect after them.
    if (this.held.length > 0 && this.state === ConnectionState.Open && this.upgrading === null) return;
    this.endOfInput();
  }

  private endOfInput(): void {
    if (this.receiving !== null) this.dropReceiving();
    this.headStartedAt = null;
    this.state = ConnectionState.Closing;
    if (this.ctx.settings.logSocketErrors && this.queue.some((ex) => ex.state !== ExchangeState.Done)) {
      // Most clients that close before their answer have left for good (a later write to them
      // fails silently), so this is --log-socket-errors' premature disconnect.
      this.ctx.log(`Client ${this.peer.address} disconnected (sent its FIN) before its response was complete; answering anyway`, "warning");
    }
    // A FIN looks the same whether the client half-closed or left for good: apps that watch
    // request.signal hear of it (Go cancels the request's context on EOF the same way).
    for (const ex of this.queue) {
      if (ex.state === ExchangeState.Running || ex.state === ExchangeState.HeadSent) this.ctx.pool.abort(ex.id);
      if (ex.state < ExchangeState.HeadSent) ex.finBeforeResponse = true;
    }
    this.scheduleFlush();
  }

  /**
   * Ends the connection with one answer of tray's own (a framing error, a timeout) after the
   * responses to the requests before it; `cut` is the request it interrupts, if any.
   */
  private answerLast(status: number, reason: string, cut: Exchange | null): void {
    if (this.ctx.accessLog !== null) {
      this.pendingErrorRecord = {
        client: this.peer.address,
        requestLine: cut?.requestLine ?? "",
        status,
        bytes: Buffer.byteLength(errorBody(status, reason)),
        headers: cut?.head.headers ?? null,
      };
    }
    if (this.receiving !== null) this.dropReceiving();
    this.headStartedAt = null;
    this.state = ConnectionState.Closing;
    this.pendingError = errorResponse(status, reason, this.ctx.settings.ident);
    this.scheduleFlush();
  }

  /** Forgets a request whose bytes stopped coming (error or half-close mid-request). */
  private dropReceiving(): void {
    const ex = this.receiving!;
    this.receiving = null;
    ex.body?.discard();
    ex.body = null;
    const i = this.queue.indexOf(ex);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /**
   * Starts queued requests, in order, up to 1 + --channel-request-lookahead at once. RFC 9112
   * §9.3.2: pipelined requests may run in parallel only when their methods are safe, so an unsafe
   * request starts only when nothing before it is running, and nothing starts while it runs.
   */
  private dispatchReady(): void {
    const max = this.ctx.settings.maxRunning;
    for (let i = 0; i < this.queue.length && this.running < max; i++) {
      const ex = this.queue[i];
      const safe = SAFE_METHODS.has(ex.head.method);
      if (ex.state !== ExchangeState.Ready) {
        if (ex.state === ExchangeState.Receiving) return;
        if (!safe) return; // running, answered, or being written: nothing passes an unsafe request
        continue;
      }
      if (!safe && this.running > 0) return;
      this.dispatch(ex);
      if (!safe) return;
    }
  }

  private dispatch(ex: Exchange): void {
    if (ex.head.upgrade && this.refusedUpgrade(ex)) return;
    const origin = this.ctx.origin(ex.head, this.peer);
    if (!("url" in origin)) {
      // A request the proxy-header rules refuse: answer it and close, like any bad request.
      this.refuse(ex, origin.status, origin.message);
      return;
    }
    const received = ex.received!;
    const file = received.file;
    // The Worker gets a descriptor of its own for the body's (nameless) file.
    let bodyFd: number | null = null;
    if (file !== null) {
      try {
        bodyFd = file.handOff();
      } catch (error) {
        if (storageTrouble.failed()) this.logStorageFailure("request bodies", storageFailureReason(error));
        this.refuse(ex, STATUS_BODY_NOT_STORED, REASON_BODY_NOT_STORED);
        return;
      }
    }
    const request: PoolRequest = {
      method: ex.head.method,
      url: origin.url,
      headers: origin.headers,
      body: received.body,
      bodyFd,
      bodyLength: received.length,
      releaseBody: file === null ? null : (reusable) => this.ctx.bodyFiles.release(file, reusable),
      remote: origin.remote,
      family: origin.family,
      scriptName: this.ctx.settings.urlPrefix,
      versionMinor: ex.head.versionMinor,
      requestLine: ex.requestLine,
      upgrade: this.upgrading !== null && this.upgrading.ex === ex,
    };
    received.body = null;
    received.file = null; // the pool gives it back
    ex.client = origin.remote.hostname; // the proxy's client when trusted
    ex.state = ExchangeState.Running;
    this.running++;
    ex.id = this.ctx.pool.dispatch(request, this.sinkFor(ex));
  }

  /** Answers a request without running it (status, reason, the status's own fields), then
   *  closes, like any bad request. It counts as running until its answer is written. */
  private refuse(ex: Exchange, status: number, reason: string, headers: string[] = []): void {
    this.running++;
    this.state = ConnectionState.Closing;
    ex.keepAlive = false;
    this.deleteBodyFile(ex);
    this.respondError(ex, status, reason, headers);
  }

  /** One line per episode of temp-file trouble (spill-file.ts storageTrouble). */
  private logStorageFailure(what: string, reason: string): void {
    this.ctx.log(`Cannot store ${what} in a temp file: ${reason}; such requests get 503 and such responses are cut off (closed) until it works again`, "error");
  }

  // --- the response, from the pool -----------------------------------------------------------

  private sinkFor(ex: Exchange): ResponseSink {
    return {
      head: (status, statusText, headers, bodyLength) => this.onResponseHead(ex, status, statusText, headers, bodyLength),
      data: (chunk) => this.onResponseData(ex, chunk),
      end: () => this.onResponseEnd(ex),
      error: (status, body) => this.respondError(ex, status, body),
      upgrade: (headers, options) => this.onUpgrade(ex, headers, options),
      tunnel: () => this.onTunnel(ex),
    };
  }

  // --- WebSocket hand-off (RFC 6455 §4.2) ------------------------------------------------------
  // The parser stops after a request with an Upgrade field and keeps the bytes after it (RFC 9110
  // §7.8), so such a request is always the connection's last. A WebSocket handshake checkUpgrade
  // refuses is answered (400, 426) and the connection closes; a valid one is dispatched with
  // upgrade: true, and when the app upgrades it the socket and the bytes after the request go to
  // ctx.upgrade (a WebSocket session writes the 101 and owns the socket from then on). An app that
  // answers with a plain response instead gets it sent, and the connection closes.

  private onUpgradeHead(ex: Exchange): void {
    this.state = ConnectionState.Closing;
    ex.keepAlive = false;
    // Nothing after it is HTTP: later bytes wait in the kernel (or in `held`) for the session.
    if (ex.body === null) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** Checks the handshake at dispatch: a bad one is answered here; a valid one is remembered. */
  private refusedUpgrade(ex: Exchange): boolean {
    const check = checkUpgrade(ex.head.method, ex.head.versionMinor, ex.head.headers);
    if (check === null) return false; // another protocol (h2c...): served as HTTP, then closed
    if (!("key" in check)) {
      this.refuse(ex, check.status, check.message, check.headers);
      return true;
    }
    this.upgrading = { ex, handshake: check };
    return false;
  }

  private onUpgrade(ex: Exchange, headers: string[], options: WebSocketOptions): void {
    const up = this.upgrading;
    if (this.state === ConnectionState.Closed || up === null || up.ex !== ex || this.queue[0] !== ex || ex.state !== ExchangeState.Running) {
      // The client left, or (with --channel-request-lookahead) earlier responses are unwritten.
      this.ctx.pool.webSocketClosed(ex.id, CLOSE_ABNORMAL, "");
      if (this.state !== ConnectionState.Closed) this.destroy();
      return;
    }
    this.ctx.upgrade(this, {
      rest: this.handOff(ex),
      id: ex.id,
      handshake: up.handshake,
      appHeaders: headers,
      options,
      client: ex.client,
      requestLine: ex.requestLine,
      requestHeaders: ex.head.headers,
    });
  }

  /** The HTTP connection is over: the socket, and the bytes kept after the upgrade request,
   *  belong to the new protocol's owner; none of this connection's code runs for them again. */
  private handOff(ex: Exchange): Uint8Array {
    this.upgrading = null;
    this.state = ConnectionState.Upgraded;
    this.queue.length = 0;
    this.running = 0;
    ex.state = ExchangeState.Done;
    ex.out.dispose();
    this.deleteBodyFile(ex);
    const parts = [this.parser.takeRest(), ...this.held];
    this.held = [];
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** A Node-style app's 'upgrade' listener took the request (src/pool/node-interface.ts): no
   *  response comes, the socket becomes a byte tunnel (tunnel.ts) through the same hand-off.
   *  Null when there is no socket to give (the client left, or earlier responses are unwritten). */
  private onTunnel(ex: Exchange): Tunnel | null {
    if (this.state === ConnectionState.Closed || this.queue[0] !== ex || !ex.head.upgrade || ex.state !== ExchangeState.Running) {
      if (this.state !== ConnectionState.Closed) this.destroy();
      return null;
    }
    this.tunnel = this.ctx.tunnel(this, ex.id, this.handOff(ex));
    return this.tunnel;
  }

  /** This response may leave the connection open: its request allowed it, and a connection
   *  that is closing still has something after it to send (a request's answer, or tray's own). */
  private mayPersist(ex: Exchange): boolean {
    return ex.keepAlive && !(this.state !== ConnectionState.Open && this.isLast(ex) && this.pendingError === null);
  }

  private onResponseHead(ex: Exchange, status: number, statusText: string, headers: string[], bodyLength: number | null): void {
    if (ex.state !== ExchangeState.Running) return;
    const head = ex.head;
    const writer = new ResponseWriter({
      method: head.method,
      versionMinor: head.versionMinor,
      keepAlive: this.mayPersist(ex),
      status,
      statusText,
      headers,
      declaredLength: bodyLength,
      date: httpDate(),
      server: this.ctx.settings.ident,
    });
    let bytes: Uint8Array;
    try {
      bytes = writer.head();
    } catch (err) {
      if (!(err instanceof ResponseHeaderError)) throw err;
      this.ctx.log(`Error in app while handling "${ex.requestLine}": ${err.message}`, "error");
      this.ctx.pool.cancel(ex.id);
      this.respondError(ex, 500, "Internal Server Error");
      return;
    }
    ex.writer = writer;
    ex.keepAlive = writer.keepAlive;
    ex.state = ExchangeState.HeadSent;
    ex.status = status;
    ex.out.push(bytes);
    this.scheduleFlush();
  }

  private onResponseData(ex: Exchange, chunk: Uint8Array): void {
    if (ex.state !== ExchangeState.HeadSent) return;
    const n = chunk.byteLength;
    if (n === 0) return;
    const writer = ex.writer!;
    try {
      writer.data(chunk, ex.out);
    } catch (err) {
      if (!(err instanceof ResponseFramingError)) throw err;
      this.brokenFraming(ex, err);
      return;
    }
    if (writer.framing === "none") {
      this.ctx.pool.ack(ex.id, n); // HEAD / no-body status: nothing to wait for
      return;
    }
    ex.unacked += n;
    ex.sent += n;
    this.scheduleFlush();
  }

  private onResponseEnd(ex: Exchange): void {
    if (ex.state !== ExchangeState.HeadSent) return;
    try {
      ex.writer!.end(ex.out);
    } catch (err) {
      if (!(err instanceof ResponseFramingError)) throw err;
      this.brokenFraming(ex, err);
      return;
    }
    ex.state = ExchangeState.Done;
    this.scheduleFlush();
  }

  /** The app's body broke its own Content-Length: what was promised went out (or less); the only
   *  honest end is closing the connection (RFC 9112 §6.3 item 5). */
  private brokenFraming(ex: Exchange, err: ResponseFramingError): void {
    this.ctx.log(`Error in app while handling "${ex.requestLine}": ${err.message}`, "error");
    this.ctx.pool.cancel(ex.id);
    ex.keepAlive = false;
    ex.state = ExchangeState.Done;
    this.scheduleFlush();
  }

  /** tray answers the request itself (the app failed, the pool refused it). Before the head this
   *  is a whole error response; after it, the only signal left is closing (RFC 9112 §8). */
  private respondError(ex: Exchange, status: number, body: string, headers: string[] = []): void {
    if (ex.state === ExchangeState.Done || this.state >= ConnectionState.Closed) return;
    if (ex.state !== ExchangeState.HeadSent) {
      const keepAlive = this.mayPersist(ex);
      ex.out.push(errorResponse(status, body, this.ctx.settings.ident, keepAlive, ex.head.versionMinor, ex.head.method, headers));
      ex.keepAlive = keepAlive;
      ex.status = status;
      if (this.ctx.accessLog !== null && ex.head.method !== "HEAD") ex.sent = Buffer.byteLength(errorBody(status, body));
    } else {
      ex.keepAlive = false;
    }
    ex.state = ExchangeState.Done;
    this.scheduleFlush();
  }

  private isLast(ex: Exchange): boolean {
    return this.queue[this.queue.length - 1] === ex && this.receiving === null;
  }

  // --- writing -------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled || this.state >= ConnectionState.Lingering) return;
    this.flushScheduled = true;
    queueMicrotask(this.flushBound);
  }

  /** The socket took what it had ('drain'): write more. */
  writable(): void {
    this.flush();
  }

  /** Moves ready bytes into the socket in request order, in one write. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.state >= ConnectionState.Lingering) return;
    const socket = this.socket;
    const limit = Math.min(this.ctx.settings.buffers.outbufOverflow, SOCKET_WINDOW);
    const parts: Uint8Array[] = [];
    let size = 0;
    let endAfter = false;
    while (this.queue.length > 0) {
      const ex = this.queue[0];
      if (ex.continueOwed) {
        // RFC 9110 §10.1.1: its turn has come and its body has not: ask for it.
        ex.continueOwed = false;
        if (ex.state === ExchangeState.Receiving) {
          parts.push(CONTINUE);
          size += CONTINUE.byteLength;
        }
      }
      let chunk: Uint8Array | null;
      while (socket.writableLength + size < limit && (chunk = ex.out.shift()) !== null) {
        parts.push(chunk);
        size += chunk.byteLength;
      }
      const lost = ex.out.takeFailure(); // its spill file failed: nothing more can follow
      if (lost !== null) this.outputLost(ex, lost);
      if (ex.unacked > 0) {
        const ackable = ex.unacked - ex.out.length;
        if (ackable > 0) {
          ex.unacked -= ackable;
          this.ctx.pool.ack(ex.id, ackable);
        }
      }
      if (ex.state !== ExchangeState.Done || ex.out.length > 0) break;
      this.queue.shift();
      this.finishExchange(ex);
      if (!ex.keepAlive) {
        endAfter = true;
        break;
      }
    }
    if (!endAfter && this.queue.length === 0 && this.receiving === null && this.state === ConnectionState.Closing) {
      if (this.pendingError !== null) {
        parts.push(this.pendingError);
        size += this.pendingError.byteLength;
        this.pendingError = null;
        if (this.pendingErrorRecord !== null) {
          this.ctx.accessLog!(this.pendingErrorRecord);
          this.pendingErrorRecord = null;
        }
      }
      endAfter = true;
    }
    if (parts.length > 0) {
      const accepted = writeParts(socket, parts, size);
      this.lastActivity = this.ctx.clock.now();
      // 'drain' only follows a write that returned false. When the socket took everything and
      // the front response still has bytes waiting, come back for them after this I/O turn.
      if (accepted && !endAfter && this.queue.length > 0 && this.queue[0].out.length > 0) {
        setImmediate(this.flushBound);
      }
    }
    if (endAfter) {
      this.linger();
      return;
    }
    this.dispatchReady();
    if (this.paused && this.upgrading === null && this.queue.length < MAX_QUEUED_REQUESTS / 2) this.resumeReading();
  }

  private resumeReading(): void {
    this.paused = false;
    this.flushHeld();
    if (!this.paused) this.socket.resume();
  }

  /** Parses bytes that arrived while reading was paused, as long as reading stays unpaused. */
  private flushHeld(): void {
    if (this.upgrading !== null) return; // the client's first frames, kept for the session
    while (this.held.length > 0 && !this.paused && this.reading) this.parse(this.held.shift()!);
    if (!this.reading) this.held = [];
    if (this.held.length === 0 && this.finReceived && this.state === ConnectionState.Open) this.endOfInput();
  }

  /**
   * The response's pending output could not be kept (its spill file failed), so
   * what follows what was written cannot be sent: stop the app and close after the bytes already
   * out (RFC 9112 §8: closing is the only honest signal left), never chunk lines without data.
   */
  private outputLost(ex: Exchange, reason: string): void {
    if (storageTrouble.failed()) this.logStorageFailure("responses", reason);
    if (ex.state === ExchangeState.Running || ex.state === ExchangeState.HeadSent) this.ctx.pool.cancel(ex.id);
    ex.keepAlive = false;
    ex.state = ExchangeState.Done;
  }

  private finishExchange(ex: Exchange): void {
    if (this.ctx.accessLog !== null) this.logExchange(ex);
    if (this.ctx.metrics !== null) this.ctx.metrics.exchangeFinished(ex.status, (this.ctx.clock.now() - ex.startedAt) / 1000);
    this.running--; // every exchange that finishes was dispatched (or refused at dispatch)
    ex.out.dispose();
    this.deleteBodyFile(ex);
  }

  /** One access log line; an exchange the client left (or half-closed) before any response began
   *  is nginx's 499, "client closed request". */
  private logExchange(ex: Exchange): void {
    this.ctx.accessLog!({
      client: ex.client,
      requestLine: ex.requestLine,
      status: ex.status === 0 || ex.finBeforeResponse ? STATUS_CLIENT_CLOSED : ex.status,
      bytes: ex.sent,
      headers: ex.head.headers,
    });
  }

  /** A body file the pool never took (the request was not dispatched) is deleted. */
  private deleteBodyFile(ex: Exchange): void {
    const file = ex.received?.file;
    if (file) {
      this.ctx.bodyFiles.release(file, false);
      ex.received!.file = null;
    }
  }

  // --- deadlines -----------------------------------------------------------------------------

  /**
   * Checks this connection's deadlines at clock time `now`: a request head unfinished after
   * --header-timeout is answered 408 (or, if the client never sent a byte, the connection just
   * closes); a lingering connection whose client has not closed is cut off.
   */
  tick(now: number): void {
    if (this.state === ConnectionState.Lingering && now >= this.lingerUntil) {
      this.destroy();
      return;
    }
    if (this.state === ConnectionState.Open && this.headStartedAt !== null && now - this.headStartedAt >= this.ctx.settings.headerTimeoutMs) {
      this.timeOutHead();
    }
  }

  /** --channel-timeout: a connection silent that long, with no app work in flight, is closed. */
  sweepIdle(now: number): void {
    // A WebSocket session keeps its own idleTimeout (pings); a Node-style tunnel has none, so
    // silence both ways closes it as it would an HTTP connection.
    if (this.state === ConnectionState.Upgraded && this.tunnel === null) return;
    if (!this.busy && now - this.lastActivity >= this.ctx.settings.channelTimeoutMs) this.destroy();
  }

  /** Gives up this connection's slot to one waiting at --connection-limit: as timeOutHead(), but
   *  without lingering for the client's close, which a slowloris client would never send. */
  shed(): void {
    if (this.state !== ConnectionState.Open || !this.idle) return;
    this.lingers = false;
    this.timeOutHead();
  }

  /** The request head did not arrive in time (slowloris). */
  timeOutHead(): void {
    if (this.state !== ConnectionState.Open) return;
    if (!this.parser.inHead) {
      // Nothing of a request arrived: there is no one to answer (RFC 9112 §9.6 lets an idle
      // connection close at any time).
      this.state = ConnectionState.Closing;
      this.scheduleFlush();
      return;
    }
    this.answerLast(408, "The request head did not arrive in time", null);
  }

  // --- closing -------------------------------------------------------------------------------

  /** Stop reading and close once the queued responses are written (shutdown). */
  shutdown(): void {
    if (this.tunnel !== null) {
      this.tunnel.shutdown();
      return;
    }
    if (this.state !== ConnectionState.Open && this.state !== ConnectionState.Closing) return;
    if (this.receiving !== null) this.dropReceiving();
    this.held = [];
    this.headStartedAt = null;
    this.state = ConnectionState.Closing;
    this.scheduleFlush();
  }

  /** Ends tray's side after pending writes; tick() destroys the socket if the client lingers. */
  private linger(): void {
    if (this.state >= ConnectionState.Lingering) return;
    this.state = ConnectionState.Lingering;
    this.lingerUntil = this.ctx.clock.now() + (this.lingers ? CLOSE_LINGER_MS : 0);
    this.socket.end();
    if (!this.lingers) this.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  socketError(err: Error): void {
    if (this.ctx.settings.logSocketErrors && !this.idle) {
      this.ctx.log(`Socket error from ${this.peer.address}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, "warning");
    }
  }

  /** The socket is gone: cancel what the app still works on, log what was cut short. */
  closed(): void {
    if (this.state >= ConnectionState.Closed) return;
    const wasAnswering = this.queue.some((ex) => ex.state !== ExchangeState.Done);
    this.state = ConnectionState.Closed;
    if (this.ctx.settings.logSocketErrors && wasAnswering) {
      this.ctx.log(`Client ${this.peer.address} disconnected before its response was complete`, "warning");
    }
    if (this.receiving !== null) this.dropReceiving();
    this.held = [];
    for (const ex of this.queue) {
      if (ex.state === ExchangeState.Running || ex.state === ExchangeState.HeadSent) this.ctx.pool.cancel(ex.id);
      // Dispatched but never finished writing: the client hung up (requests never run are not logged).
      if (ex.id !== -1 && this.ctx.accessLog !== null) this.logExchange(ex);
      ex.state = ExchangeState.Done;
      ex.out.dispose();
      ex.body?.discard();
      this.deleteBodyFile(ex);
    }
    this.queue.length = 0;
    this.running = 0;
    this.ctx.onClose(this);
  }
}
