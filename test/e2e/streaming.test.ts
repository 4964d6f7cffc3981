// Streaming through dist/tray, both ways, with a framework-free app
// (test/fixtures/e2e/frameworks/streaming.ts, no dependencies): Server-Sent Events delivered event
// by event, a ReadableStream the client abandons (the app's cancel() runs), a 256 MiB file response
// (new Response(Bun.file(path))) streamed with bounded server memory, and request bodies read with
// formData() (multipart with files, below and above --inbuf-overflow) and json(). Then
// examples/sse.ts and examples/upload.ts, which need no installed framework either.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { ROOT, rssOf, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { converse, splitResponses } from "./http-helpers.ts";
import { FRAMEWORKS_DIR } from "./frameworks-helpers.ts";

const MIB = 1024 * 1024;
/** The file response: large enough that reading it into memory could not hide in the RSS bound. */
const FILE_SIZE = 256 * MIB;
/** Server RSS growth allowed while a client holds the file response unread: --outbuf-high-watermark
 *  (16 MiB) of pending output plus buffers and GC slack (about 27 MiB measured), far below the file's size. */
const PAUSED_RSS_GROWTH_MAX = 96 * MIB;
/** Peak growth over a full-speed download (65-99 MiB measured): garbage collection lags behind the
 *  transferred buffers, so the bound is generous, yet below the file's size, which reading the
 *  file into memory would cost at least. */
const DOWNLOAD_RSS_GROWTH_MAX = (FILE_SIZE * 3) / 4;

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

async function waitUntil<T>(probe: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(50);
  }
}

