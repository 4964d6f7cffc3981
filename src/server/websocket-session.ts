// One WebSocket connection on the main thread (RFC 6455), from the hand-off by the HTTP connection
// to the socket's close. It owns the socket: writes the 101, reads the client's frames with the
// sans-I/O MessageReader, answers pings (§5.5.2) and the closing handshake (§5.5.1, echoing the
// code), closes with the reader's code on a bad frame (§7.1.7), and is the pool's WebSocketPeer:
// whole messages go to the Worker running the app's handlers (batched per turn by the pool), and
// the app's sends come back as frames.
//
// Bounds: the socket is paused while the Worker has more than READ_AHEAD_BYTES of messages not
// yet handed to the app (OP_WS_RECEIVED), so a fast client cannot pile up memory; the app's sends
// are bounded by the Worker (backpressureLimit, ServerWebSocket), and publishes from elsewhere
// by the pending output here (past backpressureLimit: dropped, or closed 1008 when
// closeOnBackpressureLimit). Output moves into the socket while it holds less than WRITE_WINDOW
// bytes, and each app send is acknowledged to the Worker as it does (that is what drain() waits on).
// idleTimeout: a client silent for half of it is pinged (sendPings), one silent for all of it is
// closed (1001). Shutdown (closeWebSockets) sends 1001 to every session. Time and timers come from
// the context (SessionTimers), so the idle rules are tested on a fake clock with a fake socket.
import type { Log } from "./log.ts";
import type { UpgradeHandoff } from "./connection.ts";
import type { Socket } from "node:net";
import {
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_NO_STATUS,
  CLOSE_POLICY_VIOLATION,
  isValidCloseCode,
} from "../http/websocket-close.ts";
import { MessageDeflater, MessageInflater, negotiateDeflate } from "../http/websocket-deflate.ts";
import { MessageReader, OPCODE_BINARY, OPCODE_PING, OPCODE_PONG, OPCODE_TEXT, encodeClose, encodeFrame, encodeFrameHead } from "../http/websocket-frame.ts";
import type { UpgradeRequest } from "../http/websocket-handshake.ts";
import type { WorkerPool } from "../pool/pool.ts";
import type { WebSocketOptions, WebSocketPeer } from "../pool/types.ts";
import type { AccessLogHook } from "./access-log.ts";
import { switchingProtocolsHead } from "./websocket-head.ts";
import type { TopicSubscriber, WebSocketTopics } from "./websocket-topics.ts";

/** Message bytes the Worker may hold unread before the socket is paused. */
export const READ_AHEAD_BYTES = 1024 * 1024;
/** Output moves into the socket while it holds less than this. */
export const WRITE_WINDOW = 256 * 1024;
/** §7.1.1: after our close frame, how long the client has to answer before the TCP connection is cut. */
export const CLOSE_WAIT_MS = 5000;

/** The clock and the one-shot timers a session runs on (idleTimeout, the close wait). */
export interface SessionTimers {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs `fn` once, `ms` from now, without keeping the process alive; returns its cancel. */
  after(ms: number, fn: () => void): () => void;
}

export const SYSTEM_TIMERS: SessionTimers = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** What a session needs of the Worker pool (WorkerPool has all of it). */
export type SessionRunner = Pick<WorkerPool, "openWebSocket" | "webSocketMessage" | "webSocketControl" | "webSocketAck" | "webSocketClosed">;

/** What a session needs from the server. */
export interface SessionContext {
  pool: SessionRunner;
  topics: WebSocketTopics;
  log: Log;
  accessLog: AccessLogHook | null;
  ident: string;
  /** The connection this was: told of traffic (--channel-timeout; a WebSocket that pings lives on). */
  connection: { touch(): void };
  onClose: () => void;
  /** SYSTEM_TIMERS unless a test brings its own clock. */
  timers?: SessionTimers;
}

/** What the HTTP connection hands over (src/server/connection.ts), with its socket. */
export type Handoff = UpgradeHandoff & { socket: Socket };

