// A request body kept in a temp file (past --inbuf-overflow) as a ReadableStream that reads the
// file BODY_FILE_READ_SIZE bytes at a time, only when the app pulls: a large body is never read
// whole, and a handler that ignores the body never even opens the file.
import { open, type FileHandle } from "node:fs/promises";
import { BODY_FILE_READ_SIZE } from "./limits.ts";

export function bodyFileStream(path: string): ReadableStream<Uint8Array> {
  let file: FileHandle | null = null;
  const close = async (): Promise<void> => {
    const f = file;
    file = null;
    if (f !== null) await f.close();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        file ??= await open(path, "r");
        const buffer = new Uint8Array(BODY_FILE_READ_SIZE);
        let bytesRead: number;
        try {
          ({ bytesRead } = await file.read(buffer, 0, buffer.byteLength, null));
        } catch (error) {
          await close();
          throw error;
        }
        if (bytesRead === 0) {
          await close();
          controller.close();
          return;
        }
        controller.enqueue(bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead));
      },
      cancel: close,
    },
    // Pull on demand only: no read ahead of what the app asks for.
    { highWaterMark: 0 },
  );
}
