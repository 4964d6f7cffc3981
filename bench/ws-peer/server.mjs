// The `ws` package's echo server for scripts/bench-websocket.ts, on Node and on Bun alike:
// `node server.mjs HOST PORT` / `bun server.mjs HOST PORT`. GET / answers 200 (readiness).
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const [host, port] = process.argv.slice(2);
const server = createServer((_req, res) => res.end("ok"));
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
server.listen(Number(port), host);
