// One client connection (Waitress's channel), on the main thread.
//
// Strategy: socket bytes go through the parser; each request becomes an Exchange in a queue.
// A request is dispatched to the Worker pool only once its body is whole; up to
// 1 + --channel-request-lookahead requests of a connection run at once, and responses are
// written strictly in request order (RFC 9112 §9.3.2). Each response collects its bytes in an
// OutputBuffer; flush() moves the front response's bytes into the socket while the socket holds
// less than --outbuf-overflow, and acknowledges them to the pool (flow control). All writes of one
// turn go out as one socket.write (one syscall per batch, not per chunk).
//
// Beside it: the Exchange record (exchange.ts), how a response body is framed
// (response-framing.ts) and how a batch of parts reaches the socket (socket-write.ts).

import type { Socket } from "node:net";
import type { RequestHead } from "../http/parser.ts";
import { RequestParser } from "../http/parser.ts";
import type { ProtocolError } from "../http/errors.ts";
import { ResponseHeaderError, serializeResponseHead } from "../http/response.ts";
import type { WorkerPool } from "../pool/pool.ts";
import type { PoolRequest, ResponseSink } from "../pool/types.ts";
import type { Options } from "../options/types.ts";
import type { BodyFiles } from "./body-files.ts";
import type { Exchange } from "./exchange.ts";
import { newExchange } from "./exchange.ts";
import { pushChunk, pushLastChunk, responseContentLength, responseFraming } from "./response-framing.ts";
import { writeParts } from "./socket-write.ts";
import { errorBody, errorResponse } from "./error-response.ts";
import { STATUS_CLIENT_CLOSED } from "./access-log.ts";
import type { AccessLogHook, AccessRecord } from "./access-log.ts";
import { httpDate } from "./date.ts";
import { REASON_BODY_NOT_STORED, STATUS_BODY_NOT_STORED } from "./request-body.ts"; // storage-failure:
import { storageFailureReason, storageTrouble } from "./spill-file.ts"; // storage-failure:
import type { Peer, RequestOrigin } from "./request-origin.ts";

/** Parsed requests a connection may hold before it stops reading the socket. */
export const MAX_QUEUED_REQUESTS = 32;

/** After tray closes its side (RFC 9112 §9.6), how long a client may take to close its own. */
export const CLOSE_LINGER_MS = 2000;

/** RFC 9110 §9.2.1: methods whose requests may run side by side. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n", "latin1");

export interface ConnectionContext {
  options: Options;
  pool: WorkerPool;
  log: (line: string) => void;
  /** Scheme, host and client address for a request (proxy headers are applied here). */
  origin: (head: RequestHead, peer: Peer) => RequestOrigin | ProtocolError;
  onClose: (connection: Connection) => void;
  /** --access-log: told of every exchange as it finishes; null (the default) costs nothing. */
  accessLog: AccessLogHook | null;
  /** Temp files for request bodies past --inbuf-overflow, reused between requests. */
  bodyFiles: BodyFiles;
}

export class Connection {
  lastActivity = Date.now();
  private readonly parser: RequestParser;
  private readonly queue: Exchange[] = [];
  private receiving: Exchange | null = null;
  private running = 0;
  private readonly maxRunning: number;
  /** A framing error answered after the requests before it: then the connection closes. */
  private pendingError: Uint8Array | null = null;
  private pendingErrorRecord: AccessRecord | null = null;
  /** No more requests will be read (Connection: close, error, shutdown). */
  private closing = false;
  /** Bytes from the client are ignored from now on (shutdown, or the connection is ending). */
  private stopReading = false;
  private closed = false;
  /** Cuts off a client that does not close its side after ours (closeGracefully). */
  private lingerTimer: ReturnType<typeof setTimeout> | null = null;
  private paused = false;
  private flushScheduled = false;
  private readonly flushBound = () => this.flush();

  constructor(
    readonly socket: Socket,
    private readonly ctx: ConnectionContext,
    private readonly peer: Peer,
  ) {
    const o = ctx.options;
    this.parser = new RequestParser({ maxHeadSize: o.maxRequestHeaderSize, maxBodySize: o.maxRequestBodySize });
    this.maxRunning = 1 + o.channelRequestLookahead;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", this.flushBound);
    socket.on("error", (err: Error) => this.onSocketError(err));
    socket.on("close", () => this.onClose());
    // A half-closed client has sent all it will: answer what was asked, then close (RFC 9112 §9.6).
    socket.on("end", () => {
      this.closing = true;
      if (this.receiving !== null) this.dropReceiving();
      this.scheduleFlush();
    });
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
    for (const ex of this.queue) if (ex.id !== -1 && !ex.done && ex.out.length === 0) return true;
    return false;
  }

