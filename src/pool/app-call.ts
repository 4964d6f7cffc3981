// One call of the app for one request, inside a Worker (an AppCall; the main thread's record of
// the same request on its connection is server/exchange.ts's Exchange): the request as it arrived
// (decoded by worker.ts), and
// the response side every app interface shares — it turns "here is the head / a chunk / the end /
// a failure" into protocol ops in the Worker's outbox, counts body bytes not yet acknowledged by
// the main thread (flow control), and carries cancellation. The interface that runs the app
// (fetch-interface.ts; a Node-style one can sit beside it) reads the request fields, reads the
// app's response and drives these methods; it never touches the protocol itself.
//
// bodyLength, the one subtle part: the first chunk is held back together with the head until
// either the body ends (then head + body + end leave as ONE op with an exact length) or the
// Worker's end-of-turn flush releases it (then the head leaves with the first chunk and length
// unknown, unless the app declared Content-Length). So a static body is always sized, and a
// stream (SSE) gets its head and first chunk out at the end of the turn that produced them.
// A HEAD request's response never carries body bytes: its bodyLength is the app's Content-Length
// or the length of a non-empty body that ended within the turn, else unknown (a made-up 0 would
// be false, RFC 9110 §9.3.2), and a longer body is cancelled. The framing rules themselves are
// the response writer's (src/http/response-writer.ts), imported, not decided again here.
import { bodyAllowed, bodyLengthError } from "../http/response-writer.ts";
import { openBodyFile, type BodyFile } from "./body-file.ts";
import { BODY_APP_ERROR, DATA_PIECE_MAX, STATUS_APP_ERROR, TRANSIT_MAX } from "./limits.ts";
import { encodeData, encodeEnd, encodeError, encodeHead, encodeResponse, encodeWsUpgrade, type RequestFields } from "./protocol.ts";
import { encodeTunnelOpen } from "./protocol-tunnel.ts";
import { type Outbox } from "./outbox.ts";
import type { WebSocketOptions } from "./types.ts";

/** What an app call needs from the Worker it runs in. */
export interface AppCallHost {
  outbox: Outbox;
  highWatermark: number;
  exposeTracebacks: boolean;
  /** Exchanges holding their head back; the end-of-turn flush releases them. */
  held: AppCall[];
  /** Makes sure an end-of-turn flush is coming. */
  scheduleFlush(): void;
  /** The app call is over: forget its id. */
  finished(appCall: AppCall): void;
  /** Streamed bytes sent (OP_DATA) and not yet taken by the main thread (TRANSIT_MAX). */
  inTransit: number;
}

/** Something the app produces the body from, cancelled when the client goes away. */
export interface BodySource {
  cancel(reason?: unknown): unknown;
}

const IDLE = 0; // no head yet
const HELD = 1; // head and first chunk waiting for the end or the flush
const STREAMING = 2; // head sent
const DONE = 3;

export type { RequestFields } from "./protocol.ts";

export class AppCall {
  readonly id: number;
  readonly host: AppCallHost;
  readonly request: RequestFields;
  readonly abort = new AbortController();
  /** A HEAD response declares the length a GET would have (RFC 9110 §9.3.2) and sends no body. */
  readonly isHead: boolean;
  source: BodySource | null = null;
  cancelled = false;
  /** The request body's temp file, once the app asked for the body (see body-file.ts). */
  private bodyFile: BodyFile | null = null;
  /** Body bytes sent and not yet acknowledged. */
  unacked = 0;
  private state = IDLE;
  private status = 0;
  private statusText = "";
  private headers: string[] = [];
  /** Content-Length the app declared and the body is held to, or -1. */
  private declared = -1;
  /** For HEAD: the Content-Length the app declared (reported as bodyLength, never checked), or -1. */
  private headLength = -1;
  private sent = 0;
  private first: Uint8Array | null = null;
  private resume: (() => void) | null = null;

  constructor(host: AppCallHost, id: number, request: RequestFields) {
    this.host = host;
    this.id = id;
    this.request = request;
    this.isHead = !bodyAllowed(request.method, 200);
  }

  get finished(): boolean {
    return this.state === DONE;
  }

  /** True once unacknowledged bytes exceed the high watermark: stop reading the app's body. */
  get congested(): boolean {
    return this.unacked > this.host.highWatermark || this.host.inTransit > TRANSIT_MAX;
  }

