// The admin listener (--admin-listen): health probes and metrics, answered by the main thread.
//
// Strategy: the main thread owns every socket and never runs app code, so it can answer what
// the app cannot while every Worker is busy: GET /livez (tray's loop turns and a Worker has the
// app loaded), GET /readyz (serving, and not shutting down: load balancers and Kubernetes stop
// sending new traffic when it turns 503) and GET /metrics (metrics.ts). Requests are parsed by
// tray's own RequestParser with small limits, and each answer is one whole response written at
// once; nothing here touches the pool except to ask how many Workers are loaded. Admin
// connections are few (probes, a scraper): they are bounded in number and idle time.

import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { RequestParser } from "../http/parser.ts";
import type { RequestHead } from "../http/parser.ts";
import { wholeResponse } from "../http/response-writer.ts";
import type { ListenAddress } from "../options/types.ts";
import { httpDate } from "./date.ts";
import { errorResponse } from "./error-response.ts";
import { ListenError } from "./listeners.ts";
import { METRICS_CONTENT_TYPE } from "./metrics.ts";
import type { ServerMetrics } from "./metrics.ts";

/** A probe or scrape request is a request line and a few fields: anything bigger is refused (431). */
export const ADMIN_MAX_HEAD_SIZE = 8 * 1024;
/** Admin connections open at once; more are closed on arrival (probes and scrapers need a handful). */
export const ADMIN_CONNECTION_LIMIT = 32;
/** An admin connection with nothing received for this long is closed. */
export const ADMIN_IDLE_TIMEOUT_MS = 30_000;

const TEXT = "text/plain; charset=utf-8";

/** What the probes report; serve.ts keeps it current. */
export interface AdminState {
  /** Workers with the app loaded (pool.loadedWorkers). */
  loadedWorkers: () => number;
  /** The main listeners are open and the app is loaded. */
  serving: boolean;
  /** SIGTERM (or SIGINT) arrived: /readyz answers 503 from now on. */
  draining: boolean;
}

export interface AdminListener {
  server: Server;
  /** "http://127.0.0.1:9090" */
  display: string;
  close(): void;
}

function answer(status: number, contentType: string, body: string, ident: string, head: RequestHead, extra: string[] = []): Uint8Array {
  // RFC 9111 §5.2.2.5: a probe's answer is about this moment; no cache may keep it.
  const headers = ["Content-Type", contentType, "Cache-Control", "no-store", ...extra];
  const start = { method: head.method, versionMinor: head.versionMinor, keepAlive: head.keepAlive, status, headers, date: httpDate(), server: ident };
  return wholeResponse(start, Buffer.from(body, "utf8"));
}

/** The response to one admin request. */
export function adminResponse(head: RequestHead, state: AdminState, metrics: ServerMetrics, ident: string): Uint8Array {
  const path = head.path.split("?", 1)[0];
  const known = path === "/livez" || path === "/readyz" || path === "/metrics";
  if (!known) return errorResponse(404, `No admin endpoint at ${path}; try /livez, /readyz or /metrics`, ident, head.keepAlive, head.versionMinor, head.method);
  if (head.method !== "GET" && head.method !== "HEAD") {
    // RFC 9110 §15.5.6: a 405 names the methods the resource allows.
    const body = `Method Not Allowed\n\n${path} answers GET and HEAD only\n`;
    return answer(405, TEXT, body, ident, head, ["Allow", "GET, HEAD"]);
  }
  if (path === "/metrics") return answer(200, METRICS_CONTENT_TYPE, metrics.render(), ident, head);
  if (path === "/livez") {
    const loaded = state.loadedWorkers();
    return loaded > 0 ? answer(200, TEXT, `ok: ${loaded} Worker(s) with the app loaded\n`, ident, head) : answer(503, TEXT, "Service Unavailable\n\nno Worker has the app loaded\n", ident, head);
  }
  if (state.draining) return answer(503, TEXT, "Service Unavailable\n\nshutting down\n", ident, head);
  if (!state.serving) return answer(503, TEXT, "Service Unavailable\n\nnot serving yet\n", ident, head);
  return answer(200, TEXT, "ok: serving\n", ident, head);
}

/** One admin connection: each whole request is answered at once, in order; errors close it. */
function serveAdminSocket(socket: Socket, state: AdminState, metrics: ServerMetrics, ident: string): void {
  // maxBodySize 0: a probe has no body, so any body gets 413 and the connection closes.
  const parser = new RequestParser({ maxHeadSize: ADMIN_MAX_HEAD_SIZE, maxBodySize: 0 });
  let head: RequestHead | null = null;
  let ended = false;
  socket.setTimeout(ADMIN_IDLE_TIMEOUT_MS, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: Buffer) => {
    if (ended) return;
    const events = parser.feed(chunk);
    for (const ev of events) {
      if (ev.type === "head") head = ev.head;
      else if (ev.type === "end" && head !== null) {
        socket.write(adminResponse(head, state, metrics, ident));
        if (!head.keepAlive) {
          ended = true;
          socket.end();
          return;
        }
        head = null;
      } else if (ev.type === "error") {
        ended = true;
        socket.end(errorResponse(ev.error.status, ev.error.message, ident));
        return;
      }
    }
  });
}

/** Opens the admin listener; a bad address is a ListenError (one sentence, exit 1), like the main listeners'. */
export function openAdminListener(address: ListenAddress & { kind: "tcp" }, state: AdminState, metrics: ServerMetrics, ident: string): Promise<AdminListener> {
  return new Promise((resolve, reject) => {
    let open = 0;
    const server = createServer({ noDelay: true }, (socket) => {
      if (open >= ADMIN_CONNECTION_LIMIT) {
        socket.destroy();
        return;
      }
      open++;
      socket.once("close", () => open--);
      serveAdminSocket(socket, state, metrics, ident);
    });
    const where = address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "the address is already in use" : err.code === "EACCES" ? "permission denied" : err.code === "EADDRNOTAVAIL" ? "the address is not available on this machine" : err.message;
      reject(new ListenError(`cannot open the admin listener on ${where} (--admin-listen): ${why}`));
    });
    server.listen({ host: address.host, port: address.port }, () => {
      const bound = server.address();
      const port = typeof bound === "object" && bound !== null ? bound.port : address.port;
      const host = address.host.includes(":") ? `[${address.host}]` : address.host;
      resolve({ server, display: `http://${host}:${port}`, close: () => server.close() });
    });
  });
}
