// Runs one request through a fetch-style handler (DESIGN.md §1): builds the standard Request and
// the ServeInfo second argument, calls the handler, and streams the Response it returns into the
// AppCall — reading the body stream only while the main thread keeps up (flow control).
// Node-style (req, res) apps would get a sibling of this file driving the same AppCall.
// WebSockets (Bun's shape): info also offers upgrade(request, { headers, data }), publish() and
// subscriberCount(); a request the main thread found to be a valid handshake is registered with
// the Worker's WebSockets, and once its handler settles an upgrade it asked for is sent instead
// of whatever the handler returned (websockets.ts).
import type { FetchHandler, RemoteAddr, RequestIP, ServeInfo } from "../app/types.ts";
import { blobBodyLength, hasMemoryBody } from "./fetch-globals.ts";
import { declaredLength, type AppCall } from "./app-call.ts";
import { BODY_METHOD_UNSUPPORTED, DATA_PIECE_MAX, STATUS_METHOD_UNSUPPORTED } from "./limits.ts";
import type { SendData } from "./server-websocket.ts";
import type { UpgradeOptions, WebSockets } from "./websockets.ts";

/** The `info` argument: Deno's remoteAddr, Bun's requestIP(), and scriptName (url_prefix); Bun's
 *  upgrade(), publish() and subscriberCount() for WebSockets. */
class FetchInfo implements ServeInfo {
  readonly scriptName: string;
  private readonly appCall: AppCall;
  private readonly webSockets: WebSockets;
  private addr: RemoteAddr | null = null;

  constructor(appCall: AppCall, webSockets: WebSockets) {
    this.appCall = appCall;
    this.webSockets = webSockets;
    this.scriptName = appCall.request.scriptName;
  }

  /** Bun's server.upgrade(): false unless this request is a valid WebSocket handshake. */
  upgrade(request: Request, options?: UpgradeOptions): boolean {
    return this.webSockets.upgrade(request, options, this.appCall);
  }

  publish(topic: string, data: SendData, compress?: boolean): number {
    return this.webSockets.publish(topic, data, compress);
  }

  subscriberCount(topic: string): number {
    return this.webSockets.subscriberCount(topic);
  }

  // Built on first use: most apps never ask.
  get remoteAddr(): RemoteAddr {
    const r = this.appCall.request;
    return (this.addr ??= { hostname: r.remoteHostname, port: r.remotePort, transport: r.transport });
  }

  /** Bun's server.requestIP(): null over a unix socket, as Bun answers. The client of this call
   *  is whatever request the handler holds (it may be a clone), so the argument is not checked. */
  requestIP(request: Request): RequestIP | null {
    void request;
    if (!(this instanceof FetchInfo)) return null; // detached from info: nothing to answer for
    const r = this.appCall.request;
    if (r.transport === "unix" || r.remoteHostname === "") return null;
    return { address: r.remoteHostname, family: r.family, port: r.remotePort };
  }
}

export function runFetch(handler: FetchHandler, appCall: AppCall, webSockets: WebSockets): void {
  let request: Request;
  try {
    request = buildRequest(appCall);
  } catch (error) {
    appCall.fail(error);
    return;
  }
  // Bun's Request turns a method it does not know into GET; the app must never see a FOO as a GET.
  if (request.method !== appCall.request.method && request.method !== appCall.request.method.toUpperCase()) {
    appCall.refuse(STATUS_METHOD_UNSUPPORTED, BODY_METHOD_UNSUPPORTED);
    return;
  }
  if (appCall.request.upgrade) {
    runUpgradable(handler, appCall, request, webSockets);
    return;
  }
  let result: unknown;
  try {
    result = handler(request, new FetchInfo(appCall, webSockets));
  } catch (error) {
    appCall.fail(error);
    return;
  }
  if (result instanceof Response) respond(appCall, result);
  else if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
    settle(appCall, result as PromiseLike<unknown>);
  } else notAResponse(appCall, result);
}

