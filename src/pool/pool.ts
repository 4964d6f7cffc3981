// CONTRACT STUB — the pool work replaces the body of this file, keeping these exported names.
// The Worker pool: --threads Workers each load the app once and run many requests concurrently.
// The main thread calls dispatch(); the pool answers through the request's ResponseSink.
import type { AppSpec, RemoteAddr } from "../app/types.ts";

export interface PoolOptions {
  threads: number;
  app: AppSpec;
  exposeTracebacks: boolean;
  /** --outbuf-high-watermark: unacknowledged response bytes of one request above which the
   *  Worker stops reading the app's body stream until ack() brings it back below. */
  highWatermark: number;
  log: (line: string) => void;
}

export interface PoolRequest {
  method: string;
  url: string; // absolute, built by the server (scheme, host, path with url_prefix stripped)
  headers: string[]; // flat [name, value, name, value...], latin-1, original case and order
  /** The whole body in memory (ownership passes to the pool: it may be transferred), or null. */
  body: Uint8Array | null;
  /** Or: a temp file holding the whole body (past --inbuf-overflow); the server deletes it after the response ends. */
  bodyFile: string | null;
  bodyLength: number;
  remote: RemoteAddr;
  family: "IPv4" | "IPv6" | "";
  scriptName: string;
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

export declare class WorkerPool {
  constructor(options: PoolOptions);
  /** Starts the Workers and resolves once every one has loaded the app; rejects with an
   *  AppLoadError (one sentence naming the module) when loading fails. */
  start(): Promise<void>;
  dispatch(request: PoolRequest, sink: ResponseSink): number;
  /** The server flushed `bytes` of request `id`'s response body to its socket (flow control). */
  ack(id: number, bytes: number): void;
  /** The client went away: cancel the app's body stream and abort request.signal. */
  cancel(id: number): void;
  /** Requests in flight across all Workers. */
  readonly inFlight: number;
  /** Waits for in-flight requests (at most graceMs), then terminates the Workers. */
  close(graceMs: number): Promise<void>;
}
