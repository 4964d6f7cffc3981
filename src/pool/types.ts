// What the server and the Worker pool (pool.ts) exchange: the options a pool is built with, the
// request the server hands to dispatch(), and the ResponseSink through which the pool answers.
// Strategy: plain data and one callback interface, no behaviour; kept apart from pool.ts so the
// pool's own parts (slot.ts) can name them without importing the pool.
import type { AppInterface } from "../app/interfaces.ts";
import type { AppSpec, RemoteAddr } from "../app/types.ts";

export interface PoolOptions {
  threads: number;
  app: AppSpec;
  exposeTracebacks: boolean;
  /** --outbuf-high-watermark: unacknowledged response bytes of one request above which the
   *  Worker stops reading the app's body stream until ack() brings it back below. */
  highWatermark: number;
  log: (line: string) => void;
  /** --interface: how the Workers call the app (default "auto", which also detects fetch apps). */
  appInterface?: AppInterface;
}

export interface PoolRequest {
  method: string;
  url: string; // absolute, built by the server (scheme, host, path with url_prefix stripped)
  headers: string[]; // flat [name, value, name, value...], latin-1, original case and order
  /** The whole body in memory (ownership passes to the pool: it may be transferred), or null. */
  body: Uint8Array | null;
  /** Or: a descriptor of a temp file holding the whole body (past --inbuf-overflow), bodyLength
   *  bytes from its start. The descriptor becomes the Worker's (it closes it when the request ends;
   *  Workers share the process's fd table): a second one, from SpillFile.handOff(), never the
   *  server's own. */
  bodyFd: number | null;
  bodyLength: number;
  /** Gives the body's file back to the server once the request is over; reusable: the Worker said it is
   *  done with the request (it closes the file first), so the file may take another body. */
  releaseBody: ((reusable: boolean) => void) | null;
  remote: RemoteAddr;
  family: "IPv4" | "IPv6" | "";
  scriptName: string;
  /** The request's HTTP version is 1.versionMinor (RFC 9112 §2.3: 0 or 1). */
  versionMinor: number;
  requestLine: string; // "GET /x HTTP/1.1", for log lines
}

export interface ResponseSink {
  /** The app's status and headers (flat, set-cookie kept separate); bodyLength when known, else null. */
  head(status: number, statusText: string, headers: string[], bodyLength: number | null): void;
  /** A chunk of body; the sink owns it. */
  data(chunk: Uint8Array): void;
  end(): void;
  /** The request failed (app threw, Worker died). Before head(): the server answers status+body;
   *  after head(): the server closes the connection. */
  error(status: number, body: string): void;
}
