// The bytes tray answers a WebSocket handshake with (RFC 6455 §4.2.2): the 101 (Switching
// Protocols) head, or the refusal of a bad handshake (400, or 426 with Sec-WebSocket-Version).
//
// Strategy: beside serializeResponseHead (src/http/response.ts), which drops Upgrade and
// Connection as hop-by-hop fields and frames a body — a 101 has neither a body nor tray's framing.
// The handshake's own fields come from upgradeResponseHeaders; the app's extra fields (Bun's
// upgrade(req, { headers })) follow, checked like any response field, minus those the handshake
// owns. A field the app got wrong is the app's bug: it is left out and logged, the upgrade goes on.
import type { ProtocolError } from "../http/errors.ts";
import { FIELD_VALUE_CHAR, TCHAR } from "../http/grammar.ts";
import { upgradeResponseHeaders, type UpgradeRequest } from "../http/websocket-handshake.ts";
import { errorBody } from "./error-response.ts";
import { httpDate } from "./date.ts";

/** Fields of the 101 that the handshake decides (§4.2.2 item 5), never the app. */
const HANDSHAKE_FIELDS = new Set(["upgrade", "connection", "sec-websocket-accept", "sec-websocket-extensions", "content-length", "transfer-encoding", "date", "server"]);

function validName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) if (TCHAR[name.charCodeAt(i)] !== 1) return false;
  return true;
}

function validValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE_CHAR[c] !== 1) return false;
  }
  return true;
}

/** "HTTP/1.1 101 Switching Protocols" with the handshake's fields, the app's, Server and Date.
 *  `extensions`: the negotiated Sec-WebSocket-Extensions value, or null. `refused` hears of each
 *  app field left out. */
export function switchingProtocolsHead(request: UpgradeRequest, extensions: string | null, appHeaders: string[], ident: string, refused: (name: string) => void): Uint8Array {
  const fields = upgradeResponseHeaders(request, null, extensions);
  let head = "HTTP/1.1 101 Switching Protocols\r\n";
  for (let i = 0; i < fields.length; i += 2) head += `${fields[i]}: ${fields[i + 1]}\r\n`;
  for (let i = 0; i < appHeaders.length; i += 2) {
    const name = appHeaders[i];
    const value = appHeaders[i + 1];
    if (HANDSHAKE_FIELDS.has(name.toLowerCase())) continue;
    if (!validName(name) || !validValue(value)) {
      refused(name);
      continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (ident !== "") head += `Server: ${ident}\r\n`;
  head += `Date: ${httpDate()}\r\n\r\n`;
  return Buffer.from(head, "latin1");
}

/** A refused handshake (checkUpgrade's error): its status, extra fields (426: Sec-WebSocket-Version,
 *  §4.4) and a short plain-text body; the connection closes after it. */
export function handshakeRefusal(error: ProtocolError, ident: string, versionMinor: number): Uint8Array {
  const body = Buffer.from(errorBody(error.status, error.message), "utf8");
  const status = error.status === 426 ? "426 Upgrade Required" : error.status === 400 ? "400 Bad Request" : `${error.status} Error`;
  let head = `HTTP/1.${versionMinor === 0 ? 0 : 1} ${status}\r\n`;
  for (let i = 0; i < error.headers.length; i += 2) head += `${error.headers[i]}: ${error.headers[i + 1]}\r\n`;
  head += "Content-Type: text/plain; charset=utf-8\r\n";
  head += `Content-Length: ${body.byteLength}\r\n`;
  if (ident !== "") head += `Server: ${ident}\r\n`;
  head += `Date: ${httpDate()}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}
