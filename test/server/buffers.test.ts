// The two buffers that spill to a temp file (Waitress's OverflowableBuffer): request bodies past
// --inbuf-overflow and pending response output past --outbuf-overflow.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { OutputBuffer } from "../../src/server/output-buffer.ts";
import { BODY_FILE_POOL_MAX, BODY_FILE_REUSE_MAX, BodyFiles } from "../../src/server/body-files.ts";
import { RequestBody } from "../../src/server/request-body.ts";
import type { SpillFile } from "../../src/server/spill-file.ts";

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
    const r = body.finish();
    expect(r.file).toBeNull();
    expect(r.length).toBe(600);
    expect(Buffer.compare(Buffer.from(r.body!), Buffer.concat([bytes(300, 1), bytes(300, 2)]))).toBe(0);
  });

  test("a body past --inbuf-overflow is written to a temp file, whole and in order", () => {
    const files = new BodyFiles();
    const body = new RequestBody(1000, files);
    const chunks = Array.from({ length: 20 }, (_, i) => bytes(256, i));
    for (const c of chunks) body.append(c);
    const r = body.finish();
    try {
      expect(r.body).toBeNull();
      expect(r.length).toBe(20 * 256);
      expect(existsSync(r.file!.path)).toBe(true);
      expect(Buffer.compare(readFileSync(r.file!.path), Buffer.concat(chunks))).toBe(0);
    } finally {
      files.release(r.file!, false);
    }
    expect(existsSync(r.file!.path)).toBe(false);
  });

  test("discard() removes a spilled body's temp file", () => {
    const body = new RequestBody(10, new BodyFiles());
    body.append(bytes(100, 1));
    const path = (body as unknown as { file: { path: string } }).file.path;
    expect(existsSync(path)).toBe(true);
    body.discard();
    expect(existsSync(path)).toBe(false);
  });
});

describe("BodyFiles", () => {
  function spill(files: BodyFiles, size: number, seed: number): SpillFile {
    const body = new RequestBody(10, files);
    body.append(bytes(size, seed));
    return body.finish().file!;
  }

  test("a file released as reusable takes the next body, written over from its start", () => {
    const files = new BodyFiles();
    const first = spill(files, 3000, 1);
    files.release(first, true);
    expect(existsSync(first.path)).toBe(true);
    const second = spill(files, 1000, 2);
    try {
      expect(second).toBe(first);
      expect(second.written).toBe(1000);
      // The file is longer than the second body: readers must stop at its length (pool/body-file.ts).
      expect(Buffer.compare(readFileSync(second.path).subarray(0, 1000), Buffer.from(bytes(1000, 2)))).toBe(0);
    } finally {
      files.release(second, false);
    }
    expect(existsSync(first.path)).toBe(false);
  });

  test("a file released as not reusable (a Worker may still read it) is deleted, never handed out again", () => {
    const files = new BodyFiles();
    const first = spill(files, 100, 1);
    files.release(first, false);
    expect(existsSync(first.path)).toBe(false);
    const second = spill(files, 100, 2);
    expect(second).not.toBe(first);
    files.release(second, false);
  });

  test("idle files are bounded in size and count, and closeAll() deletes them", () => {
    const files = new BodyFiles();
    const big = spill(files, BODY_FILE_REUSE_MAX + 1, 1);
    files.release(big, true);
    expect(existsSync(big.path)).toBe(false);
    const many = Array.from({ length: BODY_FILE_POOL_MAX + 3 }, (_, i) => spill(files, 100, i));
    for (const f of many) files.release(f, true);
    const kept = many.filter((f) => existsSync(f.path));
    expect(kept.length).toBe(BODY_FILE_POOL_MAX);
    files.closeAll();
    expect(many.filter((f) => existsSync(f.path)).length).toBe(0);
  });
});
