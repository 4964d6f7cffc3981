// One request and its response on a connection: an Exchange is a record in the connection's
// queue, from the moment its head is parsed until its last byte is written.
//
// Strategy: plain data, built in one object literal (one shape for every exchange, so the
// connection's hot paths stay monomorphic). The connection owns every change to it; this file
// only says what an exchange holds and what a fresh one looks like.

import type { RequestHead } from "../http/parser.ts";
import type { Framing } from "../http/response.ts";
import type { Options } from "../options/types.ts";
import type { BodyFiles } from "./body-files.ts";
import { RequestBody } from "./request-body.ts";
import type { ReceivedBody } from "./request-body.ts";
import { OutputBuffer } from "./output-buffer.ts";

export interface Exchange {
  head: RequestHead;
  body: RequestBody | null;
  received: ReceivedBody | null;
  id: number; // pool id; -1 until dispatched
  out: OutputBuffer;
  headSent: boolean;
  continueSent: boolean;
  done: boolean;
  framing: Framing;
  remaining: number; // Content-Length bytes still owed
  keepAlive: boolean;
  unacked: number;
  requestLine: string;
  /** For the access log: the status sent (0 until known), body bytes queued, the client address. */
  status: number;
  sent: number;
  client: string;
  /** --admin-listen's metrics: performance.now() when the head arrived (0 when metrics are off). */
  started: number;
}

/** The exchange for a request whose head just arrived from `client`. */
export function newExchange(head: RequestHead, options: Options, bodyFiles: BodyFiles, client: string): Exchange {
  const hasBody = head.chunked || (head.contentLength !== null && head.contentLength > 0);
  return {
    head,
    body: hasBody ? new RequestBody(options.inbufOverflow, bodyFiles) : null,
    received: null,
    id: -1,
    out: new OutputBuffer(options.outbufOverflow),
    headSent: false,
    continueSent: !head.expectContinue || !hasBody,
    done: false,
    framing: "none",
    remaining: 0,
    keepAlive: head.keepAlive,
    unacked: 0,
    requestLine: `${head.method} ${head.target} HTTP/1.${head.versionMinor}`,
    status: 0,
    sent: 0,
    client,
    started: 0,
  };
}
