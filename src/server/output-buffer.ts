// One response's pending output: in memory up to --outbuf-overflow bytes, then in a temp file
// (Waitress's outbuf_overflow). The connection drains it into the socket as the socket accepts
// bytes; the Worker's stream is paused by flow control long before this grows without bound.

import { SpillFile } from "./spill-file.ts";

/** How much is read back from the spill file per write: large enough to keep the socket busy. */
export const SPILL_READ_SIZE = 256 * 1024;

export class OutputBuffer {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private memory = 0;
  private file: SpillFile | null = null;

  constructor(private readonly overflow: number) {}

  /** Bytes pending, in memory and on disk. */
  get length(): number {
    return this.memory + (this.file === null ? 0 : this.file.size);
  }

  push(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    if (this.file === null && this.memory + bytes.byteLength > this.overflow && this.memory > 0) {
      this.file = new SpillFile("out", true);
    }
    if (this.file !== null) this.file.write(bytes);
    else {
      this.chunks.push(bytes);
      this.memory += bytes.byteLength;
    }
  }

  /** The next bytes to send, oldest first, or null when empty. */
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
      const c = this.file.read(SPILL_READ_SIZE);
      if (this.file.size === 0) {
        this.file.close();
        this.file = null;
      }
      return c;
    }
    return null;
  }

  dispose(): void {
    this.chunks = [];
    this.head = 0;
    this.memory = 0;
    this.file?.close();
    this.file = null;
  }
}

const EMPTY = new Uint8Array(0);
