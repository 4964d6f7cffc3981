// Reads back the HTTP/1.1 bytes node:http's ServerResponse writes to its socket (node-socket.ts):
// the head becomes (status, reason, header fields, Content-Length) and the body comes out as
// plain bytes, so the AppCall can frame it again the way tray frames every response.
//
// Strategy: the input is trusted — node:http produced it, field by field, from the app's
// setHeader()/writeHead() calls it already validated — so this is a small state machine, not a
// second strict parser. node-interface.ts turns off node's default chunking (the body is then
// raw until the end), so the chunked decoder here only runs when the app itself set
// Transfer-Encoding: chunked. Interim 1xx heads (writeContinue, writeEarlyHints) are dropped:
// tray answered Expect: 100-continue itself, and the ResponseSink has no interim responses.
// Trailers (res.addTrailers) are dropped too: RFC 9110 §6.5.1 lets a recipient discard them.

import { declaredLength } from "./app-call.ts";

export type HeadListener = (status: number, reason: string, headers: string[], contentLength: number) => void;
export type BodyListener = (bytes: Uint8Array) => void;

const HEAD = 0; // reading a response head (up to CRLF CRLF)
const RAW = 1; // body bytes as they come, to the end
const SIZE = 2; // a chunk-size line
const DATA = 3; // chunk data
const DATA_END = 4; // the CRLF after chunk data
const TRAILER = 5; // trailer lines after the last chunk, up to an empty line
const DONE = 6;

const CR = 0x0d;
const LF = 0x0a;
const CRLF_CRLF = Buffer.from("\r\n\r\n", "latin1");

export class NodeResponseReader {
  private state = HEAD;
  /** Bytes of an unfinished head, chunk-size line or trailer section. */
  private pending: Buffer | null = null;
  private chunkLeft = 0;

  constructor(
    private readonly onHead: HeadListener,
    private readonly onBody: BodyListener,
  ) {}

  get sawHead(): boolean {
    return this.state !== HEAD;
  }

  feed(chunk: Buffer): void {
    let bytes = chunk;
    let at = 0;
    if (this.pending !== null) {
      bytes = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    while (at < bytes.length) {
      switch (this.state) {
        case HEAD: {
          const end = bytes.indexOf(CRLF_CRLF, at);
          if (end < 0) return this.keep(bytes, at);
          this.head(bytes.toString("latin1", at, end));
          at = end + 4;
          break;
        }
        case RAW:
          this.onBody(at === 0 ? bytes : bytes.subarray(at));
          return;
        case SIZE: {
          const end = lineEnd(bytes, at);
          if (end < 0) return this.keep(bytes, at);
          this.chunkLeft = parseInt(bytes.toString("latin1", at, end), 16); // extensions end the digits
          if (!(this.chunkLeft >= 0)) throw new Error(`bug: node:http wrote a chunk size line tray cannot read: ${JSON.stringify(bytes.toString("latin1", at, end))}`);
          this.state = this.chunkLeft === 0 ? TRAILER : DATA;
          at = end + 2;
          break;
        }
        case DATA: {
          const take = Math.min(this.chunkLeft, bytes.length - at);
          this.onBody(bytes.subarray(at, at + take));
          this.chunkLeft -= take;
          at += take;
          if (this.chunkLeft === 0) this.state = DATA_END;
          break;
        }
        case DATA_END:
          if (bytes.length - at < 2) return this.keep(bytes, at);
          at += 2;
          this.state = SIZE;
          break;
        case TRAILER: {
          const end = lineEnd(bytes, at);
          if (end < 0) return this.keep(bytes, at);
          if (end === at) this.state = DONE;
          at = end + 2;
          break;
        }
        case DONE:
          return; // node writes nothing after the last chunk
      }
    }
  }

  private keep(bytes: Buffer, at: number): void {
    this.pending = Buffer.from(bytes.subarray(at)); // a copy: the writer may reuse its buffer
  }

  /** One head, as node wrote it: "HTTP/1.1 200 OK\r\nName: value\r\n..." (no final CRLF CRLF).
   *  Lines are found with indexOf, not split: this runs once per response. */
  private head(text: string): void {
    let eol = text.indexOf("\r\n");
    if (eol < 0) eol = text.length;
    const status = Number(text.slice(9, 12)); // "HTTP/1.1 200 OK"
    // 1xx interim responses precede the final one (RFC 9110 §15.2); 101 would be final, but an
    // upgrade is not served (the "WebSocket is not supported"), so it passes as is.
    if (status >= 100 && status < 200 && status !== 101) return;
    const reason = eol > 13 ? text.slice(13, eol) : "";
    const headers: string[] = [];
    let contentLength = -1;
    let chunked = false;
    while (eol < text.length) {
      const start = eol + 2;
      eol = text.indexOf("\r\n", start);
      if (eol < 0) eol = text.length;
      const colon = text.indexOf(":", start);
      if (colon <= start || colon > eol) continue;
      const name = text.slice(start, colon);
      // node writes "name: value"; the value keeps no surrounding whitespace (RFC 9110 §5.5).
      let value = text.slice(text.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1, eol);
      const last = value.charCodeAt(value.length - 1);
      if (last === 0x20 || last === 0x09 || value.charCodeAt(0) === 0x20 || value.charCodeAt(0) === 0x09) value = value.trim();
      headers.push(name, value);
      if (name.length === 14 && name.toLowerCase() === "content-length") {
        contentLength = declaredLength(value);
      } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      }
    }
    this.state = chunked ? SIZE : RAW;
    // A chunked body's length is what the chunks say, whatever Content-Length claimed; a 204 or
    // 304 has no body, and its Content-Length (a 304's is the GET's, RFC 9110 §8.6) is not held to it.
    const bodyless = status === 204 || status === 304;
    this.onHead(status, reason, headers, chunked || bodyless ? -1 : contentLength);
  }
}

function lineEnd(bytes: Buffer, from: number): number {
  for (let i = from; i + 1 < bytes.length; i++) if (bytes[i] === CR && bytes[i + 1] === LF) return i;
  return -1;
}
