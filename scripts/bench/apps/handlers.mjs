// The benchmark's handler logic, written once and shared by every JavaScript server in the suite
// (tray, Bun.serve, deno serve, node:http under Node and under Bun); wsgi_app.py is its Python twin.
//
// Plain JavaScript (.mjs), not TypeScript: the system Node (v20) runs no TypeScript, and every
// server must run the very same code. Routes, by path:
//   /        hello world, 13 bytes of text/plain
//   /64k     a 64 KiB text/plain body (a string, encoded per response by each server, as an app
//            building a page would; a shared byte buffer could be detached by a server that
//            transfers response bodies between threads)
//   /upload  POST: reads the whole request body as a stream and answers with its length in bytes
//   /json    CPU-bound: builds 1000 small objects and JSON-encodes them, per request
// Anything else is a 404.

export const HELLO = "Hello, World!";
export const TEXT = "text/plain; charset=utf-8";
export const JSON_TYPE = "application/json";
export const BIG_BODY = "x".repeat(64 * 1024);
export const JSON_ITEMS = 1000;

/** The CPU-bound work: fresh objects every time, so no engine can cache the result. */
export function renderJson() {
  const items = new Array(JSON_ITEMS);
  for (let i = 0; i < JSON_ITEMS; i++) {
    items[i] = { id: i, name: "item " + i, active: i % 2 === 0, score: i * 0.5, tags: ["a", "b"] };
  }
  return JSON.stringify(items);
}

/** Counts a Web ReadableStream's bytes without keeping them (a 1 GiB upload must not be held). */
export async function countStream(stream) {
  if (stream === null) return 0;
  let n = 0;
  for await (const chunk of stream) n += chunk.byteLength;
  return n;
}
