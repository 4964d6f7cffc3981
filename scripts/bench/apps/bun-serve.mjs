// Bun.serve running fetch-app.mjs: `bun bun-serve.mjs HOST PORT`.
// Two settings differ from Bun's defaults, both so the memory workloads measure the same thing
// on every server: maxRequestBodySize (default 128 MiB) lets the 1 GiB upload through, and
// idleTimeout 120 s (default 10 s; 255 is Bun's maximum) matches tray's and Waitress's
// channel_timeout so 10,000 idle keep-alive connections stay open while RSS is read.
import app from "./fetch-app.mjs";

const [hostname, port] = process.argv.slice(2);
Bun.serve({
  hostname,
  port: Number(port),
  fetch: app.fetch,
  maxRequestBodySize: 4 * 1024 ** 3,
  idleTimeout: 120,
});
console.log(`Bun.serve listening on http://${hostname}:${port}`);
