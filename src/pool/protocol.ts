// The message protocol between the main thread (pool.ts) and each Worker (worker.ts).
//
// Ops travel in batches, one message per turn per direction (outbox.ts says how). Each op is an
// op code followed by its fields, with BYTES for body bytes.
//
// Every op has an encode function (appends its fields to an Outbox) and a decoder (reads them
// back at an index into a received message's fields, returning a typed record and the index of
// the next op). No other file knows a layout: pool.ts and worker.ts call decodeFromWorker() /
// decodeToWorker() and switch on the record's `op`. test/pool/protocol.test.ts round-trips
// every op without Workers.
//
// WebSocket ops (RFC 6455 connections the main thread upgraded; DESIGN.md §3): a WebSocket keeps
// the id of the request that upgraded it, so it stays in its Worker's slot. Message payloads are
// BYTES (text already checked as UTF-8 by the main thread); an opcode field holds RFC 6455's
// opcode (1 text, 2 binary, 9 ping, 10 pong). Node-style upgrades' byte tunnels have their ops in
// protocol-tunnel.ts; the decoders here hand them over.
import type { AppInterface } from "../app/interfaces.ts";
import type { LogLevel } from "../server/log.ts";
import { EMPTY_BYTES, bytesAt, pushHeaders, type Message, type Outbox } from "./outbox.ts";
import { decodeTunnelFromWorker, decodeTunnelToWorker, type TunnelFromWorker, type TunnelToWorker } from "./protocol-tunnel.ts";
import type { PoolRequest, WebSocketOptions } from "./types.ts";

// --- op codes and layouts ----------------------------------------------------------------------

// main thread -> Worker
/** [OP_INIT, module, object, call 0|1, cwd, exposeTracebacks 0|1, highWatermark, interface
 *   "auto"|"fetch"|"node"] — the first message, alone. */
export const OP_INIT = 1;
/** [OP_REQUEST, id, method, url, n, ...n header fields (name, value, ...), bodyFd|null, BYTES,
 *   bodyLength, remoteHostname, remotePort, transport, family, scriptName, versionMinor, upgrade 0|1] */
export const OP_REQUEST = 2;
/** [OP_ACK, id, bytes] — the server flushed `bytes` of id's response body. */
export const OP_ACK = 3;
/** [OP_CANCEL, id] — the client went away. */
export const OP_CANCEL = 4;
/** [OP_RECEIVED, bytes] — the main thread has taken `bytes` of streamed body (OP_DATA) into its
 *  buffers (memory or temp file): they are no longer in transit (the Worker's transit budget). */
export const OP_RECEIVED = 6;
/** [OP_ABORT, id] — the client sent its FIN: request.signal aborts, the response is still wanted. */
export const OP_ABORT = 5;
/** [OP_WS_OPEN, id] — the 101 is written: the connection is a WebSocket now (the app's open()). */
export const OP_WS_OPEN = 30;
/** [OP_WS_MESSAGE, id, binary 0|1, BYTES] — one whole message from the client. */
export const OP_WS_MESSAGE = 31;
/** [OP_WS_PING, id, BYTES] — the client pinged (already answered by the main thread). */
export const OP_WS_PING = 32;
/** [OP_WS_PONG, id, BYTES] — the client ponged. */
export const OP_WS_PONG = 33;
/** [OP_WS_CLOSED, id, code, reason] — the WebSocket is over (the app's close()); 1006: no close frame. */
export const OP_WS_CLOSED = 34;
/** [OP_WS_ACK, id, bytes] — `bytes` of the app's sends reached the socket (backpressure). */
export const OP_WS_ACK = 35;
/** [OP_WS_TOPIC_COUNT, topic, count] — subscribers of a topic across every Worker, as it changed. */
export const OP_WS_TOPIC_COUNT = 36;

