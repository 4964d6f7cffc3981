// The WebSocket load generator of scripts/bench-websocket.ts, run as its own process so it does not
// share an event loop with the driver: `bun ws-load.ts URL CLIENTS SECONDS` opens CLIENTS
// WebSockets (Bun's client), each sending a 32-byte text message and waiting for its echo before
// the next, for SECONDS; prints one JSON line {roundTrips, seconds, failed}.
const [url, clientsArg, secondsArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const seconds = Number(secondsArg);
const MESSAGE = "x".repeat(32);

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`could not open ${url}`));
  });
}

const sockets = await Promise.all(Array.from({ length: clients }, open));
let roundTrips = 0;
let failed = 0;
let running = true;
const started = performance.now();
for (const ws of sockets) {
  ws.onmessage = () => {
    if (!running) return;
    roundTrips++;
    ws.send(MESSAGE);
  };
  ws.onclose = () => failed++;
  ws.send(MESSAGE);
}
await Bun.sleep(seconds * 1000);
running = false;
const elapsed = (performance.now() - started) / 1000;
for (const ws of sockets) {
  ws.onclose = null;
  ws.close();
}
console.log(JSON.stringify({ roundTrips, seconds: elapsed, failed }));
process.exit(0);
export {};