describe("streaming through tray", () => {
  let tray: Tray;
  let dir: string;
  let bigFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tray-streaming-"));
    // A sparse file (no disk blocks, reads as zeros) with marked first and last bytes.
    bigFile = join(dir, "big.bin");
    const fd = openSync(bigFile, "w");
    writeSync(fd, "BEGIN", 0);
    writeSync(fd, "END", FILE_SIZE - 3);
    closeSync(fd);
    // --threads=1: /sse/release and /stream/cancelled must reach the Worker holding the stream.
    tray = await startTray(["--threads=1", "streaming.ts"], { cwd: FRAMEWORKS_DIR });
  });

  afterAll(async () => {
    await tray?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("Server-Sent Events reach the client one by one: the first arrives while the stream is still open", async () => {
    const c = await converse(tray.port);
    try {
      c.send("GET /sse?key=one HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n");
      const early = await c.waitFor((t) => t.includes("data: first\n\n"));
      const firstAt = Date.now();
      expect(early).toContain("HTTP/1.1 200 OK\r\n");
      expect(early.toLowerCase()).toContain("content-type: text/event-stream\r\n");
      expect(early).toContain("Transfer-Encoding: chunked\r\n");
      expect(early).not.toContain("data: event 2");
      expect(early).not.toContain("\r\n0\r\n\r\n"); // no last-chunk: the response is not over
      // The stream cannot end before this request releases it: it was still open, waiting.
      await Bun.sleep(300);
      const release = await fetch(`${tray.url}/sse/release?key=one`);
      expect(await release.text()).toBe("released");
      const [r] = await c.waitForResponses(1);
      const endAt = Date.now();
      expect(endAt - firstAt).toBeGreaterThanOrEqual(300);
      expect(r.framing).toBe("chunked");
      expect(r.body).toBe(
        ": open\n\nid: 1\nevent: tick\ndata: first\n\n" +
          [2, 3, 4].map((i) => `id: ${i}\nevent: tick\ndata: event ${i}\n\n`).join("") +
          "event: done\ndata: bye\n\n",
      );
    } finally {
      c.destroy();
    }
  });

  test("a client that goes away mid-stream makes tray cancel the app's ReadableStream", async () => {
    const c = await converse(tray.port);
    try {
      c.send("GET /stream?key=gone HTTP/1.1\r\nHost: test\r\n\r\n");
      await c.waitFor((t) => t.includes("chunk 3\n"));
      // Still running: nothing has cancelled it yet.
      expect(await (await fetch(`${tray.url}/stream/cancelled?key=gone`)).json()).toEqual({ cancelled: null });
    } finally {
      c.destroy();
    }
    const why = await waitUntil(
      async () => ((await (await fetch(`${tray.url}/stream/cancelled?key=gone`)).json()) as { cancelled: string | null }).cancelled,
      10_000,
      "the app's stream to be cancelled",
    );
    expect(why).toStartWith("cancelled after ");
  });

  test("a 256 MiB Bun.file response held unread by the client keeps the server's memory bounded", async () => {
    await (await fetch(`${tray.url}/stream/cancelled?key=warm-up`)).arrayBuffer();
    const before = rssOf(tray.proc.pid!);
    const c = await converse(tray.port);
    try {
      c.send(`GET /file?path=${encodeURIComponent(bigFile)} HTTP/1.1\r\nHost: test\r\n\r\n`);
      await c.waitFor((t) => t.length >= MIB, 20_000);
      c.socket.pause(); // the client stops reading: tray must stop reading the file too
      await Bun.sleep(1500);
      const held = rssOf(tray.proc.pid!) - before;
      expect(held).toBeLessThan(PAUSED_RSS_GROWTH_MAX);
      expect(c.text()).toContain("BEGIN");
    } finally {
      c.destroy();
    }
  });

  test("a 256 MiB Bun.file response arrives whole, with the server's peak memory under the file's size", async () => {
    await Bun.sleep(500); // let the previous test's cancelled stream settle
    const pid = tray.proc.pid!;
    const before = rssOf(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
    try {
      const r = await fetch(`${tray.url}/file?path=${encodeURIComponent(bigFile)}`);
      expect(r.status).toBe(200);
      // A file's size goes out as its Content-Length (as Bun.serve does), not chunked.
      expect(r.headers.get("content-length")).toBe(String(FILE_SIZE));
      expect(r.headers.get("transfer-encoding")).toBeNull();
      const reader = r.body!.getReader();
      let size = 0;
      let head = "";
      let tail = new Uint8Array(0);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (size === 0) head = new TextDecoder().decode(value.subarray(0, 5));
        size += value.byteLength;
        tail = value.byteLength >= 3 ? value.subarray(value.byteLength - 3) : Uint8Array.from([...tail, ...value]).slice(-3);
      }
      expect(size).toBe(FILE_SIZE);
      expect(head).toBe("BEGIN");
      expect(new TextDecoder().decode(tail)).toBe("END");
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rssOf(pid));
    expect(peak - before).toBeLessThan(DOWNLOAD_RSS_GROWTH_MAX);
  }, 120_000);

  test("a small Bun.file and a Blob go out with their size as Content-Length (GET and HEAD); an empty file is streamed as any body (Bun reports size 0 for a missing file too)", async () => {
    const small = join(dir, "small.txt");
    const empty = join(dir, "empty.txt");
    await Bun.write(small, "twelve bytes");
    await Bun.write(empty, "");
    const got = await fetch(`${tray.url}/file?path=${encodeURIComponent(small)}`);
    expect(got.headers.get("content-length")).toBe("12");
    expect(await got.text()).toBe("twelve bytes");
    const head = await fetch(`${tray.url}/file?path=${encodeURIComponent(small)}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("12");
    expect(await head.text()).toBe("");
    const blob = await fetch(`${tray.url}/blob`);
    expect(blob.headers.get("content-length")).toBe("11");
    expect(await blob.text()).toBe("a Blob body");
    const none = await fetch(`${tray.url}/file?path=${encodeURIComponent(empty)}`);
    expect(none.status).toBe(200);
    expect(await none.text()).toBe("");
  });

  test("a multipart upload is read with request.formData(): fields and files, small and past --inbuf-overflow", async () => {
    const small = randomBytes(1000);
    const large = randomBytes(3 * MIB); // past the 512 KiB --inbuf-overflow: the body waits in a temp file
    const form = new FormData();
    form.append("title", "holiday photos");
    form.append("small", new Blob([small], { type: "image/png" }), "small.png");
    form.append("large", new Blob([large], { type: "application/octet-stream" }), "large.bin");
    const r = await fetch(`${tray.url}/form`, { method: "POST", body: form });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      title: "holiday photos",
      small: { name: "small.png", type: "image/png", size: 1000, sha256: sha256(small) },
      large: { name: "large.bin", type: "application/octet-stream", size: 3 * MIB, sha256: sha256(large) },
    });
  });

  test("a raw multipart body, byte for byte as a browser sends it, is read with formData()", async () => {
    const body =
      "--XyZ\r\n" +
      'Content-Disposition: form-data; name="greeting"\r\n\r\n' +
      "hello\r\n" +
      "--XyZ\r\n" +
      'Content-Disposition: form-data; name="doc"; filename="a.bin"\r\n' +
      "Content-Type: application/octet-stream\r\n\r\n" +
      "line one\r\nline two\r\n" +
      "--XyZ--\r\n";
    const c = await converse(tray.port);
    try {
      c.send(`POST /form HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      const [r] = await c.waitForResponses(1);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({
        greeting: "hello",
        doc: { name: "a.bin", type: "application/octet-stream", size: 18, sha256: sha256(Buffer.from("line one\r\nline two")) },
      });
    } finally {
      c.destroy();
    }
  });

  test("a JSON body is read with request.json(), sent whole or chunked", async () => {
    const value = { name: "tray", list: [1, 2, 3], nested: { ok: true }, text: "é ✓" };
    const whole = await fetch(`${tray.url}/json`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(value) });
    expect(await whole.json()).toEqual({ got: value });
    const json = Buffer.from(JSON.stringify(value));
    const c = await converse(tray.port);
    try {
      const half = Math.floor(json.length / 2);
      c.send("POST /json HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
      c.send(Buffer.concat([Buffer.from(`${half.toString(16)}\r\n`), json.subarray(0, half), Buffer.from("\r\n")]));
      c.send(Buffer.concat([Buffer.from(`${(json.length - half).toString(16)}\r\n`), json.subarray(half), Buffer.from("\r\n0\r\n\r\n")]));
      const [r] = await c.waitForResponses(1);
      expect(JSON.parse(Buffer.from(r.body, "latin1").toString("utf8"))).toEqual({ got: value });
    } finally {
      c.destroy();
    }
  });
});