// Worker -> main thread
/** [OP_READY, note] — the app is loaded; note: what --interface=auto chose ("" for nothing to say). */
export const OP_READY = 10;
/** [OP_LOAD_FAILED, message] — loadApp failed; message is the user-facing sentence. */
export const OP_LOAD_FAILED = 11;
/** [OP_HEAD, id, status, statusText, n, ...n header fields, bodyLength (-1: unknown)] */
export const OP_HEAD = 12;
/** [OP_DATA, id, BYTES] */
export const OP_DATA = 13;
/** [OP_END, id] */
export const OP_END = 14;
/** [OP_RESPONSE, id, status, statusText, n, ...n header fields, BYTES] — head, whole body and end
 *  in one op: the common small response. Its bodyLength is the BYTES length. */
export const OP_RESPONSE = 15;
/** [OP_ERROR, id, status, body, logText] — the request failed; logText goes to the log with the request line. */
export const OP_ERROR = 16;
/** [OP_LOG, line, level] — a line for the server's log, at its level ("info" | "warning" | "error"). */
export const OP_LOG = 17;
/** [OP_FATAL, reason] — the Worker is about to die (uncaught error, process.exit in the app). */
export const OP_FATAL = 18;
/** [OP_WS_UPGRADE, id, n, ...n extra 101 header fields, maxPayloadLength, idleTimeout,
 *   backpressureLimit, closeOnBackpressureLimit 0|1, perMessageDeflate 0|1, sendPings 0|1,
 *   publishToSelf 0|1] — the app called upgrade(): ends the request, id is a WebSocket from now. */
export const OP_WS_UPGRADE = 40;
/** [OP_WS_SEND, id, opcode, compress 0|1, BYTES] — a frame from the app (text, binary, ping, pong). */
export const OP_WS_SEND = 41;
/** [OP_WS_CLOSE, id, code (0: none), reason] — the app starts the closing handshake. */
export const OP_WS_CLOSE = 42;
/** [OP_WS_TERMINATE, id] — the app drops the connection without a closing handshake. */
export const OP_WS_TERMINATE = 43;
/** [OP_WS_SUBSCRIBE, id, topic] */
export const OP_WS_SUBSCRIBE = 44;
/** [OP_WS_UNSUBSCRIBE, id, topic] */
export const OP_WS_UNSUBSCRIBE = 45;
/** [OP_WS_PUBLISH, topic, opcode, compress 0|1, excludeId (0: none), BYTES] — to every subscriber on every Worker. */
export const OP_WS_PUBLISH = 46;
/** [OP_WS_RECEIVED, id, bytes] — the app was handed `bytes` of messages (the main thread reads on). */
export const OP_WS_RECEIVED = 47;

// --- main thread -> Worker ---------------------------------------------------------------------

export interface InitFields {
  module: string;
  object: string;
  call: boolean;
  cwd: string;
  exposeTracebacks: boolean;
  highWatermark: number;
  appInterface: AppInterface;
}

/** OP_INIT travels alone, as the Worker's first message. */
export function encodeInit(init: InitFields): Message {
  return JSON.stringify([OP_INIT, init.module, init.object, init.call ? 1 : 0, init.cwd, init.exposeTracebacks ? 1 : 0, init.highWatermark, init.appInterface]);
}

/** The fields of the Worker's first message, or null when it is not OP_INIT (a bug). */
export function decodeInit(f: unknown[]): InitFields | null {
  if (f[0] !== OP_INIT) return null;
  return {
    module: f[1] as string,
    object: f[2] as string,
    call: f[3] === 1,
    cwd: f[4] as string,
    exposeTracebacks: f[5] === 1,
    highWatermark: f[6] as number,
    appInterface: f[7] as AppInterface,
  };
}

