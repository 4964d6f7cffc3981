// A Worker's WebSockets: the upgrades its fetch handlers made, the sockets the main thread opened
// for them, and the app's `websocket` handlers those sockets run. worker.ts hands every WebSocket
// op from the main thread to receive(); fetch-interface.ts calls upgrade(), publish() and
// subscriberCount() (info.upgrade, server.upgrade...).
//
// Strategy: an upgrade is only a promise until the handler settles (Bun sends the 101 after the
// fetch handler returns, and ignores what it returned): then OP_WS_UPGRADE ends the request and a
// ServerWebSocket waits, CONNECTING, for OP_WS_OPEN. Messages are handed to the app as they come;
// how many bytes were handed over goes back once per turn (OP_WS_RECEIVED), so the main thread
// reads the client only as fast as this Worker takes messages in. Handlers that throw or reject
// are logged and the socket carries on, as under Bun.serve.
import { describeError, type AppCall, type AppCallHost } from "./app-call.ts";
import {
  OP_WS_ACK,
  OP_WS_CLOSED,
  OP_WS_MESSAGE,
  OP_WS_OPEN,
  OP_WS_PING,
  OP_WS_PONG,
  OP_WS_TOPIC_COUNT,
  encodeLog,
  encodeWsPublish,
  encodeWsReceived,
  type ToWorker,
} from "./protocol.ts";
import { OPEN, OPCODE_BINARY, ServerWebSocket, toPayload, type SendData, type SocketHost } from "./server-websocket.ts";
import { readWebSocketApp, type WebSocketApp, type WebSocketHandlers } from "./websocket-app.ts";

/** What the app passed to upgrade(request, options). */
export interface UpgradeOptions {
  headers?: ConstructorParameters<typeof Headers>[0];
  data?: unknown;
}

/** An upgrade a handler asked for, sent once its handler settles. */
export interface PendingUpgrade {
  headers: string[];
  data: unknown;
  /** Set for a Deno-style upgrade (deno-upgrade.ts): its own handlers, not the app's `websocket`. */
  handlers: WebSocketHandlers | null;
}

const decoder = new TextDecoder();

export class WebSockets implements SocketHost {
  private app: WebSocketApp | null = null;
  private readonly sockets = new Map<number, { ws: ServerWebSocket; handlers: WebSocketHandlers }>();
  /** Upgrades asked for by handlers still running, by app call. */
  private readonly pending = new WeakMap<AppCall, PendingUpgrade>();
  /** Requests that may be upgraded (the main thread checked their handshake), for server.upgrade(request). */
  private readonly upgradable = new WeakMap<Request, AppCall>();
  private readonly counts = new Map<string, number>();
  /** Message bytes handed to the app this turn, per socket (OP_WS_RECEIVED at the flush). */
  private readonly received = new Map<number, number>();

  constructor(private readonly host: AppCallHost) {}

  get outbox() {
    return this.host.outbox;
  }

  scheduleFlush(): void {
    this.host.scheduleFlush();
  }