describe("examples/sse.ts and examples/upload.ts", () => {
  let sse: Tray;
  let upload: Tray;

  beforeAll(async () => {
    [sse, upload] = await Promise.all([startTray(["--threads=1", "examples/sse.ts"], { cwd: ROOT }), startTray(["--threads=1", "examples/upload.ts"], { cwd: ROOT })]);
  });
  afterAll(async () => {
    await Promise.all([sse?.stop(), upload?.stop()]);
  });

  test("sse.ts sends an event at once and the next about a second later, on an open stream", async () => {
    const c = await converse(sse.port);
    try {
      c.send("GET / HTTP/1.1\r\nHost: test\r\n\r\n");
      const first = await c.waitFor((t) => t.includes("id: 1\n"));
      expect(first).toContain("text/event-stream");
      expect(first).not.toContain("id: 2\n");
      await c.waitFor((t) => t.includes("id: 2\n"), 10_000);
      expect(splitResponses(c.text())).toHaveLength(0); // still streaming
    } finally {
      c.destroy();
    }
  });

  test("upload.ts reads a multipart form and a JSON body", async () => {
    const form = new FormData();
    form.append("file", new Blob(["0123456789"]), "digits.txt");
    form.append("note", "hi");
    expect(await (await fetch(upload.url, { method: "POST", body: form })).json()).toEqual({ file: { name: "digits.txt", size: 10 }, note: "hi" });
    const r = await fetch(upload.url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    expect(await r.json()).toEqual({ received: { a: 1 } });
  });
});
