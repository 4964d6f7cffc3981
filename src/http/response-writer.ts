// The response writer: every rule about how a response is framed on the wire, in one place
// (h11's _body_framing and its ContentLengthWriter / ChunkedWriter are the model).
//
// Strategy: sans-I/O. A ResponseWriter is built from what the request was (method, version,
// whether the connection may persist) and what the app answered (status, fields, the length it
// declared or none); it decides the framing once (responseFraming), then turns the head, each
// body chunk and the end into wire bytes pushed onto the caller's output, or throws a
// ResponseFramingError when the app's body breaks its own declared length. The Worker imports
// the same rules (bodyAllowed, bodyLengthError) rather than deciding them again; the connection
// only moves the bytes this file produces.

import { serializeResponseHead } from "./response.ts";

/** How the body is delimited (RFC 9112 §6.3). "none": no body may follow (HEAD, 1xx, 204, 304). */
export type Framing = "length" | "chunked" | "close" | "none";

/** The app's body broke the framing it declared: a bug in the app, named as such. */
export class ResponseFramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResponseFramingError";
  }
}

/** Where the writer puts wire bytes (an OutputBuffer, or an array). */
export interface WireOutput {
  push(bytes: Uint8Array): unknown;
}

export const CRLF = new Uint8Array([0x0d, 0x0a]);
/** RFC 9112 §7.1: the last chunk and an empty trailer section. */
export const LAST_CHUNK = new Uint8Array([0x30, 0x0d, 0x0a, 0x0d, 0x0a]);
/** RFC 9110 §10.1.1: the interim answer to Expect: 100-continue. */
export const CONTINUE = new Uint8Array(Buffer.from("HTTP/1.1 100 Continue\r\n\r\n", "latin1"));

/** RFC 9110 §9.3.2, §15.2, §15.3.5, §15.4.5: a HEAD response, 1xx, 204 and 304 never carry content. */
export function bodyAllowed(method: string, status: number): boolean {
  return method !== "HEAD" && status >= 200 && status !== 204 && status !== 304;
}

/** RFC 9112 §6.3: the framing of a response to `method` over HTTP/1.`versionMinor` with the
 *  app's declared body length (null: not known in advance). */
export function responseFraming(method: string, versionMinor: number, status: number, declaredLength: number | null): Framing {
  if (!bodyAllowed(method, status)) return "none";
  if (declaredLength !== null) return "length";
  // RFC 9112 §6.3 item 8: an HTTP/1.0 client cannot read chunks; the body ends at close.
  return versionMinor >= 1 ? "chunked" : "close";
}

/**
 * The Content-Length field to send, or null for none. A HEAD response may carry the length its
 * GET would have had (RFC 9110 §8.6, §9.3.2) — only when the app declared it: a made-up 0 would be
 * false. 1xx and 204 never carry one (RFC 9110 §8.6); a 304 does not repeat it here either, since
 * tray cannot know the selected representation's length.
 */
export function contentLengthField(status: number, declaredLength: number | null): number | null {
  if (declaredLength === null || status < 200 || status === 204 || status === 304) return null;
  return declaredLength;
}

/** RFC 9112 §6.3 item 5 / RFC 9110 §8.6: a body must be exactly its declared length. The problem
 *  with `sent` bytes so far (`ended`: the body is over), or null when there is none. */
export function bodyLengthError(declared: number, sent: number, ended: boolean): string | null {
  if (sent > declared) return `the app sent more body than its Content-Length: ${declared}`;
  if (ended && sent < declared) return `the app's body ended after ${sent} of the ${declared} bytes its Content-Length promised`;
  return null;
}

/** RFC 9110 §10.1.1 and §15.2: a 100 (Continue) is sent for a request that asked for it and has a
 *  body, never to an HTTP/1.0 client (which cannot parse 1xx). */
export function continueWanted(versionMinor: number, expectContinue: boolean, hasBody: boolean): boolean {
  return expectContinue && hasBody && versionMinor >= 1;
}

