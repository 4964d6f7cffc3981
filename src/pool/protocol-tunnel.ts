// The ops of Node-style upgrades: byte tunnels (see protocol.ts for the batch format they ride in).
//
// A Node-style app's http.Server 'upgrade' listener (the `ws` package, engine.io) takes the raw
// socket and speaks the new protocol itself, 101 head included: the main thread only relays
// bytes (src/server/tunnel.ts <-> src/pool/node-tunnel.ts). A tunnel keeps the id of the request
// that became one. Flow control both ways: the Worker holds the app's writes once
// TUNNEL_WRITE_WINDOW bytes are not yet acknowledged (OP_TUNNEL_ACK), and the main thread stops
// reading the client once TUNNEL_READ_AHEAD bytes are not yet taken by the app (OP_TUNNEL_RECEIVED).
import { EMPTY_BYTES, bytesAt, type Message, type Outbox } from "./outbox.ts";

// main thread -> Worker
/** [OP_TUNNEL_DATA, id, BYTES] — bytes from the client. */
export const OP_TUNNEL_DATA = 50;
/** [OP_TUNNEL_END, id] — the client ended its side (FIN): the socket's 'end'. */
export const OP_TUNNEL_END = 51;
/** [OP_TUNNEL_CLOSED, id] — the connection is gone (client, timeout, shutdown): the socket's 'close'. */
export const OP_TUNNEL_CLOSED = 52;
/** [OP_TUNNEL_ACK, id, bytes] — `bytes` of the app's writes were handed to the client's socket. */
export const OP_TUNNEL_ACK = 53;

// Worker -> main thread
/** [OP_TUNNEL_OPEN, id] — the 'upgrade' event took request id: no HTTP response follows, the
 *  connection is a byte tunnel from here (its first bytes are the app's own 101, usually). */
export const OP_TUNNEL_OPEN = 60;
/** [OP_TUNNEL_WRITE, id, BYTES] — the app wrote to the socket. */
export const OP_TUNNEL_WRITE = 61;
/** [OP_TUNNEL_FINISH, id] — the app ended its side (socket.end()): FIN after the written bytes. */
export const OP_TUNNEL_FINISH = 62;
/** [OP_TUNNEL_DESTROY, id] — the app destroyed the socket: the connection is cut. */
export const OP_TUNNEL_DESTROY = 63;
/** [OP_TUNNEL_RECEIVED, id, bytes] — the app took `bytes` of the client's bytes off the socket. */
export const OP_TUNNEL_RECEIVED = 64;

/** `chunk` is the caller's to give away (a Buffer the socket handed over). */
export function encodeTunnelData(out: Outbox, id: number, chunk: Uint8Array): void {
  out.fields.push(OP_TUNNEL_DATA, id);
  out.pushBytes(chunk, false);
}

export function encodeTunnelEnd(out: Outbox, id: number): void {
  out.fields.push(OP_TUNNEL_END, id);
}

export function encodeTunnelClosed(out: Outbox, id: number): void {
  out.fields.push(OP_TUNNEL_CLOSED, id);
}

export function encodeTunnelAck(out: Outbox, id: number, bytes: number): void {
  out.fields.push(OP_TUNNEL_ACK, id, bytes);
}

export function encodeTunnelOpen(out: Outbox, id: number): void {
  out.fields.push(OP_TUNNEL_OPEN, id);
}

/** `owned`: nobody else holds the chunk (it may be transferred, not copied). */
export function encodeTunnelWrite(out: Outbox, id: number, chunk: Uint8Array, owned: boolean): void {
  out.fields.push(OP_TUNNEL_WRITE, id);
  out.pushBytes(chunk, owned);
}

export function encodeTunnelFinish(out: Outbox, id: number): void {
  out.fields.push(OP_TUNNEL_FINISH, id);
}

export function encodeTunnelDestroy(out: Outbox, id: number): void {
  out.fields.push(OP_TUNNEL_DESTROY, id);
}

export function encodeTunnelReceived(out: Outbox, id: number, bytes: number): void {
  out.fields.push(OP_TUNNEL_RECEIVED, id, bytes);
}

export type TunnelToWorker =
  | { op: typeof OP_TUNNEL_DATA; id: number; chunk: Uint8Array; next: number }
  | { op: typeof OP_TUNNEL_END | typeof OP_TUNNEL_CLOSED; id: number; next: number }
  | { op: typeof OP_TUNNEL_ACK; id: number; bytes: number; next: number };

export type TunnelFromWorker =
  | { op: typeof OP_TUNNEL_OPEN | typeof OP_TUNNEL_FINISH | typeof OP_TUNNEL_DESTROY; id: number; next: number }
  | { op: typeof OP_TUNNEL_WRITE; id: number; chunk: Uint8Array; next: number }
  | { op: typeof OP_TUNNEL_RECEIVED; id: number; bytes: number; next: number };

/** A tunnel op at f[i], or null when the op is not one. */
export function decodeTunnelToWorker(f: unknown[], i: number, message: Message): TunnelToWorker | null {
  const op = f[i] as number;
  switch (op) {
    case OP_TUNNEL_DATA:
      return { op, id: f[i + 1] as number, chunk: bytesAt(f, i + 2, message) ?? EMPTY_BYTES, next: i + 5 };
    case OP_TUNNEL_END:
    case OP_TUNNEL_CLOSED:
      return { op, id: f[i + 1] as number, next: i + 2 };
    case OP_TUNNEL_ACK:
      return { op, id: f[i + 1] as number, bytes: f[i + 2] as number, next: i + 3 };
    default:
      return null;
  }
}

/** A tunnel op at f[i], or null when the op is not one. */
export function decodeTunnelFromWorker(f: unknown[], i: number, message: Message): TunnelFromWorker | null {
  const op = f[i] as number;
  switch (op) {
    case OP_TUNNEL_OPEN:
    case OP_TUNNEL_FINISH:
    case OP_TUNNEL_DESTROY:
      return { op, id: f[i + 1] as number, next: i + 2 };
    case OP_TUNNEL_WRITE:
      return { op, id: f[i + 1] as number, chunk: bytesAt(f, i + 2, message) ?? EMPTY_BYTES, next: i + 5 };
    case OP_TUNNEL_RECEIVED:
      return { op, id: f[i + 1] as number, bytes: f[i + 2] as number, next: i + 3 };
    default:
      return null;
  }
}
