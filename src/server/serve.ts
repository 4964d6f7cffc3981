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
import { Connection, SYSTEM_CLOCK } from "./connection.ts";
import type { ConnectionContext } from "./connection.ts";
import { attachSocket } from "./socket-adapter.ts";
import { connectionSettings, proxySettings } from "./settings.ts";
import { ListenError, closeListeners, openListeners, openPassedListeners } from "./listeners.ts";
import type { Listener } from "./listeners.ts";
import type { Peer } from "./request-origin.ts";
import { proxyOrigin } from "./proxy-headers.ts";
import { createLog } from "./log.ts";
import { AccessLogError, openAccessLog } from "./access-log.ts";
import { ACCESS_LOG_STDERR } from "../options/types.ts";
import type { AccessLog } from "./access-log.ts";
import { startReloading } from "./reload.ts";
import type { ReloadWatcher } from "./reload.ts";
import { openAdminListener } from "./admin.ts";
import type { AdminListener, AdminState } from "./admin.ts";
import { ServerMetrics } from "./metrics.ts";
import { gateProxyProtocol } from "./proxy-protocol-gate.ts";
import { WebSocketTopics } from "./websocket-topics.ts";
import { Tunnel } from "./tunnel.ts";
import { closeWebSockets, startWebSocketSession } from "./websocket-session.ts";
import { SystemdError, notifyReady, notifyStopping, setNotifyLog, takeListenFds } from "./systemd.ts";

/** How often connection deadlines are checked: their resolution. */
const DEADLINE_TICK_MS = 1000;
/** A connection holding its slot without a request in flight for less than this is not shed. */
const SHED_AFTER_MS = 1000;
import { Drain } from "./drain.ts";
import { reloadOnHangup } from "./reload-signal.ts";