/** The request fields of OP_REQUEST, as the Worker sees them. */
export interface RequestFields {
  method: string;
  url: string;
  /** Flat [name, value, ...], latin-1, as received (Node calls this rawHeaders). */
  rawHeaders: string[];
  body: Uint8Array | null;
  /** A descriptor of the temp file holding the body (past --inbuf-overflow), the Worker's to
   *  close (see body-file.ts); or null. */
  bodyFd: number | null;
  bodyLength: number;
  remoteHostname: string;
  remotePort: number;
  transport: "tcp" | "unix";
  family: "IPv4" | "IPv6" | "";
  scriptName: string;
  /** HTTP/1.versionMinor. */
  versionMinor: number;
  /** The main thread checked a WebSocket handshake (RFC 6455 §4.2.1): the app may upgrade(). */
  upgrade: boolean;
}

/** The request's body (when in memory) is given away: it may be transferred. */
export function encodeRequest(out: Outbox, id: number, request: PoolRequest): void {
  const f = out.fields;
  f.push(OP_REQUEST, id, request.method, request.url);
  pushHeaders(f, request.headers);
  f.push(request.bodyFd);
  if (request.body === null) f.push(0, 0, 0);
  else out.pushBytes(request.body, true);
  const remote = request.remote;
  f.push(request.bodyLength, remote.hostname, remote.port, remote.transport, request.family, request.scriptName, request.versionMinor, request.upgrade ? 1 : 0);
}

export function encodeAck(out: Outbox, id: number, bytes: number): void {
  out.fields.push(OP_ACK, id, bytes);
}

export function encodeCancel(out: Outbox, id: number): void {
  out.fields.push(OP_CANCEL, id);
}

export function encodeReceived(out: Outbox, bytes: number): void {
  out.fields.push(OP_RECEIVED, bytes);
}

export function encodeAbort(out: Outbox, id: number): void {
  out.fields.push(OP_ABORT, id);
}

export function encodeWsOpen(out: Outbox, id: number): void {
  out.fields.push(OP_WS_OPEN, id);
}

/** `payload` is the caller's to give away (a message the reader assembled). */
export function encodeWsMessage(out: Outbox, id: number, binary: boolean, payload: Uint8Array): void {
  out.fields.push(OP_WS_MESSAGE, id, binary ? 1 : 0);
  out.pushBytes(payload, false);
}

export function encodeWsPing(out: Outbox, id: number, payload: Uint8Array): void {
  out.fields.push(OP_WS_PING, id);
  out.pushBytes(payload, false);
}

export function encodeWsPong(out: Outbox, id: number, payload: Uint8Array): void {
  out.fields.push(OP_WS_PONG, id);
  out.pushBytes(payload, false);
}

export function encodeWsClosed(out: Outbox, id: number, code: number, reason: string): void {
  out.fields.push(OP_WS_CLOSED, id, code, reason);
}

export function encodeWsAck(out: Outbox, id: number, bytes: number): void {
  out.fields.push(OP_WS_ACK, id, bytes);
}

export function encodeWsTopicCount(out: Outbox, topic: string, count: number): void {
  out.fields.push(OP_WS_TOPIC_COUNT, topic, count);
}

/** One op of a main thread -> Worker batch (OP_INIT excepted: decodeInit). `next`: the next op's index. */
export type ToWorker =
  | { op: typeof OP_REQUEST; id: number; request: RequestFields; next: number }
  | { op: typeof OP_ACK; id: number; bytes: number; next: number }
  | { op: typeof OP_CANCEL | typeof OP_ABORT; id: number; next: number }
  | { op: typeof OP_RECEIVED; bytes: number; next: number }
  | { op: typeof OP_WS_OPEN; id: number; next: number }
  | { op: typeof OP_WS_MESSAGE; id: number; binary: boolean; payload: Uint8Array; next: number }
  | { op: typeof OP_WS_PING | typeof OP_WS_PONG; id: number; payload: Uint8Array; next: number }
  | { op: typeof OP_WS_CLOSED; id: number; code: number; reason: string; next: number }
  | { op: typeof OP_WS_ACK; id: number; bytes: number; next: number }
  | { op: typeof OP_WS_TOPIC_COUNT; topic: string; count: number; next: number }
  | TunnelToWorker;

