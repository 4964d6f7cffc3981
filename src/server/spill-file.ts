// A temp file used as a FIFO of bytes: what does not fit in memory goes here (Waitress's
// OverflowableBuffer). Synchronous I/O on purpose: it hits the page cache, keeps ordering
// trivial, and is bounded by the flow-control limits of whoever writes into it.
//
// The file's name is removed the moment it is open (issue 13 item 3): only the descriptor keeps
// it, so nothing is left in $TMPDIR however tray ends (SIGKILL, OOM). A Worker that reads a
// request body gets a descriptor of its own (handOff()), never a path.
//
// Opening or writing can fail (EMFILE, ENOSPC, EIO): the errors are thrown to the owner (a
// RequestBody or an OutputBuffer), which turns them into a failure it reports, never into data.
// `storageTrouble` tracks episodes of such failures so they are logged once, not per request.

import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The file operations a SpillFile uses; tests inject failing or counting ones. */
export interface SpillIO {
  open(path: string): number;
  write(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number;
  read(fd: number, into: Uint8Array, offset: number, length: number, position: number): number;
  close(fd: number): void;
  unlink(path: string): void;
}

export const nodeSpillIO: SpillIO = {
  open: (path) => openSync(path, "wx+", 0o600),
  write: (fd, bytes, offset, length, position) => writeSync(fd, bytes, offset, length, position),
  read: (fd, into, offset, length, position) => readSync(fd, into, offset, length, position),
  close: (fd) => closeSync(fd),
  unlink: (path) => unlinkSync(path),
};

let counter = 0;

export function tempPath(kind: string): string {
  return join(tmpdir(), `tray-${process.pid}-${kind}-${++counter}-${Math.random().toString(36).slice(2, 8)}`);
}

/** "ENOSPC: no space left on device, write" -> the one line a log or a test shows. */
export function storageFailureReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e !== null && typeof e === "object" && typeof e.code === "string") return `${e.code} (${e.message})`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Episodes of temp-file failures, process-wide ($TMPDIR and the fd table are): failed() is true
 * only for the first failure of an episode (the caller logs it), stored() ends the episode (the
 * next failure is logged again). A full disk fails every upload; it is said once.
 */
export class StorageTrouble {
  private failing = false;

  failed(): boolean {
    if (this.failing) return false;
    this.failing = true;
    return true;
  }

  /** A whole body (or a whole spill of output) went through a temp file: true when this ends an
   *  episode. Not on open or on one write alone: a nearly full disk lets files be created and
   *  takes the first blocks of each body, and that is still the same trouble. */
  stored(): boolean {
    if (!this.failing) return false;
    this.failing = false;
    return true;
  }
}

export const storageTrouble = new StorageTrouble();

export class SpillFile {
  readonly path: string;
  private fd: number;
  private writePos = 0;
  private readPos = 0;
  /** True while the name still exists (only where an open file cannot be unlinked: Windows). */
  private named = false;

  /** Throws what open() throws (EMFILE, ENOSPC, EACCES). */
  constructor(
    kind: string,
    private readonly io: SpillIO = nodeSpillIO,
  ) {
    this.path = tempPath(kind);
    this.fd = io.open(this.path);
    try {
      io.unlink(this.path);
    } catch {
      this.named = true; // Windows cannot unlink an open file; close() removes it.
    }
  }

  get size(): number {
    return this.writePos - this.readPos;
  }

  get written(): number {
    return this.writePos;
  }

  /** The descriptor, for reads by a Worker (see handOff). */
  get descriptor(): number {
    return this.fd;
  }

  /** Appends bytes; throws what write() throws (ENOSPC, EIO, EFBIG). On a throw, what was
   *  written before stays readable and `written` does not count the failed bytes. */
  write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.byteLength) {
      off += this.io.write(this.fd, bytes, off, bytes.byteLength - off, this.writePos + off);
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
    while (got < n) {
      const r = this.io.read(this.fd, out, got, n - got, this.readPos + got);
      if (r === 0) throw new Error(`bug: spill file ended ${n - got} bytes early`);
      got += r;
    }
    this.readPos += n;
    return out;
  }

  /**
   * A second descriptor for the same file, for a Worker to own (read with readSync, then close).
   * Workers share the process's fd table, so handing over this file's own descriptor would let a
   * late read by the Worker hit whatever reuses the number once the server closes it; a descriptor
   * of the Worker's own has no such race. Linux's /proc/self/fd/N and the BSDs' /dev/fd/N open the
   * file itself even though it has no name. Throws what open() throws (EMFILE).
   */
  handOff(): number {
    if (this.named) return openSync(this.path, "r");
    const dir = process.platform === "linux" ? "/proc/self/fd" : "/dev/fd";
    return openSync(`${dir}/${this.fd}`, "r");
  }

  /** Closes the file (its data goes with it). */
  close(): void {
    if (this.fd >= 0) this.io.close(this.fd);
    this.fd = -1;
    if (this.named) {
      this.named = false;
      try {
        this.io.unlink(this.path);
      } catch {
        // already gone
      }
    }
  }
}
