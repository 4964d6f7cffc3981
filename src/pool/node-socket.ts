// The socket a Node-style app's req and res believe they are talking over: a Duplex standing in
// for the client's TCP connection, one per request (node-interface.ts). Real node:http
// IncomingMessage/ServerResponse need one — Express re-parents req/res onto its own prototypes,
// which descend from node:http's, so look-alike objects break inside it.
//
// Writes: ServerResponse writes HTTP/1.1 bytes; NodeResponseReader turns them back into head and
// body for the AppCall. Flow control is the Writable's own: a write's callback is held while the
// AppCall has more than --outbuf-high-watermark unacknowledged, so the Writable's buffer fills,
// res.write() returns false, and 'drain' follows when the main thread catches up — as over a
// slow TCP socket in Node. Reads: nothing (tray hands the request body to req directly).
// Addresses: the client's, as the server (and a trusted proxy) reported them.
import { Duplex } from "node:stream";
import type { AppCall } from "./app-call.ts";
import { DATA_PIECE_MAX } from "./limits.ts";
import { NodeResponseReader } from "./node-response.ts";

/** The net.Socket methods apps, middleware, `ws` and engine.io call on a socket that tray's main
 *  thread owns: there is no real socket here to tune (its options, and --channel-timeout, are the
 *  main thread's), so each does nothing. */
export class SocketLike extends Duplex {
  setTimeout(_ms: number, callback?: () => void): this {
    void callback;
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  address(): Record<string, never> {
    return {};
  }
}

export class ExchangeSocket extends SocketLike {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  /** Set (true) only for https, as on a TLSSocket: Express's req.protocol and req.secure read it. */
  readonly encrypted: true | undefined;
  private readonly appCall: AppCall;
  private readonly reader: NodeResponseReader;
  /** Body bytes the reader produced during the current write. */
  private pieces: Uint8Array[] = [];

  constructor(appCall: AppCall) {
    super({ allowHalfOpen: true });
    this.appCall = appCall;
    const r = appCall.request;
    const tcp = r.transport === "tcp" && r.remoteHostname !== "";
    this.remoteAddress = tcp ? r.remoteHostname : undefined;
    this.remotePort = tcp ? r.remotePort : undefined;
    this.remoteFamily = tcp && r.family !== "" ? r.family : undefined;
    this.encrypted = r.url.startsWith("https:") ? true : undefined;
    this.reader = new NodeResponseReader(
      (status, reason, headers, contentLength) => appCall.setHead(status, reason, headers, contentLength),
      (bytes) => this.pieces.push(bytes),
    );
  }

  /** The response head has been written (the app may still be writing the body). */
  get headWritten(): boolean {
    return this.reader.sawHead;
  }

  override _read(): void {
    // The request body reaches req without passing through here.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const appCall = this.appCall;
    // Client gone or response failed: later writes are dropped quietly, as on a closed socket.
    if (appCall.finished) return callback();
    const hadHead = this.reader.sawHead;
    try {
      this.reader.feed(chunk);
    } catch (error) {
      appCall.fail(error);
      return callback();
    }
    const pieces = this.pieces;
    if (pieces.length === 0) {
      // A head alone (res.flushHeaders()): if no body or end follows within this turn, the
      // client gets the head now — an event stream's client is waiting for it.
      if (!hadHead && this.reader.sawHead) setImmediate(() => appCall.sendHead());
      return callback();
    }
    this.pieces = [];
    if (pieces.length === 1 && pieces[0].byteLength <= DATA_PIECE_MAX) {
      appCall.sendData(pieces[0], false);
      if (!appCall.congested) return callback();
      void appCall.drained().then(() => callback());
      return;
    }
    void this.sendPieces(pieces).then(() => callback());
  }

  /** A large write leaves in DATA_PIECE_MAX pieces, waiting for acknowledgements between them,
   *  so one huge res.write() cannot push far past the high watermark. */
  private async sendPieces(pieces: Uint8Array[]): Promise<void> {
    for (const piece of pieces) await this.appCall.sendInPieces(piece);
  }

  override _final(callback: (error?: Error | null) => void): void {
    callback();
  }

}
