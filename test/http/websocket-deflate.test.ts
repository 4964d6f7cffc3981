// permessage-deflate (RFC 7692): offer negotiation (§5, §7.1), the inflater and deflater against
// the RFC's example bytes (§7.2.3) and node:zlib as the peer, and the reader's compressed messages.
import { describe, expect, test } from "bun:test";
import { constants, createDeflateRaw, createInflateRaw, deflateRawSync } from "node:zlib";
import { MessageDeflater, MessageInflater, negotiateDeflate } from "../../src/http/websocket-deflate.ts";
import type { DeflateParams } from "../../src/http/websocket-deflate.ts";
import { WebSocketError } from "../../src/http/websocket-close.ts";
import { bytes, clientFrame, concat, hex, readEverySplit, text, toHex } from "./websocket-harness.ts";

const TAIL = hex("0000ffff");
const params = (p: Partial<DeflateParams> = {}): DeflateParams => ({
  response: "permessage-deflate",
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  ...p,
});

describe("negotiateDeflate (§5, §7.1)", () => {
  const rows: [string, string, Partial<DeflateParams> | null][] = [
    ["a bare offer", "permessage-deflate", {}],
    ["client_max_window_bits without a value (browsers)", "permessage-deflate; client_max_window_bits", {}],
    ["client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10", { clientMaxWindowBits: 10 }],
    ["server_no_context_takeover is echoed", "permessage-deflate; server_no_context_takeover", { response: "permessage-deflate; server_no_context_takeover", serverNoContextTakeover: true }],
    ["client_no_context_takeover is echoed", "permessage-deflate; client_no_context_takeover", { response: "permessage-deflate; client_no_context_takeover", clientNoContextTakeover: true }],
    ["server_max_window_bits=10 is echoed", "permessage-deflate; server_max_window_bits=10", { response: "permessage-deflate; server_max_window_bits=10", serverMaxWindowBits: 10 }],
    ["a quoted value (§9.1)", 'permessage-deflate; server_max_window_bits="12"', { response: "permessage-deflate; server_max_window_bits=12", serverMaxWindowBits: 12 }],
    ["names are case-insensitive, OWS around ; and =", "Permessage-Deflate ;  Server_No_Context_Takeover ; client_max_window_bits = 9", { response: "permessage-deflate; server_no_context_takeover", serverNoContextTakeover: true, clientMaxWindowBits: 9 }],
    ["all four", "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=15", { response: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9", serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9 }],
    ["another extension first is skipped", "x-foo; a=1, permessage-deflate", {}],
    ["the first acceptable offer wins", "permessage-deflate; bogus, permessage-deflate; server_max_window_bits=11, permessage-deflate", { response: "permessage-deflate; server_max_window_bits=11", serverMaxWindowBits: 11 }],
    ["server_max_window_bits=8 is declined (zlib deflates with 9 at least)", "permessage-deflate; server_max_window_bits=8", null],
    ["server_max_window_bits=16 is declined", "permessage-deflate; server_max_window_bits=16", null],
    ["server_max_window_bits=7 is declined", "permessage-deflate; server_max_window_bits=7", null],
    ["a leading zero is declined", "permessage-deflate; server_max_window_bits=010", null],
    ["server_max_window_bits without a value is declined", "permessage-deflate; server_max_window_bits", null],
    ["client_max_window_bits=abc is declined", "permessage-deflate; client_max_window_bits=abc", null],
    ["a value on server_no_context_takeover is declined", "permessage-deflate; server_no_context_takeover=1", null],
    ["a value on client_no_context_takeover is declined", "permessage-deflate; client_no_context_takeover=1", null],
    ["a duplicate parameter is declined", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", null],
    ["a duplicate window bits parameter is declined", "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11", null],
    ["an unknown parameter is declined", "permessage-deflate; foo", null],
    ["not offered", "x-webkit-deflate-frame", null],
    ["nothing offered", "", null],
    ["a value that breaks the grammar", "permessage-deflate; server_max_window_bits=\"10", null],
    ["a quoted value that is not a token", 'permessage-deflate; server_max_window_bits="1 0"', null],
  ];
  for (const [name, offer, want] of rows) {
    test(name, () => {
      expect(negotiateDeflate(offer, true)).toEqual(want === null ? null : params(want));
    });
  }
  test("not enabled: null for any offer", () => {
    expect(negotiateDeflate("permessage-deflate", false)).toBeNull();
  });
});

describe("MessageInflater (§7.2.2)", () => {
  test("the RFC's 'Hello' (§7.2.3.1)", () => {
    const out = new MessageInflater(params()).inflate(hex("f2 48 cd c9 c9 07 00"), true, 100);
    expect(toHex(out!)).toBe(text("Hello"));
  });
  test("the same message split in pieces (§7.2.3.1 fragmented: f2 48 cd | c9 c9 07 00)", () => {
    const inf = new MessageInflater(params());
    expect(inf.inflate(hex("f2 48 cd"), false, 100)!.length).toBe(0);
    expect(toHex(inf.inflate(hex("c9 c9 07 00"), true, 100)!)).toBe(text("Hello"));
  });
  test("context takeover: the second 'Hello' refers back to the first (§7.2.3.2)", () => {
    const inf = new MessageInflater(params());
    inf.inflate(hex("f2 48 cd c9 c9 07 00"), true, 100);
    expect(toHex(inf.inflate(hex("f2 00 11 00 00"), true, 100)!)).toBe(text("Hello"));
  });
  test("client_no_context_takeover: the window is not kept, a back-reference is invalid (1007)", () => {
    const inf = new MessageInflater(params({ clientNoContextTakeover: true }));
    inf.inflate(hex("f2 48 cd c9 c9 07 00"), true, 100);
    expect(() => inf.inflate(hex("f2 00 11 00 00"), true, 100)).toThrow(WebSocketError);
  });
  test("a message with BFINAL set (§7.2.3.3: f3 48 cd c9 c9 07 00)", () => {
    expect(toHex(new MessageInflater(params()).inflate(hex("f3 48 cd c9 c9 07 00"), true, 100)!)).toBe(text("Hello"));
  });
  test("an uncompressed (stored) block (§7.2.3.4)", () => {
    expect(toHex(new MessageInflater(params()).inflate(hex("00 05 00 fa ff 48 65 6c 6c 6f 00"), true, 100)!)).toBe(text("Hello"));
  });
  test("garbage is a 1007 WebSocketError", () => {
    try {
      new MessageInflater(params()).inflate(hex("ff ff ff"), true, 100);
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(WebSocketError);
      expect((e as WebSocketError).code).toBe(1007);
    }
  });
  test("output of exactly the limit is fine, one byte less is null", () => {
    const c = deflateRawSync(new Uint8Array(1000), { finishFlush: constants.Z_SYNC_FLUSH });
    expect(new MessageInflater(params()).inflate(c, true, 1000)!.length).toBe(1000);
    expect(new MessageInflater(params()).inflate(c, true, 999)).toBeNull();
  });
  test("a deflate bomb (100 MB of zeros) stops at the limit, quickly", () => {
    const bomb = deflateRawSync(new Uint8Array(100_000_000), { finishFlush: constants.Z_SYNC_FLUSH });
    expect(bomb.length).toBeLessThan(200_000);
    const t = performance.now();
    expect(new MessageInflater(params()).inflate(bomb, true, 1 << 20)).toBeNull();
    expect(performance.now() - t).toBeLessThan(1000);
  });
  test("node:zlib as the client: many messages with context takeover", async () => {
    const msgs = Array.from({ length: 50 }, (_, i) => bytes(`{"n":${i},"text":"the same words again and again ${i % 7}"}`.repeat(1 + (i % 5))));
    msgs.push(new Uint8Array(70_000).map((_, i) => (i * 2654435761) >>> 24), bytes("after the big one"));
    const wire = await peerDeflate(msgs);
    // Later messages refer back into earlier ones: the window really carried over.
    expect(wire[1].length).toBeLessThan(msgs[1].length / 2);
    const inf = new MessageInflater(params());
    for (let i = 0; i < msgs.length; i++) expect(toHex(inf.inflate(wire[i], true, 1 << 20)!)).toBe(toHex(msgs[i]));
  });
});

/** A node:zlib raw deflate stream as the client (§7.2.1): one window for the whole connection,
 *  each message flushed with Z_SYNC_FLUSH and its 00 00 ff ff removed. */
async function peerDeflate(messages: Uint8Array[]): Promise<Uint8Array[]> {
  const z = createDeflateRaw();
  const out: Uint8Array[] = [];
  for (const m of messages) {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer): void => {
      chunks.push(c);
    };
    z.on("data", onData);
    z.write(m);
    await new Promise<void>((resolve) => z.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    z.off("data", onData);
    const c = Buffer.concat(chunks);
    expect(toHex(c.subarray(c.length - 4))).toBe("0000ffff");
    out.push(c.subarray(0, c.length - 4));
  }
  z.close();
  return out;
}

/** A node:zlib raw inflate stream as the client: receives our messages one by one. */
async function peerInflate(messages: Uint8Array[], windowBits = 15): Promise<string[]> {
  const z = createInflateRaw({ windowBits });
  const out: string[] = [];
  for (const m of messages) {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer): void => {
      chunks.push(c);
    };
    z.on("data", onData);
    z.write(concat([m, TAIL]));
    await new Promise<void>((resolve) => z.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    z.off("data", onData);
    out.push(Buffer.concat(chunks).toString("latin1"));
  }
  z.close();
  return out;
}

describe("MessageDeflater (§7.2.1)", () => {
  test("'Hello' is the RFC's f2 48 cd c9 c9 07 00 (§7.2.3.1)", () => {
    expect(toHex(new MessageDeflater(params()).deflate(bytes("Hello")))).toBe("f248cdc9c90700");
  });
  test("context takeover: the second 'Hello' is f2 00 11 00 00 (§7.2.3.2)", () => {
    const d = new MessageDeflater(params());
    d.deflate(bytes("Hello"));
    expect(toHex(d.deflate(bytes("Hello")))).toBe("f200110000");
  });
  test("server_no_context_takeover: the second 'Hello' is compressed alone", () => {
    const d = new MessageDeflater(params({ serverNoContextTakeover: true }));
    d.deflate(bytes("Hello"));
    expect(toHex(d.deflate(bytes("Hello")))).toBe("f248cdc9c90700");
  });
  test("an empty message", () => {
    const c = new MessageDeflater(params()).deflate(new Uint8Array(0));
    expect(new MessageInflater(params()).inflate(c, true, 10)!.length).toBe(0);
  });
  const corpus = Array.from({ length: 40 }, (_, i) => bytes(`message ${i}: ${"abc".repeat(i * 37)} ${"xyz".repeat(i % 3)}`));
  corpus.push(new Uint8Array(100_000).map((_, i) => (i * 2654435761) >>> 24)); // larger than the window
  corpus.push(bytes("after the big one"));
  test("node:zlib as the client inflates every message, with context takeover", async () => {
    const d = new MessageDeflater(params());
    const got = await peerInflate(corpus.map((m) => d.deflate(m)));
    expect(got).toEqual(corpus.map((m) => Buffer.from(m).toString("latin1")));
  });
  test("server_max_window_bits=9: a client inflating with a 512-byte window reads it all", async () => {
    const d = new MessageDeflater(params({ serverMaxWindowBits: 9 }));
    const got = await peerInflate(corpus.map((m) => d.deflate(m)), 9);
    expect(got).toEqual(corpus.map((m) => Buffer.from(m).toString("latin1")));
  });
  test("our inflater reads our deflater, message after message", () => {
    const d = new MessageDeflater(params());
    const inf = new MessageInflater(params());
    for (const m of corpus) expect(toHex(inf.inflate(d.deflate(m), true, 1 << 20)!)).toBe(toHex(m));
  });
});

describe("MessageReader with permessage-deflate (RFC 7692 §6)", () => {
  const options = (maxPayloadLength = 1 << 20) => () => ({ maxPayloadLength, inflater: new MessageInflater(params()) });
  const strip = (steps: ReturnType<typeof readEverySplit>) => steps.map((s) => (s.type === "error" ? { type: "error", code: s.code } : s));
  test("a compressed 'Hello' with RSV1 (c1 87 + mask + f2 48 cd c9 c9 07 00)", () => {
    const raw = clientFrame(0xc1, hex("f2 48 cd c9 c9 07 00"));
    expect(toHex(raw.subarray(0, 2))).toBe("c187");
    expect(strip(readEverySplit(raw, options()))).toEqual([{ type: "message", binary: false, data: text("Hello") }]);
  });
  test("a compressed message in two fragments, RSV1 only on the first, a ping between", () => {
    const raw = concat([clientFrame(0x41, hex("f2 48 cd")), clientFrame(0x89, bytes("p")), clientFrame(0x80, hex("c9 c9 07 00"))]);
    expect(strip(readEverySplit(raw, options()))).toEqual([{ type: "ping", data: text("p") }, { type: "message", binary: false, data: text("Hello") }]);
  });
  test("an uncompressed message is still fine (RSV1 clear)", () => {
    expect(strip(readEverySplit(clientFrame(0x81, bytes("Hi")), options()))).toEqual([{ type: "message", binary: false, data: text("Hi") }]);
  });
  test("RSV1 on a continuation frame is 1002 (§6.1)", () => {
    const raw = concat([clientFrame(0x41, hex("f2 48 cd")), clientFrame(0xc0, hex("c9 c9 07 00"))]);
    expect(strip(readEverySplit(raw, options()))).toEqual([{ type: "error", code: 1002 }]);
  });
  test("RSV1 on a control frame is 1002", () => {
    expect(strip(readEverySplit(clientFrame(0xc9, bytes("p")), options()))).toEqual([{ type: "error", code: 1002 }]);
  });
  test("a message over the limit once inflated is 1009", () => {
    const c = new MessageDeflater(params()).deflate(new Uint8Array(5000));
    expect(c.length).toBeLessThan(100);
    expect(strip(readEverySplit(clientFrame(0xc2, c), options(4999)))).toEqual([{ type: "error", code: 1009 }]);
    expect(strip(readEverySplit(clientFrame(0xc2, c), options(5000)))).toEqual([{ type: "message", binary: true, data: "00".repeat(5000) }]);
  });
  test("compressed text that inflates to invalid UTF-8 is 1007", () => {
    const c = new MessageDeflater(params()).deflate(hex("48 ff 48"));
    expect(strip(readEverySplit(clientFrame(0xc1, c), options()))).toEqual([{ type: "error", code: 1007 }]);
  });
  test("data that is not deflate is 1007", () => {
    expect(strip(readEverySplit(clientFrame(0xc1, hex("ff ff ff")), options()))).toEqual([{ type: "error", code: 1007 }]);
  });
});
