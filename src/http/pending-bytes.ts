// The bytes the request parser has been given but not yet consumed: a head, trailer section or
// chunk-size line split across reads.
//
// Strategy: while nothing is pending (the common case) the parser reads straight out of the
// caller's chunk, with no copy (a chunk that is not a Buffer gets a Buffer view of its memory).
// Only when a feed ends with bytes left over are they copied into a buffer of our own
// (Buffer.allocUnsafe, twice what is pending, at least 1 KiB); later chunks are appended to it,
// compacting the pending bytes to its start first and doubling it when they would not fit. What
// can stay pending is bounded by the parser's limits (body bytes never wait), and with it the
// size this buffer grows to. The functions that move pending bytes return how far they moved
// toward the start of `input`, so the parser shifts its own offsets into them by as much: plain
// data and plain functions, no callbacks. The data is the RequestParser itself (it implements
// PendingBytes), so the parser's hot paths read these fields with no extra load and every call
// here sees one object shape.

/** Buffer, for its native latin1Slice (Bun and Node have it; the types do not declare it). */
export type Bytes = Buffer & { latin1Slice(start: number, end: number): string };

/** `input` when nothing is pending and no chunk is being parsed. */
export const EMPTY = Buffer.alloc(0) as Bytes;

function asBuffer(chunk: Uint8Array): Bytes {
  return (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)) as Bytes;
}

/** Unconsumed bytes: input[pos, end), the caller's chunk, or our own growable buffer when bytes were left over. */
export interface PendingBytes {
  input: Bytes;
  pos: number;
  end: number;
  own: Bytes | null;
}

/** Adds the caller's chunk after the pending bytes. Returns how far the pending bytes moved down. */
export function appendChunk(p: PendingBytes, bytes: Uint8Array): number {
  const chunk = asBuffer(bytes);
  const moved = p.pos;
  if (p.pos === p.end) {
    // Nothing pending: parse straight out of the caller's bytes (the common case).
    p.input = chunk;
    p.pos = 0;
    p.end = chunk.byteLength;
    p.own = null;
    return moved;
  }
  // Pending bytes are always in our own buffer here (keepRest put them there).
  let own = p.own!;
  const pending = p.end - p.pos;
  const need = pending + chunk.byteLength;
  if (p.pos > 0) {
    own.copyWithin(0, p.pos, p.end);
    p.pos = 0;
    p.end = pending;
  }
  if (need > own.byteLength) {
    const grown = Buffer.allocUnsafe(Math.max(need, own.byteLength * 2)) as Bytes;
    own.copy(grown, 0, 0, p.end);
    own = grown;
  }
  chunk.copy(own, p.end);
  p.end += chunk.byteLength;
  p.own = own;
  p.input = own;
  return moved;
}

/**
 * After a feed: whatever was not consumed moves into our own buffer (bounded by the limits).
 * Returns how far the pending bytes moved down.
 */
export function keepRest(p: PendingBytes): number {
  const pending = p.end - p.pos;
  const moved = p.pos;
  if (pending === 0) {
    p.pos = p.end = 0;
    p.input = EMPTY;
    return moved;
  }
  if (p.own === p.input) return 0;
  const own = Buffer.allocUnsafe(Math.max(pending * 2, 1024)) as Bytes;
  p.input.copy(own, 0, p.pos, p.end);
  p.pos = 0;
  p.end = pending;
  p.own = own;
  p.input = own;
  return moved;
}

/** Forgets every pending byte and our own buffer (the parser is dead). */
export function dropPending(p: PendingBytes): void {
  p.own = null;
  p.input = EMPTY;
  p.pos = p.end = 0;
}

/** Body bytes [from, to) as something the caller may keep: a view of the caller's chunk, or a copy out of our own buffer. */
export function takeBytes(p: PendingBytes, from: number, to: number): Uint8Array {
  const view = p.input.subarray(from, to);
  return p.input === p.own ? Uint8Array.prototype.slice.call(view) : view;
}
