// Runs one request through a Node-style (req, res) app — Express, Connect, Koa's callback(), an
// http.Server's 'request' listener, a bare handler — with REAL node:http IncomingMessage and
// ServerResponse over an ExchangeSocket (node-socket.ts), the sibling of fetch-interface.ts
// driving the same AppCall. What the app sees, and what tray does around it:
//
// - req: method, url (path and query, --url-prefix already stripped by the server), rawHeaders
//   as received (req.headers is derived from them lazily), httpVersion as received, the body already
//   whole (pushed at once, or read from the --inbuf-overflow temp file as the app pulls), and
//   req.socket with the client's address (and encrypted when the scheme is https).
// - res: node writes its HTTP/1.1 bytes to the socket, and the socket hands them on as they come,
//   so each res.write() reaches the client without waiting for end(). Node's own chunking is
//   turned off (tray frames the body: Content-Length or chunked, HEAD, keep-alive) and so is its
//   Date header (the server sends one). The socket's 'drain' is forwarded to res, as Node's own
//   http.Server does — without it express.static stalls after 64 KiB.
// - HEAD: res is told it has a body, so the app's bytes are counted (and dropped) like a fetch
//   app's: the answer declares the length a GET would have had (RFC 9110 §9.3.2).
// - the end: 'finish' ends the AppCall; then res and req see 'close', as after a Node response.
// - the client goes away (AppCall cancelled), or the response fails: req is destroyed ('aborted'
//   and 'close'), the socket too (res 'close'), and later writes are dropped quietly.
// - a throw or rejection escaping the app: 500 when nothing was sent, else the connection closes
//   (AppCall.fail); after the response ended it is only logged.
// - upgrades, as node:http decides them: a request that asks to switch protocols (asksToUpgrade:
//   HTTP/1.1, Upgrade listed in Connection) goes to the server's 'upgrade' listeners as
//   (req, socket, head) when it has any — `ws`, engine.io — with a TunnelSocket (node-tunnel.ts)
//   whose bytes the main thread relays to the client; `head` is empty (the bytes after the
//   request arrive as 'data'). With no 'upgrade' listener the request is served through 'request'
//   like any other, as node:http has done since Node 10 (the Upgrade field is ignored, RFC 9110 §7.8).
import { IncomingMessage, ServerResponse, type Server } from "node:http";
import type { Socket } from "node:net";
import type { NodeApp } from "../app/detect.ts";
import { asksToUpgrade } from "../http/upgrade-request.ts";
import { describeError, type AppCall } from "./app-call.ts";
import { ExchangeSocket } from "./node-socket.ts";
import type { NodeTunnels, TunnelSocket } from "./node-tunnel.ts";
import { encodeLog } from "./protocol.ts";

/** Node's ServerResponse internals this file sets (present in Node and in Bun's node:http). */
interface ResponseInternals {
  useChunkedEncodingByDefault: boolean;
  sendDate: boolean;
  _hasBody: boolean;
}

const NO_HEAD = Buffer.alloc(0);

export function runNode(app: NodeApp, appCall: AppCall, tunnels: NodeTunnels): void {
  const r = appCall.request;
  const server = app.server;
  if (server !== null && server.listenerCount("upgrade") > 0 && asksToUpgrade(r.method, r.versionMinor, r.rawHeaders)) {
    runUpgrade(server, appCall, tunnels);
    return;
  }
  const listener = app.listener;
  const socket = new ExchangeSocket(appCall);
  const req = incomingMessage(socket, appCall);
  const stopBody = feedBody(req, appCall);

  const res = new ServerResponse(req);
  const internals = res as unknown as ResponseInternals;
  internals.useChunkedEncodingByDefault = false; // tray frames the body
  internals.sendDate = false; // the server sends Date
  if (appCall.isHead) internals._hasBody = true; // count the body a GET would get (AppCall drops it)
  res.assignSocket(socket as unknown as Socket);
  socket.on("drain", () => {
    if (!res.writableFinished) res.emit("drain");
  });

  // Called by the AppCall when the client goes away or the response fails: req sees 'aborted'
  // (unless the app read it all) and 'close', res sees 'close'.
  appCall.source = {
    cancel: () => {
      if (!req.destroyed) req.destroy();
      stopBody();
      socket.destroy();
    },
  };
  res.on("finish", () => {
    appCall.source = null;
    appCall.end();
    // As Node's server does after a response: dump an unread body (req then ends and closes)
    // and let res say 'close' (the socket's close reaches it through assignSocket).
    stopBody();
    if (!req.readableEnded) req.resume();
    process.nextTick(() => socket.destroy());
  });

  let result: unknown;
  try {
    result = listener(req, res);
  } catch (error) {
    appFailed(appCall, error);
    return;
  }
  if (result instanceof Response) {
    returnedResponse(appCall, socket);
  } else if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
    (result as PromiseLike<unknown>).then(
      (value) => {
        if (value instanceof Response) returnedResponse(appCall, socket);
      },
      (error: unknown) => appFailed(appCall, error),
    );
  }
}

