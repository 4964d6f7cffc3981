// The two buffers that spill to a temp file (Waitress's OverflowableBuffer): request bodies past
// --inbuf-overflow and pending response output past --outbuf-overflow.
import { describe, expect, test } from "bun:test";
import { closeSync, existsSync, fstatSync, readSync } from "node:fs";
import { OutputBuffer } from "../../src/server/output-buffer.ts";
import { BODY_FILE_POOL_MAX, BODY_FILE_REUSE_MAX, BodyFiles } from "../../src/server/body-files.ts";
import { BODY_WRITE_BLOCK, RequestBody } from "../../src/server/request-body.ts";
import type { ReceivedBody, UnstoredBody } from "../../src/server/request-body.ts";
import { SpillFile, StorageTrouble, nodeSpillIO } from "../../src/server/spill-file.ts";
import type { SpillIO } from "../../src/server/spill-file.ts";

/** The first `length` bytes of a (nameless) spill file, read through a handed-off descriptor. */
function contents(file: SpillFile, length = file.written): Buffer {
  const fd = file.handOff();
  try {
    const out = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, out, got, length - got, got);
      if (n === 0) break;
      got += n;
    }
    return out.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** True while the server's descriptor of the file is open. */
function isOpen(file: SpillFile): boolean {
  if (file.descriptor < 0) return false;
  try {
    fstatSync(file.descriptor);
    return true;
  } catch {
    return false;
  }
}

