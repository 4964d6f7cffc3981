// A stand-in for dist/tray's start-up, compiled by test/app/compiled.test.ts with tray's own build
// flags: loads `[--call] MODULE[:OBJECT]` inside a Worker (as the pool does), calls the handler
// once with GET http://harness.test/path, and prints "OK <status> <body>" or "ERR <name>: <message>".
// It exists so the loader is checked where it really runs: a `bun build --compile` binary.
import type { HarnessReply, HarnessRequest } from "./worker.ts";

const args = process.argv.slice(2);
const call = args.includes("--call");
const text = args.find((arg) => arg !== "--call") ?? "";
const worker = new Worker(new URL("./worker.ts", import.meta.url).href);
worker.onmessage = (event: MessageEvent<HarnessReply>) => {
  const reply = event.data;
  console.log(reply.ok ? `OK ${reply.status} ${reply.body}` : `ERR ${reply.name}: ${reply.message}`);
  worker.terminate();
  process.exitCode = reply.ok ? 0 : 1;
};
const request: HarnessRequest = { text, call, cwd: process.cwd() };
worker.postMessage(request);
