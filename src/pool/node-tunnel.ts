// The socket a Node-style app's http.Server 'upgrade' listener gets (node-interface.ts): a Duplex
// standing in for the client's TCP connection once the request became a byte tunnel, and this
// Worker's registry of them (NodeTunnels), which worker.ts hands every tunnel op to.
//
// Strategy: the listener (the `ws` package, engine.io) owns the bytes both ways, its own 101 head
// included, as over a net.Socket in Node; tray's main thread only relays them (src/server/
// tunnel.ts), so nothing here parses. Flow control is the streams' own, bounded across threads:
// - writes: each write leaves as OP_TUNNEL_WRITE at once, but its callback is held while more
//   than TUNNEL_WRITE_WINDOW bytes are unacknowledged (OP_TUNNEL_ACK), so the Writable's buffer
//   fills, write() returns false and 'drain' follows as the main thread catches up;
// - reads: client bytes are pushed into the Readable as they come; how many the app took off it
//   goes back once per turn (OP_TUNNEL_RECEIVED), and the main thread stops reading the client
//   while the app is behind. A paused socket (ws pauses it under its own backpressure) therefore
//   pauses the client.
// The client's FIN is 'end'; the connection's close (client gone, timeout, SIGTERM, the main
// thread cut it) is 'end' (when the app was reading) then 'close'. A Worker that dies takes its
// sockets with it; the main thread destroys their connections.
import { SocketLike } from "./node-socket.ts";
import type { AppCallHost, RequestFields } from "./app-call.ts";
import { DATA_PIECE_MAX, TUNNEL_WRITE_WINDOW } from "./limits.ts";
import {
  OP_TUNNEL_ACK,
  OP_TUNNEL_CLOSED,
  OP_TUNNEL_DATA,
  OP_TUNNEL_END,
  encodeTunnelDestroy,
  encodeTunnelFinish,
  encodeTunnelReceived,
  encodeTunnelWrite,
  type TunnelToWorker,
} from "./protocol-tunnel.ts";

export class TunnelSocket extends SocketLike {
  readonly id: number;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  /** Set (true) only for https, as on a TLSSocket. */
  readonly encrypted: true | undefined;
  bytesRead = 0;
  bytesWritten = 0;
  readonly connecting = false;
  private readonly tunnels: NodeTunnels;
  private unacked = 0;
  /** The write callback waiting for acknowledgements. */
  private held: (() => void) | null = null;
  /** Client bytes pushed so far, and how many of them were reported as taken. */
  private pushed = 0;
  private reported = 0;
  /** The main thread said the connection is gone: nothing to tell it back. */
  private gone = false;

  constructor(id: number, request: RequestFields, tunnels: NodeTunnels) {
    super({ allowHalfOpen: true });
    this.id = id;
    this.tunnels = tunnels;
    const tcp = request.transport === "tcp" && request.remoteHostname !== "";
    this.remoteAddress = tcp ? request.remoteHostname : undefined;
    this.remotePort = tcp ? request.remotePort : undefined;
    this.remoteFamily = tcp && request.family !== "" ? request.family : undefined;
    this.encrypted = request.url.startsWith("https:") ? true : undefined;
  }

  /** net.Socket's: "open", "readOnly", "writeOnly" or "closed". */
  get readyState(): string {
    if (this.destroyed) return "closed";
    const readable = !this.readableEnded;
    const writable = !this.writableEnded;
    return readable && writable ? "open" : readable ? "readOnly" : writable ? "writeOnly" : "closed";
  }

  // --- from the main thread ------------------------------------------------------------------

  /** Bytes from the client. */
  data(chunk: Uint8Array): void {
    if (this.destroyed || this.readableEnded) return;
    this.bytesRead += chunk.byteLength;
    this.pushed += chunk.byteLength;
    this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.noteTaken();
  }

  /** The client's FIN. */
  clientEnded(): void {
    if (!this.destroyed) this.push(null);
  }

  /** The connection is gone: 'end' (if the app reads on) and 'close'. (Not `closed`: Duplex
   *  already has a property of that name.) */
  connectionGone(): void {
    this.gone = true;
    this.wake();
    if (this.destroyed) return;
    this.push(null);
    // After 'end' has had its turn: destroy() before it would swallow it.
    setImmediate(() => this.destroy());
  }

  ack(bytes: number): void {
    this.unacked -= bytes;
    if (this.unacked <= TUNNEL_WRITE_WINDOW) this.wake();
  }

  // --- the Duplex ----------------------------------------------------------------------------

  override _read(): void {
    this.noteTaken();
  }

  /** Reports the client bytes the app has taken off the Readable since the last report. */
  private noteTaken(): void {
    const taken = this.pushed - this.readableLength - this.reported;
    if (taken <= 0) return;
    this.reported += taken;
    this.tunnels.received(this.id, taken);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.gone) return callback(); // as on a socket the peer reset: dropped
    this.bytesWritten += chunk.byteLength;
    if (chunk.byteLength <= DATA_PIECE_MAX) {
      this.send(chunk);
      this.afterSend(callback);
      return;
    }
    void this.sendInPieces(chunk).then(() => callback());
  }

  /** A huge write leaves in DATA_PIECE_MAX pieces, waiting for acknowledgements between them. */
  private async sendInPieces(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.byteLength && !this.gone; at += DATA_PIECE_MAX) {
      this.send(chunk.subarray(at, at + DATA_PIECE_MAX));
      if (this.unacked > TUNNEL_WRITE_WINDOW) await new Promise<void>((resolve) => (this.held = resolve));
    }
  }

  private send(chunk: Uint8Array): void {
    this.unacked += chunk.byteLength;
    encodeTunnelWrite(this.tunnels.host.outbox, this.id, chunk, false);
    this.tunnels.host.scheduleFlush();
  }

  private afterSend(callback: () => void): void {
    if (this.unacked <= TUNNEL_WRITE_WINDOW) callback();
    else this.held = callback;
  }

  private wake(): void {
    const held = this.held;
    this.held = null;
    held?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.gone) {
      encodeTunnelFinish(this.tunnels.host.outbox, this.id);
      this.tunnels.host.scheduleFlush();
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.wake();
    this.tunnels.forget(this.id);
    if (!this.gone) {
      this.gone = true;
      encodeTunnelDestroy(this.tunnels.host.outbox, this.id);
      this.tunnels.host.scheduleFlush();
    }
    callback(error);
  }

}

/** This Worker's tunnels by id; worker.ts hands them the main thread's tunnel ops. */
export class NodeTunnels {
  private readonly sockets = new Map<number, TunnelSocket>();

  constructor(readonly host: AppCallHost) {}

  open(id: number, request: RequestFields): TunnelSocket {
    const socket = new TunnelSocket(id, request, this);
    this.sockets.set(id, socket);
    return socket;
  }

  forget(id: number): void {
    this.sockets.delete(id);
  }

  received(id: number, bytes: number): void {
    encodeTunnelReceived(this.host.outbox, id, bytes);
    this.host.scheduleFlush();
  }

  receive(op: TunnelToWorker): void {
    const socket = this.sockets.get(op.id);
    if (socket === undefined) return;
    switch (op.op) {
      case OP_TUNNEL_DATA:
        socket.data(op.chunk);
        break;
      case OP_TUNNEL_END:
        socket.clientEnded();
        break;
      case OP_TUNNEL_CLOSED:
        this.sockets.delete(op.id);
        socket.connectionGone();
        break;
      case OP_TUNNEL_ACK:
        socket.ack(op.bytes);
        break;
    }
  }
}
