// The Worker entry (scripts/build.ts compiles it as an extra entrypoint of the binary): loads the
// app once, then runs every request the main thread sends, many at a time, and sends back every
// reply produced during an event-loop turn as ONE message at the end of that turn (protocol.ts).
// It also turns its own death (uncaught error, the app calling process.exit) into one last
// message saying why, after flushing what was already answered, so the pool can log and replace it.
import { setServerBackend } from "../app/bun-serve-capture.ts";
import { detectApp } from "../app/detect.ts";
import { installDenoUpgrade } from "./deno-upgrade.ts";
import type { AppInterface } from "../app/interfaces.ts";
import { AppLoadError } from "../app/loader.ts";
import { scheduleThisThreadAsBatch } from "./batch-scheduling.ts";
import { AppCall, describeError, type AppCallHost } from "./app-call.ts";
import { installFetchGlobals } from "./fetch-globals.ts";
import { startBeating } from "./heartbeat.ts";
import { runFetch } from "./fetch-interface.ts";
import { runNode } from "./node-interface.ts";
import { NodeTunnels } from "./node-tunnel.ts";
import {
  OP_ABORT,
  OP_ACK,
  OP_RECEIVED,
  OP_CANCEL,
  OP_REQUEST,
  decodeInit,
  decodeToWorker,
  fatalMessage,
  loadFailedMessage,
  readyMessage,
} from "./protocol.ts";
import {
  OP_TUNNEL_ACK,
  OP_TUNNEL_CLOSED,
  OP_TUNNEL_DATA,
  OP_TUNNEL_END,
} from "./protocol-tunnel.ts";
import {
  Outbox,
  messageFields,
  type Message,
} from "./outbox.ts";
import { WebSockets } from "./websockets.ts";

declare const self: Worker;

const appCalls = new Map<number, AppCall>();
let flushScheduled = false;

const host: AppCallHost = {
  outbox: new Outbox(),
  highWatermark: 0,
  exposeTracebacks: false,
  held: [],
  scheduleFlush,
  finished(appCall) {
    appCalls.delete(appCall.id);
  },
  inTransit: 0,
};

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  // setImmediate, not a microtask: a static body's reads settle in microtasks after the handler
  // returns, and must land in this turn's batch (as one OP_RESPONSE), not in a batch of their own.
  setImmediate(flush);
}

/** The Worker's WebSockets: the main thread's WebSocket ops go to them (websockets.ts). */
const webSockets = new WebSockets(host);
/** The sockets Node-style apps' 'upgrade' listeners took (node-tunnel.ts). */
const tunnels = new NodeTunnels(host);

function flush(): void {
  flushScheduled = false;
  webSockets.beforeFlush();
  const held = host.held;
  for (let i = 0; i < held.length; i++) held[i].releaseHead();
  held.length = 0;
  if (host.outbox.empty) return;
  const { message, transfer } = host.outbox.take();
  self.postMessage(message, transfer);
}

/** Runs one request through the app, by the interface detectApp() chose (--interface). */
let run: ((appCall: AppCall) => void) | null = null;
let initialised = false;
/** Messages that arrived while the app was loading (a replacement Worker may be sent work early). */
const early: Message[] = [];

self.onmessage = (event: MessageEvent<Message>) => {
  if (isHeartbeat(event.data)) return;
  if (run !== null) receive(event.data);
  else if (!initialised) {
    initialised = true; // the first message is always OP_INIT
    void init(messageFields(event.data));
  } else early.push(event.data);
};

/** The pool's heartbeat buffer (heartbeat.ts) comes before OP_INIT when --worker-timeout or
 *  --worker-max-memory is on; it is the one message that is not a protocol Message. */
function isHeartbeat(data: unknown): boolean {
  if (!(data instanceof SharedArrayBuffer)) return false;
  startBeating(data);
  return true;
}