  /** The response head; sent with the first chunk or the end, whichever comes first.
   *  declaredLength: the app's Content-Length, or -1 (pass -1 for a null body except for HEAD). */
  setHead(status: number, statusText: string, headers: string[], declaredLength: number): void {
    this.status = status;
    this.statusText = statusText;
    this.headers = headers;
    if (this.isHead) this.headLength = declaredLength;
    else this.declared = declaredLength;
  }

  /** A body chunk; `owned`: nobody else holds it (it may be transferred, not copied). */
  sendData(chunk: Uint8Array, owned: boolean): void {
    if (this.state === DONE || chunk.byteLength === 0) return;
    this.sent += chunk.byteLength;
    const tooLong = this.declared >= 0 ? bodyLengthError(this.declared, this.sent, false) : null;
    if (tooLong !== null) {
      this.fail(new Error(tooLong));
      return;
    }
    if (this.state === IDLE) {
      // A HEAD response only needs the count. Otherwise copied: held until the end of the turn,
      // and the app may reuse its buffer meanwhile.
      if (!this.isHead) this.first = owned ? chunk : new Uint8Array(chunk);
      this.state = HELD;
      this.host.held.push(this);
      this.host.scheduleFlush();
      return;
    }
    if (this.isHead) return;
    if (this.state === HELD) this.releaseHead();
    this.unacked += chunk.byteLength;
    this.host.inTransit += chunk.byteLength;
    encodeData(this.host.outbox, this.id, chunk, owned);
    this.host.scheduleFlush();
  }