/** The request as node:http's IncomingMessage, on `socket` (req.socket). */
function incomingMessage(socket: ExchangeSocket | TunnelSocket, appCall: AppCall): IncomingMessage {
  const r = appCall.request;
  const req = new IncomingMessage(socket as unknown as Socket);
  req.method = r.method;
  req.url = pathOf(r.url);
  req.httpVersion = r.versionMinor === 0 ? "1.0" : "1.1";
  req.httpVersionMajor = 1;
  req.httpVersionMinor = r.versionMinor;
  req.rawHeaders = r.rawHeaders;
  req.complete = true; // the whole message has arrived: tray buffers bodies before dispatch
  return req;
}

/** node:http's 'upgrade': the listeners own the socket from here; the main thread is told before
 *  any byte the app writes, so it stops speaking HTTP on the connection and relays. */
function runUpgrade(server: Server, appCall: AppCall, tunnels: NodeTunnels): void {
  const socket = tunnels.open(appCall.id, appCall.request);
  const req = incomingMessage(socket, appCall);
  // A body in a temp file (past --inbuf-overflow) is released with the request: an upgrade
  // request's body is not expected, and the listener gets an empty one then.
  if (appCall.request.bodyFd === null) feedBody(req, appCall);
  else req.push(null);
  appCall.tunneled();
  try {
    server.emit("upgrade", req, socket, NO_HEAD);
  } catch (error) {
    // Node would crash on this; one connection is cut instead, and the log says why.
    log(appCall, `error in the app's 'upgrade' listener for "${appCall.request.method} ${pathOf(appCall.request.url)}": ${describeError(error)}`);
    socket.destroy();
  }
}

/** The path and query of the absolute URL the server built ("http://host/a?b" -> "/a?b"). */
function pathOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash < 0 ? "/" : url.slice(slash);
}

/** Gives req its body; returns what stops reading it (the temp file is closed). */
function feedBody(req: IncomingMessage, appCall: AppCall): () => void {
  const r = appCall.request;
  if (r.bodyFd === null) {
    const body = r.body;
    if (body !== null && body.byteLength > 0) req.push(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    req.push(null);
    return () => {};
  }
  // Past --inbuf-overflow: read from the file only as the app pulls, a bounded piece at a time.
  const reader = appCall.bodyFileStream().getReader();
  let stopped = false;
  // Bun's IncomingMessage starts with readingMore set (its own _read clears it), which would stop
  // Readable from asking this _read for more after the first chunk.
  (req as unknown as { _readableState: { readingMore: boolean } })._readableState.readingMore = false;
  req._read = () => {
    reader.read().then(
      ({ done, value }) => {
        if (stopped) return;
        if (done) req.push(null);
        else req.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      },
      (error: unknown) => {
        if (!stopped) req.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    );
  };
  return () => {
    if (stopped) return;
    stopped = true;
    reader.cancel().catch(() => {});
    if (!req.destroyed) req.push(null); // what is left unread is dropped, as Node's _dump() does
  };
}

function appFailed(appCall: AppCall, error: unknown): void {
  if (!appCall.finished) {
    appCall.fail(error); // 500 before the head, else the server closes the connection
    return;
  }
  if (appCall.cancelled) return; // nobody is waiting for this response any more
  const r = appCall.request;
  log(appCall, `error in the app after its response to "${r.method} ${pathOf(r.url)}" was complete: ${describeError(error)}`);
}

/** A fetch handler run as a Node-style one: say so, and answer 500. */
function returnedResponse(appCall: AppCall, socket: ExchangeSocket): void {
  if (appCall.finished || socket.headWritten) return;
  appCall.fail(null, "the app returned a Response instead of writing to res: it is a fetch handler (request, info) => Response; start tray with --interface=fetch");
}

function log(appCall: AppCall, line: string): void {
  encodeLog(appCall.host.outbox, line, "error");
  appCall.host.scheduleFlush();
}