/** A valid handshake: the handler may upgrade it; once it settles, an upgrade wins over its result. */
function runUpgradable(handler: FetchHandler, appCall: AppCall, request: Request, webSockets: WebSockets): void {
  webSockets.register(request, appCall);
  let result: unknown;
  try {
    result = handler(request, new FetchInfo(appCall, webSockets));
  } catch (error) {
    if (!webSockets.settle(appCall)) appCall.fail(error);
    return;
  }
  Promise.resolve(result).then(
    (value) => {
      if (webSockets.settle(appCall)) {
        if (value instanceof Response) value.body?.cancel().catch(() => {});
      } else if (value instanceof Response) respond(appCall, value);
      else notAResponse(appCall, value);
    },
    (error: unknown) => {
      if (!webSockets.settle(appCall)) appCall.fail(error);
    },
  );
}

function buildRequest(appCall: AppCall): Request {
  const r = appCall.request;
  const signal = appCall.abort.signal;
  // Only the init fields a request needs: Bun reads every field of a RequestInit, and a GET with
  // just a signal is built in about half the time of one with method, headers and body: null.
  let request: Request;
  if (r.bodyFd !== null) {
    request = new Request(r.url, { method: r.method, body: appCall.bodyFileStream(), signal, duplex: "half" } as RequestInit);
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
function settle(appCall: AppCall, pending: PromiseLike<unknown>): void {
  Promise.resolve(pending).then(
    (value) => {
      if (value instanceof Response) respond(appCall, value);
      else notAResponse(appCall, value);
    },
    (error: unknown) => appCall.fail(error),
  );
}

function notAResponse(appCall: AppCall, value: unknown): void {
  const what = value === null ? "null" : typeof value === "object" ? `an object (${Object.prototype.toString.call(value)})` : typeof value;
  appCall.fail(null, `TypeError: the handler returned ${what}, not a Response`);
}

function respond(appCall: AppCall, response: Response): void {
  if (appCall.finished) {
    // Cancelled while the handler ran: nobody wants this body.
    response.body?.cancel().catch(() => {});
    return;
  }
  if (response.type === "error") {
    appCall.fail(null, "TypeError: the handler returned Response.error(), which has no status to send");
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
      appCall.setHead(response.status, response.statusText, headers, declared);
      const bytes = response.bytes();
      if (Bun.peek.status(bytes) === "fulfilled") sendBytes(appCall, Bun.peek(bytes) as Uint8Array);
      else void settleBytes(appCall, bytes);
      return;
    }
    const body = response.body;
    if (body === null) {
      // No body: a 304's Content-Length is not held against it; a HEAD's is its bodyLength.
      appCall.setHead(response.status, response.statusText, headers, appCall.isHead ? declared : -1);
      appCall.end();
      return;
    }
    appCall.setHead(response.status, response.statusText, headers, declared);
    const reader = body.getReader(); // throws for a body the app already read
    appCall.source = reader;
    void pump(appCall, reader);
  } catch (error) {
    appCall.fail(error);
  }
}

async function settleBytes(appCall: AppCall, pending: Promise<Uint8Array>): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await pending;
  } catch (error) {
    appCall.fail(error);
    return;
  }
  sendBytes(appCall, bytes);
}

/** `bytes` comes from response.bytes(), which hands out a fresh copy of the body on every call
 *  (even for a Response built from the app's own Uint8Array, or a clone of a cached one), so it
 *  is ours to transfer: a large body crosses to the main thread without another copy, whole.
 *  The memory is spent already; flow control in pieces would only keep it here until a slow
 *  client read it (issue 13 item 7: 100 stalled readers of a 50 MiB body held 5 GiB in the
 *  Worker). The server keeps --outbuf-overflow of it in memory and the rest in a temp file. */
function sendBytes(appCall: AppCall, bytes: Uint8Array): void {
  if (appCall.finished) return;
  appCall.sendWhole(bytes, true);
}

/** What pump() needs of a ReadableStream reader; chunks are checked, not trusted. */
interface ChunkReader {
  read(): Promise<{ done: boolean; value?: unknown }>;
}

async function pump(appCall: AppCall, reader: ChunkReader): Promise<void> {
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (appCall.finished) return;
      if (done) {
        appCall.end();
        return;
      }
      const owned = typeof value === "string";
      const chunk = toBytes(value);
      if (chunk.byteLength <= DATA_PIECE_MAX) appCall.sendData(chunk, owned);
      else await appCall.sendInPieces(chunk);
      if (appCall.congested) await appCall.drained();
      if (appCall.finished) return;
    }
  } catch (error) {
    appCall.fail(error); // no-op once cancelled
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