  /** A large chunk in DATA_PIECE_MAX pieces, waiting for acknowledgements between them, so one
   *  huge chunk cannot push far past the high watermark; stops if the app call ends meanwhile. */
  async sendInPieces(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.byteLength && !this.finished; at += DATA_PIECE_MAX) {
      this.sendData(chunk.subarray(at, at + DATA_PIECE_MAX), false);
      if (this.congested) await this.drained();
    }
  }

  /** The whole body at once, for a body that was never a stream (any size: the server spills
   *  what does not fit in --outbuf-overflow to a temp file).
   *  `owned`: nobody else holds these bytes, so a large body may be transferred, not copied. */
  sendWhole(body: Uint8Array, owned = false): void {
    if (this.state !== IDLE) {
      this.sendData(body, owned);
      this.end();
      return;
    }
    const length = body.byteLength;
    const wrong = this.declared >= 0 ? bodyLengthError(this.declared, length, true) : null;
    if (wrong !== null) {
      this.fail(new Error(wrong));
      return;
    }
    this.sent = length;
    const out = this.host.outbox;
    if (this.isHead) {
      this.pushHead(this.headLength >= 0 ? this.headLength : length);
      encodeEnd(out, this.id);
    } else {
      encodeResponse(out, this.id, this.status, this.statusText, this.headers, body, owned);
    }
    this.finish();
  }

  /** The body ended. */
  end(): void {
    if (this.state === DONE) return;
    const short = this.declared >= 0 ? bodyLengthError(this.declared, this.sent, true) : null;
    if (short !== null) {
      this.fail(new Error(short));
      return;
    }
    const out = this.host.outbox;
    if (this.state === STREAMING) {
      encodeEnd(out, this.id);
    } else if (this.isHead) {
      // RFC 9110 §9.3.2: the length a GET would have had — the app's own word, else the count of
      // a body it gave; no body and no word: unknown, so no Content-Length at all.
      this.pushHead(this.headLength >= 0 ? this.headLength : this.sent > 0 ? this.sent : -1);
      encodeEnd(out, this.id);
    } else {
      encodeResponse(out, this.id, this.status, this.statusText, this.headers, this.first, true);
      this.first = null;
    }
    this.finish();
  }

  /** The head now, before any body: the app flushed its headers (Node's res.flushHeaders(), an
   *  event stream that will write later). Nothing to do once a chunk or the end is on its way. */
  sendHead(): void {
    if (this.state !== IDLE || this.isHead) return;
    this.pushHead(this.declared);
    this.state = STREAMING;
    this.host.scheduleFlush();
  }

  /** End-of-turn flush: the body did not end within the turn, so the head goes now. */
  releaseHead(): void {
    if (this.state !== HELD) return;
    if (this.isHead) {
      // A HEAD answer is complete with its head: stop the app's (possibly endless) body here.
      this.pushHead(this.headLength);
      encodeEnd(this.host.outbox, this.id);
      this.cancelSource(undefined);
      this.finish();
      return;
    }
    this.pushHead(this.declared);
    this.state = STREAMING;
    const first = this.first!;
    this.first = null;
    this.unacked += first.byteLength;
    this.host.inTransit += first.byteLength;
    encodeData(this.host.outbox, this.id, first, true);
  }

  private pushHead(bodyLength: number): void {
    encodeHead(this.host.outbox, this.id, this.status, this.statusText, this.headers, bodyLength);
  }

  /** The app failed (threw, rejected, returned a non-Response, broke its stream). Before the head
   *  the server answers 500; after it, the server closes the connection. */
  fail(error: unknown, description?: string): void {
    if (this.state === DONE) return;
    const text = description ?? describeError(error);
    const body = this.host.exposeTracebacks ? `${BODY_APP_ERROR}\n\n${text}` : BODY_APP_ERROR;
    // A head still held back never reaches the main thread: the error replaces it.
    this.first = null;
    encodeError(this.host.outbox, this.id, STATUS_APP_ERROR, body, text);
    this.cancelSource(error);
    this.finish();
  }

  /** The app upgraded the request to a WebSocket (websockets.ts): the request ends here, and
   *  whatever the handler returned is dropped, as Bun does. */
  upgraded(headers: string[], options: WebSocketOptions): void {
    if (this.state === DONE) return;
    this.first = null;
    encodeWsUpgrade(this.host.outbox, this.id, headers, options);
    this.cancelSource(undefined);
    this.finish();
  }

  /** A Node-style app's 'upgrade' listener took the socket (node-interface.ts): no HTTP response
   *  follows; the connection is a byte tunnel (node-tunnel.ts) with this id from here. */
  tunneled(): void {
    if (this.state === DONE) return;
    encodeTunnelOpen(this.host.outbox, this.id);
    this.finish();
  }

  /** The request is refused before the app sees it (no log line: a client can cause it at will). */
  refuse(status: number, body: string): void {
    if (this.state === DONE) return;
    encodeError(this.host.outbox, this.id, status, body, "");
    this.finish();
  }

  /** Resolves once acknowledgements bring the unacknowledged bytes back to the watermark (or on cancel). */
  drained(): Promise<void> {
    if (!this.congested || this.cancelled) return Promise.resolve();
    return new Promise((resolve) => {
      this.resume = resolve;
    });
  }

  ack(bytes: number): void {
    this.unacked -= bytes;
    this.wakeIfFree();
  }

  /** Resumes a paused stream once neither its own watermark nor the transit budget holds it. */
  wakeIfFree(): void {
    if (this.resume !== null && !this.congested) this.wake();
  }

  /** The client went away: stop the app's body and abort request.signal. Nothing more is sent. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.first = null;
    this.state = DONE;
    this.releaseBodyFile();
    this.abort.abort();
    this.cancelSource(undefined);
    this.wake();
    this.host.finished(this);
  }

  private cancelSource(reason: unknown): void {
    const source = this.source;
    this.source = null;
    if (source === null) return;
    try {
      const done = source.cancel(reason);
      if (done instanceof Promise) done.catch(() => {}); // a failing cancel has nobody left to tell
    } catch {
      // same
    }
  }

  private wake(): void {
    const resume = this.resume;
    this.resume = null;
    if (resume !== null) resume();
  }

  /** The request body kept in a temp file, as a stream that works until this app call ends. */
  bodyFileStream(): ReadableStream<Uint8Array> {
    const r = this.request;
    this.bodyFile ??= openBodyFile(r.bodyFd!, r.bodyLength);
    return this.bodyFile.stream;
  }

  /** Before the server can hear that this app call ended: it may reuse the body's file at once. */
  private releaseBodyFile(): void {
    // The descriptor is this Worker's to close, whether or not the app ever read the body; a
    // stream asked for afterwards fails (released) instead of reading a closed number.
    const r = this.request;
    if (this.bodyFile === null && r.bodyFd !== null) this.bodyFile = openBodyFile(r.bodyFd, r.bodyLength);
    this.bodyFile?.close();
  }

  private finish(): void {
    this.releaseBodyFile();
    this.state = DONE;
    this.wake();
    this.host.scheduleFlush();
    this.host.finished(this);
  }
}

/** An app's Content-Length when it is 1*DIGIT (RFC 9110 §8.6) and a safe integer, else -1. */
export function declaredLength(value: string | null): number {
  if (value === null || !/^[0-9]{1,15}$/.test(value)) return -1;
  return Number(value);
}

/** The stack of an Error (it starts with name and message), else the thrown value as text. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack || `${error.name}: ${error.message}`;
  try {
    return `thrown value: ${String(error)}`;
  } catch {
    return "thrown value that cannot be shown";
  }
}