  /** The app's `websocket` object (null: none). Throws a sentence when it is unusable. */
  setApp(value: unknown, fail: (reason: string) => never): void {
    try {
      this.app = readWebSocketApp(value, "the app's websocket");
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
  }

  get hasApp(): boolean {
    return this.app !== null;
  }

  // --- the fetch side ------------------------------------------------------------------------

  /** The request the handler receives, when the main thread validated its handshake. */
  register(request: Request, appCall: AppCall): void {
    this.upgradable.set(request, appCall);
  }

  /** Bun's server.upgrade(request, { headers, data }): true when the request will be upgraded. */
  upgrade(request: Request, options: UpgradeOptions | undefined, appCall?: AppCall, handlers: WebSocketHandlers | null = null): boolean {
    const ex = appCall ?? this.upgradable.get(request);
    if (ex === undefined || !ex.request.upgrade || ex.finished || this.pending.has(ex)) return false;
    if (handlers === null && this.app === null) {
      throw new TypeError("upgrade() needs the app's websocket handlers: export { fetch, websocket } (or pass websocket to Bun.serve)");
    }
    const headers: string[] = [];
    if (options?.headers !== undefined) for (const [name, value] of new Headers(options.headers)) headers.push(name, value);
    this.pending.set(ex, { headers, data: options?.data, handlers });
    return true;
  }

  /** Called once the handler settled: sends the upgrade if it asked for one; true when it did. */
  settle(appCall: AppCall): boolean {
    const upgrade = this.pending.get(appCall);
    if (upgrade === undefined || appCall.finished) return false;
    this.pending.delete(appCall);
    const handlers = upgrade.handlers ?? this.app!.handlers;
    const options = this.app?.options ?? DENO_OPTIONS;
    const ws = new ServerWebSocket(appCall.id, this, options, upgrade.data, appCall.request.remoteHostname, (s) => this.run(handlers.drain, s));
    this.sockets.set(appCall.id, { ws, handlers });
    appCall.upgraded(upgrade.headers, options);
    return true;
  }

  /** Bun's server.publish(topic, data, compress): to every subscriber. */
  publish(topic: string, data: SendData, compress = false): number {
    const { opcode, bytes, owned } = toPayload(data, OPCODE_BINARY);
    encodeWsPublish(this.host.outbox, String(topic), opcode, compress, 0, bytes, owned);
    this.host.scheduleFlush();
    return this.subscriberCount(topic) > 0 ? bytes.byteLength : 0;
  }

  subscriberCount(topic: string): number {
    return this.counts.get(String(topic)) ?? 0;
  }

  countChanged(topic: string, delta: number): void {
    const n = Math.max(0, (this.counts.get(topic) ?? 0) + delta);
    if (n === 0) this.counts.delete(topic);
    else this.counts.set(topic, n);
  }

  // --- the main thread's ops -----------------------------------------------------------------

  receive(op: ToWorker): void {
    switch (op.op) {
      case OP_WS_OPEN: {
        const entry = this.sockets.get(op.id);
        if (entry === undefined) return;
        entry.ws.readyState = OPEN;
        this.run(entry.handlers.open, entry.ws);
        return;
      }
      case OP_WS_MESSAGE: {
        const entry = this.sockets.get(op.id);
        if (entry === undefined) return;
        const n = op.payload.byteLength;
        this.received.set(op.id, (this.received.get(op.id) ?? 0) + n);
        if (entry.ws.readyState !== OPEN) return;
        const message = op.binary ? binaryMessage(op.payload, entry.ws.binaryType) : decoder.decode(op.payload);
        this.run(entry.handlers.message, entry.ws, message);
        return;
      }
      case OP_WS_PING:
      case OP_WS_PONG: {
        const entry = this.sockets.get(op.id);
        if (entry === undefined) return;
        const handler = op.op === OP_WS_PING ? entry.handlers.ping : entry.handlers.pong;
        this.run(handler, entry.ws, Buffer.from(op.payload));
        return;
      }
      case OP_WS_ACK:
        this.sockets.get(op.id)?.ws.acknowledged(op.bytes);
        return;
      case OP_WS_CLOSED: {
        const entry = this.sockets.get(op.id);
        if (entry === undefined) return;
        this.sockets.delete(op.id);
        this.received.delete(op.id);
        const wasOpen = entry.ws.readyState !== 0;
        entry.ws.closed();
        // Never opened (the client left before the 101): there is nothing for close() to end.
        if (wasOpen) this.run(entry.handlers.close, entry.ws, op.code, op.reason);
        return;
      }
      case OP_WS_TOPIC_COUNT:
        if (op.count === 0) this.counts.delete(op.topic);
        else this.counts.set(op.topic, op.count);
        return;
      default:
        throw new Error(`bug: op ${op.op} is not a WebSocket op`);
    }
  }

  /** At the end of the turn: how much of each socket's input the app took. */
  beforeFlush(): void {
    if (this.received.size === 0) return;
    for (const [id, bytes] of this.received) if (bytes > 0) encodeWsReceived(this.host.outbox, id, bytes);
    this.received.clear();
  }

  private run(handler: Function | undefined, ws: ServerWebSocket, ...args: unknown[]): void {
    if (handler === undefined) return;
    try {
      const result: unknown = Reflect.apply(handler, undefined, [ws, ...args]);
      if (result instanceof Promise) result.catch((error: unknown) => this.handlerFailed(error));
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  private handlerFailed(error: unknown): void {
    encodeLog(this.host.outbox, `error in the app's WebSocket handler: ${describeError(error)}`, "error");
    this.host.scheduleFlush();
  }
}

/** A binary message in the app's binaryType; Buffer by default, over memory of its own (hono/bun
 *  reads message.buffer, which must be exactly the message). */
function binaryMessage(payload: Uint8Array, binaryType: string): Buffer | ArrayBuffer | Uint8Array {
  const own = payload.slice();
  if (binaryType === "arraybuffer") return own.buffer;
  if (binaryType === "uint8array") return own;
  return Buffer.from(own.buffer, 0, own.byteLength);
}

/** Options for a socket upgraded Deno's way in an app with no `websocket` object: Bun's defaults. */
const DENO_OPTIONS = readWebSocketApp({}, "")!.options;

