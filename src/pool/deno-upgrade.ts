// Deno's WebSocket shape inside a Worker: `Deno.upgradeWebSocket(request)` returns `{ socket,
// response }`, socket being a standard WebSocket-like object (onopen/onmessage/onclose/onerror,
// addEventListener, send, close, readyState, binaryType). hono/deno's upgradeWebSocket calls it.
//
// Strategy: only this one function is defined, and only where nothing named Deno exists. It is
// installed AFTER the app has loaded: libraries that decide at import time whether they run on
// Deno (Elysia's `isDeno = typeof Deno < "u"`) have already decided "no", while code that calls
// Deno.upgradeWebSocket in a handler finds it. The socket is the app's own handlers for a Bun
// ServerWebSocket (websockets.ts): same protocol ops, same bounds.
import { OPEN, type ServerWebSocket } from "./server-websocket.ts";
import type { WebSocketHandlers } from "./websocket-app.ts";
import type { WebSockets } from "./websockets.ts";

/** The `socket` Deno.upgradeWebSocket returns. */
export class DenoWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  onopen: ((event: Event) => unknown) | null = null;
  onmessage: ((event: MessageEvent) => unknown) | null = null;
  onclose: ((event: CloseEvent) => unknown) | null = null;
  onerror: ((event: Event) => unknown) | null = null;
  binaryType: "blob" | "arraybuffer" = "blob";
  readyState = 0;
  readonly url: string;
  readonly protocol: string;
  readonly extensions = "";
  private ws: ServerWebSocket | null = null;

  constructor(url: string, protocol: string) {
    super();
    this.url = url;
    this.protocol = protocol;
  }

  get bufferedAmount(): number {
    return this.ws?.getBufferedAmount() ?? 0;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.ws === null || this.readyState !== OPEN) throw new DOMException("the WebSocket is not open", "InvalidStateError");
    if (data instanceof Blob) {
      const ws = this.ws;
      void data.arrayBuffer().then((buffer) => ws.send(buffer));
      return;
    }
    this.ws.send(data as string | ArrayBuffer | ArrayBufferView);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    this.ws?.close(code, reason);
  }

  /** The handlers behind this socket (websockets.ts runs them). */
  handlers(): WebSocketHandlers {
    return {
      open: (ws) => {
        this.ws = ws;
        ws.binaryType = "arraybuffer";
        this.readyState = 1;
        this.fire(new Event("open"), this.onopen);
      },
      message: (_ws, message) => {
        const data = typeof message === "string" || this.binaryType === "arraybuffer" ? message : new Blob([message as ArrayBuffer]);
        this.fire(new MessageEvent("message", { data }), this.onmessage);
      },
      close: (_ws, code, reason) => {
        this.readyState = 3;
        this.fire(new CloseEvent("close", { code, reason, wasClean: code !== 1006 }), this.onclose);
      },
    };
  }

  private fire<E extends Event>(event: E, handler: ((event: E) => unknown) | null): void {
    if (handler !== null) handler.call(this, event);
    this.dispatchEvent(event);
  }
}

/** Defines globalThis.Deno = { upgradeWebSocket } when there is no Deno at all (call after loading the app). */
export function installDenoUpgrade(webSockets: WebSockets): void {
  const global = globalThis as { Deno?: unknown };
  if (global.Deno !== undefined) return;
  const upgradeWebSocket = (request: Request, options?: { protocol?: string }) => {
    const protocol = options?.protocol ?? "";
    const socket = new DenoWebSocket(request.url, protocol);
    const headers = protocol === "" ? undefined : { "Sec-WebSocket-Protocol": protocol };
    if (!webSockets.upgrade(request, { headers }, undefined, socket.handlers())) {
      throw new TypeError("Deno.upgradeWebSocket: the request is not a valid WebSocket handshake (Upgrade: websocket, Sec-WebSocket-Key, version 13)");
    }
    // Ignored once the handler settles (the upgrade wins), like Bun's; Response cannot hold 101.
    return { socket, response: new Response(null) };
  };
  Object.defineProperty(globalThis, "Deno", { value: Object.freeze({ upgradeWebSocket }), configurable: true, writable: false, enumerable: false });
}
