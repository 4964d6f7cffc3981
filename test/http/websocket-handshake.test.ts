// The server's opening handshake (RFC 6455 §4.2): which requests are upgrades, which are refused
// with what, and the 101's fields.
import { describe, expect, test } from "bun:test";
import { acceptValue, checkUpgrade, HandshakeError, upgradeResponseHeaders } from "../../src/http/websocket-handshake.ts";
import { ProtocolError } from "../../src/http/errors.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const BASE = ["Host", "server.example.com", "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", KEY, "Sec-WebSocket-Version", "13"];

function without(name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < BASE.length; i += 2) if (BASE[i] !== name) out.push(BASE[i], BASE[i + 1]);
  return out;
}
function replaced(name: string, value: string): string[] {
  return [...without(name), name, value];
}
function refusal(method: string, minor: number, headers: string[]): { status: number; headers: string[] } {
  const r = checkUpgrade(method, minor, headers);
  if (!(r instanceof HandshakeError)) throw new Error(`expected a refusal, got ${JSON.stringify(r)}`);
  expect(r.message.length).toBeGreaterThan(0);
  return { status: r.status, headers: r.headers };
}

describe("acceptValue (§4.2.2 item 5.4)", () => {
  test("the RFC's example key", () => {
    expect(acceptValue(KEY)).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });
});

describe("checkUpgrade: what is a WebSocket upgrade (§4.2.1)", () => {
  test("the RFC's example request", () => {
    expect(checkUpgrade("GET", 1, BASE)).toEqual({ key: KEY, protocols: [], extensions: "" });
  });
  test("no Upgrade field: plain HTTP (null)", () => {
    expect(checkUpgrade("GET", 1, without("Upgrade"))).toBeNull();
  });
  test("Upgrade to something else: plain HTTP (null)", () => {
    expect(checkUpgrade("GET", 1, replaced("Upgrade", "h2c"))).toBeNull();
  });
  test("the token is case-insensitive and may sit in a list", () => {
    expect(checkUpgrade("GET", 1, replaced("Upgrade", "foo/2, WebSocket"))).toMatchObject({ key: KEY });
  });
  test("field names are case-insensitive", () => {
    const h = BASE.map((x, i) => (i % 2 === 0 ? x.toLowerCase() : x));
    expect(checkUpgrade("GET", 1, h)).toMatchObject({ key: KEY });
  });
  test("the HandshakeError is the parser's ProtocolError (one error type)", () => {
    expect(checkUpgrade("POST", 1, BASE)).toBeInstanceOf(ProtocolError);
  });
});

describe("checkUpgrade: refusals", () => {
  test("not GET is 400", () => {
    expect(refusal("POST", 1, BASE)).toEqual({ status: 400, headers: [] });
  });
  test("HTTP/1.0 is 400", () => {
    expect(refusal("GET", 0, BASE).status).toBe(400);
  });
  test("no Connection field is 400", () => {
    expect(refusal("GET", 1, without("Connection")).status).toBe(400);
  });
  test("Connection without the upgrade token is 400", () => {
    expect(refusal("GET", 1, replaced("Connection", "keep-alive")).status).toBe(400);
  });
  test("Connection: keep-alive, Upgrade is fine", () => {
    expect(checkUpgrade("GET", 1, replaced("Connection", "keep-alive, Upgrade"))).toMatchObject({ key: KEY });
  });
  test("no Sec-WebSocket-Key is 400", () => {
    expect(refusal("GET", 1, without("Sec-WebSocket-Key")).status).toBe(400);
  });
  test("two Sec-WebSocket-Key fields is 400", () => {
    expect(refusal("GET", 1, [...BASE, "Sec-WebSocket-Key", KEY]).status).toBe(400);
  });
  for (const key of ["dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZXg=", "AAAAAAAAAAAAAAAAAAAAAAAA", "dGhlIHNhbXBsZSBub25j*Q==", ""]) {
    test(`a key that is not base64 of 16 bytes (${JSON.stringify(key)}) is 400`, () => {
      expect(refusal("GET", 1, replaced("Sec-WebSocket-Key", key)).status).toBe(400);
    });
  }
  test("no Sec-WebSocket-Version is 426 with Sec-WebSocket-Version: 13 (§4.4)", () => {
    expect(refusal("GET", 1, without("Sec-WebSocket-Version"))).toEqual({ status: 426, headers: ["Sec-WebSocket-Version", "13"] });
  });
  test("Sec-WebSocket-Version: 8 is 426 with Sec-WebSocket-Version: 13", () => {
    expect(refusal("GET", 1, replaced("Sec-WebSocket-Version", "8"))).toEqual({ status: 426, headers: ["Sec-WebSocket-Version", "13"] });
  });
  test("a repeated subprotocol is 400", () => {
    expect(refusal("GET", 1, [...BASE, "Sec-WebSocket-Protocol", "chat, chat"]).status).toBe(400);
  });
  test("a subprotocol that is not a token is 400", () => {
    expect(refusal("GET", 1, [...BASE, "Sec-WebSocket-Protocol", "chat, a b"]).status).toBe(400);
  });
});

describe("checkUpgrade: subprotocols and extensions", () => {
  test("protocols in order across fields, extensions joined", () => {
    const h = [...BASE, "Sec-WebSocket-Protocol", "chat, superchat", "Sec-WebSocket-Protocol", "v2", "Sec-WebSocket-Extensions", "permessage-deflate", "Sec-WebSocket-Extensions", "foo"];
    expect(checkUpgrade("GET", 1, h)).toEqual({ key: KEY, protocols: ["chat", "superchat", "v2"], extensions: "permessage-deflate, foo" });
  });
});

describe("upgradeResponseHeaders (§4.2.2 item 5)", () => {
  const req = { key: KEY, protocols: ["chat"], extensions: "" };
  test("the 101's fields", () => {
    expect(upgradeResponseHeaders(req, null, null)).toEqual(["Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]);
  });
  test("with a subprotocol and extensions", () => {
    expect(upgradeResponseHeaders(req, "chat", "permessage-deflate")).toEqual([
      "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "Sec-WebSocket-Protocol", "chat", "Sec-WebSocket-Extensions", "permessage-deflate",
    ]);
  });
});
