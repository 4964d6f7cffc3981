// A request body kept in a temp file (past --inbuf-overflow), read as a ReadableStream
// BODY_FILE_READ_SIZE bytes at a time, only when the app pulls: a large body is never read whole.
//
// The file has no name (src/server/spill-file.ts: nothing survives a crash); the server hands
// this Worker a descriptor of its own (Workers share the process's fd table), and this Worker
// closes it exactly once: at close() (the app call ended, however) or when the body was read to
// its end. Never the server's descriptor, so a late read cannot hit a number the server reused.
//
// The server reuses its body files (src/server/body-files.ts): a file may be longer than this
// body (what follows is an earlier request's), and once this request's app call ends the same
// file may be refilled with another client's body. So reads stop at `length`, and close()
// (called by the app call as it ends, before the server can hear of the end) closes the
// descriptor for good: a late read fails instead of seeing someone else's bytes.
//
// Reads are synchronous on purpose: the main thread wrote the file moments ago, so its pages are
// in the page cache and a read is a memory copy (~25 µs per MiB here). Async fs in Bun sends each
// read to its thread pool and back: two thread wake-ups per chunk, which cost more CPU than the
// copy and took a third of an upload's CPU time on a 2-core machine. Synchronous reads also mean
// no read is ever in flight when close() runs.
import { closeSync, readSync } from "node:fs";
import { BODY_FILE_READ_SIZE } from "./limits.ts";

export interface BodyFile {
  readonly stream: ReadableStream<Uint8Array>;
  /** The app call ended: close the file; any later read fails. */
  close(): void;
}

/** The body in the file behind `descriptor` (now this Worker's), `length` bytes from its start. */
export function openBodyFile(descriptor: number, length: number): BodyFile {
  let fd = descriptor;
  let position = 0;
  let released = false;
  const closeDescriptor = (): void => {
    if (fd >= 0) closeSync(fd);
    fd = -1;
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (released) throw new Error("the request body can no longer be read: its response has ended");
        const wanted = Math.min(BODY_FILE_READ_SIZE, length - position);
        if (wanted <= 0) {
          closeDescriptor();
          controller.close();
          return;
        }
        if (fd < 0) throw new Error("bug: the request body's file was read after it was closed");
        const buffer = new Uint8Array(wanted);
        let got = 0;
        try {
          while (got < wanted) {
            const n = readSync(fd, buffer, got, wanted - got, position + got);
            if (n === 0) throw new Error(`the request body's temp file ended after ${position + got} of ${length} bytes`);
            got += n;
          }
        } catch (error) {
          closeDescriptor();
          throw error;
        }
        position += got;
        controller.enqueue(buffer);
      },
      cancel: closeDescriptor,
    },
    // Pull on demand only: no read ahead of what the app asks for.
    { highWaterMark: 0 },
  );
  return {
    stream,
    close() {
      released = true;
      closeDescriptor();
    },
  };
}
