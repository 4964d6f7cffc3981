// serve(): the server's life, start to exit (Waitress's create_server + run).
// Order matters: the Workers load the app BEFORE anything listens, so a bad app fails start-up
// with nothing bound; then the listeners open; then connections are served until SIGINT/SIGTERM,
// when tray stops accepting, lets in-flight requests finish within --shutdown-timeout, and exits 0.
// Every line tray writes goes through one Log (--log-format); --access-log and --reload are set up
// between the pool's start and the listeners, and wound down at exit. --drain-delay (drain.ts) puts
// a serving phase before SIGTERM's shutdown; SIGHUP reloads the app with no downtime (reload-signal.ts).

import type { Socket } from "node:net";
import type { Options } from "../options/types.ts";
import type { AppSpec } from "../app/types.ts";
import { WorkerPool } from "../pool/pool.ts";
import { AppLoadError } from "../app/loader.ts";
import { parseAppSpec } from "../app/loader.ts";
import { BodyFiles } from "./body-files.ts";
import { Connection } from "./connection.ts";
import type { ConnectionContext } from "./connection.ts";
import { ListenError, closeListeners, openListeners } from "./listeners.ts";
import type { Listener } from "./listeners.ts";
import type { Peer } from "./request-origin.ts";
import { proxyOrigin } from "./proxy-headers.ts";
import { createLog } from "./log.ts";
import { ACCESS_LOG_STDERR, AccessLogError, openAccessLog } from "./access-log.ts";
import type { AccessLog } from "./access-log.ts";
import { startReloading } from "./reload.ts";
import type { ReloadWatcher } from "./reload.ts";
import { Drain } from "./drain.ts";
import { reloadOnHangup } from "./reload-signal.ts";

export async function serve(options: Options): Promise<number> {
  const log = createLog(options.logFormat);
  let pool: WorkerPool;
  let app: AppSpec;
  try {
    app = parseAppSpec(options.app ?? "", process.cwd(), options.call);
    pool = new WorkerPool({
      threads: options.threads,
      app,
      exposeTracebacks: options.exposeTracebacks,
      highWatermark: options.outbufHighWatermark,
      appInterface: options.interface,
      log,
      workerTimeoutMs: options.workerTimeout * 1000,
      requestTimeoutMs: options.requestTimeout * 1000,
      maxRequests: options.maxRequests,
      maxRequestsJitter: options.maxRequestsJitter,
      workerMaxMemoryMiB: options.workerMaxMemory,
    });
    await pool.start();
  } catch (err) {
    if (err instanceof AppLoadError) {
      log(`tray: ${err.message}`, "error");
      return 1;
    }
    throw err;
  }

  let accessLog: AccessLog | null = null;
  if (options.accessLog !== null) {
    try {
      accessLog = openAccessLog(options.accessLog, options.accessLogFormat, log);
    } catch (err) {
      await pool.close(0);
      if (err instanceof AccessLogError) {
        log(`tray: ${err.message}`, "error");
        return 1;
      }
      throw err;
    }
  }

  const connections = new Set<Connection>();
  /** Sockets accepted while --connection-limit connections are open: they wait, unread. */
  const waiting: Array<[Socket, Listener]> = [];
  let stopping = false;

  const bodyFiles = new BodyFiles();
  const ctx: ConnectionContext = {
    options,
    bodyFiles,
    pool,
    log,
    origin: (head, peer) => proxyOrigin(head, peer, options, log),
    accessLog: accessLog === null ? null : accessLog.record,
    onClose: (connection) => {
      connections.delete(connection);
      admitWaiting();
      if (stopping && connections.size === 0) finish();
    },
  };

  function peerOf(socket: Socket, listener: Listener): Peer {
    if (listener.address.kind === "unix") return { address: "", port: 0, family: "", transport: "unix", localPort: 0 };
    const family = socket.remoteFamily === "IPv6" ? "IPv6" : socket.remoteFamily === "IPv4" ? "IPv4" : "";
    return { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0, family, transport: "tcp", localPort: socket.localPort ?? 0 };
  }

  function accept(socket: Socket, listener: Listener): void {
    if (stopping) {
      socket.destroy();
      return;
    }
    if (connections.size >= options.connectionLimit) {
      // Waitress stops calling accept(); node:net cannot, so the socket waits here unread.
      socket.pause();
      if (waiting.length >= options.backlog) socket.destroy();
      else waiting.push([socket, listener]);
      return;
    }
    connections.add(new Connection(socket, ctx, peerOf(socket, listener)));
  }

  function admitWaiting(): void {
    while (!stopping && waiting.length > 0 && connections.size < options.connectionLimit) {
      const [socket, listener] = waiting.shift()!;
      if (socket.destroyed) continue;
      connections.add(new Connection(socket, ctx, peerOf(socket, listener)));
      socket.resume();
    }
  }

  let listeners: Listener[];
  try {
    listeners = await openListeners(options.listeners, { backlog: options.backlog, unixSocketPerms: options.unixSocketPerms, scheme: options.urlScheme }, accept);
  } catch (err) {
    await pool.close(0);
    await accessLog?.close();
    if (err instanceof ListenError) {
      log(`tray: ${err.message}`, "error");
      return 1;
    }
    throw err;
  }
  for (const l of listeners) log(`Serving on ${l.display}`, "info");

  // --reload watches the app's directory; the access log file is not a change to the app.
  let watcher: ReloadWatcher | null = null;
  if (options.reload) {
    watcher = startReloading(app, pool, log, options.accessLog !== null && options.accessLog !== ACCESS_LOG_STDERR ? [options.accessLog] : []);
  }

  // Waitress's maintenance(): every cleanup_interval, close connections idle past channel_timeout.
  const sweep = setInterval(() => {
    const cutoff = Date.now() - options.channelTimeout * 1000;
    for (const c of connections) if (!c.busy && c.lastActivity < cutoff) c.destroy();
  }, options.cleanupInterval * 1000);

  let resolveExit: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  let finished = false;
  async function finish(): Promise<void> {
    if (finished) return;
    finished = true;
    clearInterval(sweep);
    watcher?.close();
    await pool.close(0);
    bodyFiles.closeAll();
    await accessLog?.close();
    resolveExit(0);
  }

  function stop(signal: string): void {
    if (stopping) {
      log(`Received ${signal} again, exiting now`);
      bodyFiles.closeAll();
      resolveExit(0);
      return;
    }
    stopping = true;
    drain.end();
    hangup.close();
    watcher?.close();
    log(`Received ${signal}, shutting down (waiting up to ${options.shutdownTimeout}s for in-flight requests)`);
    closeListeners(listeners);
    for (const [socket] of waiting.splice(0)) socket.destroy();
    for (const c of connections) c.shutdown();
    if (connections.size === 0) void finish();
    setTimeout(() => {
      if (!finished) log("Shutdown grace period over: closing remaining connections");
      for (const c of connections) c.destroy();
      void finish();
    }, options.shutdownTimeout * 1000).unref();
  }
  // --drain-delay: SIGTERM serves on for the delay first; `drain.draining` is what /readyz reads.
  const drain = new Drain(options.drainDelay, log);
  // SIGHUP: zero-downtime reload (reload-signal.ts).
  const hangup = reloadOnHangup(pool, log);
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => drain.begin("SIGTERM", () => stop("SIGTERM")));
  process.on("SIGHUP", () => hangup.onSignal());

  return exited;
}
