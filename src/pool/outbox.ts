// How a batch of ops crosses between the main thread (pool.ts) and a Worker (worker.ts): the
// Outbox that collects one turn's ops and the reading of a received message. The ops themselves
// (their codes and layouts) are protocol.ts's.
//
// Strategy: one postMessage per event-loop turn per direction, never one per request. Everything
// queued during a turn goes into an Outbox as a flat list of fields: an op code followed by that
// op's fields (layouts in protocol.ts), op after op. At the end of the turn the fields travel as ONE
// JSON string — Bun clones a string far faster than an array of strings (measured ~3x on batches
// of requests) — and body bytes travel beside it as transferred ArrayBuffers:
//
//   message = json                          when the batch carries no bytes
//   message = [json, buffer1, buffer2, ...] otherwise, every buffer in the transfer list
//
// Bytes are referenced from the fields as three numbers BYTES = (buffer index into the message
// array, offset, length); index 0 means "no bytes". Small chunks (<= SMALL_CHUNK_MAX) of a turn
// share one buffer, so a batch of small responses costs one transfer, not one per response;
// larger chunks get a buffer of their own. Outgoing bytes are always copied unless the caller
// owns them outright: an app may enqueue the same Uint8Array on every request (an SSE keep-alive
// constant), and transferring it would detach it under the app's feet.
import { SMALL_CHUNK_MAX, SMALL_STAGING_SIZE } from "./limits.ts";

export type Message = string | (string | ArrayBuffer)[];

const NO_BUFFER = new ArrayBuffer(0);

/** The queue of one direction of one Worker's channel, drained once per turn by take(). */
export class Outbox {
  fields: unknown[] = [];
  private buffers: ArrayBuffer[] = [];
  private staging = new Uint8Array(SMALL_STAGING_SIZE);
  private stagingUsed = 0;
  /** Message index of the staging area's buffer in the current batch; 0 while unused. */
  private stagingIndex = 0;

  get empty(): boolean {
    return this.fields.length === 0;
  }

  /** Appends BYTES for `chunk`. `owned`: the caller gives the chunk away, so a chunk that spans
   *  its whole ArrayBuffer may be transferred instead of copied. */
  pushBytes(chunk: Uint8Array, owned: boolean): void {
    const length = chunk.byteLength;
    if (length === 0) {
      this.fields.push(0, 0, 0);
      return;
    }
    if (length <= SMALL_CHUNK_MAX) {
      if (this.stagingUsed + length > SMALL_STAGING_SIZE) this.sealStaging();
      if (this.stagingIndex === 0) {
        this.buffers.push(NO_BUFFER); // replaced by the sealed copy in sealStaging()
        this.stagingIndex = this.buffers.length;
      }
      this.staging.set(chunk, this.stagingUsed);
      this.fields.push(this.stagingIndex, this.stagingUsed, length);
      this.stagingUsed += length;
      return;
    }
    const whole = chunk.buffer;
    let buffer: ArrayBuffer;
    if (owned && whole instanceof ArrayBuffer && chunk.byteOffset === 0 && whole.byteLength === length && !whole.resizable) {
      buffer = whole;
    } else {
      // An explicit copy (Buffer#slice would return a view of the same, possibly pooled, memory);
      // %TypedArray%.prototype.slice on a plain Uint8Array view copies without zero-filling first.
      buffer = new Uint8Array(chunk.buffer, chunk.byteOffset, length).slice().buffer;
    }
    this.buffers.push(buffer);
    this.fields.push(this.buffers.length, 0, length);
  }

  /** The batch as one message plus its transfer list; the outbox is empty afterwards. */
  take(): { message: Message; transfer: ArrayBuffer[] } {
    this.sealStaging();
    const json = JSON.stringify(this.fields);
    this.fields = [];
    if (this.buffers.length === 0) return { message: json, transfer: this.buffers };
    const transfer = this.buffers;
    this.buffers = [];
    return { message: [json, ...transfer], transfer };
  }

  private sealStaging(): void {
    if (this.stagingIndex === 0) return;
    // A right-sized copy: the staging area is reused, and a receiver that keeps one small view
    // alive pins only this turn's small chunks.
    this.buffers[this.stagingIndex - 1] = this.staging.slice(0, this.stagingUsed).buffer;
    this.stagingIndex = 0;
    this.stagingUsed = 0;
  }
}


/** The fields of a received message. */
export function messageFields(message: Message): unknown[] {
  return JSON.parse(typeof message === "string" ? message : (message[0] as string)) as unknown[];
}

/** The bytes a BYTES triple refers to (a view into a transferred buffer; the receiver owns it). */
export function messageBytes(message: Message, index: number, offset: number, length: number): Uint8Array {
  if (index === 0 || typeof message === "string") return new Uint8Array(0);
  return new Uint8Array(message[index] as ArrayBuffer, offset, length);
}

/** BYTES at f[at..at+2], or null for "no bytes" (index 0). */
export function bytesAt(f: unknown[], at: number, message: Message): Uint8Array | null {
  const index = f[at] as number;
  return index === 0 ? null : messageBytes(message, index, f[at + 1] as number, f[at + 2] as number);
}

export const EMPTY_BYTES = new Uint8Array(0);

/** Flat header fields: n, then n strings. */
export function pushHeaders(f: unknown[], headers: string[]): void {
  f.push(headers.length);
  for (let i = 0; i < headers.length; i++) f.push(headers[i]);
}
