// node:http with the routes of handlers.mjs: `node node-http.mjs HOST PORT` (also run by Bun).
// keepAliveTimeout is raised from Node's 5 s to tray's and Waitress's 120 s channel_timeout, so
// 10,000 idle keep-alive connections stay open while RSS is read; nothing else is tuned.
import { createServer } from "node:http";
import { BIG_BODY, HELLO, JSON_TYPE, TEXT, renderJson } from "./handlers.mjs";

const [host, port] = process.argv.slice(2);

function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const server = createServer((req, res) => {
  const path = req.url.split("?", 1)[0];
  switch (path) {
    case "/":
      return send(res, 200, TEXT, HELLO);
    case "/64k":
      return send(res, 200, TEXT, BIG_BODY);
    case "/json":
      return send(res, 200, JSON_TYPE, renderJson());
    case "/upload": {
      let n = 0;
      req.on("data", (chunk) => (n += chunk.length));
      req.on("end", () => send(res, 200, TEXT, String(n)));
      return;
    }
    default:
      return send(res, 404, TEXT, "Not Found");
  }
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.requestTimeout = 0; // the 1 GiB upload may take longer than Node's 300 s default on a slow run
server.listen(Number(port), host, () => console.log(`node:http listening on http://${host}:${port}`));
