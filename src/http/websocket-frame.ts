// RFC 6455 framing (§5): the server's frame encoder and the incremental reader of a client's frames.
// Strategy: MessageReader is a sans-I/O state machine, bytes in (feed) and whole events out. It
// reads a frame header (§5.2) as soon as its bytes are there, checks every header rule on the
// first two bytes before waiting for more, and refuses an over-long message from its header,
// before any payload is buffered. Payload bytes are copied out of the caller's chunk and unmasked
// in one go (§5.3, a 32-bit-word XOR), so every Uint8Array in an event is a fresh buffer the
// caller may keep; a message that is one frame is handed out without any further copy. Text is
// UTF-8-checked piece by piece as it arrives (§8.1), so invalid text fails at the first bad
// byte, even when a sequence is split across fragments or feed() calls. After an error event the
// reader is dead; after a close event it reads nothing more (§5.5.1: the peer sends no data
// after its close frame).

import { isUtf8 } from "node:buffer";
import {
  CLOSE_INVALID_PAYLOAD,
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_PROTOCOL_ERROR,
  isValidCloseCode,
  WebSocketError,
} from "./websocket-close.ts";
import type { MessageInflater } from "./websocket-deflate.ts";

/** §5.2 / §11.8: the opcodes RFC 6455 defines; 3-7 and 11-15 are reserved. */
export const OPCODE_CONTINUATION = 0;
export const OPCODE_TEXT = 1;
export const OPCODE_BINARY = 2;
export const OPCODE_CLOSE = 8;
export const OPCODE_PING = 9;
export const OPCODE_PONG = 10;

/** §5.5: control frames carry at most 125 payload bytes. */
export const MAX_CONTROL_PAYLOAD = 125;
/** §5.5.1: a close frame's reason fits beside the 2-byte code. */
export const MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2;

export type WebSocketEvent =
  | { type: "message"; binary: boolean; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number | null; reason: string }
  | { type: "error"; code: number; reason: string };

export interface MessageReaderOptions {
  /** The largest message (all fragments, after inflation) in bytes; more is 1009. */
  maxPayloadLength: number;
  /** Set when permessage-deflate was negotiated (RFC 7692); RSV1 is a protocol error otherwise. */
  inflater: MessageInflater | null;
}

const EMPTY = new Uint8Array(0);
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The server's frame header (§5.2): FIN, RSV1 (permessage-deflate's "compressed" bit, RFC 7692
 * §6), the opcode, no MASK (§5.1: a server never masks), and the payload length in 7, 7+16 or
 * 7+64 bits, always the shortest form.
 */
export function encodeFrameHead(opcode: number, length: number, fin = true, rsv1 = false): Uint8Array {
  const b0 = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (length < 126) return new Uint8Array([b0, length]);
  if (length < 0x10000) return new Uint8Array([b0, 126, length >>> 8, length & 0xff]);
  const head = new Uint8Array(10);
  head[0] = b0;
  head[1] = 127;
  const high = Math.floor(length / 0x100000000);
  const low = length >>> 0;
  head[2] = high >>> 24;
  head[3] = (high >>> 16) & 0xff;
  head[4] = (high >>> 8) & 0xff;
  head[5] = high & 0xff;
  head[6] = low >>> 24;
  head[7] = (low >>> 16) & 0xff;
  head[8] = (low >>> 8) & 0xff;
  head[9] = low & 0xff;
  return head;
}