async function init(fields: unknown[]): Promise<void> {
  const init = decodeInit(fields);
  if (init === null) throw new Error("bug: the first message to a Worker must be OP_INIT");
  const { module, object, call, cwd, appInterface } = init;
  host.exposeTracebacks = init.exposeTracebacks;
  host.highWatermark = init.highWatermark;
  guardAgainstDeath();
  // Threads the app starts from this one inherit the policy (sched(7)): app work as well.
  await scheduleThisThreadAsBatch();
  installFetchGlobals();
  let note: string;
  try {
    const app = await detectApp({ module, object, call, cwd }, appInterface);
    if (app.interface === "fetch") {
      const handler = app.handler;
      webSockets.setApp(app.websocket, webSocketAppError);
      setServerBackend(webSockets);
      installDenoUpgrade(webSockets);
      run = (appCall) => runFetch(handler, appCall, webSockets);
    } else {
      run = (appCall) => runNode(app, appCall, tunnels);
    }
    note = app.note;
  } catch (error) {
    const message = error instanceof AppLoadError ? error.message : `${module} could not be loaded: ${firstLine(describeError(error))}`;
    self.postMessage(loadFailedMessage(message));
    return;
  }
  self.postMessage(readyMessage(note));
  for (const message of early.splice(0)) receive(message);
}

/** The app's `websocket` object is not usable: said once at load time, as a note of the log. */
function webSocketAppError(reason: string): never {
  throw new AppLoadError(reason);
}

function receive(message: Message): void {
  const f = messageFields(message);
  const runApp = run!;
  let i = 0;
  while (i < f.length) {
    const op = decodeToWorker(f, i, message);
    i = op.next;
    if (op.op === OP_REQUEST) {
      const appCall = new AppCall(host, op.id, op.request);
      appCalls.set(op.id, appCall);
      runApp(appCall);
    } else if (op.op === OP_RECEIVED) {
      host.inTransit -= op.bytes;
      for (const appCall of appCalls.values()) appCall.wakeIfFree();
    } else if (op.op === OP_ACK) {
      appCalls.get(op.id)?.ack(op.bytes);
    } else if (op.op === OP_CANCEL) {
      appCalls.get(op.id)?.cancel();
    } else if (op.op === OP_ABORT) {
      appCalls.get(op.id)?.abort.abort();
    } else if (op.op === OP_TUNNEL_DATA || op.op === OP_TUNNEL_END || op.op === OP_TUNNEL_CLOSED || op.op === OP_TUNNEL_ACK) {
      tunnels.receive(op);
    } else {
      webSockets.receive(op);
    }
  }
}

/** Death is reported, never silent: flush what is answered, say why, then exit. An app that
 *  installed its own uncaughtException/unhandledRejection listener keeps Node's "it's handled".
 *  Both the Node-style process events and the Worker's own error events are watched: which one
 *  Bun fires depends on how it runs (under `bun test` only the Worker events fire). */
function guardAgainstDeath(): void {
  const exit = process.exit.bind(process);
  let dying = false;
  const die = (reason: string, code: number): void => {
    if (dying) return;
    dying = true;
    try {
      flush();
      self.postMessage(fatalMessage(reason));
    } finally {
      exit(code);
    }
  };
  process.on("uncaughtException", (error) => {
    if (process.listenerCount("uncaughtException") > 1) return;
    die(`uncaught ${firstLines(describeError(error))}`, 1);
  });
  process.on("unhandledRejection", (reason) => {
    if (process.listenerCount("unhandledRejection") > 1) return;
    die(`unhandled rejection: ${firstLines(describeError(reason))}`, 1);
  });
  self.addEventListener("error", (event: ErrorEvent) => {
    die(`uncaught ${firstLines(describeError(event.error ?? event.message))}`, 1);
  });
  self.addEventListener("unhandledrejection", (event: Event) => {
    die(`unhandled rejection: ${firstLines(describeError((event as Event & { reason?: unknown }).reason))}`, 1);
  });
  process.exit = ((code?: number | string | null) => {
    die(`the app called process.exit(${code ?? ""})`, Number(code ?? 0) || 0);
  }) as typeof process.exit;
}

function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return end < 0 ? text : text.slice(0, end);
}

/** The message and the innermost frame, on one line. */
function firstLines(text: string): string {
  const lines = text.split("\n");
  const frame = lines.find((line) => line.trimStart().startsWith("at "));
  return frame === undefined ? lines[0] : `${lines[0]} (${frame.trim()})`;
}
