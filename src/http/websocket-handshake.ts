// The server's side of the WebSocket opening handshake (RFC 6455 §4.2).
// Strategy: checkUpgrade reads the request head the HTTP parser already produced and either says
// "not a WebSocket upgrade" (null: serve it as plain HTTP), refuses it with the status and fields
// to answer (a ProtocolError, here called HandshakeError), or returns what the 101 needs. Choosing
// a subprotocol and extensions is the caller's; upgradeResponseHeaders writes the 101's fields.

import { createHash } from "node:crypto";
import { ProtocolError } from "./errors.ts";
import { isToken, splitList } from "./grammar.ts";

/** A refused handshake is a ProtocolError: status, short reason, extra response fields. */
export { ProtocolError as HandshakeError } from "./errors.ts";

/** §1.3 / §4.2.2: the GUID appended to Sec-WebSocket-Key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** §4.1 / §4.4: the only version tray speaks. */
export const WEBSOCKET_VERSION = "13";

/** §4.2.1 item 5: base64 of 16 bytes is 22 characters and "==". */
const KEY_RE = /^[A-Za-z0-9+/]{22}==$/;

export interface UpgradeRequest {
  /** Sec-WebSocket-Key, as sent. */
  key: string;
  /** Sec-WebSocket-Protocol's tokens, in the client's order of preference (§4.2.1 item 8). */
  protocols: string[];
  /** Every Sec-WebSocket-Extensions field value, joined with ", " ("" when none; §9.1). */
  extensions: string;
}

function hasToken(values: string[], token: string): boolean {
  for (const v of values) for (const item of splitList(v)) if (item.toLowerCase() === token) return true;
  return false;
}

/**
 * §4.2.1: whether a request head asks for a WebSocket and may have one. `headers` is the flat
 * [name, value, ...] list of the parsed head. Null: no `Upgrade: websocket`, not a WebSocket
 * request at all.
 */
export function checkUpgrade(method: string, versionMinor: number, headers: string[]): UpgradeRequest | ProtocolError | null {
  const upgrade: string[] = [];
  const connection: string[] = [];
  const keys: string[] = [];
  const versions: string[] = [];
  const protocolValues: string[] = [];
  const extensionValues: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const value = headers[i + 1];
    switch (headers[i].toLowerCase()) {
      case "upgrade":
        upgrade.push(value);
        break;
      case "connection":
        connection.push(value);
        break;
      case "sec-websocket-key":
        keys.push(value);
        break;
      case "sec-websocket-version":
        versions.push(value);
        break;
      case "sec-websocket-protocol":
        protocolValues.push(value);
        break;
      case "sec-websocket-extensions":
        extensionValues.push(value);
        break;
    }
  }
  // §4.2.1 item 3: an Upgrade header field containing "websocket" (case-insensitive).
  if (!hasToken(upgrade, "websocket")) return null;
  // §4.2.1 item 1: an HTTP/1.1 or higher GET request.
  if (method !== "GET") return new ProtocolError(400, "WebSocket upgrade needs a GET request");
  if (versionMinor < 1) return new ProtocolError(400, "WebSocket upgrade needs HTTP/1.1");
  // §4.2.1 item 4: a Connection header field that includes the token "Upgrade".
  if (!hasToken(connection, "upgrade")) return new ProtocolError(400, "WebSocket upgrade needs Connection: Upgrade");
  // §4.2.1 item 5: exactly one Sec-WebSocket-Key, base64 of a 16-byte nonce.
  if (keys.length !== 1 || !KEY_RE.test(keys[0])) return new ProtocolError(400, "Missing or invalid Sec-WebSocket-Key header");
  // §4.2.1 item 6 and §4.4: version 13, else 426 listing the versions we speak.
  if (versions.length !== 1 || versions[0].trim() !== WEBSOCKET_VERSION) {
    return new ProtocolError(426, "Unsupported Sec-WebSocket-Version", ["Sec-WebSocket-Version", WEBSOCKET_VERSION]);
  }
  // §4.2.1 item 8 / §11.3.4: a list of distinct tokens.
  const protocols: string[] = [];
  for (const v of protocolValues) {
    for (const p of splitList(v)) {
      if (!isToken(p) || protocols.includes(p)) return new ProtocolError(400, "Invalid Sec-WebSocket-Protocol header");
      protocols.push(p);
    }
  }
  return { key: keys[0], protocols, extensions: extensionValues.join(", ") };
}

/** §4.2.2 item 5.4: base64(SHA-1(key + GUID)). */
export function acceptValue(key: string): string {
  return createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
}

/** §4.2.2 item 5: the 101's fields (flat [name, value, ...]); `protocol` is one of the client's
 *  (§4.2.2 item 5.4), `extensions` the negotiated Sec-WebSocket-Extensions value. */
export function upgradeResponseHeaders(req: UpgradeRequest, protocol: string | null, extensions: string | null): string[] {
  const out = ["Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", acceptValue(req.key)];
  if (protocol !== null) out.push("Sec-WebSocket-Protocol", protocol);
  if (extensions !== null) out.push("Sec-WebSocket-Extensions", extensions);
  return out;
}
