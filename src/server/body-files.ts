// The temp files request bodies past --inbuf-overflow are kept in, reused from one request to the
// next. Creating a file, then unlinking it once its request ends, cost the main thread more than
// writing the body itself (ext4 allocates and frees the blocks each time); a reused file is
// overwritten in place, in pages the kernel already holds.
//
// A file is reused only when the Worker has said it is done with the request (its last response
// op): the Worker closes the file before it says so (src/pool/body-file.ts), and reads only the
// body's own length, since a reused file may be longer. Any other end — the client left, the
// Worker died, the request never reached a Worker — deletes the file instead, because a Worker
// might still be reading it. Idle files are bounded in count and size, so the disk they hold is
// too, and all of them are deleted when the server stops.
//
// The files have no name (spill-file.ts): a Worker reads a body through a descriptor of its own
// (SpillFile.handOff), which it closes itself; "deleting" a file here means closing the server's
// descriptor, after which the data lives only as long as the Worker's descriptor does.

import { SpillFile, nodeSpillIO } from "./spill-file.ts";
import type { SpillIO } from "./spill-file.ts";

/** Idle body files kept for reuse; more are deleted as they are released. */
export const BODY_FILE_POOL_MAX = 16;
/** A file that grew past this is deleted when released, not kept: idle files hold at most
 *  BODY_FILE_POOL_MAX x this much disk (128 MiB). */
export const BODY_FILE_REUSE_MAX = 8 * 1024 * 1024;

export class BodyFiles {
  private readonly idle: SpillFile[] = [];

  constructor(private readonly io: SpillIO = nodeSpillIO) {}

  /** An empty file to write a body into: an idle one, else a new one. Throws what opening a
   *  file throws (EMFILE, ENOSPC): the RequestBody turns that into its failure. */
  acquire(): SpillFile {
    return this.idle.pop() ?? new SpillFile("body", this.io);
  }

  /** The request is over. reusable: the Worker is known to be done with the file. */
  release(file: SpillFile, reusable: boolean): void {
    if (reusable && file.written <= BODY_FILE_REUSE_MAX && this.idle.length < BODY_FILE_POOL_MAX) {
      file.rewind();
      this.idle.push(file);
    } else {
      file.close();
    }
  }

  /** The server is stopping: delete the idle files. */
  closeAll(): void {
    for (const file of this.idle.splice(0)) file.close();
  }
}
