// How a response's body is delimited on the wire (RFC 9112 §6.3), and its data chunks as wire
// parts.
//
// Strategy: plain functions of the request and the app's response head, no connection state.
// The framing is chosen once per response from what the app declared (a body length or not) and
// what the client can read (HEAD, HTTP/1.0); each data chunk then becomes the parts that framing
// needs, pushed straight onto the response's OutputBuffer (no intermediate arrays). What to do
// when the app breaks its own framing (too long, too short) is the connection's call.

import type { Framing } from "../http/response.ts";
import { CRLF, LAST_CHUNK, chunkHeader } from "../http/response.ts";
import type { OutputBuffer } from "./output-buffer.ts";

/** The framing for a response with `status` and the app's body length (null: unknown). */
export function responseFraming(method: string, versionMinor: number, status: number, bodyLength: number | null): Framing {
  const noBody = method === "HEAD" || status < 200 || status === 204 || status === 304;
  let framing: Framing;
  if (noBody) framing = "none";
  else if (bodyLength !== null) framing = "length";
  else if (versionMinor >= 1) framing = "chunked";
  else framing = "close"; // RFC 9112 §6.3 item 8: HTTP/1.0 reads to close
  return framing;
}

/** The Content-Length to announce, if any: none for a status that never has a body. */
export function responseContentLength(status: number, bodyLength: number | null): number | undefined {
  return bodyLength === null || status === 204 || status === 304 || status < 200 ? undefined : bodyLength;
}

/** One data chunk (n bytes, n > 0) in the chunked coding (RFC 9112 §7.1). */
export function pushChunk(out: OutputBuffer, chunk: Uint8Array, n: number): void {
  out.push(chunkHeader(n));
  out.push(chunk);
  out.push(CRLF);
}

/** The end of a chunked body: the last chunk and an empty trailer section (RFC 9112 §7.1). */
export function pushLastChunk(out: OutputBuffer): void {
  out.push(LAST_CHUNK);
}