export async function serve(options: Options): Promise<number> {
  const log = createLog(options.logFormat);
  setNotifyLog(log);
  // Socket activation: read (and cleared) before any Worker starts, so the app never sees them.
  let passedFds: number[] | null;
  try {
    passedFds = takeListenFds(process.env, process.pid);
  } catch (err) {
    if (err instanceof SystemdError) {
      log(`tray: ${err.message}`, "error");
      return 1;
    }
    throw err;
  }
  const connections = new Set<Connection>();
  /** --proxy-protocol: sockets whose first bytes are being read, before they have a Connection. */
  const gated = new Set<Socket>();
  // --admin-listen: metrics and probe state; in-flight and open counts are read when scraped.
  const metrics = options.adminListen === null ? null : new ServerMetrics({ requestsInFlight: () => pool.inFlight, connectionsOpen: () => connections.size + gated.size });
  const adminState: AdminState = { loadedWorkers: () => pool.loadedWorkers, serving: false, draining: false };
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
      onWorkerRestart: metrics === null ? undefined : (reason) => metrics.workerRestarted(reason),
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

  /** Sockets accepted while --connection-limit connections are open: they wait, unread. */
  const waiting: Array<[Socket, Listener]> = [];
  let stopping = false;

  const bodyFiles = new BodyFiles();
  const clock = SYSTEM_CLOCK;
  // WebSocket pub/sub spans Workers: publishes come through the pool, counts go back to every Worker.
  const topics = new WebSocketTopics((topic, count) => pool.topicCount(topic, count));
  pool.onPublish = (topic, opcode, compress, excludeId, payload) => void topics.publish(topic, opcode, compress, excludeId, payload);
  const proxyPolicy = proxySettings(options);
  const ctx: ConnectionContext = {
    settings: connectionSettings(options),
    clock,
    bodyFiles,
    pool,
    log,
    origin: (head, peer) => proxyOrigin(head, peer, proxyPolicy, log),
    accessLog: accessLog === null ? null : accessLog.record,
    metrics,
    onClose: (connection) => {
      connections.delete(connection);
      admitWaiting();
      if (stopping && connections.size === 0) finish();
    },
    // The app upgraded a request: the socket becomes a WebSocket session, which owns it from now on
    // and still counts in --connection-limit (the connection stays in the set until it closes).
    upgrade: (connection, handoff) => {
      const socket = connection.socket as Socket;
      for (const event of ["data", "drain", "error", "close", "end"]) socket.removeAllListeners(event);
      startWebSocketSession(
        { ...handoff, socket },
        { pool, topics, log, accessLog: ctx.accessLog, ident: options.ident, connection, onClose: () => ctx.onClose(connection) },
      );
    },
    // A Node-style app's 'upgrade' listener took the request: the socket relays bytes both ways.
    tunnel: (connection, id, rest) => {
      const socket = connection.socket as Socket;
      for (const event of ["data", "drain", "error", "close", "end"]) socket.removeAllListeners(event);
      return new Tunnel(id, socket, rest, { pool, connection, done: () => ctx.onClose(connection) });
    },
  };

  function peerOf(socket: Socket, listener: Listener): Peer {
    if (listener.address.kind === "unix") return { address: "", port: 0, family: "", transport: "unix", localPort: 0 };
    const family = socket.remoteFamily === "IPv6" ? "IPv6" : socket.remoteFamily === "IPv4" ? "IPv4" : "";
    return { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0, family, transport: "tcp", localPort: socket.localPort ?? 0 };
  }

  const gateOptions = { trustedProxy: options.trustedProxy, channelTimeoutMs: options.channelTimeout * 1000, log, logSocketErrors: options.logSocketErrors };

  function connect(socket: Socket, peer: Peer): Connection {
    const connection = new Connection(socket, ctx, peer);
    attachSocket(socket, connection);
    connections.add(connection);
    return connection;
  }

  /** A socket becomes a Connection; with --proxy-protocol, once its first bytes say from whom. */
  function open(socket: Socket, listener: Listener): void {
    const peer = peerOf(socket, listener);
    if (!options.proxyProtocol) {
      connect(socket, peer);
      return;
    }
    gated.add(socket);
    gateProxyProtocol(
      socket,
      peer,
      gateOptions,
      (client, rest) => {
        const connection = connect(socket, client);
        if (rest.length > 0) connection.receive(rest);
      },
      (admitted) => {
        gated.delete(socket);
        if (!admitted) admitWaiting();
      },
    );
  }

  function accept(socket: Socket, listener: Listener): void {
    if (stopping) {
      socket.destroy();
      return;
    }
    if (connections.size + gated.size >= options.connectionLimit) {
      // Waitress stops calling accept(); node:net cannot, so the socket waits here unread.
      socket.pause();
      if (waiting.length >= options.backlog) socket.destroy();
      else {
        waiting.push([socket, listener]);
        shedOne();
      }
      return;
    }
    open(socket, listener);
  }

  /**
   * A connection waits at --connection-limit: the open connection that has held its slot longest
   * without a request in flight (an unfinished head, or idle between requests) gives it up, so
   * slow clients cannot hold every slot (slowloris; Apache's mod_reqtimeout in spirit). One that
   * got its slot under SHED_AFTER_MS ago is left alone: the waiting one waits for a real laggard.
   */
  function shedOne(): void {
    const now = clock.now();
    let victim: Connection | null = null;
    let longest = SHED_AFTER_MS - 1;
    for (const c of connections) {
      const held = c.sheddableFor(now);
      if (held > longest) {
        longest = held;
        victim = c;
      }
    }
    victim?.shed();
  }

  function admitWaiting(): void {
    while (!stopping && waiting.length > 0 && connections.size + gated.size < options.connectionLimit) {
      const [socket, listener] = waiting.shift()!;
      if (socket.destroyed) continue;
      open(socket, listener);
      socket.resume();
    }
  }

  /** A listener could not open (a user-caused problem: one sentence, exit 1); what was started
   *  is wound down first, so nothing is left listening. */
  async function startFailed(err: unknown, opened: Listener[]): Promise<number> {
    closeListeners(opened);
    await pool.close(0);
    await accessLog?.close();
    if (!(err instanceof ListenError)) throw err;
    log(`tray: ${err.message}`, "error");
    return 1;
  }

  let listeners: Listener[];
  try {
    // Socket activation: systemd's sockets replace --host/--port/--listen/--unix-socket.
    listeners = passedFds !== null
      ? await openPassedListeners(passedFds, options.urlScheme, accept)
      : await openListeners(options.listeners, { backlog: options.backlog, unixSocketPerms: options.unixSocketPerms, scheme: options.urlScheme, log }, accept);
  } catch (err) {
    return startFailed(err, []);
  }
  let admin: AdminListener | null = null;

  // --reload watches the app's directory; the access log file is not a change to the app.
  let watcher: ReloadWatcher | null = null;
  if (options.reload) {
    watcher = startReloading(app, pool, log, options.accessLog !== null && options.accessLog !== ACCESS_LOG_STDERR ? [options.accessLog] : []);
  }

  // Waitress's maintenance(): every cleanup_interval, close connections idle past channel_timeout.
  const sweep = setInterval(() => {
    const now = clock.now();
    for (const c of connections) c.sweepIdle(now);
  }, options.cleanupInterval * 1000);
  // Deadlines that must not wait for a sweep (--header-timeout, the close linger), and a waiting
  // connection that could not be admitted at once gets another chance at a slot.
  const deadlines = setInterval(() => {
    const now = clock.now();
    for (const c of connections) c.tick(now);
    if (waiting.length > 0) shedOne();
  }, DEADLINE_TICK_MS);

  let resolveExit: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  let finished = false;
  async function finish(): Promise<void> {
    if (finished) return;
    finished = true;
    clearInterval(sweep);
    clearInterval(deadlines);
    watcher?.close();
    admin?.close();
    await pool.close(0);
    bodyFiles.closeAll();
    await accessLog?.close();
    resolveExit(0);
  }

  function stop(signal: string): void {
    if (stopping) {
      log(`Received ${signal} again, exiting now`, "info");
      bodyFiles.closeAll();
      resolveExit(0);
      return;
    }
    stopping = true;
    adminState.draining = true;
    notifyStopping();
    drain.end();
    hangup.close();
    watcher?.close();
    log(`Received ${signal}, shutting down (waiting up to ${options.shutdownTimeout}s for in-flight requests)`, "info");
    closeListeners(listeners);
    for (const [socket] of waiting.splice(0)) socket.destroy();
    for (const socket of gated) socket.destroy();
    for (const c of connections) c.shutdown();
    closeWebSockets(); // 1001 to every WebSocket; each one's connection goes when its socket closes
    if (connections.size === 0) void finish();
    setTimeout(() => {
      if (!finished) log("Shutdown grace period over: closing remaining connections", "warning");
      for (const c of connections) c.destroy();
      void finish();
    }, options.shutdownTimeout * 1000).unref();
  }
  // --drain-delay: SIGTERM serves on for the delay first; `drain.draining` is what /readyz reads.
  const drain = new Drain(options.drainDelay, log);
  drain.onDraining(() => {
    adminState.draining = true; // /readyz: 503 from the first SIGTERM on, through the delay
  });
  // SIGHUP: zero-downtime reload (reload-signal.ts).
  const hangup = reloadOnHangup(pool, log);
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => drain.begin("SIGTERM", () => stop("SIGTERM")));
  process.on("SIGHUP", () => hangup.onSignal());

  // Announced only now that the signal handlers are in place: a SIGTERM sent the moment
  // "Serving on" appears must drain, not kill the process with the default action.
  for (const l of listeners) log(`Serving on ${l.display}`, "info");
  if (options.adminListen !== null && options.adminListen.kind === "tcp") {
    try {
      admin = await openAdminListener(options.adminListen, adminState, metrics!, options.ident);
    } catch (err) {
      return startFailed(err, listeners);
    }
    log(`Admin listener on ${admin.display} (/livez, /readyz, /metrics)`, "info");
  }
  adminState.serving = true;
  notifyReady();

  return exited;
}
