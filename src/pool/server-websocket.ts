// Bun's ServerWebSocket, inside a Worker: the `ws` object the app's websocket handlers receive.
// Every method turns into a protocol op for the main thread, which owns the socket and frames.
//
// Strategy: the socket lives on the main thread, so "buffered" here means bytes of the app's sends
// the main thread has not yet written (OP_WS_ACK brings the count down). Bun's (uWebSockets')
// rules for send(): past backpressureLimit a message is dropped (0), and the connection closed
// when closeOnBackpressureLimit; otherwise it is queued and the answer is its byte count, or -1
// when the queue is now past the limit; drain() fires once acknowledgements bring it back under.
// A socket that is not open drops everything (0).
import { encodeWsClose, encodeWsPublish, encodeWsSend, encodeWsSubscribe, encodeWsTerminate, encodeWsUnsubscribe } from "./protocol.ts";
import { type Outbox } from "./outbox.ts";
import type { WebSocketOptions } from "./types.ts";

/** RFC 6455 §5.2 opcodes the app can send. */
export const OPCODE_TEXT = 1;
export const OPCODE_BINARY = 2;
export const OPCODE_PING = 9;
export const OPCODE_PONG = 10;

/** readyState, as the WHATWG WebSocket numbers it (Bun uses the same). */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** RFC 6455 §5.5: control frame payloads are at most 125 bytes. */
const MAX_CONTROL_PAYLOAD = 125;
/** RFC 6455 §7.4.1 1008: policy violation — here, a client that does not read what it is sent. */
const CLOSE_POLICY_VIOLATION = 1008;

export type BinaryType = "nodebuffer" | "arraybuffer" | "uint8array";

/** What a WebSocket needs of the Worker it lives in (websockets.ts). */
export interface SocketHost {
  outbox: Outbox;
  scheduleFlush(): void;
  subscriberCount(topic: string): number;
  /** This Worker changed a topic's subscribers; the main thread's count follows. */
  countChanged(topic: string, delta: number): void;
}

export type SendData = string | ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

const encoder = new TextEncoder();

/** Bytes and opcode of what the app passed to send()/publish(). `owned`: freshly made here. */
export function toPayload(data: SendData, binaryOpcode: number): { opcode: number; bytes: Uint8Array; owned: boolean } {
  if (typeof data === "string") return { opcode: OPCODE_TEXT, bytes: encoder.encode(data), owned: true };
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return { opcode: binaryOpcode, bytes: new Uint8Array(data), owned: false };
  if (ArrayBuffer.isView(data)) return { opcode: binaryOpcode, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), owned: false };
  return { opcode: OPCODE_TEXT, bytes: encoder.encode(String(data)), owned: true };
}

export class ServerWebSocket<T = unknown> {
  readyState = CONNECTING;
  binaryType: BinaryType = "nodebuffer";
  data: T;
  readonly remoteAddress: string;
  /** Bytes sent and not yet written by the main thread. */
  private buffered = 0;
  /** A send was refused or said -1: drain() is owed once the queue empties below the limit. */
  private owesDrain = false;
  private readonly topics = new Set<string>();

  constructor(
    readonly id: number,
    private readonly host: SocketHost,
    readonly options: WebSocketOptions,
    data: T,
    remoteAddress: string,
    private readonly onDrain: (ws: ServerWebSocket<T>) => void,
  ) {
    this.data = data;
    this.remoteAddress = remoteAddress;
  }

  send(data: SendData, compress = false): number {
    const { opcode, bytes, owned } = toPayload(data, OPCODE_BINARY);
    return this.queue(opcode, bytes, owned, compress);
  }

  sendText(data: string, compress = false): number {
    return this.queue(OPCODE_TEXT, encoder.encode(String(data)), true, compress);
  }

  sendBinary(data: ArrayBufferView | ArrayBuffer, compress = false): number {
    const { bytes, owned } = toPayload(data, OPCODE_BINARY);
    return this.queue(OPCODE_BINARY, bytes, owned, compress);
  }

  ping(data: SendData = ""): number {
    return this.control(OPCODE_PING, data);
  }

  pong(data: SendData = ""): number {
    return this.control(OPCODE_PONG, data);
  }

  /** RFC 6455 §7.1.2: starts the closing handshake; close() runs once the main thread says it is over. */
  close(code?: number, reason?: string): void {
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSING;
    encodeWsClose(this.host.outbox, this.id, code ?? 0, reason ?? "");
    this.host.scheduleFlush();
  }

