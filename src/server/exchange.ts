// One request and its response on a connection: an Exchange is a record in the connection's
// queue, from the moment its head is parsed until its last byte is written.
//
// Strategy: plain data, built in one object literal (one shape for every exchange, so the
// connection's hot paths stay monomorphic), with its stage in one named state:
//
//   Receiving -> Ready -> Running -> HeadSent -> Done
//   (body       (whole,   (in the    (the app's   (the response is complete in `out`;
//    arriving)   waiting)  pool)      head is out) it leaves the queue once `out` is written)
//
// An exchange tray answers itself (a refused request, a failed app) goes from any state before
// HeadSent straight to Done. The connection owns every change; this file says what an exchange
// holds and what a fresh one looks like.

import type { RequestHead } from "../http/parser.ts";
import type { ResponseWriter } from "../http/response-writer.ts";
import { continueWanted } from "../http/response-writer.ts";
import type { BufferSettings } from "./settings.ts";
import type { BodyFiles } from "./body-files.ts";
import { RequestBody } from "./request-body.ts";
import type { ReceivedBody } from "./request-body.ts";
import { OutputBuffer } from "./output-buffer.ts";

export const enum ExchangeState {
  /** The head is parsed; body bytes are still arriving. */
  Receiving,
  /** The request is whole and waits its turn for the pool. */
  Ready,
  /** Dispatched: the app is working on it and has not answered yet. */
  Running,
  /** The response head is written to `out`; body bytes follow. */
  HeadSent,
  /** The response is complete in `out` (or abandoned); nothing more is added. */
  Done,
}

export interface Exchange {
  state: ExchangeState;
  head: RequestHead;
  body: RequestBody | null;
  received: ReceivedBody | null;
  /** Pool id once dispatched, else -1. */
  id: number;
  out: OutputBuffer;
  /** The response's framing, once its head is known. */
  writer: ResponseWriter | null;
  /** A 100 (Continue) is owed before the body (RFC 9110 §10.1.1). */
  continueOwed: boolean;
  /** The connection may persist after this exchange. */
  keepAlive: boolean;
  /** Body bytes handed to `out` and not yet acknowledged to the pool (flow control). */
  unacked: number;
  requestLine: string;
  /** For the access log and metrics: the status sent (0 until known), body bytes queued, the
   *  client address, and when the head arrived (clock ms). */
  status: number;
  sent: number;
  client: string;
  startedAt: number;
  /** The client's FIN came before the response began: logged as 499, as nginx logs a client
   *  that closed its request, although the answer is still sent (RFC 9112 §9.6). */
  finBeforeResponse: boolean;
}

/** The exchange for a request whose head just arrived from `client` at `now`. */
export function newExchange(head: RequestHead, settings: BufferSettings, bodyFiles: BodyFiles, client: string, now: number): Exchange {
  const hasBody = head.chunked || (head.contentLength !== null && head.contentLength > 0);
  return {
    state: ExchangeState.Receiving, // until the parser's "end", even with no body
    head,
    body: hasBody ? new RequestBody(settings.inbufOverflow, bodyFiles) : null,
    received: null,
    id: -1,
    out: new OutputBuffer(settings.outbufOverflow),
    writer: null,
    continueOwed: continueWanted(head.versionMinor, head.expectContinue, hasBody),
    keepAlive: head.keepAlive,
    unacked: 0,
    requestLine: `${head.method} ${head.target} HTTP/1.${head.versionMinor}`,
    status: 0,
    sent: 0,
    client,
    startedAt: now,
    finBeforeResponse: false,
  };
}
