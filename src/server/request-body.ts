// A request body being received: kept in memory up to --inbuf-overflow, then in a temp file
// (DESIGN.md §3: never all in memory). The whole body is received before dispatch.

import type { BodyFiles } from "./body-files.ts";
import type { SpillFile } from "./spill-file.ts";

export interface ReceivedBody {
  body: Uint8Array | null;
  /** The temp file holding the body (past --inbuf-overflow): its holder gives it back to BodyFiles. */
  file: SpillFile | null;
  length: number;
}

export class RequestBody {
  private chunks: Uint8Array[] = [];
  private memory = 0;
  private file: SpillFile | null = null;
  length = 0;

  constructor(
    private readonly overflow: number,
    private readonly files: BodyFiles,
  ) {}

  append(data: Uint8Array): void {
    this.length += data.byteLength;
    if (this.file === null && this.memory + data.byteLength > this.overflow) {
      this.file = this.files.acquire();
      for (const c of this.chunks) this.file.write(c);
      this.chunks = [];
      this.memory = 0;
    }
    if (this.file !== null) {
      this.file.write(data);
    } else {
      this.chunks.push(data);
      this.memory += data.byteLength;
    }
  }

  /** The received body: one fresh buffer the pool may transfer, or the temp file. */
  finish(): ReceivedBody {
    const file = this.file;
    this.file = null;
    if (file !== null) return { body: null, file, length: this.length };
    if (this.length === 0) return { body: null, file: null, length: 0 };
    const body = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      body.set(c, off);
      off += c.byteLength;
    }
    this.chunks = [];
    return { body, file: null, length: this.length };
  }

  /** Drops whatever was received (the client went away mid-body). */
  discard(): void {
    this.chunks = [];
    if (this.file !== null) this.files.release(this.file, false);
    this.file = null;
  }
}