/** A whole server frame, head and payload in one buffer. */
export function encodeFrame(opcode: number, payload: Uint8Array, fin = true, rsv1 = false): Uint8Array {
  const head = encodeFrameHead(opcode, payload.length, fin, rsv1);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

/**
 * A whole close frame (§5.5.1): no code gives an empty payload; otherwise the 2-byte code and the
 * reason's UTF-8, cut to 123 bytes at a character boundary. A code a peer may not send
 * (isValidCloseCode) is a bug in the caller and throws.
 */
export function encodeClose(code: number | null, reason = ""): Uint8Array {
  if (code === null) return encodeFrame(OPCODE_CLOSE, EMPTY);
  if (!isValidCloseCode(code)) throw new RangeError(`bug: close code ${code} may not be sent in a close frame (RFC 6455 §7.4)`);
  let text = utf8Encoder.encode(reason);
  if (text.length > MAX_CLOSE_REASON) {
    let cut = MAX_CLOSE_REASON;
    while (cut > 0 && (text[cut] & 0xc0) === 0x80) cut--; // back off to the lead byte
    text = text.subarray(0, cut);
  }
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return encodeFrame(OPCODE_CLOSE, payload);
}

const maskBytes = new Uint8Array(4);
const maskWord = new Uint32Array(maskBytes.buffer);

/** §5.3: XOR `data` in place with the masking key, starting at key byte `phase`. Four bytes per
 *  step through a Uint32Array (native byte order on both sides, so the key word is built the
 *  same way); a byte loop only for short payloads and the last 0-3 bytes. */
function unmask(data: Uint8Array, mask: Uint8Array, phase: number): void {
  const n = data.length;
  if (n < 16 || (data.byteOffset & 3) !== 0) {
    for (let i = 0; i < n; i++) data[i] ^= mask[(phase + i) & 3];
    return;
  }
  for (let k = 0; k < 4; k++) maskBytes[k] = mask[(phase + k) & 3];
  const m = maskWord[0];
  const words = n >>> 2;
  const w = new Uint32Array(data.buffer, data.byteOffset, words);
  for (let i = 0; i < words; i++) w[i] ^= m;
  for (let i = words << 2; i < n; i++) data[i] ^= mask[(phase + i) & 3];
}

/** RFC 3629 §4: the length of the sequence a lead byte starts; 0 for bytes that start none
 *  (continuations, C0, C1, F5-FF). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** RFC 3629 §4: whether the first `len` bytes of `seq` (a lead and fewer continuations than it
 *  needs) can still become a valid sequence; E0, ED, F0 and F4 narrow the second byte (no
 *  overlongs, no surrogates, nothing past U+10FFFF). */
function isValidPrefix(seq: Uint8Array, len: number): boolean {
  if (len < 2) return true;
  const lead = seq[0];
  const c1 = seq[1];
  const lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
  const hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
  if (c1 < lo || c1 > hi) return false;
  return len < 3 || (seq[2] & 0xc0) === 0x80;
}

/** §8.1: text must be UTF-8. Checks a message piece by piece with node:buffer's native isUtf8;
 *  a sequence cut by the end of a piece (at most 3 bytes) waits in `carry` for the next one,
 *  after checking that it can still be valid, so a bad byte fails in the piece that brings it. */
class Utf8Validator {
  private readonly carry = new Uint8Array(4);
  private carryLen = 0;

  reset(): void {
    this.carryLen = 0;
  }

  /** False once the bytes so far cannot be UTF-8; `final`: the message ends here. */
  push(data: Uint8Array, final: boolean): boolean {
    let start = 0;
    const end = data.length;
    if (this.carryLen > 0) {
      const need = sequenceLength(this.carry[0]);
      while (this.carryLen < need && start < end) this.carry[this.carryLen++] = data[start++];
      if (this.carryLen < need) return isValidPrefix(this.carry, this.carryLen) && !final;
      if (!isUtf8(this.carry.subarray(0, need))) return false;
      this.carryLen = 0;
    }
    // Does the piece end inside a sequence? Look back at most 3 bytes for its lead byte.
    let cut = end;
    for (let k = end - 1; k >= start && k >= end - 3; k--) {
      const b = data[k];
      if ((b & 0xc0) !== 0x80) {
        if (b >= 0xc0 && k + sequenceLength(b) > end && sequenceLength(b) > 0) cut = k;
        break;
      }
    }
    if (!isUtf8(start === 0 && cut === end ? data : data.subarray(start, cut))) return false;
    if (cut === end) return true;
    for (let k = cut; k < end; k++) this.carry[this.carryLen++] = data[k];
    return isValidPrefix(this.carry, this.carryLen) && !final;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function protocolError(reason: string): WebSocketError {
  return new WebSocketError(CLOSE_PROTOCOL_ERROR, reason);
}

/** §5.2: the header's size from its second byte: 2, plus 2 or 8 for an extended length, plus 4
 *  for the masking key. */
function headSize(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

/**
 * Reads a client's frames and hands out whole messages, pings, pongs and the close frame. Every
 * `data` is a fresh buffer the caller may keep.
 */
export class MessageReader {
  /** True after an error event: send close(code) and read nothing more. */
  dead = false;
  /** True after the peer's close frame: nothing more is read. */
  closed = false;

  private readonly maxPayloadLength: number;
  private readonly inflater: MessageInflater | null;

  // The frame being read.
  private readonly head = new Uint8Array(14);
  private headLen = 0;
  private inPayload = false;
  private fin = false;
  private opcode = 0;
  private payloadLength = 0;
  private received = 0;
  private readonly mask = new Uint8Array(4);
  private controlPieces: Uint8Array[] = [];

  // The data message being read (§5.4: fragments of one message, control frames may interleave).
  private messageOpcode = 0; // 0: none in progress
  private compressed = false;
  private messageLength = 0; // payload bytes on the wire so far
  private fragments: Uint8Array[] = [];
  private readonly utf8 = new Utf8Validator();

  constructor(options: MessageReaderOptions) {
    this.maxPayloadLength = options.maxPayloadLength;
    this.inflater = options.inflater;
  }

  feed(bytes: Uint8Array): WebSocketEvent[] {
    const events: WebSocketEvent[] = [];
    if (this.dead || this.closed) return events;
    try {
      this.read(bytes, events);
    } catch (e) {
      if (!(e instanceof WebSocketError)) throw e;
      events.push({ type: "error", code: e.code, reason: e.message });
      this.dead = true;
      this.fragments = [];
      this.controlPieces = [];
    }
    return events;
  }

  private read(bytes: Uint8Array, events: WebSocketEvent[]): void {
    const n = bytes.length;
    let pos = 0;
    while (!this.closed) {
      if (!this.inPayload) {
        if (this.headLen === 0 && n - pos >= 2 && n - pos >= headSize(bytes[pos + 1])) {
          // The whole header is in this chunk: read it in place.
          this.frameStart(bytes[pos], bytes[pos + 1]);
          this.frameLength(bytes, pos);
          pos += headSize(bytes[pos + 1]);
        } else {
          if (pos >= n) return;
          // Gather the header across feeds; check the first two bytes as soon as they are here.
          const head = this.head;
          const had = this.headLen;
          while (this.headLen < 2 && pos < n) head[this.headLen++] = bytes[pos++];
          if (this.headLen < 2) return;
          if (had < 2) this.frameStart(head[0], head[1]);
          const need = headSize(head[1]);
          while (this.headLen < need && pos < n) head[this.headLen++] = bytes[pos++];
          if (this.headLen < need) return;
          this.frameLength(head, 0);
          this.headLen = 0;
        }
        if (this.payloadLength === 0) this.frameEnd(events);
        else this.inPayload = true;
        continue;
      }
      const take = Math.min(this.payloadLength - this.received, n - pos);
      if (take === 0) return;
      const piece = new Uint8Array(take);
      piece.set(take === n && pos === 0 ? bytes : bytes.subarray(pos, pos + take));
      unmask(piece, this.mask, this.received & 3);
      pos += take;
      this.received += take;
      this.payloadPiece(piece);
      if (this.received === this.payloadLength) {
        this.inPayload = false;
        this.frameEnd(events);
      }
    }
  }

  /** §5.2 rules that the first two header bytes decide. */
  private frameStart(b0: number, b1: number): void {
    const opcode = b0 & 0x0f;
    const rsv1 = (b0 & 0x40) !== 0;
    this.fin = (b0 & 0x80) !== 0;
    this.opcode = opcode;
    // §5.2: RSV bits are 0 unless an extension defines them; permessage-deflate defines only RSV1.
    if ((b0 & 0x30) !== 0) throw protocolError("RSV2 and RSV3 must be clear");
    if (opcode >= OPCODE_CLOSE) {
      if (opcode > OPCODE_PONG) throw protocolError(`invalid opcode ${opcode}`); // §5.2: 11-15 reserved
      if (!this.fin) throw protocolError("control frames must not be fragmented"); // §5.5
      if (rsv1) throw protocolError("RSV1 must be clear on a control frame"); // RFC 7692 §6
      if ((b1 & 0x7f) > MAX_CONTROL_PAYLOAD) throw protocolError("control frame payload over 125 bytes"); // §5.5
    } else if (opcode === OPCODE_CONTINUATION) {
      if (this.messageOpcode === 0) throw protocolError("continuation frame without a message to continue"); // §5.4
      if (rsv1) throw protocolError("RSV1 must be clear on a continuation frame"); // RFC 7692 §6.1
    } else if (opcode === OPCODE_TEXT || opcode === OPCODE_BINARY) {
      if (this.messageOpcode !== 0) throw protocolError("a new message started before the previous one ended"); // §5.4
      // RFC 7692 §6: RSV1 marks a compressed message, only when permessage-deflate was negotiated.
      if (rsv1 && this.inflater === null) throw protocolError("RSV1 must be clear");
      this.messageOpcode = opcode;
      this.compressed = rsv1;
      this.messageLength = 0;
      this.utf8.reset();
    } else {
      throw protocolError(`invalid opcode ${opcode}`); // §5.2: 3-7 reserved
    }
    if ((b1 & 0x80) === 0) throw protocolError("client frames must be masked"); // §5.1
  }

  /** §5.2: the payload length and masking key, from a complete header at src[at]. */
  private frameLength(src: Uint8Array, at: number): void {
    let length = src[at + 1] & 0x7f;
    let p = at + 2;
    if (length === 126) {
      length = (src[p] << 8) | src[p + 1];
      p += 2;
    } else if (length === 127) {
      const high = ((src[p] << 24) | (src[p + 1] << 16) | (src[p + 2] << 8) | src[p + 3]) >>> 0;
      const low = ((src[p + 4] << 24) | (src[p + 5] << 16) | (src[p + 6] << 8) | src[p + 7]) >>> 0;
      // §5.2: "the most significant bit MUST be 0".
      if (high >= 0x80000000) throw protocolError("64-bit payload length with the top bit set");
      length = high * 0x100000000 + low;
      p += 8;
    }
    this.mask[0] = src[p];
    this.mask[1] = src[p + 1];
    this.mask[2] = src[p + 2];
    this.mask[3] = src[p + 3];
    if (this.opcode < OPCODE_CLOSE) {
      // Refused from the header, before any payload is buffered (compressed messages are also
      // checked after inflation).
      if (this.messageLength + length > this.maxPayloadLength) throw new WebSocketError(CLOSE_MESSAGE_TOO_BIG, "message too big");
      this.messageLength += length;
    }
    this.payloadLength = length;
    this.received = 0;
  }

  private payloadPiece(piece: Uint8Array): void {
    if (this.opcode >= OPCODE_CLOSE) {
      this.controlPieces.push(piece);
    } else if (this.compressed) {
      // The inflater keeps compressed pieces until the message's last frame.
      this.inflater!.inflate(piece, false, this.maxPayloadLength);
    } else {
      if (this.messageOpcode === OPCODE_TEXT && !this.utf8.push(piece, false)) throw invalidUtf8();
      this.fragments.push(piece);
    }
  }

  private frameEnd(events: WebSocketEvent[]): void {
    const opcode = this.opcode;
    if (opcode >= OPCODE_CLOSE) {
      let data: Uint8Array = EMPTY;
      if (this.controlPieces.length > 0) data = concat(this.controlPieces, this.payloadLength);
      this.controlPieces = [];
      if (opcode === OPCODE_PING) events.push({ type: "ping", data });
      else if (opcode === OPCODE_PONG) events.push({ type: "pong", data });
      else events.push(closeEvent(data));
      if (opcode === OPCODE_CLOSE) this.closed = true;
      return;
    }
    if (!this.fin) return;
    let data: Uint8Array;
    if (this.compressed) {
      const inflated = this.inflater!.inflate(EMPTY, true, this.maxPayloadLength);
      if (inflated === null) throw new WebSocketError(CLOSE_MESSAGE_TOO_BIG, "message too big");
      if (this.messageOpcode === OPCODE_TEXT && !isUtf8(inflated)) throw invalidUtf8();
      data = inflated;
    } else {
      if (this.messageOpcode === OPCODE_TEXT && !this.utf8.push(EMPTY, true)) throw invalidUtf8();
      data = this.fragments.length === 0 ? new Uint8Array(0) : concat(this.fragments, this.messageLength);
    }
    events.push({ type: "message", binary: this.messageOpcode === OPCODE_BINARY, data });
    this.messageOpcode = 0;
    this.fragments = [];
  }
}

function invalidUtf8(): WebSocketError {
  return new WebSocketError(CLOSE_INVALID_PAYLOAD, "text is not valid UTF-8"); // §8.1
}

/** §5.5.1: an empty payload, or a 2-byte code (§7.4) then a UTF-8 reason. Like `ws`: a 1-byte
 *  payload or a code a peer may not send is 1002, a reason that is not UTF-8 is 1007. */
function closeEvent(data: Uint8Array): WebSocketEvent {
  if (data.length === 0) return { type: "close", code: null, reason: "" };
  if (data.length === 1) throw protocolError("close frame payload of 1 byte");
  const code = (data[0] << 8) | data[1];
  if (!isValidCloseCode(code)) throw protocolError(`invalid close code ${code}`);
  const reason = data.subarray(2);
  if (!isUtf8(reason)) throw new WebSocketError(CLOSE_INVALID_PAYLOAD, "close reason is not valid UTF-8");
  return { type: "close", code, reason: utf8Decoder.decode(reason) };
}
