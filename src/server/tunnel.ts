// One Node-style upgraded connection on the main thread: a byte tunnel between the client's
// socket and the TunnelSocket a Node-style app's http.Server 'upgrade' listener holds in its
// Worker (src/pool/node-tunnel.ts). The listener (`ws`, engine.io) speaks the new protocol itself,
// its 101 head included, so nothing here parses: tray's part is the bounds.
//
// Strategy: the Worker says the request became a tunnel (the pool's TunnelPeer); the HTTP
// connection hands over its socket and the bytes its parser kept after the request (the same
// hand-off as a WebSocket session's, src/server/connection.ts), and from then this relays. Bounds:
// - app -> client: bytes go into the socket and are acknowledged to the Worker once the socket
//   holds less than SOCKET_WINDOW (at once, or at 'drain'); the Worker holds the app's writes
//   past TUNNEL_WRITE_WINDOW unacknowledged bytes, so a client that stops reading costs at most
//   that window here, and the app sees write() false and 'drain' as over a slow TCP socket;
// - client -> app: the socket is paused while the app has not taken TUNNEL_READ_AHEAD bytes.
// The connection counts in --connection-limit until the socket closes (done()); SIGTERM ends it
// (the app sees 'end'; the socket is cut at the shutdown deadline if the app does not close it),
// a Worker that dies destroys it, and the client's close reaches the app as 'end' and 'close'.
import type { Socket } from "node:net";
import type { WorkerPool } from "../pool/pool.ts";
import type { TunnelPeer } from "../pool/types.ts";

/** Client bytes the app may have not yet taken before the socket is paused. */
export const TUNNEL_READ_AHEAD = 1024 * 1024;
/** The app's bytes are acknowledged once the socket holds less than this. */
export const SOCKET_WINDOW = 64 * 1024;

/** What a tunnel needs from the server. */
export interface TunnelContext {
  pool: WorkerPool;
  /** The connection this was: told of traffic (--channel-timeout). */
  connection: { touch(): void };
  /** The socket closed: the connection is over (--connection-limit). */
  done: () => void;
}

export class Tunnel implements TunnelPeer {
  /** The app's bytes in the socket not yet acknowledged to the Worker. */
  private unacked = 0;
  /** Client bytes sent to the Worker and not yet taken by the app. */
  private unread = 0;
  private paused = false;
  private closed = false;

  /** `rest`: client bytes that followed the request. */
  constructor(
    readonly id: number,
    private readonly socket: Socket,
    rest: Uint8Array,
    private readonly ctx: TunnelContext,
  ) {
    socket.on("data", (chunk: Buffer) => this.fromClient(chunk));
    socket.on("drain", () => this.acknowledge());
    socket.on("end", () => this.ctx.pool.tunnelEnd(this.id));
    socket.on("error", () => {}); // 'close' follows; the app hears of it there
    socket.on("close", () => this.onClose());
    if (socket.destroyed) {
      queueMicrotask(() => this.onClose()); // gone during the hand-off: 'close' already passed
      return;
    }
    if (rest.byteLength > 0) this.fromClient(rest);
    socket.resume(); // the connection paused it while the upgrade request waited for its answer
  }

  /** SIGTERM: the app's socket sees 'end', as if the client had ended its side. */
  shutdown(): void {
    if (this.closed) return;
    this.ctx.pool.tunnelEnd(this.id);
  }

  /** Cut the connection (the shutdown deadline, --channel-timeout). */
  cut(): void {
    this.socket.destroy();
  }

  private fromClient(chunk: Uint8Array): void {
    this.ctx.connection.touch();
    this.unread += chunk.byteLength;
    this.ctx.pool.tunnelData(this.id, chunk);
    if (this.unread > TUNNEL_READ_AHEAD && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  // --- TunnelPeer: from the Worker -------------------------------------------------------------

  write(chunk: Uint8Array): void {
    if (this.closed) return;
    const socket = this.socket;
    this.ctx.connection.touch();
    this.unacked += chunk.byteLength;
    socket.write(chunk);
    if (socket.writableLength < SOCKET_WINDOW) this.acknowledge();
  }

  finish(): void {
    this.socket.end();
  }

  /** The app destroyed its socket. After its own end() (ws's abortHandshake ends, then destroys
   *  on 'finish', which the Worker's socket emits at once) the bytes already written still go. */
  destroy(): void {
    const socket = this.socket;
    if (socket.writableEnded && !socket.writableFinished) socket.once("finish", () => socket.destroy());
    else socket.destroy();
  }

  received(bytes: number): void {
    this.unread -= bytes;
    if (this.paused && this.unread <= TUNNEL_READ_AHEAD / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }

  lost(): void {
    this.cut();
  }

  private acknowledge(): void {
    if (this.unacked === 0 || this.closed) return;
    const bytes = this.unacked;
    this.unacked = 0;
    this.ctx.pool.tunnelAck(this.id, bytes);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.pool.tunnelClosed(this.id);
    this.ctx.done();
  }
}
