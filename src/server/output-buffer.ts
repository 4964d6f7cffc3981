// One response's pending output: in memory up to --outbuf-overflow bytes, then in a temp file
// (Waitress's outbuf_overflow). The connection drains it into the socket as the socket accepts
// bytes; the Worker's stream is paused by flow control long before this grows without bound.
//
// Memory holds at most `overflow` bytes, whatever the size of what is pushed (issue 13 item 7: a
// 50 MiB body pushed as one chunk used to stay in memory whole, per stalled client): of a chunk
// that does not fit, what fits is copied, the rest goes to the file. A large chunk that went to
// the file is freed at once (its ArrayBuffer detached) instead of waiting for the garbage
// collector, which under a hundred stalled readers let hundreds of MiB of written-out chunks pile
// up.
//
// A failure to store (EMFILE, ENOSPC, EIO) never turns into missing bytes on the wire: the buffer
// drops everything pending, keeps `failure`, refuses further bytes, and the connection closes
// (issue 13 item 1). It never throws.

import { SpillFile, nodeSpillIO, storageFailureReason, storageTrouble } from "./spill-file.ts";
import type { SpillIO } from "./spill-file.ts";

/** How much is read back from the spill file per write: large enough to keep the socket busy. */
export const SPILL_READ_SIZE = 256 * 1024;

/** A pushed chunk at least this large is a body chunk nothing else refers to (transferred from a
 *  Worker): once written to the spill file its memory is released at once. Smaller parts may be
 *  shared constants (CRLF, chunk headers) and are left to the collector. */
export const RELEASE_AFTER_SPILL_MIN = 16 * 1024;

export class OutputBuffer {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private memory = 0;
  private file: SpillFile | null = null;
  /** Why pending output was lost (the spill file could not be opened, written or read), or null. */
  failure: string | null = null;
  private failureTaken = false;

  constructor(
    private readonly overflow: number,
    private readonly io: SpillIO = nodeSpillIO,
  ) {}

  /** Bytes pending, in memory and on disk. */
  get length(): number {
    return this.memory + (this.file === null ? 0 : this.file.size);
  }

  /** Queues bytes to send; the buffer owns them from now on. False: they could not be stored,
   *  nor can anything pending be sent any more (see `failure`). Never throws. */
  push(bytes: Uint8Array): boolean {
    if (this.failure !== null) return false;
    const n = bytes.byteLength;
    if (n === 0) return true;
    if (this.file === null) {
      const room = this.overflow - this.memory;
      if (n <= room) {
        this.keep(bytes);
        return true;
      }
      // Keep what fits (a copy: a view would pin the whole chunk), spill the rest.
      if (room > 0) this.keep(bytes.slice(0, room));
      try {
        this.file = new SpillFile("out", this.io);
        this.file.write(room > 0 ? bytes.subarray(room) : bytes);
      } catch (error) {
        this.fail(error);
        return false;
      }
    } else {
      try {
        this.file.write(bytes);
      } catch (error) {
        this.fail(error);
        return false;
      }
    }
    if (n >= RELEASE_AFTER_SPILL_MIN) freeNow(bytes);
    return true;
  }

  /** The next bytes to send, oldest first, or null when empty (or failed: see `failure`). */
  shift(): Uint8Array | null {
    if (this.head < this.chunks.length) {
      const c = this.chunks[this.head];
      this.chunks[this.head++] = EMPTY;
      this.memory -= c.byteLength;
      if (this.head === this.chunks.length) {
        this.chunks = [];
        this.head = 0;
      }
      return c;
    }
    if (this.file !== null) {
      let c: Uint8Array | null;
      try {
        c = this.file.read(SPILL_READ_SIZE);
      } catch (error) {
        this.fail(error);
        return null;
      }
      if (this.file.size === 0) {
        this.file.close();
        this.file = null;
        storageTrouble.stored();
      }
      return c;
    }
    return null;
  }

  /** The failure, the first time it is asked for after it happened (the connection acts on it
   *  once); null otherwise. */
  takeFailure(): string | null {
    if (this.failure === null || this.failureTaken) return null;
    this.failureTaken = true;
    return this.failure;
  }

  dispose(): void {
    this.chunks = [];
    this.head = 0;
    this.memory = 0;
    this.file?.close();
    this.file = null;
  }

  private keep(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.memory += bytes.byteLength;
  }

  private fail(error: unknown): void {
    this.failure = storageFailureReason(error);
    this.dispose();
  }
}

/** Frees a chunk's memory now if the chunk is the whole of its buffer (see RELEASE_AFTER_SPILL_MIN). */
function freeNow(bytes: Uint8Array): void {
  const buffer = bytes.buffer;
  if (bytes.byteOffset === 0 && buffer.byteLength === bytes.byteLength && buffer instanceof ArrayBuffer && !buffer.resizable) {
    buffer.transfer(0);
  }
}

const EMPTY = new Uint8Array(0);
