// A request body being received: kept in memory up to --inbuf-overflow, then in a temp file
// (DESIGN.md §3: never all in memory). The whole body is received before dispatch.
//
// Small pieces (a chunked body in 1-byte chunks, issue 13 item 6) are copied into one block of
// BODY_WRITE_BLOCK bytes and stored a block at a time: one file write per block, not one pwrite
// per chunk, and in memory one right-sized copy per block instead of a view per chunk. Pieces of
// a block or more pass straight through.
//
// Storing never throws into the socket's data handler (issue 13 item 1): the first failure to
// open or write the temp file (EMFILE, ENOSPC) is kept as `failure`, everything stored so far is
// dropped, the rest of the body is only counted, and finish() reports the failure instead of a
// body. The app never sees a body with a hole in it.

import type { BodyFiles } from "./body-files.ts";
import type { SpillFile } from "./spill-file.ts";
import { storageFailureReason, storageTrouble } from "./spill-file.ts";

/** Body bytes are gathered into blocks of this size before each store (file write or copy). */
export const BODY_WRITE_BLOCK = 64 * 1024;

export interface ReceivedBody {
  body: Uint8Array | null;
  /** The temp file holding the body (past --inbuf-overflow): its holder gives it back to BodyFiles. */
  file: SpillFile | null;
  length: number;
}

/** finish()'s answer for a body that could not be stored: the request must not reach the app. */
export interface UnstoredBody {
  failure: string;
}

export class RequestBody {
  private chunks: Uint8Array[] = [];
  private memory = 0;
  private file: SpillFile | null = null;
  private block: Uint8Array | null = null;
  private blockUsed = 0;
  /** Why the body could not be stored (the first failure), or null while all is well. */
  failure: string | null = null;
  length = 0;

  constructor(
    private readonly overflow: number,
    private readonly files: BodyFiles,
  ) {}

  /** Takes the next body bytes (a piece of a block or more is kept by reference while in memory).
   *  Returns false once the body cannot be stored (see `failure`), and stays false for the rest of
   *  this body; the caller logs the failure once per episode (spill-file.ts storageTrouble).
   *  Never throws. */
  append(data: Uint8Array): boolean {
    const n = data.byteLength;
    this.length += n;
    if (this.failure !== null) return false;
    if (n === 0) return true;
    try {
      if (this.file === null && this.length > this.overflow) this.spill();
      if (n < BODY_WRITE_BLOCK) {
        if (this.block === null) this.block = new Uint8Array(BODY_WRITE_BLOCK);
        else if (this.blockUsed + n > BODY_WRITE_BLOCK) this.storeBlock();
        this.block.set(data, this.blockUsed);
        this.blockUsed += n;
        if (this.blockUsed === BODY_WRITE_BLOCK) this.storeBlock();
      } else {
        this.storeBlock();
        this.store(data);
      }
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  /** The received body: one fresh buffer the pool may transfer, or the temp file; or, when it
   *  could not be stored, why. */
  finish(): ReceivedBody | UnstoredBody {
    if (this.failure === null) {
      try {
        this.storeBlock();
      } catch (error) {
        this.fail(error);
      }
    }
    this.block = null;
    if (this.failure !== null) return { failure: this.failure };
    const file = this.file;
    this.file = null;
    if (file !== null) {
      storageTrouble.stored();
      return { body: null, file, length: this.length };
    }
    if (this.length === 0) return { body: null, file: null, length: 0 };
    const chunks = this.chunks;
    this.chunks = [];
    const body = new Uint8Array(this.length);
    let off = 0;
    for (const c of chunks) {
      body.set(c, off);
      off += c.byteLength;
    }
    return { body, file: null, length: this.length };
  }

  /** Drops whatever was received (the client went away mid-body). */
  discard(): void {
    this.chunks = [];
    this.memory = 0;
    this.block = null;
    this.blockUsed = 0;
    if (this.file !== null) this.files.release(this.file, false);
    this.file = null;
  }

  /** Past --inbuf-overflow: what memory holds moves to a temp file, and the rest follows it. */
  private spill(): void {
    const file = this.files.acquire();
    this.file = file;
    for (const c of this.chunks) file.write(c);
    this.chunks = [];
    this.memory = 0;
  }

  private storeBlock(): void {
    if (this.blockUsed === 0) return;
    const used = this.blockUsed;
    this.blockUsed = 0;
    if (this.file !== null) this.file.write(this.block!.subarray(0, used));
    else this.keep(this.block!.slice(0, used));
  }

  private store(data: Uint8Array): void {
    if (this.file !== null) this.file.write(data);
    else this.keep(data);
  }

  private keep(data: Uint8Array): void {
    this.chunks.push(data);
    this.memory += data.byteLength;
  }

  private fail(error: unknown): void {
    this.failure = storageFailureReason(error);
    this.discard();
  }
}

/** The answer to a request whose body could not be stored (issue 13 item 1); then the connection
 *  closes. 503: the server's trouble, not the client's, and worth retrying later. */
export const STATUS_BODY_NOT_STORED = 503;
export const REASON_BODY_NOT_STORED = "cannot store the request body";
