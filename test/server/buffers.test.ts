// The two buffers that spill to a temp file (Waitress's OverflowableBuffer): request bodies past
// --inbuf-overflow and pending response output past --outbuf-overflow.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { OutputBuffer } from "../../src/server/output-buffer.ts";
import { RequestBody } from "../../src/server/request-body.ts";

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
    const body = new RequestBody(1024);
    body.append(bytes(300, 1));
    body.append(bytes(300, 2));
    const r = body.finish();
    expect(r.bodyFile).toBeNull();
    expect(r.length).toBe(600);
    expect(Buffer.compare(Buffer.from(r.body!), Buffer.concat([bytes(300, 1), bytes(300, 2)]))).toBe(0);
  });

  test("a body past --inbuf-overflow is written to a temp file, whole and in order", () => {
    const body = new RequestBody(1000);
    const chunks = Array.from({ length: 20 }, (_, i) => bytes(256, i));
    for (const c of chunks) body.append(c);
    const r = body.finish();
    try {
      expect(r.body).toBeNull();
      expect(r.length).toBe(20 * 256);
      expect(existsSync(r.bodyFile!)).toBe(true);
      expect(Buffer.compare(readFileSync(r.bodyFile!), Buffer.concat(chunks))).toBe(0);
    } finally {
      rmSync(r.bodyFile!, { force: true });
    }
  });

  test("discard() removes a spilled body's temp file", () => {
    const body = new RequestBody(10);
    body.append(bytes(100, 1));
    const path = (body as unknown as { file: { path: string } }).file.path;
    expect(existsSync(path)).toBe(true);
    body.discard();
    expect(existsSync(path)).toBe(false);
  });
});
