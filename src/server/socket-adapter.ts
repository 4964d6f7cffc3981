// The thin adapter between a node:net socket and a Connection: the socket's events become the
// connection's calls, and nothing else. Kept apart so the connection can be driven by a fake
// socket in tests (test/server/connection.test.ts) exactly as a real one drives it here.

import type { Socket } from "node:net";
import type { Connection } from "./connection.ts";

export function attachSocket(socket: Socket, connection: Connection): void {
  socket.on("data", (chunk: Buffer) => connection.receive(chunk));
  // The listener is half-open (listeners.ts): a FIN ends the client's sending, not the exchange.
  socket.on("end", () => connection.receiveEnd());
  socket.on("drain", () => connection.writable());
  socket.on("error", (err: Error) => connection.socketError(err));
  socket.on("close", () => connection.closed());
}