  // --- reading requests ----------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.lastActivity = Date.now();
    // Not `closing`: a request with "Connection: close" still has its body to receive (the parser
    // itself ignores whatever follows the end of that message).
    if (this.stopReading) return;
    const events = this.parser.feed(chunk);
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      switch (ev.type) {
        case "head":
          this.onHead(ev.head);
          break;
        case "data": {
          // storage-failure: the body could not be stored; said once per episode, answered at its end.
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
    if (this.queue.length >= MAX_QUEUED_REQUESTS && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private onHead(head: RequestHead): void {
    const ex = newExchange(head, this.ctx.options, this.ctx.bodyFiles, this.peer.address);
    this.queue.push(ex);
    this.receiving = ex;
    if (!head.keepAlive) this.closing = true;
    // RFC 9110 §10.1.1: 100 (Continue) before reading the body, once this request is next in line.
    if (!ex.continueSent) this.scheduleFlush();
  }

  private onRequestEnd(): void {
    const ex = this.receiving!;
    this.receiving = null;
    ex.continueSent = true; // the body is here: no 100 needed any more
    const received = ex.body === null ? { body: null, file: null, length: 0 } : ex.body.finish();
    ex.body = null;
    if ("failure" in received) {
      // storage-failure: never dispatched; answered 503 in its turn, then the connection closes.
      if (storageTrouble.failed()) this.logStorageFailure("request bodies", received.failure);
      ex.received = { body: null, file: null, length: 0 };
      this.refuse(ex, STATUS_BODY_NOT_STORED, REASON_BODY_NOT_STORED);
      return;
    }
    ex.received = received;
    this.dispatchReady();
  }

  private onProtocolError(error: ProtocolError): void {
    if (this.ctx.accessLog !== null) {
      // Logged when written; the request line is known when the error came in its body.
      const ex = this.receiving;
      this.pendingErrorRecord = {
        client: this.peer.address,
        requestLine: ex?.requestLine ?? "",
        status: error.status,
        bytes: Buffer.byteLength(errorBody(error.status, error.message)),
        headers: ex?.head.headers ?? null,
      };
    }
    if (this.receiving !== null) this.dropReceiving();
    this.closing = true;
    this.pendingError = errorResponse(error.status, error.message, this.ctx.options.ident);
    this.scheduleFlush();
  }

  /** Forgets a request whose bytes stopped coming (error or half-close mid-request). */
  private dropReceiving(): void {
    const ex = this.receiving!;
    this.receiving = null;
    ex.body?.discard();
    const i = this.queue.indexOf(ex);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /**
   * Starts queued requests, in order, up to 1 + --channel-request-lookahead at once. RFC 9112
   * §9.3.2: pipelined requests may run in parallel only when their methods are safe, so an unsafe
   * request starts only when nothing before it is running, and nothing starts while it runs.
   */
  private dispatchReady(): void {
    for (let i = 0; i < this.queue.length && this.running < this.maxRunning; i++) {
      const ex = this.queue[i];
      const safe = SAFE_METHODS.has(ex.head.method);
      if (ex.id !== -1) {
        if (!safe) return;
        continue;
      }
      if (ex.received === null || (!safe && this.running > 0)) return;
      this.dispatch(ex);
      if (!safe) return;
    }
  }

  private dispatch(ex: Exchange): void {
    const origin = this.ctx.origin(ex.head, this.peer);
    if (!("url" in origin)) {
      // A request the proxy-header rules refuse: answer it and close, like any bad request.
      this.refuse(ex, origin.status, origin.message);
      return;
    }
    const received = ex.received!;
    const file = received.file;
    // storage-failure: the Worker gets a descriptor of its own for the body's (nameless) file.
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
      scriptName: this.ctx.options.urlPrefix,
      versionMinor: ex.head.versionMinor,
      requestLine: ex.requestLine,
    };
    received.body = null;
    received.file = null; // the pool gives it back
    ex.client = origin.remote.hostname; // the proxy's client when trusted
    this.running++;
    ex.id = this.ctx.pool.dispatch(request, this.sinkFor(ex));
  }

  /** Answers a request without running it (status, reason), then closes, like any bad request. */
  private refuse(ex: Exchange, status: number, reason: string): void {
    this.closing = true;
    ex.id = 0;
    this.running++;
    ex.keepAlive = false;
    this.deleteBodyFile(ex);
    this.onResponseError(ex, status, reason);
  }

  /** storage-failure: one line per episode of temp-file trouble (spill-file.ts storageTrouble). */
  private logStorageFailure(what: string, reason: string): void {
    this.ctx.log(`Cannot store ${what} in a temp file: ${reason}; such requests get 503 and such responses are cut off (closed) until it works again`);
  }

  // --- the response, from the pool -----------------------------------------------------------

  private sinkFor(ex: Exchange): ResponseSink {
    return {
      head: (status, statusText, headers, bodyLength) => this.onResponseHead(ex, status, statusText, headers, bodyLength),
      data: (chunk) => this.onResponseData(ex, chunk),
      end: () => this.onResponseEnd(ex),
      error: (status, body) => this.onResponseError(ex, status, body),
    };
  }

  private onResponseHead(ex: Exchange, status: number, statusText: string, headers: string[], bodyLength: number | null): void {
    if (this.closed || ex.headSent) return;
    const head = ex.head;
    const framing = responseFraming(head.method, head.versionMinor, status, bodyLength);
    ex.framing = framing;
    ex.remaining = bodyLength ?? 0;
    ex.keepAlive = ex.keepAlive && framing !== "close" && !(this.closing && this.isLast(ex));
    let bytes: Uint8Array;
    try {
      bytes = serializeResponseHead({
        status,
        statusText,
        headers,
        date: httpDate(),
        server: this.ctx.options.ident,
        framing,
        contentLength: responseContentLength(status, bodyLength),
        keepAlive: ex.keepAlive,
        versionMinor: head.versionMinor,
      });
    } catch (err) {
      if (!(err instanceof ResponseHeaderError)) throw err;
      this.ctx.log(`Error in app while handling "${ex.requestLine}": ${err.message}`);
      this.ctx.pool.cancel(ex.id);
      this.onResponseError(ex, 500, "Internal Server Error");
      return;
    }
    ex.headSent = true;
    ex.status = status;
    ex.out.push(bytes);
    this.scheduleFlush();
  }

  private onResponseData(ex: Exchange, chunk: Uint8Array): void {
    if (this.closed || ex.done || !ex.headSent) return;
    const n = chunk.byteLength;
    if (n === 0) return;
    switch (ex.framing) {
      case "none":
        this.ctx.pool.ack(ex.id, n); // HEAD / no-body status: the bytes are dropped (RFC 9110 §9.3.2)
        return;
      case "length":
        if (n > ex.remaining) {
          // The app sent more than its Content-Length: send what was promised, then close.
          if (ex.remaining > 0) ex.out.push(chunk.subarray(0, ex.remaining));
          ex.sent += ex.remaining;
          ex.remaining = 0;
          ex.keepAlive = false;
          this.ctx.log(`Error in app while handling "${ex.requestLine}": response body longer than its Content-Length`);
          this.ctx.pool.cancel(ex.id);
          ex.done = true;
          this.scheduleFlush();
          return;
        }
        ex.remaining -= n;
        ex.out.push(chunk);
        break;
      case "chunked":
        pushChunk(ex.out, chunk, n);
        break;
      case "close":
        ex.out.push(chunk);
        break;
    }
    ex.unacked += n;
    ex.sent += n;
    this.scheduleFlush();
  }

  private onResponseEnd(ex: Exchange): void {
    if (this.closed || ex.done) return;
    if (ex.framing === "chunked") pushLastChunk(ex.out);
    if (ex.framing === "length" && ex.remaining > 0) {
      // Shorter than its Content-Length: the client must not take it as complete (RFC 9112 §6.3).
      this.ctx.log(`Error in app while handling "${ex.requestLine}": response body shorter than its Content-Length`);
      ex.keepAlive = false;
      ex.framing = "close";
    }
    ex.done = true;
    this.scheduleFlush();
  }

  private onResponseError(ex: Exchange, status: number, body: string): void {
    if (this.closed || ex.done) return;
    if (!ex.headSent) {
      ex.out.push(errorResponse(status, body, this.ctx.options.ident, ex.keepAlive && !(this.closing && this.isLast(ex)), ex.head.versionMinor, ex.head.method === "HEAD"));
      ex.headSent = true;
      ex.status = status;
      if (this.ctx.accessLog !== null && ex.head.method !== "HEAD") ex.sent = Buffer.byteLength(errorBody(status, body));
      if (this.closing && this.isLast(ex)) ex.keepAlive = false;
    } else {
      // Part of a response is already out: the only honest signal left is closing (RFC 9112 §8).
      ex.keepAlive = false;
      ex.framing = "close";
    }
    ex.done = true;
    this.scheduleFlush();
  }

  private isLast(ex: Exchange): boolean {
    return this.queue[this.queue.length - 1] === ex && this.receiving === null;
  }

  // --- writing -------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    queueMicrotask(this.flushBound);
  }

  /** Moves ready bytes into the socket in request order, in one write. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const socket = this.socket;
    const limit = this.ctx.options.outbufOverflow;
    const parts: Uint8Array[] = [];
    let size = 0;
    let endAfter = false;
    while (this.queue.length > 0) {
      const ex = this.queue[0];
      if (!ex.continueSent) {
        ex.continueSent = true;
        if (!ex.headSent) {
          parts.push(CONTINUE);
          size += CONTINUE.byteLength;
        }
      }
      let chunk: Uint8Array | null;
      while (socket.writableLength + size < limit && (chunk = ex.out.shift()) !== null) {
        parts.push(chunk);
        size += chunk.byteLength;
      }
      const lost = ex.out.takeFailure(); // storage-failure:
      if (lost !== null) this.outputLost(ex, lost);
      if (ex.unacked > 0) {
        const ackable = ex.unacked - ex.out.length;
        if (ackable > 0) {
          ex.unacked -= ackable;
          this.ctx.pool.ack(ex.id, ackable);
        }
      }
      if (!ex.done || ex.out.length > 0) break;
      this.queue.shift();
      this.finishExchange(ex);
      if (!ex.keepAlive || ex.framing === "close") {
        endAfter = true;
        break;
      }
    }
    if (!endAfter && this.queue.length === 0 && this.receiving === null && this.closing) {
      if (this.pendingError !== null) {
        parts.push(this.pendingError);
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
      this.lastActivity = Date.now();
      // 'drain' only follows a write that returned false. When the socket took everything and
      // the front response still has bytes waiting, come back for them after this I/O turn.
      if (accepted && !endAfter && this.queue.length > 0 && this.queue[0].out.length > 0) {
        setImmediate(this.flushBound);
      }
    }
    if (endAfter) {
      this.closeGracefully();
      return;
    }
    this.dispatchReady();
    if (this.paused && this.queue.length < MAX_QUEUED_REQUESTS / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /**
   * storage-failure: the response's pending output could not be kept (its spill file failed), so
   * what follows what was written cannot be sent: stop the app and close after the bytes already
   * out (RFC 9112 §8: closing is the only honest signal left), never chunk lines without data.
   */
  private outputLost(ex: Exchange, reason: string): void {
    if (storageTrouble.failed()) this.logStorageFailure("responses", reason);
    if (ex.id > 0 && !ex.done) this.ctx.pool.cancel(ex.id);
    ex.keepAlive = false;
    ex.framing = "close";
    ex.done = true;
  }

  private finishExchange(ex: Exchange): void {
    if (this.ctx.accessLog !== null) this.logExchange(ex);
    if (ex.id !== -1) this.running--;
    ex.out.dispose();
    this.deleteBodyFile(ex);
  }

  /** One access log line; an exchange the client left before any response began is nginx's 499. */
  private logExchange(ex: Exchange): void {
    this.ctx.accessLog!({
      client: ex.client,
      requestLine: ex.requestLine,
      status: ex.status === 0 ? STATUS_CLIENT_CLOSED : ex.status,
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

  // --- closing -------------------------------------------------------------------------------

  /** Stop reading and close once the queued responses are written (shutdown). */
  shutdown(): void {
    this.closing = true;
    this.stopReading = true;
    if (this.receiving !== null) this.dropReceiving();
    this.scheduleFlush();
  }

  /** Ends the socket after pending writes; destroys it if the client does not let go. */
  private closeGracefully(): void {
    if (this.closed) return;
    this.closing = true;
    this.stopReading = true;
    this.socket.end();
    // RFC 9112 §9.6: close in stages; a client that never closes its side is cut off.
    this.lingerTimer = setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
    this.lingerTimer.unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onSocketError(err: Error): void {
    if (this.ctx.options.logSocketErrors && !this.idle) {
      this.ctx.log(`Socket error from ${this.peer.address}: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    // The timer would hold this connection (socket, parser, buffers) in memory until it fired:
    // under a burst of short connections that was ~40,000 of them and ~500 MiB at any moment.
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    if (this.ctx.options.logSocketErrors && !this.idle && this.queue.some((ex) => !ex.done)) {
      this.ctx.log(`Client ${this.peer.address} disconnected before its response was complete`);
    }
    if (this.receiving !== null) this.dropReceiving();
    for (const ex of this.queue) {
      if (ex.id !== -1 && !ex.done) this.ctx.pool.cancel(ex.id);
      // Dispatched but never finished writing: the client hung up (requests never run are not logged).
      if (ex.id !== -1 && this.ctx.accessLog !== null) this.logExchange(ex);
      ex.done = true;
      ex.out.dispose();
      this.deleteBodyFile(ex);
    }
    this.queue.length = 0;
    this.running = 0;
    this.ctx.onClose(this);
  }
}