/** Open sessions, for shutdown. */
const open = new Set<WebSocketSession>();

/** SIGTERM: every open WebSocket gets a close frame (1001, going away); their sockets close as
 *  the clients answer, or CLOSE_WAIT_MS later. */
export function closeWebSockets(reason = "server shutting down"): void {
  for (const session of open) session.close(CLOSE_GOING_AWAY, reason);
}

export function openWebSocketCount(): number {
  return open.size;
}

export function startWebSocketSession(handoff: Handoff, ctx: SessionContext): WebSocketSession {
  return new WebSocketSession(handoff, ctx);
}

export class WebSocketSession implements WebSocketPeer, TopicSubscriber {
  readonly id: number;
  private readonly socket: Socket;
  private readonly ctx: SessionContext;
  private readonly options: WebSocketOptions;
  private readonly reader: MessageReader;
  private readonly deflater: MessageDeflater | null;
  private readonly timers: SessionTimers;
  private readonly started: number;
  private readonly handoff: Handoff;
  private readonly subscriptions = new Set<string>();
  /** Frames waiting for the socket; acks[i]: app payload bytes to acknowledge once out[i] is written. */
  private out: Uint8Array[] = [];
  private acks: number[] = [];
  private pending = 0;
  private flushScheduled = false;
  /** Message bytes sent to the Worker and not yet handed to the app. */
  private unread = 0;
  private paused = false;
  private lastReceived: number;
  private pingSent = false;
  /** Cancels of the pending idle check and of the close wait (§7.1.1). */
  private idleTimer: (() => void) | null = null;
  private closeTimer: (() => void) | null = null;
  private closeSent = false;
  private finished = false;
  /** The pool no longer knows this socket (its Worker died, or the pool closed). */
  private detached = false;
  /** What the app's close() hears: the client's code, ours, or 1006. */
  private closeCode = CLOSE_ABNORMAL;
  private closeReason = "";
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(handoff: Handoff, ctx: SessionContext) {
    this.handoff = handoff;
    this.id = handoff.id;
    this.socket = handoff.socket;
    this.ctx = ctx;
    this.options = handoff.options;
    this.timers = ctx.timers ?? SYSTEM_TIMERS;
    this.started = this.lastReceived = this.timers.now();
    // RFC 7692 §5: only when the app enabled it and the client offered it.
    const deflate = negotiateDeflate(handoff.handshake.extensions, handoff.options.perMessageDeflate);
    this.deflater = deflate === null ? null : new MessageDeflater(deflate);
    this.reader = new MessageReader({ maxPayloadLength: handoff.options.maxPayloadLength, inflater: deflate === null ? null : new MessageInflater(deflate) });
    const head = switchingProtocolsHead(handoff.handshake, deflate?.response ?? null, handoff.appHeaders, ctx.ident, (name) =>
      ctx.log(`Error in app while upgrading "${handoff.requestLine}": the header ${JSON.stringify(name)} it gave upgrade() is not a valid field; left out`, "error"),
    );
    open.add(this);
    const socket = this.socket;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.flush());
    socket.on("error", () => {}); // the close event follows; a WebSocket's end is logged there
    socket.on("end", () => this.onEnd());
    socket.on("close", () => this.onClose());
    socket.write(head);
    ctx.accessLog?.({ client: handoff.client, requestLine: handoff.requestLine, status: 101, bytes: 0, headers: handoff.requestHeaders });
    ctx.pool.openWebSocket(this.id, this);
    this.armIdleTimer();
    if (handoff.rest.byteLength > 0) this.onData(handoff.rest);
    socket.resume();
  }

  // --- from the client -----------------------------------------------------------------------

  private onData(chunk: Uint8Array): void {
    if (this.finished) return;
    this.lastReceived = this.timers.now();
    this.pingSent = false;
    this.ctx.connection.touch();
    this.bytesIn += chunk.byteLength;
    const events = this.reader.feed(chunk);
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      switch (ev.type) {
        case "message":
          if (this.closeSent) break; // §5.5.1: after our close, data is not processed
          this.unread += ev.data.byteLength;
          this.ctx.pool.webSocketMessage(this.id, ev.binary, ev.data);
          break;
        case "ping":
          // §5.5.2: a pong with the same payload, as soon as practical.
          if (!this.closeSent) this.queue(encodeFrame(OPCODE_PONG, ev.data), 0);
          this.ctx.pool.webSocketControl(this.id, OPCODE_PING, ev.data);
          break;
        case "pong":
          this.ctx.pool.webSocketControl(this.id, OPCODE_PONG, ev.data);
          break;
        case "close":
          this.closeCode = ev.code ?? CLOSE_NO_STATUS;
          this.closeReason = ev.reason;
          // §5.5.1: answer with a close frame echoing the code (none for none), then close TCP
          // (§7.1.1: the server closes first).
          if (!this.closeSent) {
            this.closeSent = true;
            this.queue(encodeClose(ev.code !== null && isValidCloseCode(ev.code) ? ev.code : null, ""), 0);
          }
          this.endSocket();
          return;
        case "error":
          // §7.1.7: fail the connection with the reader's code (1002, 1007, 1009...).
          this.closeCode = ev.code;
          this.closeReason = ev.reason;
          if (!this.closeSent) {
            this.closeSent = true;
            this.queue(encodeClose(ev.code, ev.reason), 0);
          }
          this.endSocket();
          return;
      }
    }
    if (this.unread > READ_AHEAD_BYTES && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** The client half-closed without a close frame. */
  private onEnd(): void {
    this.endSocket();
  }

  // --- from the Worker (WebSocketPeer) ---------------------------------------------------------

  send(opcode: number, payload: Uint8Array, compress: boolean): void {
    if (this.closeSent || this.finished) {
      this.ctx.pool.webSocketAck(this.id, payload.byteLength); // dropped: the Worker stops counting it
      return;
    }
    this.queue(this.frame(opcode, payload, compress), payload.byteLength);
  }

  close(code: number, reason: string): void {
    if (this.closeSent || this.finished) return;
    this.closeSent = true;
    const sendable = code !== 0 && isValidCloseCode(code);
    if (code !== 0 && !sendable) this.ctx.log(`Error in app on WebSocket "${this.handoff.requestLine}": close code ${code} may not be sent (RFC 6455 §7.4); closed with no code`, "error");
    this.closeCode = sendable ? code : CLOSE_NO_STATUS;
    this.closeReason = reason;
    this.queue(encodeClose(sendable ? code : null, reason), 0);
    this.closeTimer ??= this.timers.after(CLOSE_WAIT_MS, () => this.socket.destroy());
  }

  terminate(): void {
    this.closeCode = CLOSE_ABNORMAL;
    this.socket.destroy();
  }

  received(bytes: number): void {
    this.unread -= bytes;
    if (this.paused && this.unread <= READ_AHEAD_BYTES / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }

  subscribe(topic: string): void {
    if (this.finished) return;
    this.subscriptions.add(topic);
    this.ctx.topics.subscribe(topic, this);
  }

  unsubscribe(topic: string): void {
    this.subscriptions.delete(topic);
    this.ctx.topics.unsubscribe(topic, this);
  }

  lost(code: number, reason: string): void {
    this.detached = true;
    this.close(code, reason);
  }

  // --- from other sessions' publishes (TopicSubscriber) ----------------------------------------

  deliver(frame: Uint8Array, opcode: number, payload: Uint8Array, compress: boolean): void {
    if (this.closeSent || this.finished) return;
    if (this.pending > this.options.backpressureLimit) {
      // A subscriber that does not read: Bun (uWebSockets) drops the message, or closes.
      if (this.options.closeOnBackpressureLimit) this.close(CLOSE_POLICY_VIOLATION, "backpressure limit reached");
      return;
    }
    this.queue(compress && this.deflater !== null ? this.frame(opcode, payload, true) : frame, 0);
  }

  // --- writing ---------------------------------------------------------------------------------

  /** A data or control frame; text and binary messages deflated when negotiated and asked (RFC 7692 §6). */
  private frame(opcode: number, payload: Uint8Array, compress: boolean): Uint8Array {
    if (compress && this.deflater !== null && (opcode === OPCODE_TEXT || opcode === OPCODE_BINARY)) {
      return encodeFrame(opcode, this.deflater.deflate(payload), true, true);
    }
    if (payload.byteLength < 16 * 1024) return encodeFrame(opcode, payload);
    // Large: head and payload as two parts, no copy of the payload.
    this.out.push(encodeFrameHead(opcode, payload.byteLength));
    this.acks.push(0);
    this.pending += 10;
    return payload;
  }

  private queue(bytes: Uint8Array, ack: number): void {
    this.out.push(bytes);
    this.acks.push(ack);
    this.pending += bytes.byteLength;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.finished) return;
    const socket = this.socket;
    let acked = 0;
    const parts: Uint8Array[] = [];
    let size = 0;
    let i = 0;
    while (i < this.out.length && socket.writableLength + size < WRITE_WINDOW) {
      parts.push(this.out[i]);
      size += this.out[i].byteLength;
      acked += this.acks[i];
      i++;
    }
    if (i === 0) return;
    this.out = i === this.out.length ? [] : this.out.slice(i);
    this.acks = i === this.acks.length ? [] : this.acks.slice(i);
    this.pending -= size;
    this.bytesOut += size;
    socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
    if (acked > 0 && !this.detached) this.ctx.pool.webSocketAck(this.id, acked);
    if (this.out.length > 0 && socket.writableLength < WRITE_WINDOW) queueMicrotask(() => this.flush());
  }

  /** Our side is done: what is queued goes out, then the TCP connection ends. */
  private endSocket(): void {
    if (this.finished) return;
    this.flush();
    if (this.out.length === 0) this.socket.end();
    else this.socket.once("drain", () => this.socket.end());
    this.closeTimer ??= this.timers.after(CLOSE_WAIT_MS, () => this.socket.destroy());
  }

  // --- idle ------------------------------------------------------------------------------------

  private armIdleTimer(): void {
    const seconds = this.options.idleTimeout;
    if (seconds === 0) return;
    const half = (seconds * 1000) / 2;
    this.idleTimer = this.timers.after(half, () => this.checkIdle());
  }

  private checkIdle(): void {
    this.idleTimer = null;
    if (this.finished) return;
    const idle = this.timers.now() - this.lastReceived;
    const limit = this.options.idleTimeout * 1000;
    if (idle >= limit - 10) {
      this.close(CLOSE_GOING_AWAY, "idle timeout");
      return;
    }
    if (this.options.sendPings && idle >= limit / 2 - 10 && !this.pingSent && !this.closeSent) {
      // A live client answers with a pong (§5.5.2), which counts as traffic.
      this.pingSent = true;
      this.queue(encodeFrame(OPCODE_PING, new Uint8Array(0)), 0);
    }
    const next = Math.max(10, Math.min(limit - idle, limit / 2));
    this.idleTimer = this.timers.after(next, () => this.checkIdle());
  }

  // --- the end ---------------------------------------------------------------------------------

  private onClose(): void {
    if (this.finished) return;
    this.finished = true;
    open.delete(this);
    this.idleTimer?.();
    this.closeTimer?.();
    for (const topic of this.subscriptions) this.ctx.topics.unsubscribe(topic, this);
    this.subscriptions.clear();
    this.out = [];
    this.acks = [];
    if (!this.detached) this.ctx.pool.webSocketClosed(this.id, this.closeCode, this.closeReason);
    const h = this.handoff;
    const seconds = ((this.timers.now() - this.started) / 1000).toFixed(3);
    this.ctx.accessLog?.({
      client: h.client,
      requestLine: h.requestLine,
      status: 101,
      bytes: this.bytesOut,
      headers: h.requestHeaders,
      extra: `websocket_close=${this.closeCode} duration=${seconds}s bytes_in=${this.bytesIn}`,
    });
    this.ctx.onClose();
  }
}