export function decodeToWorker(f: unknown[], i: number, message: Message): ToWorker {
  const op = f[i] as number;
  switch (op) {
    case OP_REQUEST: {
      const at = i + 5 + (f[i + 4] as number); // just past the header fields
      const request: RequestFields = {
        method: f[i + 2] as string,
        url: f[i + 3] as string,
        rawHeaders: f.slice(i + 5, at) as string[],
        bodyFd: f[at] as number | null,
        body: bytesAt(f, at + 1, message),
        bodyLength: f[at + 4] as number,
        remoteHostname: f[at + 5] as string,
        remotePort: f[at + 6] as number,
        transport: f[at + 7] as "tcp" | "unix",
        family: f[at + 8] as "IPv4" | "IPv6" | "",
        scriptName: f[at + 9] as string,
        versionMinor: f[at + 10] as number,
        upgrade: f[at + 11] === 1,
      };
      return { op, id: f[i + 1] as number, request, next: at + 12 };
    }
    case OP_ACK:
    case OP_WS_ACK:
      return { op, id: f[i + 1] as number, bytes: f[i + 2] as number, next: i + 3 };
    case OP_RECEIVED:
      return { op, bytes: f[i + 1] as number, next: i + 2 };
    case OP_CANCEL:
    case OP_ABORT:
    case OP_WS_OPEN:
      return { op, id: f[i + 1] as number, next: i + 2 };
    case OP_WS_MESSAGE:
      return { op, id: f[i + 1] as number, binary: f[i + 2] === 1, payload: bytesAt(f, i + 3, message) ?? EMPTY_BYTES, next: i + 6 };
    case OP_WS_PING:
    case OP_WS_PONG:
      return { op, id: f[i + 1] as number, payload: bytesAt(f, i + 2, message) ?? EMPTY_BYTES, next: i + 5 };
    case OP_WS_CLOSED:
      return { op, id: f[i + 1] as number, code: f[i + 2] as number, reason: f[i + 3] as string, next: i + 4 };
    case OP_WS_TOPIC_COUNT:
      return { op, topic: f[i + 1] as string, count: f[i + 2] as number, next: i + 3 };
    default:
      return decodeTunnelToWorker(f, i, message) ?? unknownOp(op, "the main thread");
  }
}

// --- Worker -> main thread ---------------------------------------------------------------------

/** OP_READY, OP_LOAD_FAILED and OP_FATAL travel alone: load results and last words. */
export function readyMessage(note: string): Message {
  return JSON.stringify([OP_READY, note]);
}

export function loadFailedMessage(reason: string): Message {
  return JSON.stringify([OP_LOAD_FAILED, reason]);
}

export function fatalMessage(reason: string): Message {
  return JSON.stringify([OP_FATAL, reason]);
}

/** bodyLength -1: unknown (the body streams). */
export function encodeHead(out: Outbox, id: number, status: number, statusText: string, headers: string[], bodyLength: number): void {
  const f = out.fields;
  f.push(OP_HEAD, id, status, statusText);
  pushHeaders(f, headers);
  f.push(bodyLength);
}

/** `owned`: nobody else holds the chunk (it may be transferred, not copied). */
export function encodeData(out: Outbox, id: number, chunk: Uint8Array, owned: boolean): void {
  out.fields.push(OP_DATA, id);
  out.pushBytes(chunk, owned);
}

export function encodeEnd(out: Outbox, id: number): void {
  out.fields.push(OP_END, id);
}

/** Head, whole body (null: none) and end in one op. */
export function encodeResponse(out: Outbox, id: number, status: number, statusText: string, headers: string[], body: Uint8Array | null, owned: boolean): void {
  const f = out.fields;
  f.push(OP_RESPONSE, id, status, statusText);
  pushHeaders(f, headers);
  if (body === null) f.push(0, 0, 0);
  else out.pushBytes(body, owned);
}

