// Parser throughput: `bun scripts/bench-parser.ts [seconds-per-case]`. A benchmark, not a test.
//
// Strategy: three realistic requests (a browser GET with 13 header fields, a ~1 KiB JSON POST, a
// 64 KiB chunked upload in 4 KiB chunks), each parsed over and over by one RequestParser the way a
// keep-alive connection feeds it: the GET and the POST arrive in one read each, the upload in
// 8 KiB reads (tray's default --recv-bytes). Every run checks that each request really ended
// (so an error path is never what gets timed), warms up first, then runs for a fixed time and
// prints MB/s, requests/s and ns per request. A "fresh parser" row adds the cost of one
// RequestParser per request (a connection per request, no keep-alive).

import { RequestParser } from "../src/http/parser.ts";

const encoder = new TextEncoder();
const ascii = (s: string): Uint8Array => encoder.encode(s);

function browserGet(): Uint8Array {
  return ascii(
    "GET /articles/2026/11/parsing-http-in-typescript?ref=home&utm_source=feed HTTP/1.1\r\n" +
      "Host: www.example.com\r\n" +
      "Connection: keep-alive\r\n" +
      'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"\r\n' +
      "sec-ch-ua-mobile: ?0\r\n" +
      'sec-ch-ua-platform: "Linux"\r\n' +
      "Upgrade-Insecure-Requests: 1\r\n" +
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
      "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
      "Sec-Fetch-Site: same-origin\r\n" +
      "Sec-Fetch-Mode: navigate\r\n" +
      "Referer: https://www.example.com/\r\n" +
      "Accept-Encoding: gzip, deflate, br, zstd\r\n" +
      "Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n" +
      "Cookie: session=3f9a1c2e7b8d4f60a1b2c3d4e5f60718; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n" +
      "\r\n",
  );
}

function jsonPost(): Uint8Array {
  const items = Array.from({ length: 12 }, (_, i) => ({ id: 1000 + i, name: `item-${i}`, qty: i + 1, note: "fragile, keep upright" }));
  const body = JSON.stringify({ order: "A-20261124-0042", customer: { id: 77, email: "someone@example.com" }, items });
  return ascii(
    "POST /api/v1/orders HTTP/1.1\r\n" +
      "Host: api.example.com\r\n" +
      "User-Agent: example-client/2.3.1\r\n" +
      "Accept: application/json\r\n" +
      "Content-Type: application/json\r\n" +
      "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3NyJ9.c2lnbmF0dXJl\r\n" +
      "X-Request-Id: 5b0e8f3c-1d2a-4c6b-9e7f-0a1b2c3d4e5f\r\n" +
      `Content-Length: ${body.length}\r\n` +
      "\r\n" +
      body,
  );
}

function chunkedUpload(): Uint8Array {
  const parts: Uint8Array[] = [
    ascii(
      "PUT /uploads/backup.tar HTTP/1.1\r\n" +
        "Host: files.example.com\r\n" +
        "User-Agent: curl/8.11.0\r\n" +
        "Accept: */*\r\n" +
        "Content-Type: application/octet-stream\r\n" +
        "Transfer-Encoding: chunked\r\n" +
        "\r\n",
    ),
  ];
  const chunk = new Uint8Array(4096);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
  for (let i = 0; i < 16; i++) parts.push(ascii("1000\r\n"), chunk, ascii("\r\n"));
  parts.push(ascii("0\r\n\r\n"));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The request as the socket would hand it over: slices of at most `read` bytes. */
function reads(raw: Uint8Array, read: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < raw.length; i += read) out.push(raw.subarray(i, Math.min(raw.length, i + read)));
  return out;
}

interface Case {
  name: string;
  raw: Uint8Array;
  pieces: Uint8Array[];
  bodyBytes: number;
  fresh: boolean;
}

/** Parses the case `n` times; returns the number of ended messages (must be n). */
function run(c: Case, n: number): number {
  let ended = 0;
  let body = 0;
  let parser = new RequestParser();
  for (let i = 0; i < n; i++) {
    if (c.fresh) parser = new RequestParser();
    for (const piece of c.pieces) {
      const events = parser.feed(piece);
      for (let j = 0; j < events.length; j++) {
        const ev = events[j];
        if (ev.type === "data") body += ev.data.length;
        else if (ev.type === "end") ended++;
        else if (ev.type === "error") throw new Error(`${c.name}: unexpected ${ev.error.status} ${ev.error.message}`);
      }
    }
  }
  if (body !== c.bodyBytes * n) throw new Error(`${c.name}: body bytes ${body}, expected ${c.bodyBytes * n}`);
  return ended;
}

function measure(c: Case, seconds: number): { mbps: number; rps: number; ns: number } {
  // Warm up until the JIT has seen the hot paths, and size a batch to ~20 ms.
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    run(c, batch);
    if (performance.now() - t0 > 20) break;
    batch *= 2;
  }
  let requests = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    const ended = run(c, batch);
    if (ended !== batch) throw new Error(`${c.name}: ${ended} of ${batch} requests ended`);
    requests += batch;
    elapsed = performance.now() - start;
  }
  const secs = elapsed / 1000;
  return { mbps: (requests * c.raw.length) / 1e6 / secs, rps: requests / secs, ns: (secs * 1e9) / requests };
}

const seconds = Number(process.argv[2] ?? "2");
const get = browserGet();
const post = jsonPost();
const upload = chunkedUpload();
const postBody = post.length - (post.indexOf(0x7b) >= 0 ? post.indexOf(0x7b) : post.length);
const cases: Case[] = [
  { name: "browser GET (13 fields)", raw: get, pieces: [get], bodyBytes: 0, fresh: false },
  { name: "browser GET, fresh parser", raw: get, pieces: [get], bodyBytes: 0, fresh: true },
  { name: "JSON POST (~1 KiB)", raw: post, pieces: [post], bodyBytes: postBody, fresh: false },
  { name: "chunked upload 64 KiB / 4 KiB chunks, 8 KiB reads", raw: upload, pieces: reads(upload, 8192), bodyBytes: 64 * 1024, fresh: false },
];

console.log(`tray request parser, Bun ${Bun.version}, ${seconds} s per case`);
console.log(`${"case".padEnd(52)} ${"bytes".padStart(7)} ${"MB/s".padStart(9)} ${"req/s".padStart(12)} ${"ns/req".padStart(10)}`);
for (const c of cases) {
  const r = measure(c, seconds);
  console.log(
    `${c.name.padEnd(52)} ${String(c.raw.length).padStart(7)} ${r.mbps.toFixed(1).padStart(9)} ${Math.round(r.rps).toLocaleString("en-US").padStart(12)} ${r.ns.toFixed(0).padStart(10)}`,
  );
}
