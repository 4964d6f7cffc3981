// Not an HTTP server: a calibration point. Bun's node:net answering every request head (found by
// its blank line) with one canned "Hello, World!" response, no parsing, no app, no Workers:
// `bun net-ceiling.mjs HOST PORT`. It shows how fast tray's transport layer (node:net in Bun)
// can go on this machine, so the gap between it and tray is the cost of tray's own work.
// Only GET requests without bodies (the hello, pipelined and close workloads); a request that
// says Connection: close gets the response announcing it, then the connection is closed.
import { createServer } from "node:net";

const [host, port] = process.argv.slice(2);
const RESPONSE = Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!", "latin1");
const RESPONSE_CLOSE = Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!", "latin1");

createServer((socket) => {
  let pending = "";
  socket.on("data", (data) => {
    pending += data.toString("latin1");
    let heads = 0;
    let end;
    while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
      pending = pending.slice(end + 4);
      heads++;
    }
    if (heads === 1 && /\r\nconnection: *close\r\n/i.test(data.toString("latin1"))) socket.end(RESPONSE_CLOSE);
    else if (heads === 1) socket.write(RESPONSE);
    else if (heads > 1) socket.write(Buffer.concat(Array(heads).fill(RESPONSE)));
  });
  socket.on("error", () => socket.destroy());
}).listen(Number(port), host, () => console.log(`node:net ceiling listening on ${host}:${port}`));
