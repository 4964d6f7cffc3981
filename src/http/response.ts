// Serialising a response head (RFC 9112 §4): the status line, the app's fields, then the fields
// tray owns. Which framing fields to send is the response writer's decision (response-writer.ts).
// Strategy: the head is built as one latin-1 string and converted once, so a response costs one
// allocation for its head. Names and values from the app are checked here, at the last moment
// before they reach the wire, so no app can split a response (CR/LF/NUL injection).

import { STATUS_TEXT } from "./status.ts";
import { FIELD_VALUE_CHAR, TCHAR } from "./grammar.ts";

/** An app handed tray a header that would corrupt the response. A bug in the app, named as such. */
export class ResponseHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResponseHeaderError";
  }
}

export interface ResponseHeadInit {
  status: number;
  statusText?: string;
  /** Flat [name, value, ...] from the app; framing and hop-by-hop fields are set by tray. */
  headers: string[];
  date: string;
  /** Server header value; "" sends none. */
  server: string;
  /** The Content-Length field's value, or null for none (the writer decided). */
  contentLength: number | null;
  /** Transfer-Encoding: chunked. */
  chunked: boolean;
  /** False: Connection: close. */
  keepAlive: boolean;
  versionMinor: number;
}

/** Fields tray owns: an app's copy would contradict the framing tray chose (RFC 9112 §6.1, §9.6). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "date", "server", "upgrade", "proxy-connection", "te", "trailer"]);

/** RFC 9110 §5.1: field-name = token. */
export function isFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) if (TCHAR[name.charCodeAt(i)] !== 1) return false;
  return true;
}

/** RFC 9110 §5.5: no CR, LF, NUL or other CTL but HTAB, and one byte per character. */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE_CHAR[c] !== 1) return false;
  }
  return true;
}

function checkName(name: string): void {
  if (!isFieldName(name)) throw new ResponseHeaderError(`the app's response header name ${JSON.stringify(name)} is not a valid token`);
}

function checkValue(name: string, value: string): void {
  if (!isFieldValue(value)) throw new ResponseHeaderError(`the app's response header ${name} has a value with a CR, LF, NUL or other control character`);
}

export function serializeResponseHead(init: ResponseHeadInit): Uint8Array {
  const reason = init.statusText !== undefined && init.statusText !== "" ? init.statusText : (STATUS_TEXT[init.status] ?? "");
  checkValue("status text", reason);
  let head = `HTTP/1.${init.versionMinor === 0 ? 0 : 1} ${init.status} ${reason}\r\n`;
  const h = init.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    const value = h[i + 1];
    checkName(name);
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    checkValue(name, value);
    head += `${name}: ${value}\r\n`;
  }
  if (init.server !== "") head += `Server: ${init.server}\r\n`;
  head += `Date: ${init.date}\r\n`;
  if (init.contentLength !== null) head += `Content-Length: ${init.contentLength}\r\n`;
  else if (init.chunked) head += "Transfer-Encoding: chunked\r\n";
  // RFC 9112 §9.3: HTTP/1.1 persists by default; HTTP/1.0 only with an explicit keep-alive.
  if (!init.keepAlive) head += "Connection: close\r\n";
  else if (init.versionMinor === 0) head += "Connection: keep-alive\r\n";
  head += "\r\n";
  return Buffer.from(head, "latin1");
}
