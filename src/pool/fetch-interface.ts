// Runs one request through a fetch-style handler (DESIGN.md §1): builds the standard Request and
// the ServeInfo second argument, calls the handler, and streams the Response it returns into the
// Exchange — reading the body stream only while the main thread keeps up (flow control).
// Node-style (req, res) apps would get a sibling of this file driving the same Exchange.
import type { FetchHandler, RemoteAddr, RequestIP, ServeInfo } from "../app/types.ts";
import { blobBodyLength, hasMemoryBody } from "./fetch-globals.ts";
import { declaredLength, type Exchange } from "./exchange.ts";
import { BODY_METHOD_UNSUPPORTED, DATA_PIECE_MAX, STATUS_METHOD_UNSUPPORTED } from "./limits.ts";

/** The `info` argument: Deno's remoteAddr, Bun's requestIP(), and scriptName (url_prefix). */
class FetchInfo implements ServeInfo {
  readonly scriptName: string;
  private readonly exchange: Exchange;
  private addr: RemoteAddr | null = null;

  constructor(exchange: Exchange) {
    this.exchange = exchange;
    this.scriptName = exchange.request.scriptName;
  }

  // Built on first use: most apps never ask.
  get remoteAddr(): RemoteAddr {
    const r = this.exchange.request;
    return (this.addr ??= { hostname: r.remoteHostname, port: r.remotePort, transport: r.transport });
  }

  /** Bun's server.requestIP(): null over a unix socket, as Bun answers. The client of this call
   *  is whatever request the handler holds (it may be a clone), so the argument is not checked. */
  requestIP(request: Request): RequestIP | null {
    void request;
    if (!(this instanceof FetchInfo)) return null; // detached from info: nothing to answer for
    const r = this.exchange.request;
    if (r.transport === "unix" || r.remoteHostname === "") return null;
    return { address: r.remoteHostname, family: r.family, port: r.remotePort };
  }
}

export function runFetch(handler: FetchHandler, exchange: Exchange): void {
  let request: Request;
  try {
    request = buildRequest(exchange);
  } catch (error) {
    exchange.fail(error);
    return;
  }
  // Bun's Request turns a method it does not know into GET; the app must never see a FOO as a GET.
  if (request.method !== exchange.request.method && request.method !== exchange.request.method.toUpperCase()) {
    exchange.refuse(STATUS_METHOD_UNSUPPORTED, BODY_METHOD_UNSUPPORTED);
    return;
  }
  let result: unknown;
  try {
    result = handler(request, new FetchInfo(exchange));
  } catch (error) {
    exchange.fail(error);
    return;
  }
  if (result instanceof Response) respond(exchange, result);
  else if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
    settle(exchange, result as PromiseLike<unknown>);
  } else notAResponse(exchange, result);
}

function buildRequest(exchange: Exchange): Request {
  const r = exchange.request;
  const signal = exchange.abort.signal;
  // Only the init fields a request needs: Bun reads every field of a RequestInit, and a GET with
  // just a signal is built in about half the time of one with method, headers and body: null.
  let request: Request;
  if (r.bodyFd !== null) {
    request = new Request(r.url, { method: r.method, body: exchange.bodyFileStream(), signal, duplex: "half" } as RequestInit);
  } else if (r.body !== null && r.body.byteLength > 0) {
    request = new Request(r.url, { method: r.method, body: r.body, signal });
  } else if (r.method === "GET") {
    request = new Request(r.url, { signal });
  } else {
    request = new Request(r.url, { method: r.method, signal });
  }
  // The fields go straight into the request's own Headers (the same list a Headers object in the
  // init would give, without building that object first).
  const headers = request.headers;
  const raw = r.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  return request;
}

/** A handler's promise: settled with then() rather than an async function (one promise fewer).
 *  Promise.resolve() returns a real promise as it is, and adopts any other thenable safely. */
function settle(exchange: Exchange, pending: PromiseLike<unknown>): void {
  Promise.resolve(pending).then(
    (value) => {
      if (value instanceof Response) respond(exchange, value);
      else notAResponse(exchange, value);
    },
    (error: unknown) => exchange.fail(error),
  );
}

