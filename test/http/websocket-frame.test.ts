// RFC 6455 framing: the server's encoder (§5.2, unmasked) and the MessageReader of client frames
// (§5.1-§5.5, §7.4, §8.1), every input read whole, split at every offset, and byte by byte.
import { describe, expect, test } from "bun:test";
import {
  encodeClose,
  encodeFrame,
  encodeFrameHead,
  MessageReader,
  OPCODE_BINARY,
  OPCODE_CLOSE,
  OPCODE_PING,
  OPCODE_TEXT,
} from "../../src/http/websocket-frame.ts";
import { bytes, clientFrame, concat, feedChunks, hex, readEverySplit, text, toHex } from "./websocket-harness.ts";
import type { Step } from "./websocket-harness.ts";

/** Steps with error reasons dropped: the tests pin the close code, the reason is prose. */
function read(raw: Uint8Array, maxPayloadLength = 1 << 20): object[] {
  return readEverySplit(raw, () => ({ maxPayloadLength, inflater: null })).map((s: Step) => (s.type === "error" ? { type: "error", code: s.code } : s));
}
const error = (code: number) => ({ type: "error", code });
const message = (data: string, binary = false) => ({ type: "message" as const, binary, data });

describe("RFC 6455 §5.7 examples", () => {
  test("a masked single-frame text message 'Hello'", () => {
    expect(read(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"))).toEqual([message(text("Hello"))]);
  });
  test("a fragmented text message 'Hel' + 'lo' (masked)", () => {
    const raw = concat([clientFrame(0x01, bytes("Hel")), clientFrame(0x80, bytes("lo"))]);
    expect(toHex(raw)).toBe("018337fa213d7f9f4d" + "808237fa213d5b95");
    expect(read(raw)).toEqual([message(text("Hello"))]);
  });
  test("a masked ping with 'Hello', then a pong", () => {
    const raw = concat([hex("89 85 37 fa 21 3d 7f 9f 4d 51 58"), hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")]);
    expect(read(raw)).toEqual([
      { type: "ping", data: text("Hello") },
      { type: "pong", data: text("Hello") },
    ]);
  });
  test("a 256-byte binary message (16-bit length 7e 01 00)", () => {
    const payload = new Uint8Array(256).map((_, i) => i);
    const raw = clientFrame(0x82, payload);
    expect(toHex(raw.subarray(0, 8))).toBe("82fe010037fa213d");
    expect(read(raw)).toEqual([message(toHex(payload), true)]);
  });
  test("a 64 KiB binary message (64-bit length 7f 00..01 00 00)", () => {
    const payload = new Uint8Array(65536).map((_, i) => (i * 7) & 0xff);
    const raw = clientFrame(0x82, payload);
    expect(toHex(raw.subarray(0, 14))).toBe("82ff000000000001000037fa213d");
    const steps = readEverySplit(raw, undefined, 64);
    expect(steps).toEqual([message(toHex(payload), true)]);
  });
  test("an empty text message and an empty binary message", () => {
    expect(read(hex("81 80 37 fa 21 3d  82 80 37 fa 21 3d"))).toEqual([message(""), message("", true)]);
  });
  test("a message in many frames, some empty, unmasked across odd offsets", () => {
    const raw = concat([clientFrame(0x02, hex("010203")), clientFrame(0x00, new Uint8Array(0)), clientFrame(0x00, new Uint8Array(37).fill(9)), clientFrame(0x80, hex("ff"))]);
    expect(read(raw)).toEqual([message("010203" + "09".repeat(37) + "ff", true)]);
  });
  test("two messages in one feed", () => {
    const raw = concat([hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), clientFrame(0x82, hex("00ff"))]);
    expect(read(raw)).toEqual([message(text("Hello")), message("00ff", true)]);
  });
});

describe("§5.1: client frames must be masked", () => {
  test("the unmasked 'Hello' of §5.7 is 1002", () => {
    expect(read(hex("81 05 48 65 6c 6c 6f"))).toEqual([error(1002)]);
  });
  test("known from the first two bytes, before the payload arrives", () => {
    const r = new MessageReader({ maxPayloadLength: 1 << 20, inflater: null });
    expect(r.feed(hex("81 05"))).toEqual([{ type: "error", code: 1002, reason: "client frames must be masked" }]);
  });
});

describe("§5.2: RSV bits", () => {
  test("RSV1 without permessage-deflate is 1002", () => {
    expect(read(clientFrame(0xc1, bytes("Hello")))).toEqual([error(1002)]);
  });
  test("RSV2 is 1002", () => {
    expect(read(clientFrame(0xa1, bytes("Hello")))).toEqual([error(1002)]);
  });
  test("RSV3 is 1002", () => {
    expect(read(clientFrame(0x91, bytes("Hello")))).toEqual([error(1002)]);
  });
});

describe("§5.2: reserved opcodes are 1002", () => {
  for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    test(`opcode ${op}`, () => {
      expect(read(clientFrame(0x80 | op, bytes("x")))).toEqual([error(1002)]);
    });
  }
});

describe("§5.5: control frames", () => {
  test("a ping of 125 bytes is fine", () => {
    expect(read(clientFrame(0x89, new Uint8Array(125).fill(0x61)))).toEqual([{ type: "ping", data: "61".repeat(125) }]);
  });
  test("a ping of 126 bytes is 1002", () => {
    expect(read(clientFrame(0x89, new Uint8Array(126)))).toEqual([error(1002)]);
  });
  test("a fragmented ping (FIN clear) is 1002", () => {
    expect(read(clientFrame(0x09, bytes("Hello")))).toEqual([error(1002)]);
  });
  test("a fragmented close (FIN clear) is 1002", () => {
    expect(read(clientFrame(0x08, hex("03e8")))).toEqual([error(1002)]);
  });
  test("an empty ping", () => {
    expect(read(hex("89 80 37 fa 21 3d"))).toEqual([{ type: "ping", data: "" }]);
  });
  test("ping and pong between the fragments of a message", () => {
    const raw = concat([
      clientFrame(0x01, bytes("Hel")),
      clientFrame(0x89, bytes("p1")),
      clientFrame(0x00, bytes("l")),
      clientFrame(0x8a, bytes("p2")),
      clientFrame(0x80, bytes("o")),
    ]);
    expect(read(raw)).toEqual([{ type: "ping", data: text("p1") }, { type: "pong", data: text("p2") }, message(text("Hello"))]);
  });
});

describe("§5.4: fragmentation", () => {
  test("a continuation frame with no message started is 1002", () => {
    expect(read(clientFrame(0x80, bytes("lo")))).toEqual([error(1002)]);
  });
  test("a continuation after a finished message is 1002", () => {
    expect(read(concat([clientFrame(0x81, bytes("Hel")), clientFrame(0x80, bytes("lo"))]))).toEqual([message(text("Hel")), error(1002)]);
  });
  test("a new text frame while a message is unfinished is 1002", () => {
    expect(read(concat([clientFrame(0x01, bytes("Hel")), clientFrame(0x81, bytes("lo"))]))).toEqual([error(1002)]);
  });
  test("a new binary frame while a message is unfinished is 1002", () => {
    expect(read(concat([clientFrame(0x01, bytes("Hel")), clientFrame(0x02, bytes("lo"))]))).toEqual([error(1002)]);
  });
});

describe("§5.2: payload length", () => {
  test("a 64-bit length with the most significant bit set is 1002", () => {
    expect(read(hex("82 ff 80 00 00 00 00 00 00 01 37 fa 21 3d 00"))).toEqual([error(1002)]);
  });
});

describe("§8.1: text must be UTF-8 (1007)", () => {
  test("valid multi-byte text: 2-, 3- and 4-byte sequences", () => {
    expect(read(clientFrame(0x81, new TextEncoder().encode("κόσμε €𝄞")))).toEqual([message(text("κόσμε €𝄞"))]);
  });
  test("an invalid byte in a single frame", () => {
    expect(read(clientFrame(0x81, hex("48 65 ff 6c")))).toEqual([error(1007)]);
  });
  test("a surrogate (ED A0 80) is invalid", () => {
    expect(read(clientFrame(0x81, hex("ed a0 80")))).toEqual([error(1007)]);
  });
  test("a sequence cut off at the end of the message", () => {
    expect(read(clientFrame(0x81, hex("48 e2 82")))).toEqual([error(1007)]);
  });
  test("a valid sequence split across fragments (E2 | 82 AC)", () => {
    expect(read(concat([clientFrame(0x01, hex("48 e2")), clientFrame(0x80, hex("82 ac"))]))).toEqual([message("48e282ac")]);
  });
  test("an invalid sequence split across fragments (F4 | 90 80 80, past U+10FFFF)", () => {
    expect(read(concat([clientFrame(0x01, hex("48 f4")), clientFrame(0x80, hex("90 80 80"))]))).toEqual([error(1007)]);
  });
  test("an invalid sequence split across fragments is found before the message ends", () => {
    // The second fragment has FIN clear: the error cannot wait for the end of the message.
    const raw = concat([clientFrame(0x01, hex("48 e2")), clientFrame(0x00, hex("28 a1"))]);
    expect(read(raw)).toEqual([error(1007)]);
  });
  test("across feed() calls: the bad prefix fails in the feed that brings it", () => {
    // One frame, FIN set, 6 bytes announced; the first feed ends after "48 e0 80" (E0 80 is an overlong).
    const raw = clientFrame(0x81, hex("48 e0 80 80 41 42"));
    const cut = 2 + 4 + 3;
    const { steps, errorAtChunk } = feedChunks([raw.subarray(0, cut), raw.subarray(cut)], () => ({ maxPayloadLength: 1000, inflater: null }));
    expect(steps.map((s) => s.type)).toEqual(["error"]);
    expect(errorAtChunk).toBe(0);
  });
  test("across feed() calls: a valid sequence split mid-frame is fine", () => {
    const raw = clientFrame(0x81, hex("f0 9d 84 9e"));
    const { steps } = feedChunks([raw.subarray(0, 7), raw.subarray(7, 8), raw.subarray(8)], () => ({ maxPayloadLength: 1000, inflater: null }));
    expect(steps).toEqual([message("f09d849e")]);
  });
  test("binary is not checked", () => {
    expect(read(clientFrame(0x82, hex("ff fe")))).toEqual([message("fffe", true)]);
  });
});

describe("§5.5.1 / §7.4: the close frame", () => {
  test("close without a code", () => {
    expect(read(hex("88 80 37 fa 21 3d"))).toEqual([{ type: "close", code: null, reason: "" }]);
  });
  test("close with code 1000 and a reason", () => {
    expect(read(clientFrame(0x88, hex("03 e8 62 79 65")))).toEqual([{ type: "close", code: 1000, reason: "bye" }]);
  });
  test("close with a code and no reason", () => {
    expect(read(clientFrame(0x88, hex("0b b8")))).toEqual([{ type: "close", code: 3000, reason: "" }]);
  });
  test("nothing is read after the close frame", () => {
    expect(read(concat([clientFrame(0x88, hex("03 e8")), clientFrame(0x81, bytes("late"))]))).toEqual([{ type: "close", code: 1000, reason: "" }]);
  });
  test("a 1-byte payload is 1002", () => {
    expect(read(clientFrame(0x88, hex("03")))).toEqual([error(1002)]);
  });
  test("a reason that is not UTF-8 is 1007 (as ws)", () => {
    expect(read(clientFrame(0x88, hex("03 e8 ff")))).toEqual([error(1007)]);
  });
  const codes: [number, boolean][] = [
    [0, false], [999, false], [1000, true], [1001, true], [1002, true], [1003, true], [1004, false],
    [1005, false], [1006, false], [1007, true], [1008, true], [1009, true], [1010, true], [1011, true],
    [1012, true], [1013, true], [1014, true], [1015, false], [1016, false], [2000, false], [2999, false],
    [3000, true], [3999, true], [4000, true], [4999, true], [5000, false], [65535, false],
  ];
  for (const [code, ok] of codes) {
    test(`close code ${code} is ${ok ? "accepted" : "1002"}`, () => {
      const raw = clientFrame(0x88, new Uint8Array([code >>> 8, code & 0xff]));
      expect(read(raw)).toEqual([ok ? { type: "close", code, reason: "" } : error(1002)]);
    });
  }
});

describe("maxPayloadLength: 1009", () => {
  test("a message of exactly the limit is fine", () => {
    expect(read(clientFrame(0x82, new Uint8Array(100)), 100)).toEqual([message("00".repeat(100), true)]);
  });
  test("a single frame one byte over", () => {
    expect(read(clientFrame(0x82, new Uint8Array(101)), 100)).toEqual([error(1009)]);
  });
  test("refused from the header alone, before any payload", () => {
    const r = new MessageReader({ maxPayloadLength: 100, inflater: null });
    expect(r.feed(hex("82 fe 00 65 37 fa 21 3d"))).toEqual([{ type: "error", code: 1009, reason: "message too big" }]);
  });
  test("a 64-bit length of 2^62 is 1009, not an allocation", () => {
    const r = new MessageReader({ maxPayloadLength: 1 << 20, inflater: null });
    expect(r.feed(hex("82 ff 40 00 00 00 00 00 00 00 37 fa 21 3d"))[0]).toMatchObject({ type: "error", code: 1009 });
  });
  test("fragments that pass the limit together", () => {
    const raw = concat([clientFrame(0x02, new Uint8Array(60)), clientFrame(0x80, new Uint8Array(41))]);
    expect(read(raw, 100)).toEqual([error(1009)]);
  });
  test("control frames between fragments do not count", () => {
    const raw = concat([clientFrame(0x02, new Uint8Array(60)), clientFrame(0x89, new Uint8Array(100)), clientFrame(0x80, new Uint8Array(40))]);
    expect(read(raw, 100)).toEqual([{ type: "ping", data: "00".repeat(100) }, message("00".repeat(100), true)]);
  });
});

describe("encoder (§5.2, server frames are not masked)", () => {
  for (const [n, head] of [
    [0, "8200"],
    [125, "827d"],
    [126, "827e007e"],
    [65535, "827effff"],
    [65536, "827f0000000000010000"],
  ] as const) {
    test(`a ${n}-byte payload has head ${head}`, () => {
      expect(toHex(encodeFrameHead(OPCODE_BINARY, n))).toBe(head);
      const payload = new Uint8Array(n).fill(0x5a);
      const frame = encodeFrame(OPCODE_BINARY, payload);
      expect(frame.length).toBe(head.length / 2 + n);
      expect(toHex(frame.subarray(0, head.length / 2))).toBe(head);
      expect(frame.subarray(head.length / 2).every((b) => b === 0x5a)).toBe(true);
    });
  }
  test("the unmasked 'Hello' of §5.7", () => {
    expect(toHex(encodeFrame(OPCODE_TEXT, bytes("Hello")))).toBe("810548656c6c6f");
  });
  test("FIN clear and RSV1 set", () => {
    expect(toHex(encodeFrameHead(OPCODE_TEXT, 3, false, true))).toBe("4103");
    expect(toHex(encodeFrameHead(OPCODE_PING, 0))).toBe("8900");
  });
  test("a 2^32 + 5 length uses the high word", () => {
    expect(toHex(encodeFrameHead(OPCODE_BINARY, 2 ** 32 + 5))).toBe("827f0000000100000005");
  });
  test("close without a code is an empty close frame", () => {
    expect(toHex(encodeClose(null))).toBe("8800");
  });
  test("close with a code and a reason", () => {
    expect(toHex(encodeClose(1000, "bye"))).toBe("880503e8627965");
  });
  test("a long reason is cut to 123 bytes at a character boundary", () => {
    const frame = encodeClose(1001, "a" + "€".repeat(60)); // 1 + 180 bytes
    expect(frame[1]).toBe(2 + 1 + 3 * 40); // 124 bytes would split a '€'
    expect(new TextDecoder("utf-8", { fatal: true }).decode(frame.subarray(4))).toBe("a" + "€".repeat(40));
    expect(frame.length).toBeLessThanOrEqual(2 + 125);
  });
  test("a reason of exactly 123 bytes is kept whole", () => {
    expect(encodeClose(1000, "x".repeat(123))[1]).toBe(125);
  });
  test("a code a peer may not send is a bug", () => {
    expect(() => encodeClose(1006)).toThrow(RangeError);
  });
  test("the reader reads what the encoder writes, once masked", () => {
    const frame = encodeClose(4000, "ok");
    expect(frame[0]).toBe(0x80 | OPCODE_CLOSE);
    expect(read(clientFrame(frame[0], frame.subarray(2)))).toEqual([{ type: "close", code: 4000, reason: "ok" }]);
  });
});
