// Apps that start their own server — `app.listen(3000)`, `http.createServer(h).listen(port)`, the
// way most Node tutorials end — are served on tray's sockets instead. Before the module loads,
// http.Server's listen() is replaced in this Worker: it binds nothing, records the server, and
// says "listening" as Node would (asynchronously, running the callback), so start-up code that
// waits for it carries on. --interface=auto/node then serves a recorded server when the module
// exports no usable app (detect.ts).
//
// The replacement stays for the Worker's life: every Worker loads the app, and a listen() made
// later (after a database connects, say) must not bind the app's port once per Worker either.
// https.Server descends from http.Server in Bun, so one patch covers both.
import { Server } from "node:http";

/** One listen() call the app made. */
export interface CapturedListen {
  server: Server;
  /** What the app asked for, as it would read in a log: "port 3000", "/tmp/app.sock". */
  where: string;
}

const captured: CapturedListen[] = [];
let installed = false;

export function captureListen(): void {
  if (installed) return;
  installed = true;
  Server.prototype.listen = function listen(this: Server, ...args: unknown[]): Server {
    const where = describeListen(args);
    captured.push({ server: this, where });
    const callback = args.findLast((a) => typeof a === "function") as (() => void) | undefined;
    if (callback !== undefined) this.once("listening", callback);
    const port = requestedPort(args);
    // server.address() and server.listening as a bound server would answer (apps log them).
    Object.defineProperty(this, "listening", { value: true, configurable: true, writable: true });
    this.address = () => ({ address: "::", family: "IPv6", port });
    process.nextTick(() => this.emit("listening"));
    return this;
  } as Server["listen"];
}

/** The servers listen() was called on so far, in call order. */
export function capturedListens(): readonly CapturedListen[] {
  return captured;
}

function requestedPort(args: unknown[]): number {
  const first = args[0];
  if (typeof first === "number") return first;
  if (typeof first === "string" && /^[0-9]+$/.test(first)) return Number(first);
  if (typeof first === "object" && first !== null && typeof (first as { port?: unknown }).port === "number") return (first as { port: number }).port;
  return 0;
}

function describeListen(args: unknown[]): string {
  const first = args[0];
  if (typeof first === "string" && !/^[0-9]+$/.test(first)) return first; // a unix socket path
  const path = typeof first === "object" && first !== null ? (first as { path?: unknown }).path : undefined;
  return typeof path === "string" ? path : `port ${requestedPort(args)}`;
}