export function encodeError(out: Outbox, id: number, status: number, body: string, logText: string): void {
  out.fields.push(OP_ERROR, id, status, body, logText);
}

export function encodeLog(out: Outbox, line: string, level: LogLevel): void {
  out.fields.push(OP_LOG, line, level);
}

export function encodeWsUpgrade(out: Outbox, id: number, headers: string[], options: WebSocketOptions): void {
  const f = out.fields;
  f.push(OP_WS_UPGRADE, id);
  pushHeaders(f, headers);
  f.push(
    options.maxPayloadLength,
    options.idleTimeout,
    options.backpressureLimit,
    options.closeOnBackpressureLimit ? 1 : 0,
    options.perMessageDeflate ? 1 : 0,
    options.sendPings ? 1 : 0,
    options.publishToSelf ? 1 : 0,
  );
}

/** `owned`: the payload may be transferred (the Worker built it for this send). */
export function encodeWsSend(out: Outbox, id: number, opcode: number, compress: boolean, payload: Uint8Array, owned: boolean): void {
  out.fields.push(OP_WS_SEND, id, opcode, compress ? 1 : 0);
  out.pushBytes(payload, owned);
}

export function encodeWsClose(out: Outbox, id: number, code: number, reason: string): void {
  out.fields.push(OP_WS_CLOSE, id, code, reason);
}

export function encodeWsTerminate(out: Outbox, id: number): void {
  out.fields.push(OP_WS_TERMINATE, id);
}

export function encodeWsSubscribe(out: Outbox, id: number, topic: string): void {
  out.fields.push(OP_WS_SUBSCRIBE, id, topic);
}

export function encodeWsUnsubscribe(out: Outbox, id: number, topic: string): void {
  out.fields.push(OP_WS_UNSUBSCRIBE, id, topic);
}

/** excludeId: the publishing WebSocket when it must not hear itself, else 0. */
export function encodeWsPublish(out: Outbox, topic: string, opcode: number, compress: boolean, excludeId: number, payload: Uint8Array, owned: boolean): void {
  out.fields.push(OP_WS_PUBLISH, topic, opcode, compress ? 1 : 0, excludeId);
  out.pushBytes(payload, owned);
}

export function encodeWsReceived(out: Outbox, id: number, bytes: number): void {
  out.fields.push(OP_WS_RECEIVED, id, bytes);
}

/** One op of a Worker -> main thread batch. `next`: the next op's index. */
export type FromWorker =
  | { op: typeof OP_READY; note: string; next: number }
  | { op: typeof OP_LOAD_FAILED | typeof OP_FATAL; reason: string; next: number }
  | { op: typeof OP_LOG; line: string; level: LogLevel; next: number }
  | { op: typeof OP_HEAD; id: number; status: number; statusText: string; headers: string[]; bodyLength: number | null; next: number }
  | { op: typeof OP_DATA; id: number; chunk: Uint8Array; next: number }
  | { op: typeof OP_END | typeof OP_WS_TERMINATE; id: number; next: number }
  | { op: typeof OP_RESPONSE; id: number; status: number; statusText: string; headers: string[]; body: Uint8Array | null; next: number }
  | { op: typeof OP_ERROR; id: number; status: number; body: string; logText: string; next: number }
  | { op: typeof OP_WS_UPGRADE; id: number; headers: string[]; options: WebSocketOptions; next: number }
  | { op: typeof OP_WS_SEND; id: number; opcode: number; compress: boolean; payload: Uint8Array; next: number }
  | { op: typeof OP_WS_CLOSE; id: number; code: number; reason: string; next: number }
  | { op: typeof OP_WS_SUBSCRIBE | typeof OP_WS_UNSUBSCRIBE; id: number; topic: string; next: number }
  | { op: typeof OP_WS_PUBLISH; topic: string; opcode: number; compress: boolean; excludeId: number; payload: Uint8Array; next: number }
  | { op: typeof OP_WS_RECEIVED; id: number; bytes: number; next: number }
  | TunnelFromWorker;