/** RFC 9112 §7.1: chunk-size in hex, then CRLF; the data and its CRLF follow. */
export function chunkHeader(size: number): Uint8Array {
  return Buffer.from(size.toString(16) + "\r\n", "latin1");
}

export interface ResponseStart {
  /** The request's method and HTTP/1.versionMinor. */
  method: string;
  versionMinor: number;
  /** The connection may persist after this response (the request allowed it, nothing follows). */
  keepAlive: boolean;
  status: number;
  statusText?: string;
  /** Flat [name, value, ...] from the app; framing and hop-by-hop fields are tray's (response.ts). */
  headers: string[];
  /** The body's length when known before it starts, else null. */
  declaredLength: number | null;
  date: string;
  /** Server field value; "" sends none. */
  server: string;
}

export class ResponseWriter {
  readonly framing: Framing;
  /** The connection persists after this response: the request allowed it and the framing does not
   *  end at close. Set false by a body that broke its length. */
  keepAlive: boolean;
  private readonly start: ResponseStart;
  private readonly declared: number;
  /** Body bytes the app has produced (also counted for "none": HEAD checks its length). */
  sent = 0;

  constructor(start: ResponseStart) {
    this.start = start;
    this.framing = responseFraming(start.method, start.versionMinor, start.status, start.declaredLength);
    this.declared = start.declaredLength ?? -1;
    this.keepAlive = start.keepAlive && this.framing !== "close";
  }

  /** The head's bytes; throws ResponseHeaderError for a field that would corrupt the response. */
  head(): Uint8Array {
    const s = this.start;
    const length = contentLengthField(s.status, s.declaredLength);
    return serializeResponseHead({
      status: s.status,
      statusText: s.statusText,
      headers: s.headers,
      date: s.date,
      server: s.server,
      contentLength: this.framing === "chunked" ? null : length,
      chunked: this.framing === "chunked",
      keepAlive: this.keepAlive,
      versionMinor: s.versionMinor,
    });
  }

  /**
   * A chunk of the app's body (n > 0 bytes) as wire parts on `out`. A body with no place on the
   * wire (HEAD, 204, 304) is dropped. Past the declared length: what fits goes out, the rest does
   * not, and ResponseFramingError is thrown (the connection must then close, RFC 9112 §6.3).
   */
  data(chunk: Uint8Array, out: WireOutput): void {
    const n = chunk.byteLength;
    if (n === 0) return;
    const before = this.sent;
    this.sent += n;
    switch (this.framing) {
      case "none":
        return;
      case "length": {
        const problem = bodyLengthError(this.declared, this.sent, false);
        if (problem !== null) {
          const fits = this.declared - before;
          if (fits > 0) out.push(chunk.subarray(0, fits));
          this.keepAlive = false;
          throw new ResponseFramingError(problem);
        }
        out.push(chunk);
        return;
      }
      case "chunked":
        out.push(chunkHeader(n));
        out.push(chunk);
        out.push(CRLF);
        return;
      case "close":
        out.push(chunk);
        return;
    }
  }

  /** The end of the body. Shorter than declared: nothing is pushed, the client must not take it
   *  as complete, so ResponseFramingError is thrown and the connection must close. */
  end(out: WireOutput): void {
    if (this.framing === "chunked") out.push(LAST_CHUNK);
    else if (this.framing === "length") {
      const problem = bodyLengthError(this.declared, this.sent, true);
      if (problem !== null) {
        this.keepAlive = false;
        throw new ResponseFramingError(problem);
      }
    }
  }
}

/** A whole response tray writes on its own behalf (errors, probes): head and body in one buffer. */
export function wholeResponse(start: Omit<ResponseStart, "declaredLength">, body: Uint8Array): Uint8Array {
  const writer = new ResponseWriter({ ...start, declaredLength: body.byteLength });
  const parts: Uint8Array[] = [writer.head()];
  writer.data(body, parts);
  writer.end(parts);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
