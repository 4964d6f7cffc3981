// Apps that start their own Bun server — `Bun.serve({ fetch, websocket })`, Elysia's
// `.listen(port)` — are served on tray's sockets instead, as listen-capture.ts does for node:http.
// Before the module loads, Bun.serve is replaced in this Worker: it binds nothing, records the
// options, and returns a Server-like object whose upgrade(), publish() and subscriberCount() reach
// tray's WebSockets (through the backend the Worker sets once it runs the app). detect.ts then
// serves the recorded fetch (when the module exports no app) and websocket handlers.
//
// The replacement stays for the Worker's life: a Bun.serve made later must not bind a port once
// per Worker either.

/** What the Worker provides behind every captured server (src/pool/websockets.ts). */
export interface ServerBackend {
  upgrade(request: Request, options?: { headers?: ConstructorParameters<typeof Headers>[0]; data?: unknown }): boolean;
  publish(topic: string, data: string | ArrayBufferView | ArrayBuffer | SharedArrayBuffer, compress?: boolean): number;
  subscriberCount(topic: string): number;
}

/** One Bun.serve() call the app made. */
export interface CapturedServe {
  fetch: unknown;
  websocket: unknown;
  /** What the app asked for, as it would read in a log: "port 3000". */
  where: string;
}

const captured: CapturedServe[] = [];
let installed = false;
let backend: ServerBackend | null = null;

/** Bun's Server, as much of it as apps and frameworks call; nothing is bound. */
export class CapturedServer {
  readonly port: number;
  readonly hostname: string;
  readonly development = false;
  readonly id = "";
  pendingRequests = 0;
  pendingWebSockets = 0;

  constructor(
    private readonly entry: CapturedServe,
    port: number,
    hostname: string,
  ) {
    this.port = port;
    this.hostname = hostname;
  }

  get url(): URL {
    return new URL(`http://${this.hostname === "0.0.0.0" ? "localhost" : this.hostname}:${this.port}/`);
  }

  upgrade(request: Request, options?: { headers?: ConstructorParameters<typeof Headers>[0]; data?: unknown }): boolean {
    return backend?.upgrade(request, options) ?? false;
  }

  publish(topic: string, data: string | ArrayBufferView | ArrayBuffer, compress?: boolean): number {
    return backend?.publish(topic, data, compress) ?? 0;
  }

  subscriberCount(topic: string): number {
    return backend?.subscriberCount(topic) ?? 0;
  }

  /** Not known for a request outside its handler's info: apps get it from the fetch's second argument. */
  requestIP(): null {
    return null;
  }

  timeout(): void {}

  ref(): void {}

  unref(): void {}

  /** Elysia reloads with new routes: the fetch and websocket handlers stay the app's latest. */
  reload(options: { fetch?: unknown; websocket?: unknown }): this {
    if (typeof options?.fetch === "function") this.entry.fetch = options.fetch;
    if (options?.websocket !== undefined) this.entry.websocket = options.websocket;
    return this;
  }

  /** tray owns the sockets: stopping is its business (SIGTERM), not the app's. */
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

export function captureBunServe(): void {
  if (installed || typeof Bun === "undefined") return;
  installed = true;
  const serve = function serve(options: unknown): CapturedServer {
    const o = (typeof options === "object" && options !== null ? options : {}) as Record<string, unknown>;
    const port = typeof o.port === "number" ? o.port : typeof o.port === "string" && /^[0-9]+$/.test(o.port) ? Number(o.port) : 3000;
    const hostname = typeof o.hostname === "string" ? o.hostname : "0.0.0.0";
    const entry: CapturedServe = { fetch: o.fetch, websocket: o.websocket, where: typeof o.unix === "string" ? o.unix : `port ${port}` };
    captured.push(entry);
    return new CapturedServer(entry, port, hostname);
  };
  // Bun.serve is writable but not configurable: assignment is the one way to replace it.
  (Bun as { serve: unknown }).serve = serve;
}

/** The Bun.serve() calls made so far, in call order. */
export function capturedServes(): readonly CapturedServe[] {
  return captured;
}

/** Set by the Worker once the app is loaded. */
export function setServerBackend(value: ServerBackend): void {
  backend = value;
}
