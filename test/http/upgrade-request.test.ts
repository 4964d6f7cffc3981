// asksToUpgrade: which requests node:http would hand to an http.Server's 'upgrade' event
// (RFC 9110 §7.8: Upgrade listed in Connection, HTTP/1.1 only, never CONNECT).
import { describe, expect, test } from "bun:test";
import { asksToUpgrade } from "../../src/http/upgrade-request.ts";

describe("asksToUpgrade", () => {
  test("Upgrade with Connection: upgrade (any case, any place in the list)", () => {
    expect(asksToUpgrade("GET", 1, ["Host", "a", "Connection", "Upgrade", "Upgrade", "websocket"])).toBe(true);
    expect(asksToUpgrade("GET", 1, ["connection", "keep-alive, UPGRADE", "upgrade", "h2c"])).toBe(true);
    expect(asksToUpgrade("POST", 1, ["Connection", "close", "Connection", "upgrade", "Upgrade", "foo/2"])).toBe(true);
  });

  test("no Upgrade field, or one not listed in Connection, is no upgrade", () => {
    expect(asksToUpgrade("GET", 1, ["Connection", "upgrade"])).toBe(false);
    expect(asksToUpgrade("GET", 1, ["Upgrade", "websocket"])).toBe(false);
    expect(asksToUpgrade("GET", 1, ["Upgrade", "websocket", "Connection", "keep-alive, upgraded"])).toBe(false);
    expect(asksToUpgrade("GET", 1, ["Upgrade", " ", "Connection", "upgrade"])).toBe(false);
  });

  test("HTTP/1.0 and CONNECT never upgrade", () => {
    expect(asksToUpgrade("GET", 0, ["Upgrade", "websocket", "Connection", "upgrade"])).toBe(false);
    expect(asksToUpgrade("CONNECT", 1, ["Upgrade", "websocket", "Connection", "upgrade"])).toBe(false);
  });
});