function stored(r: ReceivedBody | UnstoredBody): ReceivedBody {
  if ("failure" in r) throw new Error(`body not stored: ${r.failure}`);
  return r;
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function drain(out: OutputBuffer): Uint8Array {
  const parts: Uint8Array[] = [];
  let c: Uint8Array | null;
  while ((c = out.shift()) !== null) parts.push(c);
  return Buffer.concat(parts);
}

describe("OutputBuffer", () => {
  test("under the overflow, chunks come back as they went in, from memory", () => {
    const out = new OutputBuffer(1024);
    const a = bytes(100, 1);
    const b = bytes(200, 2);
    out.push(a);
    out.push(b);
    expect(out.length).toBe(300);
    expect(out.shift()).toBe(a); // the same object: nothing copied, nothing on disk
    expect(out.shift()).toBe(b);
    expect(out.shift()).toBeNull();
    expect(out.length).toBe(0);
  });

  test("past the overflow, the rest goes to a temp file and comes back in order", () => {
    const out = new OutputBuffer(1000);
    const chunks = Array.from({ length: 50 }, (_, i) => bytes(300 + i, i));
    for (const c of chunks) out.push(c);
    const total = chunks.reduce((n, c) => n + c.byteLength, 0);
    expect(out.length).toBe(total);
    // Only what fits under the overflow is held in memory.
    expect((out as unknown as { memory: number }).memory).toBeLessThanOrEqual(1000);
    expect(Buffer.compare(Buffer.from(drain(out)), Buffer.concat(chunks))).toBe(0);
    expect(out.length).toBe(0);
  });

  test("pushing again after the spill file drained keeps the order", () => {
    const out = new OutputBuffer(100);
    const first = [bytes(80, 1), bytes(80, 2), bytes(80, 3)];
    for (const c of first) out.push(c);
    const got1 = drain(out);
    const second = [bytes(50, 4), bytes(90, 5)];
    for (const c of second) out.push(c);
    expect(Buffer.compare(Buffer.from(got1), Buffer.concat(first))).toBe(0);
    expect(Buffer.compare(Buffer.from(drain(out)), Buffer.concat(second))).toBe(0);
  });
});

describe("RequestBody", () => {
  test("a body under --inbuf-overflow stays in memory and comes out as one buffer", () => {
    const body = new RequestBody(1024, new BodyFiles());
    body.append(bytes(300, 1));
    body.append(bytes(300, 2));
    const r = stored(body.finish());
    expect(r.file).toBeNull();
    expect(r.length).toBe(600);
    expect(Buffer.compare(Buffer.from(r.body!), Buffer.concat([bytes(300, 1), bytes(300, 2)]))).toBe(0);
  });

  test("a body past --inbuf-overflow is written to a temp file, whole and in order", () => {
    const files = new BodyFiles();
    const body = new RequestBody(1000, files);
    const chunks = Array.from({ length: 20 }, (_, i) => bytes(256, i));
    for (const c of chunks) body.append(c);
    const r = stored(body.finish());
    try {
      expect(r.body).toBeNull();
      expect(r.length).toBe(20 * 256);
      expect(isOpen(r.file!)).toBe(true);
      expect(existsSync(r.file!.path)).toBe(false); // nameless from the start (issue 13 item 3)
      expect(Buffer.compare(contents(r.file!), Buffer.concat(chunks))).toBe(0);
    } finally {
      files.release(r.file!, false);
    }
    expect(isOpen(r.file!)).toBe(false);
  });

  test("discard() removes a spilled body's temp file", () => {
    const body = new RequestBody(10, new BodyFiles());
    body.append(bytes(100, 1));
    const file = (body as unknown as { file: SpillFile }).file;
    expect(isOpen(file)).toBe(true);
    body.discard();
    expect(isOpen(file)).toBe(false);
  });
});

describe("BodyFiles", () => {
  function spill(files: BodyFiles, size: number, seed: number): SpillFile {
    const body = new RequestBody(10, files);
    body.append(bytes(size, seed));
    return stored(body.finish()).file!;
  }

  test("a file released as reusable takes the next body, written over from its start", () => {
    const files = new BodyFiles();
    const first = spill(files, 3000, 1);
    files.release(first, true);
    expect(isOpen(first)).toBe(true);
    const second = spill(files, 1000, 2);
    try {
      expect(second).toBe(first);
      expect(second.written).toBe(1000);
      // The file is longer than the second body: readers must stop at its length (pool/body-file.ts).
      expect(Buffer.compare(contents(second, 1000), Buffer.from(bytes(1000, 2)))).toBe(0);
    } finally {
      files.release(second, false);
    }
    expect(isOpen(first)).toBe(false);
  });

  test("a file released as not reusable (a Worker may still read it) is deleted, never handed out again", () => {
    const files = new BodyFiles();
    const first = spill(files, 100, 1);
    files.release(first, false);
    expect(isOpen(first)).toBe(false);
    const second = spill(files, 100, 2);
    expect(second).not.toBe(first);
    files.release(second, false);
  });

  test("idle files are bounded in size and count, and closeAll() deletes them", () => {
    const files = new BodyFiles();
    const big = spill(files, BODY_FILE_REUSE_MAX + 1, 1);
    files.release(big, true);
    expect(isOpen(big)).toBe(false);
    const many = Array.from({ length: BODY_FILE_POOL_MAX + 3 }, (_, i) => spill(files, 100, i));
    for (const f of many) files.release(f, true);
    const kept = many.filter((f) => isOpen(f));
    expect(kept.length).toBe(BODY_FILE_POOL_MAX);
    files.closeAll();
    expect(many.filter((f) => isOpen(f)).length).toBe(0);
  });
});

// --- issue 13: storage failures, coalesced writes, bounded memory, nameless files ------------

/** nodeSpillIO with counted writes and a switch to make open/write fail like a full machine. */
function faultyIO(): SpillIO & { writes: number; failOpen: string | null; failWrite: string | null; closes: number } {
  const io = {
    writes: 0,
    closes: 0,
    failOpen: null as string | null,
    failWrite: null as string | null,
    open(path: string): number {
      if (io.failOpen !== null) throw Object.assign(new Error(`${io.failOpen}: injected, open '${path}'`), { code: io.failOpen });
      return nodeSpillIO.open(path);
    },
    write(fd: number, b: Uint8Array, off: number, len: number, pos: number): number {
      if (io.failWrite !== null) throw Object.assign(new Error(`${io.failWrite}: injected, write`), { code: io.failWrite });
      io.writes++;
      return nodeSpillIO.write(fd, b, off, len, pos);
    },
    read: nodeSpillIO.read,
    close(fd: number): void {
      io.closes++;
      nodeSpillIO.close(fd);
    },
    unlink: nodeSpillIO.unlink,
  };
  return io;
}

describe("SpillFile", () => {
  test("has no name once open (nothing survives a crash), and hands a Worker a descriptor of its own that reads the same bytes", () => {
    const file = new SpillFile("body");
    try {
      expect(existsSync(file.path)).toBe(false);
      file.write(bytes(5000, 3));
      const fd = file.handOff();
      expect(fd).not.toBe(file.descriptor);
      file.close(); // the server's descriptor goes; the Worker's still reads
      const out = Buffer.alloc(5000);
      expect(readSync(fd, out, 0, 5000, 0)).toBe(5000);
      closeSync(fd);
      expect(Buffer.compare(out, Buffer.from(bytes(5000, 3)))).toBe(0);
    } finally {
      file.close();
    }
  });
});

describe("RequestBody: coalesced writes (issue 13 item 6)", () => {
  test("a 5 MiB body in 1-byte pieces costs one file write per 64 KiB block, not one per byte, and arrives intact", () => {
    const io = faultyIO();
    const files = new BodyFiles(io);
    const body = new RequestBody(512 * 1024, files);
    const size = 5 * 1024 * 1024;
    const src = bytes(size, 7);
    let all = true;
    for (let i = 0; i < size; i++) all = body.append(src.subarray(i, i + 1)) && all;
    expect(all).toBe(true);
    const r = stored(body.finish());
    try {
      expect(r.length).toBe(size);
      expect(io.writes).toBeLessThanOrEqual(Math.ceil(size / BODY_WRITE_BLOCK) + 1);
      expect(Buffer.compare(contents(r.file!), Buffer.from(src))).toBe(0);
    } finally {
      files.release(r.file!, false);
    }
  });

  test("mixed small and large pieces keep their order, split at every offset of a sample", () => {
    const src = bytes(3 * BODY_WRITE_BLOCK + 123, 9);
    for (const overflow of [0, 1000, 10 * BODY_WRITE_BLOCK]) {
      for (let cut = 1; cut < src.byteLength; cut += 4099) {
        const files = new BodyFiles();
        const body = new RequestBody(overflow, files);
        // small, large, then 1-byte pieces
        body.append(src.subarray(0, Math.min(cut, 17)));
        let at = Math.min(cut, 17);
        body.append(src.subarray(at, cut));
        at = cut;
        while (at < src.byteLength) {
          const n = at % 3 === 0 ? 1 : Math.min(BODY_WRITE_BLOCK + 5, src.byteLength - at);
          body.append(src.subarray(at, at + n));
          at += n;
        }
        const r = stored(body.finish());
        const got = r.file !== null ? contents(r.file) : Buffer.from(r.body!);
        if (r.file !== null) files.release(r.file, false);
        expect(Buffer.compare(got, Buffer.from(src))).toBe(0);
      }
    }
  });
});

describe("RequestBody: storage failures never reach the app as data (issue 13 item 1)", () => {
  for (const [what, set] of [
    ["opening the temp file fails (EMFILE)", (io: ReturnType<typeof faultyIO>) => (io.failOpen = "EMFILE")],
    ["writing the temp file fails (ENOSPC)", (io: ReturnType<typeof faultyIO>) => (io.failWrite = "ENOSPC")],
  ] as const) {
    test(`${what}: append() says false, finish() reports the failure instead of a body, nothing stays open`, () => {
      const io = faultyIO();
      const body = new RequestBody(1000, new BodyFiles(io));
      expect(body.append(bytes(600, 1))).toBe(true);
      set(io);
      expect(body.append(bytes(BODY_WRITE_BLOCK * 2, 2))).toBe(false);
      expect(body.failure).toContain(io.failOpen ?? io.failWrite!);
      io.failOpen = io.failWrite = null; // working again: this body stays failed all the same
      expect(body.append(bytes(10, 3))).toBe(false);
      expect(body.length).toBe(600 + BODY_WRITE_BLOCK * 2 + 10);
      const r = body.finish();
      expect("failure" in r).toBe(true);
      expect((r as UnstoredBody).failure).toBe(body.failure!);
      // the file (if one was opened) is closed
      expect((body as unknown as { file: SpillFile | null }).file).toBeNull();
    });
  }

  test("a failure on the last block (flushed by finish) is reported by finish()", () => {
    const io = faultyIO();
    const body = new RequestBody(10, new BodyFiles(io));
    expect(body.append(bytes(100, 1))).toBe(true); // spilled; the bytes wait in the block
    io.failWrite = "ENOSPC";
    const r = body.finish();
    expect((r as UnstoredBody).failure).toContain("ENOSPC");
  });
});

describe("OutputBuffer: memory bounded, failures reported (issue 13 items 1 and 7)", () => {
  test("one chunk larger than the overflow keeps only the overflow in memory, frees the chunk, and comes back whole", () => {
    const out = new OutputBuffer(1000);
    const big = bytes(300_000, 4);
    const copy = Buffer.from(big);
    expect(out.push(big)).toBe(true);
    expect((out as unknown as { memory: number }).memory).toBe(1000);
    expect(big.byteLength).toBe(0); // detached: its memory is released now, not at the next GC
    expect(out.length).toBe(300_000);
    expect(Buffer.compare(Buffer.from(drain(out)), copy)).toBe(0);
  });

  test("a failing spill (ENOSPC) drops everything pending, refuses more, and reports the failure once", () => {
    const io = faultyIO();
    const out = new OutputBuffer(100, io);
    expect(out.push(bytes(80, 1))).toBe(true);
    io.failWrite = "ENOSPC";
    expect(out.push(bytes(500, 2))).toBe(false);
    expect(out.length).toBe(0);
    expect(out.shift()).toBeNull();
    expect(out.push(bytes(10, 3))).toBe(false);
    expect(out.takeFailure()).toContain("ENOSPC");
    expect(out.takeFailure()).toBeNull();
    expect(io.closes).toBe(1); // the spill file it had opened
  });

  test("a spill file that cannot be opened (EMFILE) fails the same way", () => {
    const io = faultyIO();
    io.failOpen = "EMFILE";
    const out = new OutputBuffer(100, io);
    expect(out.push(bytes(50, 1))).toBe(true);
    expect(out.push(bytes(100, 2))).toBe(false);
    expect(out.length).toBe(0);
    expect(out.failure).toContain("EMFILE");
  });
});

describe("StorageTrouble", () => {
  test("an episode of failures is reported once; a whole body stored ends it, and the next failure is reported again", () => {
    const t = new StorageTrouble();
    expect(t.failed()).toBe(true);
    expect(t.failed()).toBe(false);
    expect(t.failed()).toBe(false);
    expect(t.stored()).toBe(true);
    expect(t.stored()).toBe(false);
    expect(t.failed()).toBe(true);
  });
});
