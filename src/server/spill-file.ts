// A temp file used as a FIFO of bytes: what does not fit in memory goes here (Waitress's
// OverflowableBuffer). Synchronous I/O on purpose: it hits the page cache, keeps ordering
// trivial, and is bounded by the flow-control limits of whoever writes into it.

import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let counter = 0;

export function tempPath(kind: string): string {
  return join(tmpdir(), `tray-${process.pid}-${kind}-${++counter}-${Math.random().toString(36).slice(2, 8)}`);
}

export class SpillFile {
  readonly path: string;
  private fd: number;
  private writePos = 0;
  private readPos = 0;

  /** unlinkNow: the file is only ours, remove its name at once so nothing is left after a crash. */
  constructor(kind: string, unlinkNow: boolean) {
    this.path = tempPath(kind);
    this.fd = openSync(this.path, "w+", 0o600);
    if (unlinkNow) {
      try {
        unlinkSync(this.path);
      } catch {
        // Windows cannot unlink an open file; close() removes it.
      }
    }
  }

  get size(): number {
    return this.writePos - this.readPos;
  }

  get written(): number {
    return this.writePos;
  }

  write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.byteLength) {
      off += writeSync(this.fd, bytes, off, bytes.byteLength - off, this.writePos + off);
    }
    this.writePos += bytes.byteLength;
  }

  /** Empties the FIFO to be filled again from the start; the bytes on disk stay until overwritten. */
  rewind(): void {
    this.writePos = 0;
    this.readPos = 0;
  }

  /** Reads up to max bytes from the front of the FIFO, or null when empty. */
  read(max: number): Uint8Array | null {
    const n = Math.min(max, this.size);
    if (n === 0) return null;
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) got += readSync(this.fd, out, got, n - got, this.readPos + got);
    this.readPos += n;
    return out;
  }

  /** Closes the file and deletes its name. */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone (unlinked at creation)
    }
  }
}
