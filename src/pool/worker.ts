// The Worker entry (scripts/build.ts compiles it as an extra entrypoint of the binary): loads the
// app once, then runs every request the main thread sends, many at a time, and sends back every
// reply produced during an event-loop turn as ONE message at the end of that turn (protocol.ts).
// It also turns its own death (uncaught error, the app calling process.exit) into one last
// message saying why, after flushing what was already answered, so the pool can log and replace it.
import { detectApp } from "../app/detect.ts";
import type { AppInterface } from "../app/interfaces.ts";
import { AppLoadError } from "../app/loader.ts";
import { scheduleThisThreadAsBatch } from "./batch-scheduling.ts";
import { Exchange, describeError, type ExchangeHost } from "./exchange.ts";
import { installFetchGlobals } from "./fetch-globals.ts";
import { runFetch } from "./fetch-interface.ts";
import { runNode } from "./node-interface.ts";
import {
  OP_ACK,
  OP_CANCEL,
  OP_FATAL,
  OP_INIT,
  OP_LOAD_FAILED,
  OP_READY,
  OP_REQUEST,
  Outbox,
  messageBytes,
  messageFields,
  type Message,
} from "./protocol.ts";

declare const self: Worker;

const exchanges = new Map<number, Exchange>();
let flushScheduled = false;

const host: ExchangeHost = {
  outbox: new Outbox(),
  highWatermark: 0,
  exposeTracebacks: false,
  held: [],
  scheduleFlush,
  finished(exchange) {
    exchanges.delete(exchange.id);
  },
};

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  // setImmediate, not a microtask: a static body's reads settle in microtasks after the handler
  // returns, and must land in this turn's batch (as one OP_RESPONSE), not in a batch of their own.
  setImmediate(flush);
}

function flush(): void {
  flushScheduled = false;
  const held = host.held;
  for (let i = 0; i < held.length; i++) held[i].releaseHead();
  held.length = 0;
  if (host.outbox.empty) return;
  const { message, transfer } = host.outbox.take();
  self.postMessage(message, transfer);
}

/** Runs one request through the app, by the interface detectApp() chose (--interface). */
let run: ((exchange: Exchange) => void) | null = null;
let initialised = false;
/** Messages that arrived while the app was loading (a replacement Worker may be sent work early). */
const early: Message[] = [];

self.onmessage = (event: MessageEvent<Message>) => {
  if (run !== null) receive(event.data);
  else if (!initialised) {
    initialised = true; // the first message is always OP_INIT
    void init(messageFields(event.data));
  } else early.push(event.data);
};

async function init(fields: unknown[]): Promise<void> {
  if (fields[0] !== OP_INIT) throw new Error("bug: the first message to a Worker must be OP_INIT");
  const [, module, object, call, cwd, exposeTracebacks, highWatermark, appInterface] = fields as [number, string, string, number, string, number, number, AppInterface];
  host.exposeTracebacks = exposeTracebacks === 1;
  host.highWatermark = highWatermark;
  guardAgainstDeath();
  // Threads the app starts from this one inherit the policy (sched(7)): app work as well.
  await scheduleThisThreadAsBatch();
  installFetchGlobals();
  let note: string;
  try {
    const app = await detectApp({ module, object, call: call === 1, cwd }, appInterface);
    if (app.interface === "fetch") {
      const handler = app.handler;
      run = (exchange) => runFetch(handler, exchange);
    } else {
      const listener = app.listener;
      run = (exchange) => runNode(listener, exchange);
    }
    note = app.note;
  } catch (error) {
    const message = error instanceof AppLoadError ? error.message : `${module} could not be loaded: ${firstLine(describeError(error))}`;
    self.postMessage(JSON.stringify([OP_LOAD_FAILED, message]));
    return;
  }
  self.postMessage(JSON.stringify([OP_READY, note]));
  for (const message of early.splice(0)) receive(message);
}

function receive(message: Message): void {
  const f = messageFields(message);
  const runApp = run!;
  let i = 0;
  while (i < f.length) {
    const op = f[i] as number;
    if (op === OP_REQUEST) {
      const id = f[i + 1] as number;
      const n = f[i + 4] as number;
      const at = i + 5 + n; // just past the header fields
      const bufferIndex = f[at + 1] as number;
      const exchange = new Exchange(host, id, {
        method: f[i + 2] as string,
        url: f[i + 3] as string,
        rawHeaders: f.slice(i + 5, at) as string[],
        bodyFd: f[at] as number | null,
        body: bufferIndex === 0 ? null : messageBytes(message, bufferIndex, f[at + 2] as number, f[at + 3] as number),
        bodyLength: f[at + 4] as number,
        remoteHostname: f[at + 5] as string,
        remotePort: f[at + 6] as number,
        transport: f[at + 7] as "tcp" | "unix",
        family: f[at + 8] as "IPv4" | "IPv6" | "",
        scriptName: f[at + 9] as string,
        versionMinor: f[at + 10] as number,
      });
      i = at + 11;
      exchanges.set(id, exchange);
      runApp(exchange);
    } else if (op === OP_ACK) {
      exchanges.get(f[i + 1] as number)?.ack(f[i + 2] as number);
      i += 3;
    } else if (op === OP_CANCEL) {
      exchanges.get(f[i + 1] as number)?.cancel();
      i += 2;
    } else {
      throw new Error(`bug: unknown op ${op} from the main thread`);
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
      self.postMessage(JSON.stringify([OP_FATAL, reason]));
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
