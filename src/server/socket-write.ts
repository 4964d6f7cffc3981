// Writing a batch of output parts to a node:net socket.
//
// Strategy: the connection gathers one turn's parts (heads, chunk headers, body chunks) and hands
// them over together. Small parts are copied into one buffer so the batch costs one
// socket.write (one syscall); a large part (a body transferred from a Worker) goes out on its
// own, uncopied, and its memory is released as soon as the kernel has it.

/** What writing needs of a socket (node:net's Socket, or a test's fake). */
export interface WritableSocket {
  write(data: Uint8Array): boolean;
  /** Bytes accepted by write() and not yet passed to the kernel. */
  readonly writableLength: number;
}

/** A part of the output at least this large (a response body transferred from a Worker) is written
 *  on its own instead of being copied together with its neighbours: a second send() is cheaper
 *  than a fresh large allocation (page faults) and a memcpy on the main thread. */
export const SEPARATE_WRITE_MIN = 16 * 1024;

/** Writes `parts` (size bytes in all) in order: runs of small parts as one copied buffer, large
 *  parts as they are. Returns the last socket.write()'s answer (false: wait for 'drain'). */
export function writeParts(socket: WritableSocket, parts: Uint8Array[], size: number): boolean {
  if (size < SEPARATE_WRITE_MIN) return socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
  let accepted = true;
  let runStart = 0;
  let runSize = 0;
  for (let i = 0; i <= parts.length; i++) {
    const part = i < parts.length ? parts[i] : null;
    if (part !== null && part.byteLength < SEPARATE_WRITE_MIN) {
      runSize += part.byteLength;
      continue;
    }
    if (i > runStart) accepted = socket.write(i - runStart === 1 ? parts[runStart] : Buffer.concat(parts.slice(runStart, i), runSize));
    if (part !== null) accepted = writeLarge(socket, part);
    runStart = i + 1;
    runSize = 0;
  }
  return accepted;
}

/**
 * Writes one large part. When the socket has passed all of it to the kernel (nothing pending, so
 * by the stream contract the runtime no longer needs the memory) and the part is the whole of its
 * ArrayBuffer — a body transferred from a Worker, or a chunk read back from a spill file, which
 * nothing else refers to — the buffer is released at once instead of waiting for the main
 * thread's garbage collector (large bodies arriving at tens of MB/s otherwise keep it busy).
 */
function writeLarge(socket: WritableSocket, part: Uint8Array): boolean {
  const accepted = socket.write(part);
  const buffer = part.buffer;
  if (socket.writableLength === 0 && part.byteOffset === 0 && buffer.byteLength === part.byteLength && buffer instanceof ArrayBuffer && !buffer.resizable) {
    buffer.transfer(0); // detaches it: its memory is freed now
  }
  return accepted;
}
