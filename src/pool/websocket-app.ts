// The app's `websocket` object (Bun.serve's shape: `export default { fetch, websocket }`, or what a
// module passed to Bun.serve while loading): its handlers, and its options with Bun's defaults.
//
// Strategy: read once when the app loads; a value that is not an object, or handlers that are not
// functions, fail the load with one sentence (a typo must not turn into silent 1011s later).
import type { WebSocketOptions } from "./types.ts";
import type { ServerWebSocket } from "./server-websocket.ts";

/** Bun's defaults (bun-types ServeOptions.websocket). */
export const DEFAULT_MAX_PAYLOAD_LENGTH = 16 * 1024 * 1024;
export const DEFAULT_IDLE_TIMEOUT_S = 120;
export const DEFAULT_BACKPRESSURE_LIMIT = 16 * 1024 * 1024;

export interface WebSocketHandlers {
  open?(ws: ServerWebSocket): unknown;
  message?(ws: ServerWebSocket, message: string | Buffer): unknown;
  close?(ws: ServerWebSocket, code: number, reason: string): unknown;
  drain?(ws: ServerWebSocket): unknown;
  ping?(ws: ServerWebSocket, data: Buffer): unknown;
  pong?(ws: ServerWebSocket, data: Buffer): unknown;
}

export interface WebSocketApp {
  handlers: WebSocketHandlers;
  options: WebSocketOptions;
}

const HANDLER_NAMES = ["open", "message", "close", "drain", "ping", "pong"] as const;

/** The app's websocket object, or null when it has none; throws a sentence when it is unusable. */
export function readWebSocketApp(value: unknown, named: string): WebSocketApp | null {
  // A router built as a Proxy (itty-router) answers every property, `websocket` included, with a
  // route-adding function: that is no WebSocket app, and must not stop a plain HTTP one loading.
  if (value === undefined || value === null || typeof value === "function") return null;
  if (typeof value !== "object") throw new TypeError(`${named} is a ${typeof value}, not an object of WebSocket handlers ({ open, message, close, ... })`);
  const v = value as Record<string, unknown>;
  const handlers: WebSocketHandlers = {};
  for (const name of HANDLER_NAMES) {
    const handler = v[name];
    if (handler === undefined || handler === null) continue;
    if (typeof handler !== "function") throw new TypeError(`${named}.${name} is a ${typeof handler}, not a function`);
    (handlers as Record<string, unknown>)[name] = (handler as Function).bind(value);
  }
  return {
    handlers,
    options: {
      maxPayloadLength: positive(v.maxPayloadLength, DEFAULT_MAX_PAYLOAD_LENGTH),
      idleTimeout: nonNegative(v.idleTimeout, DEFAULT_IDLE_TIMEOUT_S),
      backpressureLimit: positive(v.backpressureLimit, DEFAULT_BACKPRESSURE_LIMIT),
      closeOnBackpressureLimit: v.closeOnBackpressureLimit === true,
      // Bun takes true or { compress, decompress }: either asks for permessage-deflate.
      perMessageDeflate: v.perMessageDeflate === true || (typeof v.perMessageDeflate === "object" && v.perMessageDeflate !== null),
      sendPings: v.sendPings !== false,
      publishToSelf: v.publishToSelf === true,
    },
  };
}

function positive(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
}

function nonNegative(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.floor(value) : fallback;
}