function notAResponse(exchange: Exchange, value: unknown): void {
  const what = value === null ? "null" : typeof value === "object" ? `an object (${Object.prototype.toString.call(value)})` : typeof value;
  exchange.fail(null, `TypeError: the handler returned ${what}, not a Response`);
}

function respond(exchange: Exchange, response: Response): void {
  if (exchange.finished) {
    // Cancelled while the handler ran: nobody wants this body.
    response.body?.cancel().catch(() => {});
    return;
  }
  if (response.type === "error") {
    exchange.fail(null, "TypeError: the handler returned Response.error(), which has no status to send");
    return;
  }
  try {
    const headers: string[] = [];
    let contentLength: string | null = null;
    // Headers iteration yields each Set-Cookie separately (Fetch: "sort and combine"); names are lower case.
    for (const [name, value] of response.headers) {
      headers.push(name, value);
      if (name === "content-length") contentLength = value;
    }
    // The app's Content-Length wins; else a file's or Blob's size (the body must then match it).
    const declared = contentLength !== null ? declaredLength(contentLength) : blobBodyLength(response);
    if (hasMemoryBody(response) && !response.bodyUsed) {
      // Bytes already in memory: take them whole, with no stream machinery — and without even
      // touching response.body, which would build one (Bun.peek: has bytes() settled already?).
      exchange.setHead(response.status, response.statusText, headers, declared);
      const bytes = response.bytes();
      if (Bun.peek.status(bytes) === "fulfilled") sendBytes(exchange, Bun.peek(bytes) as Uint8Array);
      else void settleBytes(exchange, bytes);
      return;
    }
    const body = response.body;
    if (body === null) {
      // No body: a 304's Content-Length is not held against it; a HEAD's is its bodyLength.
      exchange.setHead(response.status, response.statusText, headers, exchange.isHead ? declared : -1);
      exchange.end();
      return;
    }
    exchange.setHead(response.status, response.statusText, headers, declared);
    const reader = body.getReader(); // throws for a body the app already read
    exchange.source = reader;
    void pump(exchange, reader);
  } catch (error) {
    exchange.fail(error);
  }
}

async function settleBytes(exchange: Exchange, pending: Promise<Uint8Array>): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await pending;
  } catch (error) {
    exchange.fail(error);
    return;
  }
  sendBytes(exchange, bytes);
}

/** `bytes` comes from response.bytes(), which hands out a fresh copy of the body on every call
 *  (even for a Response built from the app's own Uint8Array, or a clone of a cached one), so it
 *  is ours to transfer: a large body crosses to the main thread without another copy, whole.
 *  The memory is spent already; flow control in pieces would only keep it here until a slow
 *  client read it (issue 13 item 7: 100 stalled readers of a 50 MiB body held 5 GiB in the
 *  Worker). The server keeps --outbuf-overflow of it in memory and the rest in a temp file. */
function sendBytes(exchange: Exchange, bytes: Uint8Array): void {
  if (exchange.finished) return;
  exchange.sendWhole(bytes, true);
}

/** What pump() needs of a ReadableStream reader; chunks are checked, not trusted. */
interface ChunkReader {
  read(): Promise<{ done: boolean; value?: unknown }>;
}

async function pump(exchange: Exchange, reader: ChunkReader): Promise<void> {
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (exchange.finished) return;
      if (done) {
        exchange.end();
        return;
      }
      const owned = typeof value === "string";
      const chunk = toBytes(value);
      if (chunk.byteLength <= DATA_PIECE_MAX) exchange.sendData(chunk, owned);
      else await exchange.sendInPieces(chunk);
      if (exchange.congested) await exchange.drained();
      if (exchange.finished) return;
    }
  } catch (error) {
    exchange.fail(error); // no-op once cancelled
  }
}

const encoder = new TextEncoder();

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`the response body stream produced ${describeChunk(value)}, not bytes`);
}

function describeChunk(value: unknown): string {
  return value === null ? "null" : typeof value === "object" ? Object.prototype.toString.call(value) : typeof value;
}