export function decodeFromWorker(f: unknown[], i: number, message: Message): FromWorker {
  const op = f[i] as number;
  switch (op) {
    case OP_RESPONSE: {
      const at = i + 5 + (f[i + 4] as number);
      return {
        op,
        id: f[i + 1] as number,
        status: f[i + 2] as number,
        statusText: f[i + 3] as string,
        headers: f.slice(i + 5, at) as string[],
        body: bytesAt(f, at, message),
        next: at + 3,
      };
    }
    case OP_HEAD: {
      const at = i + 5 + (f[i + 4] as number);
      const length = f[at] as number;
      return {
        op,
        id: f[i + 1] as number,
        status: f[i + 2] as number,
        statusText: f[i + 3] as string,
        headers: f.slice(i + 5, at) as string[],
        bodyLength: length < 0 ? null : length,
        next: at + 1,
      };
    }
    case OP_DATA:
      return { op, id: f[i + 1] as number, chunk: bytesAt(f, i + 2, message) ?? EMPTY_BYTES, next: i + 5 };
    case OP_END:
    case OP_WS_TERMINATE:
      return { op, id: f[i + 1] as number, next: i + 2 };
    case OP_ERROR:
      return { op, id: f[i + 1] as number, status: f[i + 2] as number, body: f[i + 3] as string, logText: f[i + 4] as string, next: i + 5 };
    case OP_LOG:
      return { op, line: f[i + 1] as string, level: f[i + 2] as LogLevel, next: i + 3 };
    case OP_READY:
      return { op, note: f[i + 1] as string, next: i + 2 };
    case OP_LOAD_FAILED:
    case OP_FATAL:
      return { op, reason: f[i + 1] as string, next: i + 2 };
    case OP_WS_UPGRADE: {
      const at = i + 3 + (f[i + 2] as number);
      const options: WebSocketOptions = {
        maxPayloadLength: f[at] as number,
        idleTimeout: f[at + 1] as number,
        backpressureLimit: f[at + 2] as number,
        closeOnBackpressureLimit: f[at + 3] === 1,
        perMessageDeflate: f[at + 4] === 1,
        sendPings: f[at + 5] === 1,
        publishToSelf: f[at + 6] === 1,
      };
      return { op, id: f[i + 1] as number, headers: f.slice(i + 3, at) as string[], options, next: at + 7 };
    }
    case OP_WS_SEND:
      return { op, id: f[i + 1] as number, opcode: f[i + 2] as number, compress: f[i + 3] === 1, payload: bytesAt(f, i + 4, message) ?? EMPTY_BYTES, next: i + 7 };
    case OP_WS_CLOSE:
      return { op, id: f[i + 1] as number, code: f[i + 2] as number, reason: f[i + 3] as string, next: i + 4 };
    case OP_WS_SUBSCRIBE:
    case OP_WS_UNSUBSCRIBE:
      return { op, id: f[i + 1] as number, topic: f[i + 2] as string, next: i + 3 };
    case OP_WS_PUBLISH:
      return {
        op,
        topic: f[i + 1] as string,
        opcode: f[i + 2] as number,
        compress: f[i + 3] === 1,
        excludeId: f[i + 4] as number,
        payload: bytesAt(f, i + 5, message) ?? EMPTY_BYTES,
        next: i + 8,
      };
    case OP_WS_RECEIVED:
      return { op, id: f[i + 1] as number, bytes: f[i + 2] as number, next: i + 3 };
    default:
      return decodeTunnelFromWorker(f, i, message) ?? unknownOp(op, "a Worker");
  }
}

function unknownOp(op: number, from: string): never {
  throw new Error(`bug: unknown op ${op} from ${from}`);
}
