// Test harness for the WebSocket MessageReader: raw frame bytes in, a normalised list of events out.
//
// Strategy (as harness.ts does for the HTTP parser): every input is fed whole, split into two
// feeds at every offset, and one byte at a time, and all must give the same events. Each run also
// checks the API's invariants: an error or close event is the last one, nothing comes after it,
// and event data stays the same after the caller overwrites the chunks it fed (data is a copy).

import { MessageReader } from "../../src/http/websocket-frame.ts";
import type { MessageReaderOptions, WebSocketEvent } from "../../src/http/websocket-frame.ts";
import { bytes, concat } from "./harness.ts";

export { bytes, concat };

/** Hex (spaces allowed) as bytes: tests spell frames the way RFC 6455 §5.7 does. */
export function hex(s: string): Uint8Array {
  const h = s.replace(/\s+/g, "");
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
}

/** A masked client frame: header bits given raw in b0 (FIN/RSV/opcode), payload masked with `mask`. */
export function clientFrame(b0: number, payload: Uint8Array, mask = hex("37fa213d")): Uint8Array {
  const n = payload.length;
  const len = n < 126 ? [0x80 | n] : n < 0x10000 ? [0x80 | 126, n >>> 8, n & 0xff] : [0x80 | 127, 0, 0, 0, 0, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + len.length + 4 + n);
  out[0] = b0;
  out.set(len, 1);
  out.set(mask, 1 + len.length);
  const p = 1 + len.length + 4;
  for (let i = 0; i < n; i++) out[p + i] = payload[i] ^ mask[i & 3];
  return out;
}

export type Step =
  | { type: "message"; binary: boolean; data: string }
  | { type: "ping" | "pong"; data: string }
  | { type: "close"; code: number | null; reason: string }
  | { type: "error"; code: number; reason: string };

function step(ev: WebSocketEvent): Step {
  switch (ev.type) {
    case "message":
      return { type: "message", binary: ev.binary, data: toHex(ev.data) };
    case "ping":
    case "pong":
      return { type: ev.type, data: toHex(ev.data) };
    case "close":
      return { type: "close", code: ev.code, reason: ev.reason };
    case "error":
      return { type: "error", code: ev.code, reason: ev.reason };
  }
}

/** Feeds the chunks into one fresh reader; returns the steps and how many chunks were fed when
 *  the error (if any) came out. */
export function feedChunks(chunks: Uint8Array[], options: () => MessageReaderOptions): { steps: Step[]; errorAtChunk: number } {
  const reader = new MessageReader(options());
  const steps: Step[] = [];
  const kept: { ev: WebSocketEvent; copy: Step }[] = [];
  let ended = false;
  let errorAtChunk = -1;
  chunks.forEach((original, i) => {
    const chunk = original.slice(); // ours to overwrite below
    const events = reader.feed(chunk);
    for (const ev of events) {
      if (ended) throw new Error(`event ${ev.type} after an error or close event`);
      const s = step(ev);
      steps.push(s);
      kept.push({ ev, copy: s });
      if (ev.type === "error") {
        ended = true;
        errorAtChunk = i;
        if (!reader.dead) throw new Error("reader.dead is false after an error event");
      }
      if (ev.type === "close") {
        ended = true;
        if (!reader.closed) throw new Error("reader.closed is false after a close event");
      }
    }
    chunk.fill(0xee); // the caller reuses its buffer: events must not see it
  });
  if (ended && reader.feed(clientFrame(0x81, bytes("after"))).length !== 0) throw new Error("the reader read on after an error or close");
  for (const k of kept) {
    if (!Bun.deepEquals(step(k.ev), k.copy)) throw new Error("event data changed after its chunk was overwritten");
  }
  return { steps, errorAtChunk };
}

const defaults = (): MessageReaderOptions => ({ maxPayloadLength: 1 << 20, inflater: null });

/**
 * Reads `raw` whole, split in two at every offset (or `offsets` evenly spaced ones), and one byte
 * at a time; throws unless every way gives the same steps. Returns the steps.
 */
export function readEverySplit(raw: Uint8Array, options: () => MessageReaderOptions = defaults, offsets?: number): Step[] {
  const whole = feedChunks([raw], options).steps;
  const check = (chunks: Uint8Array[], how: string): void => {
    const got = feedChunks(chunks, options).steps;
    if (!Bun.deepEquals(whole, got, true)) {
      throw new Error(`fed ${how} the reader disagrees with feeding it whole\nwhole: ${JSON.stringify(whole)}\nsplit: ${JSON.stringify(got)}`);
    }
  };
  const stepSize = offsets === undefined ? 1 : Math.max(1, Math.floor(raw.length / offsets));
  for (let i = 1; i < raw.length; i += stepSize) check([raw.subarray(0, i), raw.subarray(i)], `split at offset ${i}`);
  if (raw.length > 1 && (offsets === undefined || raw.length <= 4096)) {
    const ones: Uint8Array[] = [];
    for (let i = 0; i < raw.length; i++) ones.push(raw.subarray(i, i + 1));
    check(ones, "one byte at a time");
  }
  return whole;
}

export function text(s: string): string {
  return toHex(new TextEncoder().encode(s));
}
