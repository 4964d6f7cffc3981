// The bytes tray answers a WebSocket handshake with (RFC 6455 §4.2.2): the 101 (Switching
// Protocols) head. (A bad handshake's 400 or 426 is an ordinary error response, error-response.ts.)
//
// Strategy: beside serializeResponseHead (src/http/response.ts), which drops Upgrade and
// Connection as hop-by-hop fields and frames a body — a 101 has neither a body nor tray's framing.
// The handshake's own fields come from upgradeResponseHeaders; the app's extra fields (Bun's
// upgrade(req, { headers })) follow, checked like any response field, minus those the handshake
// owns. A field the app got wrong is the app's bug: it is left out and logged, the upgrade goes on.
import { isFieldName, isFieldValue } from "../http/response.ts";
import { upgradeResponseHeaders, type UpgradeRequest } from "../http/websocket-handshake.ts";
import { httpDate } from "./date.ts";

/** Fields of the 101 that the handshake decides (§4.2.2 item 5), never the app. */
const HANDSHAKE_FIELDS = new Set(["upgrade", "connection", "sec-websocket-accept", "sec-websocket-extensions", "content-length", "transfer-encoding", "date", "server"]);

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
    if (!isFieldName(name) || !isFieldValue(value)) {
      refused(name);
      continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (ident !== "") head += `Server: ${ident}\r\n`;
  head += `Date: ${httpDate()}\r\n\r\n`;
  return Buffer.from(head, "latin1");
}
