// Runs one request through a Node-style (req, res) app — Express, Connect, Koa's callback(), an
// http.Server's 'request' listener, a bare handler — with REAL node:http IncomingMessage and
// ServerResponse over an ExchangeSocket (node-socket.ts), the sibling of fetch-interface.ts
// driving the same Exchange. What the app sees, and what tray does around it:
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
// - the end: 'finish' ends the Exchange; then res and req see 'close', as after a Node response.
// - the client goes away (Exchange cancelled), or the response fails: req is destroyed ('aborted'
//   and 'close'), the socket too (res 'close'), and later writes are dropped quietly.
// - a throw or rejection escaping the app: 500 when nothing was sent, else the connection closes
//   (Exchange.fail); after the response ended it is only logged.
import { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { NodeListener } from "../app/detect.ts";
import { describeError, type Exchange } from "./exchange.ts";
import { ExchangeSocket } from "./node-socket.ts";
import { OP_LOG } from "./protocol.ts";

/** Node's ServerResponse internals this file sets (present in Node and in Bun's node:http). */
interface ResponseInternals {
  useChunkedEncodingByDefault: boolean;
  sendDate: boolean;
  _hasBody: boolean;
}

export function runNode(listener: NodeListener, exchange: Exchange): void {
  const r = exchange.request;
  const socket = new ExchangeSocket(exchange);
  const req = new IncomingMessage(socket as unknown as Socket);
  req.method = r.method;
  req.url = pathOf(r.url);
  req.httpVersion = r.versionMinor === 0 ? "1.0" : "1.1";
  req.httpVersionMajor = 1;
  req.httpVersionMinor = r.versionMinor;
  req.rawHeaders = r.rawHeaders;
  req.complete = true; // the whole message has arrived: tray buffers bodies before dispatch
  const stopBody = feedBody(req, exchange);

  const res = new ServerResponse(req);
  const internals = res as unknown as ResponseInternals;
  internals.useChunkedEncodingByDefault = false; // tray frames the body
  internals.sendDate = false; // the server sends Date
  if (exchange.isHead) internals._hasBody = true; // count the body a GET would get (Exchange drops it)
  res.assignSocket(socket as unknown as Socket);
  socket.on("drain", () => {
    if (!res.writableFinished) res.emit("drain");
  });

  // Called by the Exchange when the client goes away or the response fails: req sees 'aborted'
  // (unless the app read it all) and 'close', res sees 'close'.
  exchange.source = {
    cancel: () => {
      if (!req.destroyed) req.destroy();
      stopBody();
      socket.destroy();
    },
  };
  res.on("finish", () => {
    exchange.source = null;
    exchange.end();
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
    appFailed(exchange, error);
    return;
  }
  if (result instanceof Response) {
    returnedResponse(exchange, socket);
  } else if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
    (result as PromiseLike<unknown>).then(
      (value) => {
        if (value instanceof Response) returnedResponse(exchange, socket);
      },
      (error: unknown) => appFailed(exchange, error),
    );
  }
}

/** The path and query of the absolute URL the server built ("http://host/a?b" -> "/a?b"). */
function pathOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash < 0 ? "/" : url.slice(slash);
}

/** Gives req its body; returns what stops reading it (the temp file is closed). */
function feedBody(req: IncomingMessage, exchange: Exchange): () => void {
  const r = exchange.request;
  if (r.bodyFd === null) {
    const body = r.body;
    if (body !== null && body.byteLength > 0) req.push(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    req.push(null);
    return () => {};
  }
  // Past --inbuf-overflow: read from the file only as the app pulls, a bounded piece at a time.
  const reader = exchange.bodyFileStream().getReader();
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

function appFailed(exchange: Exchange, error: unknown): void {
  if (!exchange.finished) {
    exchange.fail(error); // 500 before the head, else the server closes the connection
    return;
  }
  if (exchange.cancelled) return; // nobody is waiting for this response any more
  const r = exchange.request;
  log(exchange, `error in the app after its response to "${r.method} ${pathOf(r.url)}" was complete: ${describeError(error)}`);
}

/** A fetch handler run as a Node-style one: say so, and answer 500. */
function returnedResponse(exchange: Exchange, socket: ExchangeSocket): void {
  if (exchange.finished || socket.headWritten) return;
  exchange.fail(null, "the app returned a Response instead of writing to res: it is a fetch handler (request, info) => Response; start tray with --interface=fetch");
}

function log(exchange: Exchange, line: string): void {
  exchange.host.outbox.fields.push(OP_LOG, line);
  exchange.host.scheduleFlush();
}