  /** Drops the connection with no closing handshake (close() then runs with 1006). */
  terminate(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    encodeWsTerminate(this.host.outbox, this.id);
    this.host.scheduleFlush();
  }

  /** Sends are batched per event-loop turn anyway: the callback just runs. */
  cork<R>(callback: (ws: ServerWebSocket<T>) => R): R {
    return callback(this);
  }

  getBufferedAmount(): number {
    return this.buffered;
  }

  subscribe(topic: string): void {
    topic = String(topic);
    if (this.readyState !== OPEN || this.topics.has(topic)) return;
    this.topics.add(topic);
    encodeWsSubscribe(this.host.outbox, this.id, topic);
    this.host.countChanged(topic, 1);
    this.host.scheduleFlush();
  }

  unsubscribe(topic: string): void {
    topic = String(topic);
    if (!this.topics.delete(topic)) return;
    if (this.readyState === OPEN || this.readyState === CLOSING) encodeWsUnsubscribe(this.host.outbox, this.id, topic);
    this.host.countChanged(topic, -1);
    this.host.scheduleFlush();
  }

  isSubscribed(topic: string): boolean {
    return this.topics.has(String(topic));
  }

  get subscriptions(): string[] {
    return [...this.topics];
  }

  /** To every subscriber of `topic` on every Worker, this socket excepted unless publishToSelf. */
  publish(topic: string, data: SendData, compress = false): number {
    const { opcode, bytes, owned } = toPayload(data, OPCODE_BINARY);
    return this.publishBytes(String(topic), opcode, bytes, owned, compress);
  }

  publishText(topic: string, data: string, compress = false): number {
    return this.publishBytes(String(topic), OPCODE_TEXT, encoder.encode(String(data)), true, compress);
  }

  publishBinary(topic: string, data: ArrayBufferView | ArrayBuffer, compress = false): number {
    const { bytes, owned } = toPayload(data, OPCODE_BINARY);
    return this.publishBytes(String(topic), OPCODE_BINARY, bytes, owned, compress);
  }

  // --- from the main thread (websockets.ts) --------------------------------------------------

  /** `bytes` of this socket's sends were written: maybe drain(). */
  acknowledged(bytes: number): void {
    this.buffered = Math.max(0, this.buffered - bytes);
    if (this.owesDrain && this.buffered < this.options.backpressureLimit && this.readyState === OPEN) {
      this.owesDrain = false;
      this.onDrain(this);
    }
  }

  /** The connection is over: forget the topics (the main thread already dropped them). */
  closed(): void {
    this.readyState = CLOSED;
    for (const topic of this.topics) this.host.countChanged(topic, -1);
    this.topics.clear();
  }

  // --- inside ----------------------------------------------------------------------------------

  private queue(opcode: number, bytes: Uint8Array, owned: boolean, compress: boolean): number {
    if (this.readyState !== OPEN) return 0;
    const limit = this.options.backpressureLimit;
    if (this.buffered > limit) {
      this.owesDrain = true;
      if (this.options.closeOnBackpressureLimit) this.close(CLOSE_POLICY_VIOLATION, "backpressure limit reached");
      return 0;
    }
    this.buffered += bytes.byteLength;
    encodeWsSend(this.host.outbox, this.id, opcode, compress, bytes, owned);
    this.host.scheduleFlush();
    if (this.buffered > limit) {
      this.owesDrain = true;
      return -1;
    }
    return bytes.byteLength;
  }

  private control(opcode: number, data: SendData): number {
    const { bytes, owned } = toPayload(data, OPCODE_BINARY);
    // RFC 6455 §5.5: a longer control payload cannot be framed; Bun drops it too.
    if (bytes.byteLength > MAX_CONTROL_PAYLOAD) return 0;
    return this.queue(opcode, bytes, owned, false);
  }

  private publishBytes(topic: string, opcode: number, bytes: Uint8Array, owned: boolean, compress: boolean): number {
    if (this.readyState !== OPEN) return 0;
    const self = this.options.publishToSelf;
    const others = this.host.subscriberCount(topic) - (!self && this.topics.has(topic) ? 1 : 0);
    encodeWsPublish(this.host.outbox, topic, opcode, compress, self ? 0 : this.id, bytes, owned);
    this.host.scheduleFlush();
    return others > 0 ? bytes.byteLength : 0;
  }
}
